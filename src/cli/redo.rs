//! `botdb redo`: revert the newest migrations and apply them again.

use std::process::ExitCode;

use super::{CliError, GlobalArgs, Progress};

/// Revert the newest migrations and apply them again, to check a migration's down.sql.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many migrations to redo.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub steps: usize,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let db = global.connect().await?;
    let mut progress = Progress::start();
    let report = db.redo(args.steps, &mut |step| progress.step(step)).await?;
    progress.finish(&db, &report, "redo", report.applied.len())
}
