//! `botdb stamp`: record migrations as applied without running them.

use std::io::Write;
use std::process::ExitCode;

use super::args::GlobalArgs;
use super::error::CliError;

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
    let mut out = std::io::stdout();
    for m in &stamped.recorded {
        writeln!(out, "stamped  {m}")?;
    }
    for m in &stamped.removed {
        writeln!(out, "unstamped {m}")?;
    }
    let at = super::output::position(
        &db,
        db.status()
            .await?
            .applied()
            .map(|e| e.version.as_str())
            .max(),
    )?;
    writeln!(
        out,
        "stamp: {} recorded, {} removed; {at}",
        stamped.recorded.len(),
        stamped.removed.len()
    )?;
    Ok(ExitCode::SUCCESS)
}
