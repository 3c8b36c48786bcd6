//! `setup` and `reset`: a database from nothing, in one call.

use crate::config::DatabaseUrl;
use crate::database::Database;
use crate::db::admin::{
    cannot_recreate, create_database, database_exists, drop_database, refuse_standby,
};
use crate::db::PoolOptions;
use crate::error::{Error, Result};
use crate::migration::catalog::Source;
use crate::migration::report::Report;

/// Creates the database if it does not exist (on a server, through its maintenance
/// database; on SQLite, the file and its folder), then migrates it. Returns whether it
/// was created.
pub async fn setup(
    url: &DatabaseUrl,
    options: &PoolOptions,
    source: &Source,
) -> Result<(bool, Database, Report)> {
    refuse_standby(url).await?;
    let created = !database_exists(url).await?;
    if created {
        tracing::info!(%url, "creating the database");
        create_database(url).await?;
    }
    let db = Database::connect_with(url.clone(), options)
        .await?
        .with_source(source.clone());
    let report = db.migrate().await?;
    Ok((created, db, report))
}

/// Drops the database (every row in it) and sets it up again. The caller confirms first.
///
/// Refused, before anything is dropped, when the URL's user could not create the database
/// again ([`cannot_recreate`]).
pub async fn reset(
    url: &DatabaseUrl,
    options: &PoolOptions,
    source: &Source,
) -> Result<(Database, Report)> {
    refuse_standby(url).await?;
    if let Some(why) = cannot_recreate(url).await? {
        return Err(Error::Refused(format!(
            "refusing to reset {url}: {why}; nothing was dropped: reset it as a user that may create databases (PostgreSQL: ALTER ROLE … CREATEDB; MySQL: GRANT ALL ON db.*), or drop its tables by hand and run `botdb setup`"
        )));
    }
    tracing::info!(%url, "dropping the database");
    drop_database(url).await?;
    let (_, db, report) = setup(url, options, source).await?;
    Ok((db, report))
}

/// Refuses a SQLite URL whose file does not exist, so that a command meant for an existing
/// database (seed, check) creates no empty file, nor its folder.
pub fn require_existing(url: &DatabaseUrl) -> Result<()> {
    match url.sqlite_path() {
        Some(path) if !path.exists() => Err(Error::NoSuchDatabase {
            url: url.to_string(),
        }),
        _ => Ok(()),
    }
}
