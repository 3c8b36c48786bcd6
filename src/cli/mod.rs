//! Command-line interface: one module per subcommand, each with its clap `Args` and one
//! `run`; the shared parts (arguments, runtime, errors, output, safety) beside them.
//! Results go to stdout; logs and errors go to stderr.

mod adopt;
pub mod args;
mod check;
mod completions;
pub mod error;
mod format;
mod generate;
mod migrate;
mod new;
mod output;
pub mod parse;
mod print_schema;
mod print_sql;
mod redo;
mod repair;
mod reset;
mod resolve;
mod revert;
pub mod runtime;
mod safety;
mod seed;
mod setup;
mod stamp;
mod status;
mod verify;
mod wording;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use args::GlobalArgs;
use error::CliError;

/// Schema migrations for the Telegram shop bot's database (SQLite, PostgreSQL, MySQL/MariaDB).
///
/// The database URL comes from --database-url, else DATABASE_URL, else the bot's DB_URL
/// (each may be set in a .env file), else the embedded default sqlite://data/botdb.sqlite3.
///
/// Exit codes: 0 success, 1 a check failed (status --check, check, verify) or generate found
/// nothing to change, 2 an error,
/// 130 interrupted by Ctrl-C or SIGTERM.
// No Debug: `database_url` is the URL as typed, password included.
#[derive(Parser)]
#[command(
    name = "botdb",
    version = version(),
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// How to print the result and any error: `--format`, or JSON for `status --json` and
    /// `check --json`, which are older spellings of `--format json`.
    pub fn format(&self) -> format::Format {
        match &self.command {
            Command::Status(status::Args { json: true, .. })
            | Command::Check(check::Args { json: true }) => format::Format::Json,
            _ => self.global.format,
        }
    }
}

/// The subcommands. Each one's own arguments are defined only when it is run or its help
/// is shown (`defer`). The summaries here are their help's first lines: the `Args` structs
/// describe themselves in plain comments, since a doc comment there would replace them.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Apply pending migrations (all, or up to --to).
    #[command(visible_alias = "upgrade")]
    Migrate(migrate::Args),
    /// Revert applied migrations (one by default).
    #[command(visible_alias = "downgrade")]
    Revert(revert::Args),
    /// Revert the newest migrations and apply them again (for migration authors).
    Redo(redo::Args),
    /// List every migration as applied or pending. Never writes to the database.
    #[command(visible_aliases = ["current", "history"])]
    Status(status::Args),
    /// Print the SQL a migrate (or, with --revert, a revert) would run, for review or to
    /// apply by hand. Reads the database read-only, or not at all with --offline.
    PrintSql(print_sql::Args),
    /// Record migrations as applied without running them (like Alembic's stamp).
    Stamp(stamp::Args),
    /// Take over a database the Python bot's Alembic managed (migrate does this by itself).
    Adopt(adopt::Args),
    /// Compare the live schema with the declared model; exit 1 on drift or when not up to date.
    Check(check::Args),
    /// Print src/schema.rs from the declared model (needs no database).
    PrintSchema(print_schema::Args),
    /// Apply, revert and re-apply every migration on a scratch database, checking each step.
    Verify(verify::Args),
    /// Create the database if it does not exist, then migrate it.
    Setup(setup::Args),
    /// Drop the database and set it up again (local development; needs --yes).
    Reset(reset::Args),
    /// Load demo data (idempotent).
    Seed(seed::Args),
    /// Settle a migration MySQL left half-applied ("dirty") after fixing the schema by hand.
    Resolve(resolve::Args),
    /// Print a shell completion script (see README for where to put it).
    Completions(completions::Args),
    /// Accept a deliberate edit of an applied migration once, by recording its new checksum.
    Repair(repair::Args),
    /// Create an empty migration in all three trees (sqlite, postgres, mysql).
    New(new::Args),
    /// Write the migration from the history's head to the declared model, for all three
    /// backends (alias: revision --autogenerate). Needs no database.
    #[command(alias = "revision")]
    Generate(generate::Args),
}

async fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Migrate(args) => migrate::run(args, &cli.global).await,
        Command::Revert(args) => revert::run(args, &cli.global).await,
        Command::Redo(args) => redo::run(args, &cli.global).await,
        Command::Status(args) => status::run(args, &cli.global).await,
        Command::PrintSql(args) => print_sql::run(args, &cli.global).await,
        Command::Stamp(args) => stamp::run(args, &cli.global).await,
        Command::Adopt(args) => adopt::run(args, &cli.global).await,
        Command::Check(args) => check::run(args, &cli.global).await,
        Command::PrintSchema(args) => print_schema::run(args),
        Command::Verify(args) => verify::run(args, &cli.global).await,
        Command::Setup(args) => setup::run(args, &cli.global).await,
        Command::Reset(args) => reset::run(args, &cli.global).await,
        Command::Seed(args) => seed::run(args, &cli.global).await,
        Command::Resolve(args) => resolve::run(args, &cli.global).await,
        Command::Completions(args) => completions::run(args),
        Command::Repair(args) => repair::run(args, &cli.global).await,
        Command::New(args) => new::run(args, &cli.global).await,
        Command::Generate(args) => generate::run(args, &cli.global).await,
    }
}

/// `0.1.0 (sqlite, postgres, mysql; migrations up to <newest>)`: what this binary
/// migrates to, read from the embedded migrations when `--version` (or `--help`) asks.
fn version() -> &'static str {
    static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let newest: Vec<(botdb::Backend, &str)> = botdb::Backend::ALL
            .into_iter()
            .map(|b| {
                let sql = botdb::migration::embedded::embedded_sql(b);
                (b, sql.last().map_or("none", |m| m.name))
            })
            .collect();
        let backends = newest
            .iter()
            .map(|(b, _)| b.name())
            .collect::<Vec<_>>()
            .join(", ");
        let upto = if newest.iter().all(|(_, n)| *n == newest[0].1) {
            newest[0].1.to_string()
        } else {
            newest
                .iter()
                .map(|(b, n)| format!("{b} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "{} ({backends}; migrations up to {upto})",
            env!("CARGO_PKG_VERSION")
        )
    });
    &VERSION
}
