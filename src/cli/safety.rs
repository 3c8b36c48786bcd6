//! Safety around commands that change the schema: SQLite backups taken first and put
//! back after a failure, and confirmation before a revert deletes data.

use std::io::{self, IsTerminal, Write};

use botdb::ops::backup;
use botdb::{Database, MigrationLock, Report, RevertTarget};

use super::args::{BackupArgs, GlobalArgs};
use super::error::CliError;
use super::output::Progress;

/// A revert or redo, guarded: under the migration lock, it first says what data the revert
/// to `target` deletes (and asks), backs a SQLite database up, then runs `work`, and puts
/// the backup back if `work` fails.
pub async fn guarded_revert(
    global: &GlobalArgs,
    backups: &BackupArgs,
    target: &RevertTarget,
    yes: bool,
    work: impl AsyncFnOnce(&Database, &mut Progress) -> botdb::Result<Report>,
) -> Result<(Database, Report, Progress), CliError> {
    let (db, lock) = global.connect_locked().await?;
    confirm_losses(&db, target, yes).await?;
    let changes = db.status().await?.applied().next().is_some();
    let backup = backups.take(&db, changes).await?;
    let mut progress = Progress::start();
    let result = work(&db, &mut progress).await;
    let (db, report) = settle(db, lock, backup, result).await?;
    Ok((db, report, progress))
}

impl BackupArgs {
    /// Backs a SQLite database up when the command is about to change it, and notes the
    /// file's digest so a failed run is undone only if it changed the file.
    pub async fn take(&self, db: &Database, changes: bool) -> Result<Option<Backup>, CliError> {
        if self.no_backup || !changes {
            return Ok(None);
        }
        let (Some(path), Some(db_path)) =
            (db.backup(self.keep_backups).await?, db.url().sqlite_path())
        else {
            return Ok(None);
        };
        Ok(Some(Backup {
            path,
            digest: backup::digest(db_path)?,
        }))
    }
}

/// A backup taken before a run, and the database file's digest at that moment.
pub struct Backup {
    path: std::path::PathBuf,
    digest: Vec<u8>,
}

/// After a command ran with a backup: on failure, closes the database and puts the
/// backup back, saying so in the error. Then releases the migration lock.
pub async fn settle<T>(
    db: Database,
    lock: MigrationLock,
    backup: Option<Backup>,
    result: botdb::Result<T>,
) -> Result<(Database, T), CliError> {
    let settled = restore_on_failure(db, backup, result);
    let released = lock.release().await;
    let value = settled?;
    released?;
    Ok(value)
}

fn restore_on_failure<T>(
    db: Database,
    backup: Option<Backup>,
    result: botdb::Result<T>,
) -> Result<(Database, T), CliError> {
    let error = match result {
        Ok(value) => return Ok((db, value)),
        Err(error) => error,
    };
    let (Some(backup), Some(path)) = (
        backup,
        db.url().sqlite_path().map(std::path::Path::to_path_buf),
    ) else {
        return Err(error.into());
    };
    let shown = backup.path.display().to_string();
    let restored = backup::digest(&path).and_then(|digest| {
        // A rolled-back transaction leaves the file as it was: nothing to undo then.
        if digest == backup.digest {
            return Ok(false);
        }
        drop(db);
        backup::restore(&backup.path, &path).map(|()| true)
    });
    Err(match restored {
        Ok(false) => error,
        Ok(true) => botdb::Error::Restored {
            error: Box::new(error),
            backup: shown,
        },
        Err(reason) => botdb::Error::RestoreFailed {
            error: Box::new(error),
            backup: shown,
            reason: Box::new(reason),
        },
    }
    .into())
}

/// Before a revert: says what data it would delete and asks for confirmation on a
/// terminal; elsewhere it refuses unless `yes`.
async fn confirm_losses(db: &Database, target: &RevertTarget, yes: bool) -> Result<(), CliError> {
    use botdb::Error;
    let losses = match db.revert_losses(target).await {
        Ok(losses) => losses,
        Err(
            e @ (Error::ZeroSteps
            | Error::TooManySteps { .. }
            | Error::NotApplied(_)
            | Error::UnknownVersion(_)
            | Error::UnknownApplied(_)
            | Error::Dirty { .. }),
        ) => return Err(e.into()),
        Err(e) if yes => {
            tracing::warn!("cannot tell what the revert deletes ({e}); going on because of --yes");
            return Ok(());
        }
        Err(e) => {
            let message = format!(
                "cannot tell what reverting would delete ({e}); pass --yes to revert anyway"
            );
            return Err(Error::Refused(message).into());
        }
    };
    if losses.is_empty() {
        return Ok(());
    }
    let summary = losses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if yes {
        let _ = writeln!(io::stderr(), "reverting deletes data: {summary}");
        return Ok(());
    }
    if io::stdin().is_terminal() && io::stderr().is_terminal() {
        let _ = writeln!(io::stderr(), "reverting deletes data: {summary}");
        let _ = write!(io::stderr(), "Revert and delete this data? [y/N] ");
        let mut answer = String::new();
        io::stdin().read_line(&mut answer).map_err(|e| {
            CliError::Other(format!(
                "cannot read the answer from the terminal ({e}); nothing was changed: pass --yes to revert without asking"
            ))
        })?;
        if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
            return Ok(());
        }
        return Err(Error::Refused("revert cancelled; nothing was changed".into()).into());
    }
    let message =
        format!("refusing to revert without --yes: it would delete {summary}; nothing was changed");
    Err(Error::Refused(message).into())
}
