//! `botdb migrate`: apply pending migrations.

use std::process::ExitCode;

use botdb::{Event, RunOptions};

use super::args::{BackupArgs, GlobalArgs};
use super::error::CliError;
use super::output::Progress;
use super::safety::settle;

// Apply pending migrations. A database the Python bot's Alembic managed is adopted
// first (see `botdb adopt`).
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
    // One read of the bookkeeping, under the lock: an up-to-date database needs neither
    // a backup nor the run. An unknown --to fails before changing anything: no backup.
    let outlook = db.outlook(args.to.as_deref()).await?;
    if let Some(report) = outlook.up_to_date {
        let (db, report) = settle(db, lock, None, Ok(report)).await?;
        return Progress::start(global).finish(&db, &report, "migrate", 0);
    }
    let backup = args.backups.take(&db, outlook.pending).await?;
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
