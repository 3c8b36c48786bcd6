//! Whole databases: does one exist, create it, drop it.
//!
//! On PostgreSQL and MySQL this goes through the server's maintenance database (`postgres`,
//! `information_schema`), since a database cannot create or drop itself. On SQLite a
//! database is a file.

use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::{
    AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection,
};

use crate::backend::Backend;
use crate::config::DatabaseUrl;
use crate::db::connect_error;
use crate::error::{one_line, Doing, Error, Result};
use crate::sql::literal::identifier;

/// A `COUNT(*) AS n` row.
#[derive(QueryableByName)]
pub(crate) struct Count {
    #[diesel(sql_type = BigInt)]
    pub(crate) n: i64,
}

/// The database every PostgreSQL/MySQL user can connect to for administration.
fn maintenance(url: &DatabaseUrl) -> Result<DatabaseUrl> {
    let backend = url.backend();
    url.with_database(backend.maintenance_database().unwrap_or_default())
}

/// Whether the database `url` names exists.
pub async fn database_exists(url: &DatabaseUrl) -> Result<bool> {
    let name = url.database_name();
    let what = Doing::CheckExists;
    match url.backend() {
        Backend::Sqlite => Ok(std::path::Path::new(&name).exists()),
        Backend::Postgres => {
            let mut conn = pg_reader(url).await?;
            let row = diesel::sql_query("SELECT COUNT(*) AS n FROM pg_database WHERE datname = $1")
                .bind::<Text, _>(&name)
                .get_result::<Count>(&mut conn)
                .await
                .map_err(|e| Error::query(what, e))?;
            pg_done(url, &mut conn).await?;
            Ok(row.n > 0)
        }
        Backend::Mysql => {
            let mut conn = mysql_admin(url).await?;
            let row = diesel::sql_query(
                "SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            )
            .bind::<Text, _>(&name)
            .get_result::<Count>(&mut conn)
            .await
            .map_err(|e| Error::query(what, e))?;
            Ok(row.n > 0)
        }
    }
}

/// Creates the database `url` names (on SQLite: its folder; the file comes with the first
/// connection).
pub async fn create_database(url: &DatabaseUrl) -> Result<()> {
    let sql = match url.backend() {
        Backend::Sqlite => {
            if let Some(parent) = url
                .sqlite_path()
                .and_then(|p| p.parent())
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent).map_err(|source| Error::CreateDir {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            return Ok(());
        }
        Backend::Postgres => format!(
            "CREATE DATABASE {}",
            identifier(Backend::Postgres, &url.database_name())?
        ),
        Backend::Mysql => format!(
            "CREATE DATABASE {} CHARACTER SET utf8mb4",
            identifier(Backend::Mysql, &url.database_name())?
        ),
    };
    admin_execute(url, &sql, Doing::CreateDatabase).await
}

/// Drops the database `url` names, if it exists. On PostgreSQL other sessions are
/// disconnected first (`WITH (FORCE)`).
pub async fn drop_database(url: &DatabaseUrl) -> Result<()> {
    let sql = match url.backend() {
        Backend::Sqlite => {
            let path = url.database_name();
            for suffix in ["", "-wal", "-shm", "-journal"] {
                match std::fs::remove_file(format!("{path}{suffix}")) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(Error::File {
                            verb: "remove",
                            path: format!("{path}{suffix}").into(),
                            message: e.to_string(),
                        })
                    }
                    _ => {}
                }
            }
            return Ok(());
        }
        Backend::Postgres => format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            identifier(Backend::Postgres, &url.database_name())?
        ),
        Backend::Mysql => format!(
            "DROP DATABASE IF EXISTS {}",
            identifier(Backend::Mysql, &url.database_name())?
        ),
    };
    admin_execute(url, &sql, Doing::DropDatabase).await
}

