//! `botdb stamp`: record migrations as applied without running them.

use std::io::Write;
use std::process::ExitCode;

use botdb::ops::adopt::SchemaCheck;

use super::args::GlobalArgs;
use super::error::CliError;
use super::output::{current_json, migration_json, print_json, Format};
use serde_json::json;

// Record migrations as applied without running them (like Alembic's stamp or Flyway's
// baseline): every migration up to VERSION becomes applied, every later one pending.
// First it checks that the schema is the one the migrations produce at VERSION (built
// on a scratch database) and refuses, recording nothing, if it is not.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The version the database's schema is really at.
    #[arg(
        value_name = "VERSION",
        required_unless_present = "head",
        conflicts_with = "head"
    )]
    pub target: Option<String>,

    /// Stamp the newest migration.
    #[arg(long)]
    pub head: bool,

    /// Record it even though the schema differs from what the migrations produce there.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let db = global.connect_to_migrate().await?;
    let check = if args.force {
        SchemaCheck::Skip
    } else {
        SchemaCheck::Compare
    };
    let stamped = db.stamp(args.target.as_deref(), check).await?;
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
