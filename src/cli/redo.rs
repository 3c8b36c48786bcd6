//! `botdb redo`: revert the newest migrations and apply them again.

use std::process::ExitCode;

use botdb::RevertTarget;

use super::args::{BackupArgs, GlobalArgs};
use super::error::CliError;
use super::safety::guarded_revert;

// Revert the newest migrations and apply them again, to check a migration's down.sql.
// Data in what the revert drops is lost, so it asks first, as revert does.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many migrations to redo.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub steps: usize,

    /// Delete the data the revert drops without asking (needed when not on a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,

    #[command(flatten)]
    pub backups: BackupArgs,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let target = RevertTarget::Steps(args.steps);
    let (db, report, progress) = guarded_revert(
        "redo",
        global,
        &args.backups,
        &target,
        args.yes,
        async |db, progress| db.redo(args.steps, &mut |step| progress.step(step)).await,
    )
    .await?;
    progress.finish(&db, &report, "redo", report.applied.len())
}
