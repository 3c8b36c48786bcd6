//! `botdb repair`: accept a deliberate edit of an applied migration.

use std::io::Write;
use std::process::ExitCode;

use super::args::GlobalArgs;
use super::error::CliError;

// Accept a deliberate edit of an applied migration's up.sql once, like Flyway's repair:
// records the checksum of the up.sql as it is now, so `status` no longer reports it as
// changed and `migrate` needs no --allow-changed. Nothing in the schema changes.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The edited migration's version.
    #[arg(value_name = "VERSION")]
    pub target: String,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let db = global.connect_to_migrate().await?;
    let id = db.repair(&args.target).await?;
    writeln!(
        std::io::stdout(),
        "repaired {id}: recorded the checksum of its up.sql as it is now"
    )?;
    Ok(ExitCode::SUCCESS)
}
