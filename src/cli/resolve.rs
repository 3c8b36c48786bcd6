//! `botdb resolve`: settle a dirty migration after fixing the schema by hand.

use std::io::Write;
use std::process::ExitCode;

use botdb::ops::adopt::{Resolution, SchemaCheck};

use super::args::GlobalArgs;
use super::error::CliError;
use super::output::{migration_json, print_json, Format};
use serde_json::json;

// Settle a migration that failed part-way on MySQL/MariaDB (the database is "dirty").
// First make the schema match one side by hand, then say which: --applied records the
// migration as applied, --reverted as not applied. Like golang-migrate's `force`, but it
// first checks that the schema really is that side's, and refuses if not.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The dirty migration's version.
    #[arg(value_name = "VERSION")]
    pub target: String,

    /// The schema has everything the migration does.
    #[arg(
        long,
        conflicts_with = "reverted",
        required_unless_present = "reverted"
    )]
    pub applied: bool,

    /// The schema has none of it.
    #[arg(long)]
    pub reverted: bool,

    /// Record it even though the schema differs from what the migrations produce there.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let db = global.connect_to_migrate().await?;
    let resolution = if args.applied {
        Resolution::Applied
    } else {
        Resolution::Reverted
    };
    let check = if args.force {
        SchemaCheck::Skip
    } else {
        SchemaCheck::Compare
    };
    let id = db.resolve(&args.target, resolution, check).await?;
    if global.format == Format::Json {
        print_json(&json!({
            "database": db.url().redacted(),
            "resolved": migration_json(&id),
            "recorded_as": if args.applied { "applied" } else { "reverted" },
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let what = if args.applied {
        "applied"
    } else {
        "not applied"
    };
    writeln!(
        std::io::stdout(),
        "resolved {id}: recorded as {what}; the database is no longer dirty"
    )?;
    Ok(ExitCode::SUCCESS)
}
