//! Plain data about what a run did, for callers to print or inspect.

use std::time::Duration;

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

pub use crate::error::{plural, plural_applied};
