//! SQLite connections: diesel's synchronous driver behind diesel-async's wrapper, opened
//! with foreign keys enforced and a busy timeout, or read-only; and a raw connection for
//! SQLite's online backup API.

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, ConnectionError, ConnectionResult, SqliteConnection};
use diesel_async::pooled_connection::ManagerConfig;
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use futures_util::FutureExt;
use libsqlite3_sys as ffi;

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

/// The file a SQLite path really names: symlinks followed, and the folder made canonical
/// (the file itself may not exist yet). Locks and backups are keyed on it, so two paths
/// to one file (a symlink, `./x` and `x`) share them.
pub fn real_path(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let mut path = path.to_path_buf();
    // Follow a symlink chain by hand: canonicalize fails on a dangling one, whose target
    // SQLite would create.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&path)?;
                path = match path.parent() {
                    Some(parent) if target.is_relative() => parent.join(target),
                    _ => target,
                };
            }
            _ => break,
        }
    }
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file")
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok(std::fs::canonicalize(parent)?.join(name))
}

/// A raw SQLite connection, for what diesel does not expose: the online backup API, and
/// the file header read through SQLite's own file handle (opening and closing another
/// descriptor on the file would drop the POSIX locks this process holds on it).
pub struct RawSqlite {
    db: *mut ffi::sqlite3,
}

// The bundled SQLite is built thread-safe and the handle is opened with
// SQLITE_OPEN_FULLMUTEX (serialized): SQLite itself serializes calls on it.
unsafe impl Send for RawSqlite {}
unsafe impl Sync for RawSqlite {}

impl RawSqlite {
    /// Opens an existing database file (never creates one), waiting up to `busy` for locks.
    pub fn open(path: &Path, read_only: bool, busy: Duration) -> std::result::Result<Self, String> {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| "the path contains a NUL byte".to_string())?;
        let flags = ffi::SQLITE_OPEN_FULLMUTEX
            | if read_only {
                ffi::SQLITE_OPEN_READONLY
            } else {
                ffi::SQLITE_OPEN_READWRITE
            };
        let mut db = std::ptr::null_mut();
        // SAFETY: `name` is a valid C string; `db` receives a handle (or null), which
        // `Drop` closes.
        let rc = unsafe { ffi::sqlite3_open_v2(name.as_ptr(), &mut db, flags, std::ptr::null()) };
        let raw = RawSqlite { db };
        if rc != ffi::SQLITE_OK {
            return Err(raw.message(rc));
        }
        let ms = i32::try_from(busy.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: `raw.db` is an open handle.
        unsafe { ffi::sqlite3_busy_timeout(raw.db, ms) };
        Ok(raw)
    }

    fn message(&self, rc: i32) -> String {
        // SAFETY: errmsg and errstr return static or handle-owned C strings, copied here.
        unsafe {
            let text = if self.db.is_null() {
                ffi::sqlite3_errstr(rc)
            } else {
                ffi::sqlite3_errmsg(self.db)
            };
            if text.is_null() {
                return format!("SQLite error {rc}");
            }
            std::ffi::CStr::from_ptr(text)
                .to_string_lossy()
                .into_owned()
        }
    }

    /// Runs SQL that returns no rows (constant text only, never user input).
    pub fn execute(&self, sql: &str) -> std::result::Result<(), String> {
        let sql = std::ffi::CString::new(sql).map_err(|_| "NUL byte in SQL".to_string())?;
        // SAFETY: an open handle and a valid C string; no callback.
        let rc = unsafe {
            ffi::sqlite3_exec(
                self.db,
                sql.as_ptr(),
                None,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(self.message(rc))
        }
    }

    /// The first column of the first row of a query (constant text only), as an integer.
    pub fn query_i64(&self, sql: &str) -> std::result::Result<i64, String> {
        let sql = std::ffi::CString::new(sql).map_err(|_| "NUL byte in SQL".to_string())?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: an open handle; the statement is finalized on every path below.
        unsafe {
            let rc =
                ffi::sqlite3_prepare_v2(self.db, sql.as_ptr(), -1, &mut stmt, std::ptr::null_mut());
            if rc != ffi::SQLITE_OK {
                return Err(self.message(rc));
            }
            let rc = ffi::sqlite3_step(stmt);
            let value = (rc == ffi::SQLITE_ROW).then(|| ffi::sqlite3_column_int64(stmt, 0));
            let message = self.message(rc);
            ffi::sqlite3_finalize(stmt);
            value.ok_or(message)
        }
    }

    /// The file change counter in the database header (bytes 24..28), read from the file
    /// through SQLite's own handle. In rollback-journal mode every commit changes it.
    pub fn change_counter(&self) -> std::result::Result<u32, String> {
        let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
        let main = c"main";
        // SAFETY: FILE_POINTER stores the connection's `sqlite3_file*` (owned by the
        // connection, valid while it is open) into `file`; xRead reads into a 4-byte buffer.
        unsafe {
            let rc = ffi::sqlite3_file_control(
                self.db,
                main.as_ptr(),
                ffi::SQLITE_FCNTL_FILE_POINTER,
                (&mut file as *mut *mut ffi::sqlite3_file).cast(),
            );
            if rc != ffi::SQLITE_OK {
                return Err(self.message(rc));
            }
            if file.is_null() || (*file).pMethods.is_null() {
                return Err("SQLite gave no open file for the database".into());
            }
            let Some(read) = (*(*file).pMethods).xRead else {
                return Err("the SQLite file has no read method".into());
            };
            let mut bytes = [0u8; 4];
            let rc = read(file, bytes.as_mut_ptr().cast(), 4, 24);
            if rc != ffi::SQLITE_OK {
                return Err(self.message(rc));
            }
            Ok(u32::from_be_bytes(bytes))
        }
    }
}

impl Drop for RawSqlite {
    fn drop(&mut self) {
        // SAFETY: closing a handle this value owns (null is a no-op); its backups borrow
        // it, so they are finished by then.
        unsafe { ffi::sqlite3_close(self.db) };
    }
}

/// SQLite's online backup from `source` into `dest`: the copy is a write transaction on
/// `dest`, under SQLite's own locks, journaled, so other connections to the file keep
/// working and see either the old or the new content. Dropped before [`complete`], it
/// rolls back and changes nothing.
///
/// [`complete`]: OnlineBackup::complete
pub struct OnlineBackup<'a> {
    handle: *mut ffi::sqlite3_backup,
    dest: &'a RawSqlite,
}

