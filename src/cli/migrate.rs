//! `botdb migrate`: apply pending migrations.

use std::process::ExitCode;

use botdb::Event;

use super::{print_adoption, CliError, GlobalArgs, Progress};

/// Apply pending migrations. A database the Python bot's Alembic managed is adopted
/// first (see `botdb adopt`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stop after this version (inclusive): `2024-12-20-105908` or the full folder name.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let db = global.connect().await?;
    let mut progress = Progress::start();
    let mut adoption_error = None;
    let report = db
        .migrate_with(args.to.as_deref(), &mut |event| match event {
            Event::Adopted(adoption) => {
                if let Err(e) = print_adoption(&mut std::io::stdout(), adoption) {
                    adoption_error.get_or_insert(e);
                }
            }
            Event::Step(step) => progress.step(step),
        })
        .await?;
    if let Some(e) = adoption_error {
        return Err(e);
    }
    progress.finish(&db, &report, "migrate", report.applied.len())
}
