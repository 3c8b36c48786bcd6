//! `botdb seed`: demo data for trying the bot.

use std::io::Write;
use std::process::ExitCode;

use botdb::Error;

use super::args::GlobalArgs;
use super::error::CliError;
use super::output::{print_json, Format};
use serde_json::json;

// Load demo categories, products, users and purchases. Only missing rows are inserted,
// so running it twice gives the same data. The database must be fully migrated.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    botdb::ops::setup::require_existing(&global.url()?)?;
    let db = global.connect_to_write().await?;
    let pending = db.status().await?.pending().count();
    if pending > 0 {
        let message = format!(
            "cannot seed {}: {} pending; run `botdb migrate` first",
            db.url(),
            botdb::migration::report::plural(pending, "migration")
        );
        return Err(Error::Refused(message).into());
    }
    let s = db.seed().await?;
    if global.format == Format::Json {
        print_json(&json!({
            "database": db.url().redacted(),
            "inserted": {
                "categories": s.categories,
                "products": s.products,
                "users": s.users,
                "purchases": s.purchases,
            },
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        std::io::stdout(),
        "seed: inserted {} categories, {} products, {} users, {} purchases into {}",
        s.categories,
        s.products,
        s.users,
        s.purchases,
        db.url()
    )?;
    Ok(ExitCode::SUCCESS)
}
