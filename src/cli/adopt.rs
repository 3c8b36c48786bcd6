//! `botdb adopt`: take over a database the Python bot's Alembic managed.

use std::io::Write;
use std::process::ExitCode;

use super::args::GlobalArgs;
use super::error::CliError;
use super::output::{adoption_json, print_adoption, print_json, Format};
use serde_json::json;

// Take over a database that Alembic managed: map its alembic_version onto botdb's
// history, check that the schema really is at that step, and record the matching
// migrations as applied. `migrate` does this by itself; `adopt` does only this.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Drop alembic_version afterwards (by default it stays, for the Python bot).
    #[arg(long)]
    pub drop_alembic_version: bool,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let db = global.connect_to_migrate().await?;
    let adoption = db.adopt(args.drop_alembic_version).await?;
    let pending = db.status().await?.pending().count();
    if global.format == Format::Json {
        print_json(&json!({
            "database": db.url().redacted(),
            "adopted": adoption_json(&adoption),
            "pending": pending,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout();
    print_adoption(&mut out, &adoption)?;
    writeln!(
        out,
        "{} pending; `botdb migrate` applies them",
        botdb::migration::report::plural(pending, "migration")
    )?;
    Ok(ExitCode::SUCCESS)
}
