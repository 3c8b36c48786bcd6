//! Whole databases: does one exist, create it, drop it, and throwaway scratch databases.
//!
//! On PostgreSQL and MySQL this goes through the server's maintenance database (`postgres`,
//! `information_schema`), since a database cannot create or drop itself. On SQLite a
//! database is a file.

use std::sync::atomic::{AtomicU32, Ordering};

use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::{
    AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection,
};

use crate::config::{Backend, DatabaseUrl};
use crate::db::{connect_error, PoolOptions};
use crate::error::{Error, Result};
use crate::migrate::Source;
use crate::sql::identifier;
use crate::Database;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The database every PostgreSQL/MySQL user can connect to for administration.
fn maintenance(url: &DatabaseUrl) -> Result<DatabaseUrl> {
    match url.backend() {
        Backend::Postgres => url.with_database("postgres"),
        _ => url.with_database("information_schema"),
    }
}

/// Whether the database `url` names exists.
pub async fn exists(url: &DatabaseUrl) -> Result<bool> {
    let name = url.database_name();
    let what = "checking whether the database exists";
    match url.backend() {
        Backend::Sqlite => Ok(std::path::Path::new(&name).exists()),
        Backend::Postgres => {
            let mut conn = pg_admin(url).await?;
            let row = diesel::sql_query("SELECT COUNT(*) AS n FROM pg_database WHERE datname = $1")
                .bind::<Text, _>(&name)
                .get_result::<Count>(&mut conn)
                .await
                .map_err(|e| Error::query(what, e))?;
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
pub async fn create(url: &DatabaseUrl) -> Result<()> {
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
    admin_execute(url, &sql, "creating the database").await
}

/// Drops the database `url` names, if it exists. On PostgreSQL other sessions are
/// disconnected first (`WITH (FORCE)`).
pub async fn drop(url: &DatabaseUrl) -> Result<()> {
    let sql = match url.backend() {
        Backend::Sqlite => {
            let path = url.database_name();
            for suffix in ["", "-wal", "-shm", "-journal"] {
                match std::fs::remove_file(format!("{path}{suffix}")) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(Error::Output {
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
    admin_execute(url, &sql, "dropping the database").await
}

async fn admin_execute(url: &DatabaseUrl, sql: &str, what: &'static str) -> Result<()> {
    match url.backend() {
        Backend::Postgres => pg_admin(url).await?.batch_execute(sql).await,
        Backend::Mysql => mysql_admin(url).await?.batch_execute(sql).await,
        Backend::Sqlite => Ok(()),
    }
    .map_err(|e| Error::query(what, url.scrub(&e.to_string())))
}

async fn pg_admin(url: &DatabaseUrl) -> Result<AsyncPgConnection> {
    let admin = maintenance(url)?;
    AsyncPgConnection::establish(admin.connection_string())
        .await
        .map_err(|e| connect_error(&admin, &e.to_string()))
}

async fn mysql_admin(url: &DatabaseUrl) -> Result<AsyncMysqlConnection> {
    let admin = maintenance(url)?;
    AsyncMysqlConnection::establish(admin.connection_string())
        .await
        .map_err(|e| connect_error(&admin, &e.to_string()))
}

/// A database that exists only while it is needed: a temporary SQLite file, or a uniquely
/// named database on the same server as `like`. Call [`Scratch::remove`] when done.
pub struct Scratch {
    url: DatabaseUrl,
    /// Connected to the scratch database.
    pub db: Database,
}

impl Scratch {
    /// Creates an empty scratch database of `like`'s backend, with `source`'s migrations.
    pub async fn create(like: &DatabaseUrl, source: &Source) -> Result<Scratch> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "botdb_scratch_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let url = match like.backend() {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.sqlite3"));
                like.with_database(&path.to_string_lossy())?
            }
            _ => like.with_database(&name)?,
        };
        tracing::debug!(%url, "creating a scratch database");
        create(&url).await?;
        let options = PoolOptions {
            max_size: 1,
            ..PoolOptions::default()
        };
        match Database::connect_with(url.clone(), &options).await {
            Ok(db) => Ok(Scratch {
                url,
                db: db.with_source(source.clone()),
            }),
            Err(e) => {
                let _ = drop(&url).await;
                Err(e)
            }
        }
    }

    /// Drops the scratch database.
    pub async fn remove(self) -> Result<()> {
        let Scratch { url, db } = self;
        std::mem::drop(db);
        drop(&url).await
    }
}
