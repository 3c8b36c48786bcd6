//! `botdb setup`: create the database if needed, then migrate.

use std::process::ExitCode;

use super::args::GlobalArgs;
use super::error::CliError;
use super::output::Progress;

// Create the database if it does not exist (CREATE DATABASE through the server's
// maintenance database; on SQLite the file and its folder), then apply every migration.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let url = global.migration_url()?;
    let mut progress = Progress::start(global);
    let (created, db, report) =
        botdb::setup(&url, &global.pool_options(), &global.source()).await?;
    progress.created(created, &url)?;
    progress.report(&db, &report)
}
