//! SQLite connections: diesel's synchronous driver behind diesel-async's wrapper, opened
//! with foreign keys enforced and a busy timeout, or read-only.

use std::path::Path;
use std::time::Duration;

use diesel::SqliteConnection;
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
        return Ok(format!("file:{escaped}?mode=ro"));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::CreateDir {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    Ok(text)
}

/// Every SQLite connection enforces foreign keys and waits for a busy database instead of failing.
pub(crate) fn sqlite_config() -> ManagerConfig<SqliteAsync> {
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(|target: &str| {
        let target = target.to_string();
        async move {
            let mut conn = SqliteAsync::establish(&target).await?;
            let pragmas = format!(
                "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {};",
                SQLITE_BUSY_TIMEOUT.as_millis()
            );
            conn.batch_execute(&pragmas)
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    config
}
