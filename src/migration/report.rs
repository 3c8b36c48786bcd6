//! Plain data about what a run did, for callers to print or inspect.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::migration::catalog::MigrationId;

/// Which way a migration ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// up.sql ran.
    Applied,
    /// down.sql ran.
    Reverted,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Action::Applied => "applied",
            Action::Reverted => "reverted",
        })
    }
}

/// A migration that ran, and how long it took.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    /// Which migration.
    pub migration: MigrationId,
    /// Which way it ran.
    pub action: Action,
    /// Its wall-clock time, bookkeeping included.
    pub duration: Duration,
}

/// What a migrate, revert or redo did, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// The Alembic database taken over first, if any.
    pub adopted: Option<Adoption>,
    /// The migrations reverted, newest first.
    pub reverted: Vec<Step>,
    /// The migrations applied, oldest first.
    pub applied: Vec<Step>,
    /// The newest applied version afterwards, if any.
    pub current: Option<String>,
}

/// What a stamp changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stamped {
    /// Versions recorded as applied.
    pub recorded: Vec<MigrationId>,
    /// Versions removed from the record (they were after the stamped version).
    pub removed: Vec<MigrationId>,
}

/// What an adoption of an Alembic database did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Adoption {
    /// The Alembic revision the database was at.
    pub revision: String,
    /// The migrations recorded as applied.
    pub stamped: Vec<MigrationId>,
    /// Whether `alembic_version` was dropped.
    pub dropped_alembic_version: bool,
}

/// The migration whose SQL is running in this process, if any.
static RUNNING: Mutex<Option<Running>> = Mutex::new(None);

/// A migration whose up.sql or down.sql is running now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// Which migration.
    pub migration: MigrationId,
    /// Which way it runs.
    pub action: Action,
    /// When its SQL started.
    pub since: Instant,
}

impl Running {
    /// The migration running now in this process, for a caller that reports progress
    /// from another thread while the run blocks its own (the CLI's heartbeat). Steps are
    /// reported only once their transaction commits, so they cannot tell this.
    pub fn now() -> Option<Running> {
        RUNNING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Marks `migration` as running until the returned guard is dropped.
    pub(crate) fn start(migration: &MigrationId, action: Action) -> RunningGuard {
        *RUNNING.lock().unwrap_or_else(PoisonError::into_inner) = Some(Running {
            migration: migration.clone(),
            action,
            since: Instant::now(),
        });
        RunningGuard
    }
}

/// Clears [`Running::now`] when the migration's SQL is done, however it ended.
pub(crate) struct RunningGuard;

impl Drop for RunningGuard {
    fn drop(&mut self) {
        *RUNNING.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

pub use crate::error::{plural, plural_applied};
