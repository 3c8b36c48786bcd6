//! SQLite backups around a migrate or revert: `VACUUM INTO` a timestamped file next to the
//! database, keep the newest few, and put one back if a run fails.

use std::path::{Path, PathBuf};

use crate::backend::Backend;
use crate::checksum;
use crate::database::Database;
use crate::db::with_connection;
use crate::error::{Doing, Error, Result};
use crate::introspect::{user_tables, Introspect};
use crate::sql::literal::{literal, Literal};

/// Backups kept by default.
pub const DEFAULT_KEEP: usize = 5;

fn io_error(verb: &'static str, path: &Path, e: std::io::Error) -> Error {
    Error::File {
        verb,
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// `<file>.<UTC timestamp>.bak`, which sorts by age.
fn backup_name(db: &Path) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let name = db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    db.with_file_name(format!("{name}.{stamp}.bak"))
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

/// The backups of `db`, oldest first.
pub fn backups(db: &Path) -> Result<Vec<PathBuf>> {
    let name = db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
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
                        .and_then(|rest| rest.strip_suffix(".bak"))
                        .map(is_stamp)
                })
                .unwrap_or(false)
        })
        .collect();
    found.sort();
    Ok(found)
}

impl Database {
    /// Backs a SQLite database up next to its file and keeps the newest `keep` backups.
    /// Returns the backup, or `None` on other backends and when the database holds
    /// nothing but botdb's bookkeeping (a new database: nothing to lose).
    pub async fn backup(&self, keep: usize) -> Result<Option<PathBuf>> {
        let Some(path) = self.url().sqlite_path().map(Path::to_path_buf) else {
            return Ok(None);
        };
        let tables = with_connection!(self.pool(), |conn| conn.tables().await?);
        if user_tables(tables).next().is_none() {
            tracing::debug!("the database holds no tables yet: no backup needed");
            return Ok(None);
        }
        let target = backup_name(&path);
        let sql = format!(
            "VACUUM INTO {}",
            literal(Backend::Sqlite, &Literal::Str(&target.to_string_lossy()))?
        );
        with_connection!(self.pool(), |conn| {
            use diesel_async::SimpleAsyncConnection;
            conn.batch_execute(&sql)
                .await
                .map_err(|e| Error::query(Doing::Backup, e))?;
        });
        let all = backups(&path)?;
        for old in all.iter().take(all.len().saturating_sub(keep.max(1))) {
            match std::fs::remove_file(old) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_error("remove", old, e))
                }
                _ => {}
            }
        }
        tracing::info!(backup = %target.display(), "backed up the database");
        Ok(Some(target))
    }
}

/// The SHA-256 of a file's bytes, to tell whether a failed run changed the database.
pub fn digest(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| io_error("read", path, e))?;
    Ok(checksum::digest(&bytes))
}

/// Puts `backup` in place of the database file at `db`. Every connection to it must be
/// closed first.
pub fn restore(backup: &Path, db: &Path) -> Result<()> {
    let staging = db.with_extension("restoring");
    std::fs::copy(backup, &staging).map_err(|e| io_error("write", &staging, e))?;
    for suffix in ["-journal", "-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", db.display()));
        if side.exists() {
            std::fs::remove_file(&side).map_err(|e| io_error("remove", &side, e))?;
        }
    }
    std::fs::rename(&staging, db).map_err(|e| io_error("write", db, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_botdb_backups_are_listed() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("shop.db");
        let ours = backup_name(&db);
        for file in [
            ours.clone(),
            dir.path().join("shop.db.before-upgrade.bak"),
            dir.path().join("shop.db.20261127T090053Z.bak"),
            dir.path().join("other.db.20261127T090053.123456Z.bak"),
        ] {
            std::fs::write(file, "")?;
        }
        assert_eq!(backups(&db)?, vec![ours]);
        Ok(())
    }
}
