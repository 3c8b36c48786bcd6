//! `botdb print-schema`: src/schema.rs, printed from the declared model.

use std::io::Write;
use std::process::ExitCode;

use botdb::model;

use super::error::CliError;

// Print src/schema.rs (diesel's table! definitions) from the declared model
// (src/model/bot.rs). Needs no database. After editing the model:
// `botdb print-schema > src/schema.rs`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<ExitCode, CliError> {
    let text = model::schema_rs::schema_rs(&model::bot::schema());
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
