//! `botdb stamp`: record migrations as applied without running them.

use std::io::Write;
use std::process::ExitCode;

use super::args::GlobalArgs;
use super::error::CliError;
use super::output::{current_json, migration_json, print_json, Format};
use serde_json::json;

/// Record migrations as applied without running them (like Alembic's stamp or Flyway's
/// baseline): every migration up to VERSION becomes applied, every later one pending.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Args {
    /// The version the database's schema is really at.
    #[arg(value_name = "VERSION")]
    pub target: Option<String>,

    /// Stamp the newest migration.
    #[arg(long)]
    pub head: bool,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let db = global.connect_to_migrate().await?;
    let stamped = db.stamp(args.target.as_deref()).await?;
    let current = db
        .status()
        .await?
        .applied()
        .map(|e| e.version.clone())
        .max();
    if global.format == Format::Json {
        print_json(&json!({
            "database": db.url().redacted(),
            "recorded": stamped.recorded.iter().map(migration_json).collect::<Vec<_>>(),
            "removed": stamped.removed.iter().map(migration_json).collect::<Vec<_>>(),
            "current": current_json(&db, current.as_deref())?,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout();
    for m in &stamped.recorded {
        writeln!(out, "stamped  {m}")?;
    }
    for m in &stamped.removed {
        writeln!(out, "unstamped {m}")?;
    }
    let at = super::output::position(&db, current.as_deref())?;
    writeln!(
        out,
        "stamp: {} recorded, {} removed; {at}",
        stamped.recorded.len(),
        stamped.removed.len()
    )?;
    Ok(ExitCode::SUCCESS)
}
