//! `botdb adopt`: take over a database the Python bot's Alembic managed.

use std::io::Write;
use std::process::ExitCode;

use super::args::GlobalArgs;
use super::error::CliError;

/// Take over a database that Alembic managed: map its alembic_version onto botdb's
/// history, check that the schema really is at that step, and record the matching
/// migrations as applied. `migrate` does this by itself; `adopt` does only this.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Drop alembic_version afterwards (by default it stays, for the Python bot).
    #[arg(long)]
    pub drop_alembic_version: bool,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let db = global.connect_to_migrate().await?;
    let adoption = db.adopt(args.drop_alembic_version).await?;
    let mut out = std::io::stdout();
    super::output::print_adoption(&mut out, &adoption)?;
    let pending = db.status().await?.pending().count();
    writeln!(
        out,
        "{} pending; `botdb migrate` applies them",
        botdb::migration::report::plural(pending, "migration")
    )?;
    Ok(ExitCode::SUCCESS)
}
