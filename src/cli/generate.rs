//! `botdb generate NAME`: the migration from the history's head to the declared model.

use std::io::Write;
use std::process::ExitCode;

use botdb::model::diff::{Options, Rename};
use botdb::ops::generate::{generate, record, Outcome, Recording};

use super::args::GlobalArgs;
use super::error::{CliError, EXIT_CHECK_FAILED};
use super::new::migrations_root;
use super::output::{print_json, Format};
use serde_json::json;

// Compare the declared model (src/model/bot.rs) with the snapshot of the history's head
// (model.toml in the migrations folder) and write up.sql and down.sql for SQLite,
// PostgreSQL and MySQL, plus the new snapshot; all or nothing. Needs no database. Exits 1,
// writing nothing, when there is nothing to change.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The migration's name: a-z, 0-9 and _ only, e.g. add_coupons.
    #[arg(required_unless_present = "record_only")]
    pub name: Option<String>,

    /// Write no SQL: record the declared model in model.toml at the newest migration, after
    /// a step written by hand with `botdb new` that takes the schema there.
    #[arg(long, conflicts_with_all = ["name", "rename", "fill", "allow_destructive"])]
    pub record_only: bool,

    /// A column renamed in place, TABLE.OLD=NEW (repeatable). Without it, a column that
    /// disappears and one that appears are a drop and an add.
    #[arg(long, value_name = "TABLE.OLD=NEW", value_parser = parse_rename)]
    pub rename: Vec<Rename>,

    /// SQL that fills the rows already in TABLE for a COLUMN added as, or made, NOT NULL
    /// without a default (repeatable), e.g. --fill users.email="''".
    #[arg(long, value_name = "TABLE.COLUMN=SQL", value_parser = parse_fill)]
    pub fill: Vec<((String, String), String)>,

    /// Allow steps that lose data: dropping a table or column, narrowing a type.
    #[arg(long)]
    pub allow_destructive: bool,

    /// Accepted for Alembic's `revision --autogenerate`, which is what this command is.
    #[arg(long, hide = true)]
    pub autogenerate: bool,
}

/// Splits `TABLE.LEFT=RIGHT`.
fn split(s: &str, what: &str) -> Result<(String, String, String), String> {
    let bad = || format!("expected {what}, got `{s}`");
    let (left, right) = s.split_once('=').ok_or_else(bad)?;
    let (table, column) = left.split_once('.').ok_or_else(bad)?;
    if table.is_empty() || column.is_empty() || right.is_empty() {
        return Err(bad());
    }
    Ok((table.to_string(), column.to_string(), right.to_string()))
}

fn parse_rename(s: &str) -> Result<Rename, String> {
    let (table, from, to) = split(s, "TABLE.OLD=NEW")?;
    Ok(Rename { table, from, to })
}

fn parse_fill(s: &str) -> Result<((String, String), String), String> {
    let (table, column, sql) = split(s, "TABLE.COLUMN=SQL")?;
    Ok(((table, column), sql))
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let root = migrations_root(global);
    let name = match args.name {
        Some(name) if !args.record_only => name,
        _ => return record_only(&root, global.format),
    };
    let options = Options {
        renames: args.rename,
        fills: args.fill.into_iter().collect(),
        allow_destructive: args.allow_destructive,
    };
    let outcome = generate(
        &root,
        &name,
        &botdb::model::bot::schema(),
        &options,
        chrono::Utc::now().naive_utc(),
    )?;
    if global.format == Format::Json {
        let snapshot = botdb::ops::generate::snapshot_path(&root);
        return match outcome {
            Outcome::NothingToChange => {
                print_json(&json!({ "changed": false, "snapshot": snapshot }))?;
                Ok(ExitCode::from(EXIT_CHECK_FAILED))
            }
            Outcome::Written { decisions, paths } => {
                print_json(&json!({ "changed": true, "decisions": decisions, "written": paths }))?;
                Ok(ExitCode::SUCCESS)
            }
        };
    }
    let mut out = std::io::stdout().lock();
    match outcome {
        Outcome::NothingToChange => {
            writeln!(
                out,
                "nothing to change: the model equals {}; nothing was written",
                botdb::ops::generate::snapshot_path(&root).display()
            )?;
            Ok(ExitCode::from(EXIT_CHECK_FAILED))
        }
        Outcome::Written { decisions, paths } => {
            for line in decisions {
                writeln!(out, "{line}")?;
            }
            for path in paths {
                writeln!(out, "{}", path.display())?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `generate --record-only`: exits 1, writing nothing, when the snapshot already holds the
/// model at the newest migration.
fn record_only(root: &std::path::Path, format: Format) -> Result<ExitCode, CliError> {
    let snapshot = botdb::ops::generate::snapshot_path(root);
    let recording = record(root, &botdb::model::bot::schema())?;
    if format == Format::Json {
        return match recording {
            Recording::NothingToRecord => {
                print_json(&json!({ "recorded": false, "snapshot": snapshot }))?;
                Ok(ExitCode::from(EXIT_CHECK_FAILED))
            }
            Recording::Recorded { head, changes } => {
                print_json(&json!({
                    "recorded": true,
                    "snapshot": snapshot,
                    "head": head,
                    "changes": changes,
                }))?;
                Ok(ExitCode::SUCCESS)
            }
        };
    }
    let mut out = std::io::stdout().lock();
    match recording {
        Recording::NothingToRecord => {
            writeln!(
                out,
                "nothing to record: {} already holds the model at the newest migration; nothing was written",
                snapshot.display()
            )?;
            Ok(ExitCode::from(EXIT_CHECK_FAILED))
        }
        Recording::Recorded { head, changes } => {
            for line in changes {
                writeln!(out, "{line}")?;
            }
            writeln!(
                out,
                "recorded the model in {} at {} (no SQL written: the migrations must take the schema there; `botdb verify` and `botdb check` on a migrated database tell)",
                snapshot.display(),
                head.as_deref().unwrap_or("an empty history")
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
