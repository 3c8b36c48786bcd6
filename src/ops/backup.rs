//! SQLite backups around a migrate, revert or redo.
//!
//! - Taken with `VACUUM INTO` next to the database's real file (symlinks followed), under a
//!   temporary name that is synced and then renamed, so a crash never leaves a `.bak` that
//!   looks complete and is not.
//! - Kept only when the run changed something; pruning keeps the newest few complete ones
//!   and removes each pruned file's `-journal`, `-wal` and `-shm` too.
//! - Put back after a failed run with SQLite's online backup API, in place and under
//!   SQLite's own locks, and only if no other process wrote to the database since the
//!   backup: botdb never discards writes it did not make (see [`Database::restore`]).

use std::path::{Path, PathBuf};

use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};

use crate::backend::Backend;
use crate::database::Database;
use crate::db::sqlite::{real_path, OnlineBackup, RawSqlite, SQLITE_BUSY_TIMEOUT};
use crate::db::with_connection;
use crate::error::{Doing, Error, Result};
use crate::introspect::{user_tables, Introspect};
use crate::migration::harness::blocking;
use crate::sql::literal::{literal, Literal};

/// Backups kept by default.
pub const DEFAULT_KEEP: usize = 5;

/// Appended to a backup's name while it is being written.
const PARTIAL: &str = ".partial";

/// The files SQLite may keep beside a database.
const COMPANIONS: [&str; 3] = ["-journal", "-wal", "-shm"];

