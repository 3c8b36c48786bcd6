//! SQLite connections: diesel's synchronous driver behind diesel-async's wrapper, opened
//! with foreign keys enforced and a busy timeout, or read-only.

use std::path::Path;
use std::time::Duration;

use diesel::{ConnectionError, ConnectionResult, SqliteConnection};
use diesel_async::pooled_connection::ManagerConfig;
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, SimpleAsyncConnection};
use futures_util::FutureExt;

use crate::error::{Error, Result};

/// A SQLite connection usable from async code (diesel's sync driver on a blocking thread).
pub type SqliteAsync = SyncConnectionWrapper<SqliteConnection>;

/// How long a SQLite connection waits for another writer before failing with "database is locked".
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The string diesel's SQLite driver opens: a plain path, or a read-only `file:` URI.
pub(crate) fn sqlite_target(path: &Path, read_only: bool) -> Result<String> {
    let text = path.to_string_lossy().into_owned();
    if read_only {
        // SQLite URI syntax: these characters would otherwise start the query or fragment.
        let escaped = text
            .replace('%', "%25")
            .replace('?', "%3f")
            .replace('#', "%23");
        return Ok(format!("file:{escaped}{READ_ONLY}"));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::CreateDir {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    Ok(text)
}

/// The query of a read-only target (`sqlite_target`), and the one that may write an existing
/// file but not create one.
const READ_ONLY: &str = "?mode=ro";
const READ_WRITE: &str = "?mode=rw";

/// Every SQLite connection enforces foreign keys and waits for a busy database instead of failing.
pub(crate) fn sqlite_config() -> ManagerConfig<SqliteAsync> {
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(|target: &str| {
        let target = target.to_string();
        async move { open(&target).await }.boxed()
    });
    config
}

/// Opens a connection that has read the file once. sqlite3_open only opens the file; a
/// file that is not a database, or a hot journal a read-only connection cannot roll back,
/// fails only at the first read, so it is done here: then connecting fails at once with
/// SQLite's message, instead of handing out connections whose every query fails.
async fn open(target: &str) -> ConnectionResult<SqliteAsync> {
    match open_and_read(target).await {
        // A writer that died mid-transaction left a hot journal, which SQLite rolls back on
        // the first read, but only on a connection that may write. That restores the last
        // committed state, as any client's first read would: do it once on a read-write
        // connection (which never creates the file), then read-only again.
        Err(e) if e.to_string().contains("readonly database") => {
            let Some(path) = target.strip_suffix(READ_ONLY) else {
                return Err(e);
            };
            drop(open_and_read(&format!("{path}{READ_WRITE}")).await?);
            tracing::warn!(
                "rolled back a hot journal left by a process that died while writing {}: the database is at its last committed state",
                path.trim_start_matches("file:")
            );
            open_and_read(target).await
        }
        other => other,
    }
}

async fn open_and_read(target: &str) -> ConnectionResult<SqliteAsync> {
    let mut conn = SqliteAsync::establish(target).await?;
    let setup = format!(
        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {}; SELECT count(*) FROM sqlite_master;",
        SQLITE_BUSY_TIMEOUT.as_millis()
    );
    conn.batch_execute(&setup)
        .await
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}