/// Why the URL's user could not create the database again once it is dropped, if it could
/// not; asked before `reset` drops anything.
///
/// PostgreSQL: `CREATE DATABASE` needs the CREATEDB attribute (or superuser), which a role
/// that was handed its database by a DBA often lacks, and which is never inherited from
/// another role. MySQL: it needs the CREATE privilege on that database name, globally or
/// by a grant on `db.*`; `CREATE DATABASE IF NOT EXISTS` asks the server exactly that (it
/// checks the privilege before it looks whether the database exists) and changes nothing
/// when the database is there.
pub async fn cannot_recreate(url: &DatabaseUrl) -> Result<Option<String>> {
    #[derive(QueryableByName)]
    struct Role {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        may_create: bool,
    }
    match url.backend() {
        Backend::Sqlite => Ok(None),
        Backend::Postgres => {
            let mut conn = pg_reader(url).await?;
            let role = diesel::sql_query(
                "SELECT rolname::text AS name, (rolcreatedb OR rolsuper) AS may_create FROM pg_roles WHERE rolname = current_user",
            )
            .get_result::<Role>(&mut conn)
            .await
            .map_err(|e| Error::query(Doing::CheckExists, url.scrub(&e.to_string())))?;
            pg_done(url, &mut conn).await?;
            Ok((!role.may_create).then(|| {
                format!(
                    "the role {} may not create databases (it has no CREATEDB), so the database could not be created again",
                    role.name
                )
            }))
        }
        Backend::Mysql => {
            let sql = format!(
                "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4",
                identifier(Backend::Mysql, &url.database_name())?
            );
            match mysql_admin(url).await?.batch_execute(&sql).await {
                Ok(()) => Ok(None),
                Err(e) => Ok(Some(format!(
                    "the user may not create it again ({})",
                    url.scrub(&one_line(&e.to_string()))
                ))),
            }
        }
    }
}

async fn admin_execute(url: &DatabaseUrl, sql: &str, doing: Doing) -> Result<()> {
    match url.backend() {
        Backend::Postgres => pg_admin(url).await?.batch_execute(sql).await,
        Backend::Mysql => mysql_admin(url).await?.batch_execute(sql).await,
        Backend::Sqlite => Ok(()),
    }
    .map_err(|e| Error::query(doing, url.scrub(&e.to_string())))
}

/// A maintenance connection for statements without results (CREATE / DROP DATABASE, which
/// cannot run in a transaction). Behind a transaction-mode pooler it is set up as the pool's
/// connections are: diesel-async's own set-up prepares statements outside a transaction,
/// which clash there with those other clients left on the server connection.
async fn pg_admin(url: &DatabaseUrl) -> Result<AsyncPgConnection> {
    let admin = maintenance(url)?;
    if url.behind_pooler() {
        crate::db::pooler::establish(admin.connection_string()).await
    } else {
        AsyncPgConnection::establish(admin.connection_string()).await
    }
    .map_err(|e| connect_error(&admin, &e.to_string()))
}

/// A maintenance connection for queries with results. Behind a transaction-mode pooler
/// they run in a transaction (committed by [`pg_done`]) with no statement cache, so their
/// prepared statements stay on one server connection (see `db::pooler`).
async fn pg_reader(url: &DatabaseUrl) -> Result<AsyncPgConnection> {
    if !url.behind_pooler() {
        return pg_admin(url).await;
    }
    let mut conn = pg_admin(url).await?;
    crate::db::pooler::begin(&mut conn).await?;
    Ok(conn)
}

async fn pg_done(url: &DatabaseUrl, conn: &mut AsyncPgConnection) -> Result<()> {
    if url.behind_pooler() {
        crate::db::pooler::commit(conn).await?;
    }
    Ok(())
}

/// Refuses a server in recovery (a hot standby) before a command that writes touches it,
/// through the maintenance database (for setup and reset, whose database may not exist).
pub async fn refuse_standby(url: &DatabaseUrl) -> Result<()> {
    #[derive(QueryableByName)]
    struct Recovery {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        standby: bool,
    }
    if url.backend() != Backend::Postgres {
        return Ok(());
    }
    let mut conn = pg_reader(url).await?;
    let row = diesel::sql_query("SELECT pg_is_in_recovery() AS standby")
        .get_result::<Recovery>(&mut conn)
        .await
        .map_err(|e| Error::query(Doing::CheckStandby, e))?;
    pg_done(url, &mut conn).await?;
    if row.standby {
        return Err(Error::Standby {
            url: url.redacted(),
        });
    }
    Ok(())
}

async fn mysql_admin(url: &DatabaseUrl) -> Result<AsyncMysqlConnection> {
    let admin = maintenance(url)?;
    crate::db::mysql::establish(admin.connection_string())
        .await
        .map_err(|e| connect_error(&admin, &e.to_string()))
}
