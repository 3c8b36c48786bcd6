//! `botdb check`: is the live schema what the migrations and src/schema.rs say?

use std::io::Write;
use std::process::ExitCode;

use botdb::migration::report::plural;

use super::args::GlobalArgs;
use super::error::{CliError, EXIT_CHECK_FAILED};
use super::output::Format;

/// Detect drift: compare the live schema with what the migrations produce at its version
/// (tables, columns, type families, nullability, defaults, keys, unique constraints,
/// foreign keys with their ON DELETE action, indexes) and with src/schema.rs, and find
/// migrations not recorded although later ones are. Prints one line per difference and
/// exits 1 on drift. Builds the expected schema on a scratch database (a temporary file,
/// or a temporary database on the same server).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of lines (the same as --format json).
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    botdb::ops::setup::require_existing(&global.url()?)?;
    let db = global.connect().await?;
    let report = db.check().await?;
    let mut out = std::io::stdout();
    if args.json || global.format == Format::Json {
        writeln!(
            out,
            "{:#}",
            serde_json::json!({ "drift": report.drifted(), "report": report })
        )?;
    } else {
        for d in &report.migrations {
            writeln!(out, "drift    {d}")?;
        }
        for d in &report.models {
            writeln!(out, "schema.rs {d}")?;
        }
        for m in &report.unrecorded {
            writeln!(
                out,
                "history  {m}: not recorded as applied, although later migrations are; \
                 if its schema is in place, `botdb stamp {}` records it",
                report.at.as_deref().unwrap_or_default()
            )?;
        }
        if report.pending > 0 {
            writeln!(
                out,
                "note: {} pending; src/schema.rs was not compared",
                plural(report.pending, "migration")
            )?;
        }
        let verdict = if report.drifted() {
            "drift found"
        } else {
            "no drift"
        };
        let count = report.migrations.len() + report.models.len() + report.unrecorded.len();
        let at = match report.at.as_deref() {
            Some(version) => format!("at {version}"),
            None => "with no migration applied".to_string(),
        };
        writeln!(out, "{verdict}: {} {at}", plural(count, "difference"))?;
    }
    Ok(if report.drifted() {
        ExitCode::from(EXIT_CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