fn io_error(verb: &'static str, path: &Path, e: std::io::Error) -> Error {
    Error::File {
        verb,
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn backup_error(e: impl std::fmt::Display) -> Error {
    Error::query(Doing::Backup, e)
}

/// `<file>.<UTC timestamp>.bak`, which sorts by age.
fn backup_name(db: &Path) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    db.with_file_name(format!("{}.{stamp}.bak", file_name(db)))
}

fn file_name(db: &Path) -> String {
    db.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Whether `s` is a [`backup_name`] timestamp, e.g. `20261127T090053.123456Z`: only
/// botdb's own backups are ever pruned, never a user's `shop.db.before-upgrade.bak`.
fn is_stamp(s: &str) -> bool {
    const SHAPE: &str = "ddddddddTdddddd.ddddddZ";
    s.len() == SHAPE.len()
        && s.chars().zip(SHAPE.chars()).all(|(c, p)| match p {
            'd' => c.is_ascii_digit(),
            p => c == p,
        })
}

/// The real file a database path names, for keying backups on it.
fn resolve(db: &Path) -> Result<PathBuf> {
    real_path(db).map_err(|e| io_error("resolve", db, e))
}

/// botdb's files for `db` (a real path) named `<file>.<stamp><suffix>`, oldest first.
fn stamped(db: &Path, suffix: &str) -> Result<Vec<PathBuf>> {
    let name = file_name(db);
    let dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io_error("list", dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy())
                .and_then(|n| {
                    n.strip_prefix(&format!("{name}."))
                        .and_then(|rest| rest.strip_suffix(suffix))
                        .map(is_stamp)
                })
                .unwrap_or(false)
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Whether a backup file is whole: a SQLite header, and no journal beside it (which would
/// mean it was cut off while being written).
fn is_complete(backup: &Path) -> bool {
    use std::io::Read;
    if with_suffix(backup, "-journal").exists() {
        return false;
    }
    let mut header = [0u8; 16];
    std::fs::File::open(backup)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok_and(|()| &header == b"SQLite format 3\0")
}

/// Removes a file and SQLite's companions of it.
fn remove_with_companions(path: &Path) -> Result<()> {
    for suffix in std::iter::once("").chain(COMPANIONS) {
        let file = with_suffix(path, suffix);
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io_error("remove", &file, e))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The complete backups of the database at `db`, oldest first. Broken ones (cut off by a
/// crash in an older botdb) are not listed, and never count toward the kept number.
pub fn backups(db: &Path) -> Result<Vec<PathBuf>> {
    let db = resolve(db)?;
    Ok(stamped(&db, ".bak")?
        .into_iter()
        .filter(|p| is_complete(p))
        .collect())
}

/// Keeps the newest `keep` (at least one) complete backups of `db` and removes the rest,
/// broken ones included, each with its companions.
pub fn prune(db: &Path, keep: usize) -> Result<()> {
    let db = resolve(db)?;
    let (complete, broken): (Vec<PathBuf>, Vec<PathBuf>) = stamped(&db, ".bak")?
        .into_iter()
        .partition(|p| is_complete(p));
    let old = complete.len().saturating_sub(keep.max(1));
    for file in broken.iter().chain(&complete[..old]) {
        remove_with_companions(file)?;
    }
    Ok(())
}

/// Flushes a file (or a folder's entries) to disk.
fn sync(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error("sync", path, e))
}

/// A backup taken before a run, and what is needed to tell, after it, whether anyone wrote
/// to the database since.
pub struct Backup {
    path: PathBuf,
    db: PathBuf,
    /// A connection of botdb's own, opened before the backup: its `data_version` changes
    /// when anyone (botdb included) commits.
    watch: RawSqlite,
    any_version: i64,
    /// The pool's `data_version` before the backup: it changes only when a connection
    /// other than the pool's single one commits.
    ours_version: i64,
}

/// Written to the pool connection's temp schema before the backup (a new connection reads
/// 0 there), to notice if the pool replaced the connection during the run.
const MARKER: i64 = 0x626f_7464;

impl Backup {
    /// The backup file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Deletes a backup that turned out not to be needed (the run changed nothing).
    pub fn discard(self) -> Result<()> {
        remove_with_companions(&self.path)
    }

    /// Keeps this backup, and prunes the database's older ones down to `keep`.
    pub fn keep(self, keep: usize) -> Result<()> {
        prune(&self.db, keep)
    }
}

/// What [`Database::restore`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restore {
    /// Nothing was committed since the backup: nothing to undo.
    Unchanged,
    /// The backup was copied back into the database.
    Restored,
    /// The database was left as it is, for this reason.
    Refused(&'static str),
}

#[derive(QueryableByName)]
struct Pragma {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

#[derive(QueryableByName)]
struct UserVersion {
    #[diesel(sql_type = BigInt)]
    user_version: i64,
}

#[derive(QueryableByName)]
struct JournalMode {
    #[diesel(sql_type = Text)]
    journal_mode: String,
}

const OTHERS_WROTE: &str = "another process wrote to the database during the run, and putting the backup back would discard its writes";
const REPLACED: &str = "botdb's connection to the database was replaced during the run, so it cannot tell whether another process wrote to it";

impl Database {
    /// Backs a SQLite database up next to its real file. Returns `None` on other backends
    /// and when the database holds nothing but botdb's bookkeeping (nothing to lose).
    ///
    /// A later [`Database::restore`] relies on every write botdb makes in between going
    /// through this handle's pool with a single connection (`max_size` 1).
    pub async fn backup(&self) -> Result<Option<Backup>> {
        let Some(typed) = self.url().sqlite_path() else {
            return Ok(None);
        };
        let tables = with_connection!(self.pool(), |conn| conn.tables().await?);
        if user_tables(tables).next().is_none() {
            tracing::debug!("the database holds no tables yet: no backup needed");
            return Ok(None);
        }
        let db = resolve(typed)?;
        // Watching starts before the copy: a commit in between is then seen as a write by
        // someone else, so at worst a restore is refused, never a write lost.
        let watch =
            blocking(|| RawSqlite::open(&db, false, SQLITE_BUSY_TIMEOUT).map_err(backup_error))?;
        let any_version =
            blocking(|| watch.query_i64("PRAGMA data_version").map_err(backup_error))?;
        let ours_version = with_connection!(self.pool(), |conn| {
            conn.batch_execute(&format!("PRAGMA temp.user_version = {MARKER}"))
                .await
                .map_err(backup_error)?;
            diesel::sql_query("SELECT data_version AS value FROM pragma_data_version")
                .get_result::<Pragma>(&mut conn)
                .await
                .map_err(backup_error)?
                .value
        });

        // Only botdb writes these names, and only under the migration lock: any found now
        // were cut off by a crash.
        for stale in stamped(&db, &format!(".bak{PARTIAL}"))? {
            remove_with_companions(&stale)?;
        }
        let target = backup_name(&db);
        let partial = with_suffix(&target, PARTIAL);
        let sql = format!(
            "VACUUM INTO {}",
            literal(Backend::Sqlite, &Literal::Str(&partial.to_string_lossy()))?
        );
        let written = async {
            with_connection!(self.pool(), |conn| {
                conn.batch_execute(&sql).await.map_err(backup_error)?;
            });
            sync(&partial)?;
            std::fs::rename(&partial, &target).map_err(|e| io_error("write", &target, e))?;
            if let Some(dir) = target.parent() {
                sync(dir)?;
            }
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = written {
            let _ = remove_with_companions(&partial);
            return Err(e);
        }
        tracing::info!(backup = %target.display(), "backed up the database");
        Ok(Some(Backup {
            path: target,
            db,
            watch,
            any_version,
            ours_version,
        }))
    }

    /// After a failed run: puts `backup` back into the database, in place, with SQLite's
    /// online backup API (a journaled write transaction under SQLite's locks, so other
    /// connections keep working, and a symlinked database is restored in its real file).
    ///
    /// It does so only if botdb committed something since the backup and nobody else did:
    /// the check and the copy happen under one SQLite lock, so no write can slip between
    /// them. Otherwise the database is left as it is ([`Restore::Refused`]).
    pub async fn restore(&self, backup: &Backup) -> Result<Restore> {
        let restore_error = |e: String| Error::query(Doing::Restore, e);
        let any = blocking(|| {
            backup
                .watch
                .query_i64("PRAGMA data_version")
                .map_err(restore_error)
        })?;
        if any == backup.any_version {
            return Ok(Restore::Unchanged);
        }
        let wal = with_connection!(self.pool(), |conn| {
            diesel::sql_query("PRAGMA journal_mode")
                .get_result::<JournalMode>(&mut conn)
                .await
                .map_err(|e| restore_error(e.to_string()))?
                .journal_mode
                .eq_ignore_ascii_case("wal")
        });
        let source = blocking(|| {
            RawSqlite::open(&backup.path, true, SQLITE_BUSY_TIMEOUT).map_err(restore_error)
        })?;
        let dest = &backup.watch;
        if wal {
            // WAL: the copy's write lock comes first; readers are not blocked by it, so the
            // pool's connection can then check, and no commit can come in between.
            let mut copy = OnlineBackup::start(dest, &source).map_err(restore_error)?;
            blocking(|| copy.lock().map_err(restore_error))?;
            let (refused, _) = self.others_wrote(backup).await?;
            if let Some(reason) = refused {
                return Ok(Restore::Refused(reason));
            }
            blocking(|| copy.complete().map_err(restore_error))?;
        } else {
            // Rollback journal: the copy's lock is exclusive and would block the check, so
            // the check reads the file change counter under its own read lock, and the copy
            // goes ahead only if the counter is the same once it holds the write lock.
            let (refused, counter) = self.others_wrote(backup).await?;
            if let Some(reason) = refused {
                return Ok(Restore::Refused(reason));
            }
            let mut copy = OnlineBackup::start(dest, &source).map_err(restore_error)?;
            blocking(|| copy.lock().map_err(restore_error))?;
            let now = blocking(|| dest.change_counter().map_err(restore_error))?;
            if Some(now) != counter {
                return Ok(Restore::Refused(OTHERS_WROTE));
            }
            blocking(|| copy.complete().map_err(restore_error))?;
        }
        tracing::info!(backup = %backup.path.display(), "restored the database in place");
        Ok(Restore::Restored)
    }

    /// Whether anyone but botdb's pool connection committed since the backup, checked
    /// inside a read transaction on it; with the file change counter read meanwhile (no
    /// commit can happen while the read lock is held).
    async fn others_wrote(&self, backup: &Backup) -> Result<(Option<&'static str>, Option<u32>)> {
        let restore_error = |e: String| Error::query(Doing::Restore, e);
        with_connection!(self.pool(), |conn| {
            conn.batch_execute("BEGIN")
                .await
                .map_err(|e| restore_error(e.to_string()))?;
            // Whatever fails from here on, the COMMIT below still ends the transaction, so
            // the pool's one connection never goes back holding a read lock.
            let read = async {
                // The first read takes the shared lock the rest is read under.
                conn.batch_execute("SELECT COUNT(*) FROM sqlite_master")
                    .await?;
                let marker = diesel::sql_query("PRAGMA temp.user_version")
                    .get_result::<UserVersion>(&mut conn)
                    .await?
                    .user_version;
                let ours =
                    diesel::sql_query("SELECT data_version AS value FROM pragma_data_version")
                        .get_result::<Pragma>(&mut conn)
                        .await?
                        .value;
                Ok::<_, diesel::result::Error>((marker, ours))
            }
            .await;
            let counter = backup.watch.change_counter().ok();
            let ended = conn.batch_execute("COMMIT").await;
            let (marker, ours) = read.map_err(|e| restore_error(e.to_string()))?;
            ended.map_err(|e| restore_error(e.to_string()))?;
            let refused = if marker != MARKER {
                Some(REPLACED)
            } else if ours != backup.ours_version {
                Some(OTHERS_WROTE)
            } else {
                None
            };
            Ok((refused, counter))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_botdb_backups_are_listed(
    ) -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("shop.db");
        let ours = backup_name(&db);
        let whole = b"SQLite format 3\0 and the rest".as_slice();
        for (file, bytes) in [
            (ours.clone(), whole),
            (dir.path().join("shop.db.before-upgrade.bak"), whole),
            (dir.path().join("shop.db.20261127T090053Z.bak"), whole),
            (
                dir.path().join("other.db.20261127T090053.123456Z.bak"),
                whole,
            ),
            (
                dir.path().join("shop.db.20261127T090053.123456Z.bak"),
                b"".as_slice(),
            ),
        ] {
            std::fs::write(file, bytes)?;
        }
        assert_eq!(backups(&db)?, vec![ours.clone()]);
        std::fs::write(with_suffix(&ours, "-journal"), "")?;
        assert!(
            backups(&db)?.is_empty(),
            "a backup with a hot journal is not whole"
        );
        Ok(())
    }
}
