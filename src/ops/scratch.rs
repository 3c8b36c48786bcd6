//! Throwaway databases: a temporary SQLite file, or a uniquely named database on the
//! same server, for building the schema the migrations produce without touching the
//! real database.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use crate::backend::Backend;
use crate::config::DatabaseUrl;
use crate::database::Database;
use crate::db::admin::{create_database, drop_database};
use crate::db::PoolOptions;
use crate::error::Result;
use crate::introspect::Schema;
use crate::migration::catalog::Source;

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
        // Listed before it exists, so a signal during the creation still drops it.
        live().push(url.clone());
        if let Err(e) = create_database(&url).await {
            forget(&url);
            return Err(e);
        }
        let options = PoolOptions {
            max_size: 1,
            ..PoolOptions::default()
        };
        match Database::connect_with(url.clone(), &options).await {
            // Private to this process: no migration lock (and no SQLite lock file) needed.
            Ok(db) => Ok(Scratch {
                url,
                db: db.with_source(source.clone()).assume_locked(),
            }),
            Err(e) => {
                let _ = drop_database(&url).await;
                forget(&url);
                Err(e)
            }
        }
    }

    /// A scratch database of `db`'s kind, sharing the migrations `db` already read.
    pub async fn like(db: &Database) -> Result<Scratch> {
        let catalog = db.shared_catalog()?;
        let Scratch { url, db: scratch } = Scratch::create(db.url(), db.source()).await?;
        Ok(Scratch {
            url,
            db: scratch.with_catalog(catalog),
        })
    }

    /// Drops the scratch database.
    pub async fn remove(self) -> Result<()> {
        let Scratch { url, db } = self;
        std::mem::drop(db);
        let dropped = drop_database(&url).await;
        if dropped.is_ok() {
            forget(&url);
        }
        dropped
    }
}

/// The scratch databases this process created and has not dropped yet.
fn live() -> std::sync::MutexGuard<'static, Vec<DatabaseUrl>> {
    static LIVE: Mutex<Vec<DatabaseUrl>> = Mutex::new(Vec::new());
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn forget(url: &DatabaseUrl) {
    live().retain(|u| u.database_name() != url.database_name());
}

/// Drops every scratch database this process still has, each within `timeout`: for an
/// interrupted command (Ctrl-C, SIGTERM), which would otherwise leave them behind.
/// Returns those that could not be dropped, with why.
pub async fn drop_all(timeout: std::time::Duration) -> Vec<(String, String)> {
    let urls: Vec<DatabaseUrl> = live().clone();
    let mut left = Vec::new();
    for url in urls {
        match tokio::time::timeout(timeout, drop_database(&url)).await {
            Ok(Ok(())) => forget(&url),
            Ok(Err(e)) => left.push((url.database_name(), e.to_string())),
            Err(_) => left.push((
                url.database_name(),
                format!("not dropped within {} s", timeout.as_secs()),
            )),
        }
    }
    left
}

/// The schema `like`'s migrations produce up to and including `version` (an empty
/// database when `None`), built on a scratch database of its kind.
pub async fn schema_at(like: &Database, version: Option<&str>) -> Result<Schema> {
    let scratch = Scratch::like(like).await?;
    let schema = match version {
        Some(v) => match scratch.db.apply_pending(Some(v), &mut |_| {}).await {
            Ok(_) => scratch.db.introspect().await,
            Err(e) => Err(e),
        },
        None => scratch.db.introspect().await,
    };
    scratch.remove().await?;
    schema
}
