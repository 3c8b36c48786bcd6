//! `botdb verify`: does every migration go down and up cleanly?

use std::io::Write;
use std::process::ExitCode;

use botdb::migration::report::plural;

use super::args::GlobalArgs;
use super::error::{CliError, EXIT_CHECK_FAILED};
use super::output::{print_json, Format};
use serde_json::json;

// For migration authors: on a scratch database (a temporary SQLite file, or a temporary
// database on the server of --database-url), apply every migration, revert them all,
// apply them again, checking the schema after each step, then compare with src/schema.rs.
// The database the URL names is not touched. Exits 1 on any difference.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let url = global.url()?;
    let report = botdb::ops::check::verify(&url, &global.source()).await?;
    if global.format == Format::Json {
        print_json(&json!({
            "database": url.redacted(),
            "backend": url.backend(),
            "ok": report.failures.is_empty(),
            "migrations": report.migrations,
            "failures": report.failures.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }))?;
        return Ok(if report.failures.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_CHECK_FAILED)
        });
    }
    let mut out = std::io::stdout();
    for failure in &report.failures {
        writeln!(out, "failed   {failure}")?;
    }
    if report.failures.is_empty() {
        writeln!(
            out,
            "verify: {} go up, down and up again cleanly ({})",
            plural(report.migrations, "migration"),
            url.backend()
        )?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(
            out,
            "verify: {} in {} ({})",
            plural(report.failures.len(), "problem"),
            plural(report.migrations, "migration"),
            url.backend()
        )?;
        Ok(ExitCode::from(EXIT_CHECK_FAILED))
    }
}
