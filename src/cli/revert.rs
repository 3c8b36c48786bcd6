//! `botdb revert`: revert applied migrations.

use std::process::ExitCode;

use botdb::RevertTarget;

use super::args::{BackupArgs, GlobalArgs};
use super::error::CliError;
use super::safety::guarded_revert;

// Revert applied migrations, newest first: one by default. A revert that would delete
// data (a dropped table or column that holds some) says what, and asks first.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Revert this many migrations.
    #[arg(long, value_name = "N", conflicts_with_all = ["to", "all"])]
    pub steps: Option<usize>,

    /// Revert everything applied after VERSION; VERSION itself stays applied.
    #[arg(long, value_name = "VERSION", conflicts_with = "all")]
    pub to: Option<String>,

    /// Revert every applied migration (drops the bot's tables and their data).
    #[arg(long)]
    pub all: bool,

    /// Delete the data the revert drops without asking (needed when not on a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,

    #[command(flatten)]
    pub backups: BackupArgs,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let target = RevertTarget::from_flags(args.steps, args.to.as_deref(), args.all);
    let (db, report, progress) = guarded_revert(
        "revert",
        global,
        &args.backups,
        &target,
        args.yes,
        async |db, progress| db.revert(&target, &mut |step| progress.step(step)).await,
    )
    .await?;
    progress.finish(&db, &report, "revert", report.reverted.len())
}
