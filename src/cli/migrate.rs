//! `botdb migrate`: apply pending migrations.

use std::process::ExitCode;

use super::{CliError, GlobalArgs, Progress};

/// Apply pending migrations.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stop after this version (inclusive): `2024-12-20-105908` or the full folder name.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let db = global.connect().await?;
    let mut progress = Progress::start();
    // migrate_with would adopt an Alembic database too; doing it first prints it first.
    if db.alembic_revision().await?.is_some() {
        super::print_adoption(&mut std::io::stdout(), &db.adopt(false).await?)?;
    }
    let report = db
        .migrate_with(args.to.as_deref(), &mut |step| progress.step(step))
        .await?;
    progress.finish(&db, &report, "migrate", report.applied.len())
}
