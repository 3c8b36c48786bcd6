//! `botdb migrate`: apply pending migrations.

use std::process::ExitCode;

use botdb::{Event, RunOptions};

use super::args::{BackupArgs, GlobalArgs};
use super::error::CliError;
use super::output::Progress;
use super::safety::settle;

/// Apply pending migrations. A database the Python bot's Alembic managed is adopted
/// first (see `botdb adopt`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stop after this version (inclusive): `2024-12-20-105908` or the full folder name.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,

    /// Give each migration its own transaction (diesel's behaviour). By default all
    /// pending migrations share one on PostgreSQL and SQLite: all or nothing.
    #[arg(long)]
    pub transaction_per_migration: bool,

    /// Run even though an applied migration's up.sql was edited since it ran.
    #[arg(long)]
    pub allow_changed: bool,

    #[command(flatten)]
    pub backups: BackupArgs,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let (db, lock) = global.connect_locked().await?;
    let db = db.with_run_options(RunOptions {
        per_migration: args.transaction_per_migration,
        allow_changed: args.allow_changed,
    });
    // An unknown --to fails before changing anything: no backup for it.
    let to = match args.to.as_deref() {
        None => Some(None),
        Some(t) => db
            .catalog()?
            .find(t)
            .ok()
            .map(|m| Some(m.id.version.clone())),
    };
    let changes = match &to {
        None => false,
        Some(to) => db
            .status()
            .await?
            .pending()
            .any(|e| to.as_ref().is_none_or(|t| e.version <= *t)),
    };
    let backup = args.backups.take(&db, changes).await?;
    let mut progress = Progress::start(global);
    let result = db
        .migrate_with(args.to.as_deref(), &mut |event| match event {
            Event::Adopted(adoption) => progress.adopted(adoption),
            Event::Step(step) => progress.step(step),
        })
        .await;
    let (db, report) = settle(db, lock, backup, result).await?;
    progress.finish(&db, &report, "migrate", report.applied.len())
}
