//! Safety around commands that change the schema: SQLite backups taken first and put
//! back after a failure, and confirmation before a revert deletes data.

use std::io::{self, IsTerminal, Write};

use botdb::ops::backup::{self, Restore};
use botdb::{Database, MigrationLock, Report, RevertTarget};

use super::args::{BackupArgs, GlobalArgs};
use super::error::CliError;
use super::output::Progress;

/// A revert or redo, guarded: under the migration lock, it first says what data the revert
/// to `target` deletes (and asks), backs a SQLite database up, then runs `work`, and puts
/// the backup back if `work` fails.
pub async fn guarded_revert(
    verb: &str,
    global: &GlobalArgs,
    backups: &BackupArgs,
    target: &RevertTarget,
    yes: bool,
    work: impl AsyncFnOnce(&Database, &mut Progress) -> botdb::Result<Report>,
) -> Result<(Database, Report, Progress), CliError> {
    let (db, lock) = global.connect_locked().await?;
    confirm_losses(&db, verb, target, yes).await?;
    let applied: Vec<String> = db
        .status()
        .await?
        .applied()
        .map(|e| e.version.clone())
        .collect();
    // No backup for a revert that has nothing to revert (or is refused anyway).
    let changes = botdb::migration::plan::plan_down(db.catalog()?, &applied, target)
        .is_ok_and(|plan| !plan.is_empty());
    let backup = backups.take(&db, changes).await?;
    let mut progress = Progress::start(global);
    let result = work(&db, &mut progress).await;
    let (db, report) = settle(db, lock, backup, result).await?;
    Ok((db, report, progress))
}

impl BackupArgs {
    /// Backs a SQLite database up when the command is about to change it.
    pub async fn take(&self, db: &Database, changes: bool) -> Result<Option<Kept>, CliError> {
        if self.no_backup || !changes {
            return Ok(None);
        }
        Ok(db.backup().await?.map(|backup| Kept {
            backup,
            keep: self.keep_backups,
        }))
    }
}

/// A backup taken before a run, and how many to keep.
pub struct Kept {
    backup: backup::Backup,
    keep: usize,
}

/// After a command ran with a backup: keeps the backup if the run changed something
/// (pruning older ones) and deletes it if not; on failure, puts it back if that discards
/// no one else's writes, saying in the error what was done. Then releases the lock.
pub async fn settle(
    db: Database,
    lock: MigrationLock,
    backup: Option<Kept>,
    result: botdb::Result<Report>,
) -> Result<(Database, Report), CliError> {
    let settled = match backup {
        None => result.map_err(CliError::from),
        Some(kept) => after_backup(&db, kept, result).await,
    };
    let released = lock.release().await;
    let report = settled?;
    released?;
    Ok((db, report))
}

async fn after_backup(
    db: &Database,
    Kept { backup, keep }: Kept,
    result: botdb::Result<Report>,
) -> Result<Report, CliError> {
    let error = match result {
        Ok(report) => {
            let changed = report.adopted.is_some()
                || !report.applied.is_empty()
                || !report.reverted.is_empty();
            // The run is committed: a backup that cannot be pruned or removed is worth a
            // warning, not an error that would read as a failed migration.
            let housekeeping = if changed {
                backup.keep(keep)
            } else {
                backup.discard()
            };
            if let Err(e) = housekeeping {
                tracing::warn!("the run succeeded, but tidying its backups failed: {e}");
            }
            return Ok(report);
        }
        Err(error) => error,
    };
    let shown = backup.path().display().to_string();
    let error = match db.restore(&backup).await {
        // Nothing was committed: the database is as it was, and the backup adds nothing.
        Ok(Restore::Unchanged) => {
            if let Err(e) = backup.discard() {
                tracing::warn!("{e}");
            }
            error
        }
        Ok(Restore::Restored) => {
            if let Err(e) = backup.keep(keep) {
                tracing::warn!("{e}");
            }
            botdb::Error::Restored {
                error: Box::new(error),
                backup: shown,
            }
        }
        Ok(Restore::Refused(reason)) => botdb::Error::NotRestored {
            error: Box::new(error),
            backup: shown,
            reason,
            state: state(db).await,
        },
        Err(reason) => botdb::Error::RestoreFailed {
            error: Box::new(error),
            backup: shown,
            reason: Box::new(reason),
            state: state(db).await,
        },
    };
    Err(error.into())
}

/// Where the database is, for an error that leaves it as a failed run left it.
async fn state(db: &Database) -> String {
    match db.status().await {
        Ok(status) => {
            let applied: Vec<&str> = status.applied().map(|e| e.version.as_str()).collect();
            match applied.last() {
                None => "no migration applied".to_string(),
                Some(newest) => format!(
                    "{newest} ({} applied; `botdb status` lists them)",
                    botdb::migration::report::plural(applied.len(), "migration")
                ),
            }
        }
        Err(e) => format!("a version botdb cannot read ({e})"),
    }
}

/// Before a revert: says what data it would delete and asks for confirmation on a
/// terminal; elsewhere it refuses unless `yes`.
/// `verb` is the command, `revert` or `redo`, as the refusal names it.
async fn confirm_losses(
    db: &Database,
    verb: &str,
    target: &RevertTarget,
    yes: bool,
) -> Result<(), CliError> {
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
            tracing::warn!("cannot tell what the {verb} deletes ({e}); going on because of --yes");
            return Ok(());
        }
        Err(e) => {
            let message =
                format!("cannot tell what {verb} would delete ({e}); pass --yes to {verb} anyway");
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
        let _ = writeln!(io::stderr(), "{verb} deletes data: {summary}");
        return Ok(());
    }
    if io::stdin().is_terminal() && io::stderr().is_terminal() {
        let _ = writeln!(io::stderr(), "{verb} deletes data: {summary}");
        let _ = write!(io::stderr(), "{verb} and delete this data? [y/N] ");
        let mut answer = String::new();
        io::stdin().read_line(&mut answer).map_err(|e| {
            CliError::Other(format!(
                "cannot read the answer from the terminal ({e}); nothing was changed: pass --yes to {verb} without asking"
            ))
        })?;
        if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
            return Ok(());
        }
        return Err(Error::Refused(format!("{verb} cancelled; nothing was changed")).into());
    }
    let message =
        format!("refusing to {verb} without --yes: it would delete {summary}; nothing was changed");
    Err(Error::Refused(message).into())
}
