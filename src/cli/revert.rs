//! `botdb revert`: revert applied migrations.

use std::process::ExitCode;

use botdb::RevertTarget;

use super::{CliError, GlobalArgs, Progress};

/// Revert applied migrations, newest first: one by default.
#[derive(Debug, clap::Args)]
#[group(multiple = false)]
pub struct Args {
    /// Revert this many migrations.
    #[arg(long, value_name = "N")]
    pub steps: Option<usize>,

    /// Revert everything applied after VERSION; VERSION itself stays applied.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,

    /// Revert every applied migration (drops the bot's tables and their data).
    #[arg(long)]
    pub all: bool,
}

impl Args {
    fn target(&self) -> RevertTarget {
        match (self.steps, &self.to, self.all) {
            (_, _, true) => RevertTarget::All,
            (_, Some(v), _) => RevertTarget::To(v.clone()),
            (Some(n), _, _) => RevertTarget::Steps(n),
            (None, None, false) => RevertTarget::Steps(1),
        }
    }
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let db = global.connect().await?;
    let mut progress = Progress::start();
    let report = db
        .revert(&args.target(), &mut |step| progress.step(step))
        .await?;
    progress.finish(&db, &report, "revert", report.reverted.len())
}
