//! `botdb status`: every migration, applied or pending. Read-only.

use std::io::Write;
use std::process::ExitCode;

use botdb::migration::report::plural;
use botdb::ops::adopt::{read_alembic, AlembicState};
use botdb::State;
use chrono::format::{Item, StrftimeItems};

use super::args::GlobalArgs;
use super::error::{CliError, EXIT_CHECK_FAILED};
use super::output::Format;

/// `%Y-%m-%d %H:%M:%S`, parsed once rather than once per line.
static TIMESTAMP: std::sync::LazyLock<Vec<Item<'static>>> =
    std::sync::LazyLock::new(|| StrftimeItems::new("%Y-%m-%d %H:%M:%S").collect());

// List every migration as applied or pending, and any applied version this binary
// does not know. Never writes to the database.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of a table (the same as --format json).
    #[arg(long)]
    pub json: bool,

    /// Exit with 1 when any migration is pending (a deploy gate).
    #[arg(long)]
    pub check: bool,

    /// Do not fail because an applied migration's up.sql was edited since it ran.
    #[arg(long)]
    pub allow_changed: bool,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let url = global.url()?;
    let status = botdb::read_status(&url, &global.pool_options(), &global.source()).await?;
    // Only a database with nothing applied can be an Alembic one still to adopt, so the
    // usual status makes no second connection.
    let alembic = if status.applied().next().is_none() {
        read_alembic(&url, &global.pool_options(), &global.source()).await?
    } else {
        None
    };

    // One write at the end instead of one per line: a history can be long.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json || global.format == Format::Json {
        let json = serde_json::json!({
            "database": url.redacted(),
            "backend": status.backend,
            "migrations": status.migrations,
            "applied": status.applied().count(),
            "pending": status.pending().count(),
            "alembic": alembic,
        });
        writeln!(out, "{json:#}")?;
    } else {
        writeln!(out, "database: {url}")?;
        for entry in &status.migrations {
            let when = entry
                .applied_at
                .map(|t| t.format_with_items(TIMESTAMP.iter()).to_string())
                .unwrap_or_default();
            let (state, name) = match (entry.state, &entry.name) {
                (State::Applied, Some(name)) if entry.changed => {
                    ("changed", format!("{name} (up.sql edited after it ran)"))
                }
                (State::Applied, Some(name)) => ("applied", name.clone()),
                (State::Pending, Some(name)) => ("pending", name.clone()),
                (State::Running, Some(name)) => (
                    "running",
                    format!("{name} (being applied by another process)"),
                ),
                (State::Dirty, Some(name)) => {
                    ("dirty", format!("{name} (did not finish: `botdb resolve`)"))
                }
                _ => (
                    "unknown",
                    format!(
                        "{} (applied, but not among this binary's migrations)",
                        entry.version
                    ),
                ),
            };
            writeln!(
                out,
                "{}",
                format!("{state:<8} {name:<45} {when}").trim_end()
            )?;
        }
        let (applied, pending) = (status.applied().count(), status.pending().count());
        match status.running().count() {
            0 => writeln!(out, "{applied} applied, {pending} pending")?,
            running => writeln!(
                out,
                "{applied} applied, {pending} pending, {running} being applied by another process"
            )?,
        }
        if let Some(alembic) = &alembic {
            writeln!(out, "{}", explain_alembic(alembic))?;
        }
    }
    out.flush()?;
    warn_of_missing(&global.source(), url.backend());
    match status.problem() {
        Some(botdb::Error::Changed(_)) if args.allow_changed => {}
        Some(problem) => return Err(problem.into()),
        None => {}
    }
    if let Some(entry) = status.running().next() {
        tracing::warn!(
            "{} is being applied by another process, which holds the migration lock; run status again when it finishes",
            entry.name.as_deref().unwrap_or(&entry.version)
        );
    }
    // A migration another process is applying is not applied yet: a deploy gate waits.
    if args.check && (status.pending().next().is_some() || status.running().next().is_some()) {
        return Ok(ExitCode::from(EXIT_CHECK_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// What the Alembic revision means and what `migrate` will do with it.
fn explain_alembic(a: &AlembicState) -> String {
    if !a.known {
        return format!(
            "alembic: the Python bot's Alembic left revision {}, which is not one of the bot's revisions: `botdb migrate` refuses to adopt it; `botdb stamp` the version its schema is at",
            a.revision
        );
    }
    let at = a
        .migration
        .as_deref()
        .unwrap_or("no migration (an empty schema)");
    format!(
        "alembic: the Python bot's Alembic left revision {} ({at}); `botdb migrate` will check the schema, adopt {} (record them as applied without running them) and apply {}",
        a.revision,
        plural(a.adopt, "migration"),
        a.apply
    )
}

/// Warns when the tree `source` holds for `backend` lacks migrations a sibling tree has:
/// on this backend they would never run, and status would not list them.
fn warn_of_missing(source: &botdb::Source, backend: botdb::Backend) {
    let missing = botdb::ops::trees::missing_versions(source, backend);
    if missing.is_empty() {
        return;
    }
    let names: Vec<&str> = missing.iter().map(|m| m.id.name.as_str()).collect();
    let mut others: Vec<&str> = missing
        .iter()
        .flat_map(|m| m.found_in.iter().map(|b| b.name()))
        .collect();
    others.sort();
    others.dedup();
    tracing::warn!(
        "the {backend} migrations lack {}, which the {} migrations have: every tree must hold the same history, so add {} to migrations/{backend}/ (or remove {} from the others)",
        names.join(", "),
        others.join(" and "),
        if names.len() == 1 { "it" } else { "them" },
        if names.len() == 1 { "it" } else { "them" },
    );
}
