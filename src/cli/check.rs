//! `botdb check`: is the live schema the declared model?

use std::io::Write;
use std::process::ExitCode;

use botdb::migration::report::plural;

use super::args::GlobalArgs;
use super::error::{CliError, EXIT_CHECK_FAILED};
use super::output::Format;

// Detect drift, like `alembic check`: compare the live schema with the declared model
// (tables, columns, types, nullability, defaults, keys, unique constraints and indexes
// with their names, foreign keys with their ON DELETE action, updated_at upkeep), and
// find migrations not recorded although later ones are. Prints one line per difference
// and exits 1 on drift, or when migrations are pending (the database is not up to date,
// and is not compared). Reads only: works for a read-only role and on a hot standby.
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
            serde_json::json!({
                "drift": report.failed(),
                "up_to_date": report.up_to_date(),
                "report": report,
            })
        )?;
    } else {
        for d in &report.differences {
            writeln!(out, "drift    {d}")?;
        }
        for d in &report.names {
            writeln!(out, "name     {d} (not drift)")?;
        }
        for m in &report.unrecorded {
            writeln!(
                out,
                "history  {m}: not recorded as applied, although later migrations are; \
                 if its schema is in place, `botdb stamp {}` records it",
                report.at.as_deref().unwrap_or_default()
            )?;
        }
        let at = match report.at.as_deref() {
            Some(version) => format!("at {version}"),
            None => "with no migration applied".to_string(),
        };
        if report.up_to_date() {
            let verdict = if report.failed() {
                "drift found"
            } else {
                "no drift"
            };
            let count = report.differences.len() + report.unrecorded.len();
            writeln!(out, "{verdict}: {} {at}", plural(count, "difference"))?;
        } else {
            writeln!(
                out,
                "not up to date: {} {at}; run `botdb migrate`, then `botdb check`",
                plural(report.pending, "pending migration")
            )?;
        }
    }
    Ok(if report.failed() {
        ExitCode::from(EXIT_CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