// Used from one thread at a time, like the connections it borrows.
unsafe impl Send for OnlineBackup<'_> {}

impl<'a> OnlineBackup<'a> {
    /// Starts a backup of `source`'s main database into `dest`'s; nothing is locked yet.
    pub fn start(dest: &'a RawSqlite, source: &'a RawSqlite) -> std::result::Result<Self, String> {
        let main = c"main";
        // SAFETY: both handles are open and outlive the backup (borrowed for 'a).
        let handle =
            unsafe { ffi::sqlite3_backup_init(dest.db, main.as_ptr(), source.db, main.as_ptr()) };
        if handle.is_null() {
            return Err(dest.message(ffi::SQLITE_ERROR));
        }
        Ok(OnlineBackup { handle, dest })
    }

    /// Takes the destination's write lock without copying anything (waiting for other
    /// writers up to the busy timeout). It is held until [`OnlineBackup::complete`] or drop.
    pub fn lock(&mut self) -> std::result::Result<(), String> {
        // SAFETY: a live backup handle.
        match unsafe { ffi::sqlite3_backup_step(self.handle, 0) } {
            ffi::SQLITE_OK | ffi::SQLITE_DONE => Ok(()),
            rc => Err(self.dest.message(rc)),
        }
    }

    /// Copies every page and commits.
    pub fn complete(mut self) -> std::result::Result<(), String> {
        let handle = std::mem::replace(&mut self.handle, std::ptr::null_mut());
        // SAFETY: a live backup handle, finished exactly once here.
        let (step, finish) = unsafe {
            let step = ffi::sqlite3_backup_step(handle, -1);
            (step, ffi::sqlite3_backup_finish(handle))
        };
        if step != ffi::SQLITE_DONE {
            return Err(self.dest.message(step));
        }
        if finish != ffi::SQLITE_OK {
            return Err(self.dest.message(finish));
        }
        Ok(())
    }
}

impl Drop for OnlineBackup<'_> {
    fn drop(&mut self) {
        if !self.handle.is_null() {
            // SAFETY: an unfinished backup: finishing it rolls the destination back.
            unsafe { ffi::sqlite3_backup_finish(self.handle) };
        }
    }
}

/// Opens a connection that has read the file once. sqlite3_open only opens the file; a
/// file that is not a database, or a hot journal a read-only connection cannot roll back,
/// fails only at the first read, so it is done here: then connecting fails at once with
/// SQLite's message, instead of handing out connections whose every query fails.
///
/// The whole opening runs in one blocking task (not one per step), as a command's first
/// connection waits for it.
async fn open(target: &str) -> ConnectionResult<SqliteAsync> {
    let target = target.to_string();
    tokio::task::spawn_blocking(move || open_blocking(&target).map(SqliteAsync::new))
        .await
        .map_err(|e| ConnectionError::BadConnection(e.to_string()))?
}

/// [`open`] on the calling thread.
fn open_blocking(target: &str) -> ConnectionResult<SqliteConnection> {
    match open_and_read(target) {
        // A writer that died mid-transaction left a hot journal, which SQLite rolls back on
        // the first read, but only on a connection that may write. That restores the last
        // committed state, as any client's first read would: do it once on a read-write
        // connection (which never creates the file), then read-only again.
        Err(e) if e.to_string().contains("readonly database") => {
            let Some(path) = target.strip_suffix(READ_ONLY) else {
                return Err(e);
            };
            drop(open_and_read(&format!("{path}{READ_WRITE}"))?);
            tracing::warn!(
                "rolled back a hot journal left by a process that died while writing {}: the database is at its last committed state",
                path.trim_start_matches("file:")
            );
            open_and_read(target)
        }
        other => other,
    }
}

fn open_and_read(target: &str) -> ConnectionResult<SqliteConnection> {
    let mut conn = SqliteConnection::establish(target)?;
    let setup = format!(
        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {}; SELECT count(*) FROM sqlite_master;",
        SQLITE_BUSY_TIMEOUT.as_millis()
    );
    conn.batch_execute(&setup)
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}
