//! The two bookkeeping tables, in one place: their names, DDL, row types and every SQL
//! text that writes them. The engine and print-sql both build their SQL here, which is
//! what keeps "print-sql prints what migrate runs" true.
//!
//! - diesel's `__diesel_schema_migrations` (applied versions) stays untouched and
//!   compatible, so `diesel migration list` and `botdb status` always agree.
//! - botdb's `__botdb_migrations` holds the SHA-256 of each applied up.sql, and the state
//!   of a MySQL migration in progress.

use crate::backend::Backend;
use crate::error::Result;
use crate::sql::literal::{literal, Literal};

/// The name of diesel's bookkeeping table.
pub const BOOKKEEPING_TABLE: &str = "__diesel_schema_migrations";

/// botdb's bookkeeping table.
pub const BOTDB_TABLE: &str = "__botdb_migrations";

/// Creates [`BOTDB_TABLE`]; the same statement on every backend.
pub const CREATE_BOTDB_TABLE: &str = "CREATE TABLE IF NOT EXISTS __botdb_migrations (
       version VARCHAR(50) PRIMARY KEY NOT NULL,
       checksum VARCHAR(64) NOT NULL,
       state VARCHAR(16) NOT NULL,
       detail TEXT
);";

/// Both tables, declared so botdb can read them without creating them.
#[allow(missing_docs)]
pub mod tables {
    diesel::table! {
        __diesel_schema_migrations (version) {
            version -> VarChar,
            run_on -> Timestamp,
        }
    }

    diesel::table! {
        __botdb_migrations (version) {
            version -> VarChar,
            checksum -> VarChar,
            state -> VarChar,
            detail -> Nullable<Text>,
        }
    }
}

/// Creates both tables if they do not exist: diesel's statement, then botdb's.
pub fn create_sql() -> String {
    format!(
        "{}\n{}",
        diesel::migration::CREATE_MIGRATIONS_TABLE.trim_end(),
        CREATE_BOTDB_TABLE
    )
}

/// The state of a migration in [`BOTDB_TABLE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackState {
    /// It ran to the end.
    Applied,
    /// It started and has not finished, or the process died while it ran.
    Running,
    /// It failed part-way where DDL is not transactional (MySQL): needs `botdb resolve`.
    Dirty,
}

impl TrackState {
    /// The value stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            TrackState::Applied => "applied",
            TrackState::Running => "running",
            TrackState::Dirty => "dirty",
        }
    }

    /// Reads a stored value; anything botdb did not write counts as dirty, so it is
    /// never mistaken for a finished migration.
    pub fn parse(stored: &str) -> Self {
        match stored {
            "applied" => TrackState::Applied,
            "running" => TrackState::Running,
            _ => TrackState::Dirty,
        }
    }
}

/// A row of [`BOTDB_TABLE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    /// The version.
    pub version: String,
    /// SHA-256 of its up.sql when it was applied.
    pub checksum: String,
    /// Whether it finished.
    pub state: TrackState,
    /// What failed, for a dirty migration.
    pub detail: Option<String>,
}

impl Tracked {
    /// A row as read: `(version, checksum, state, detail)`.
    pub fn from_row(
        (version, checksum, state, detail): (String, String, String, Option<String>),
    ) -> Self {
        Tracked {
            version,
            checksum,
            state: TrackState::parse(&state),
            detail,
        }
    }
}

fn quoted(dialect: Backend, text: &str) -> Result<String> {
    literal(dialect, &Literal::Str(text))
}

/// `INSERT` (after removing any old row) of a tracking row.
pub fn track(dialect: Backend, version: &str, checksum: &str, state: TrackState) -> Result<String> {
    let (v, c, s) = (
        quoted(dialect, version)?,
        quoted(dialect, checksum)?,
        quoted(dialect, state.as_str())?,
    );
    Ok(format!(
        "DELETE FROM {BOTDB_TABLE} WHERE version = {v};\nINSERT INTO {BOTDB_TABLE} (version, checksum, state) VALUES ({v}, {c}, {s});"
    ))
}

/// Marks a migration dirty, with what failed.
pub fn mark_dirty(dialect: Backend, version: &str, detail: &str) -> Result<String> {
    // A NUL could not be stored; the message stays readable without it.
    let detail = detail.replace('\0', "");
    Ok(format!(
        "UPDATE {BOTDB_TABLE} SET state = {}, detail = {} WHERE version = {};",
        quoted(dialect, TrackState::Dirty.as_str())?,
        quoted(dialect, &detail)?,
        quoted(dialect, version)?
    ))
}

/// Marks an applied migration as being worked on (`running`), e.g. while reverting on
/// MySQL, so an interruption leaves it dirty rather than silently half-done.
pub fn mark_running(dialect: Backend, version: &str, detail: &str) -> Result<String> {
    Ok(format!(
        "UPDATE {BOTDB_TABLE} SET state = {}, detail = {} WHERE version = {};",
        quoted(dialect, TrackState::Running.as_str())?,
        quoted(dialect, detail)?,
        quoted(dialect, version)?
    ))
}

/// Removes a migration's tracking row.
pub fn untrack(dialect: Backend, version: &str) -> Result<String> {
    Ok(format!(
        "DELETE FROM {BOTDB_TABLE} WHERE version = {};",
        quoted(dialect, version)?
    ))
}

/// Records `version` as applied in diesel's table, as diesel's harness does.
pub fn record_applied(dialect: Backend, version: &str) -> Result<String> {
    Ok(format!(
        "INSERT INTO {BOOKKEEPING_TABLE} (version) VALUES ({});",
        quoted(dialect, version)?
    ))
}

/// Removes `version` from diesel's table.
pub fn forget_applied(dialect: Backend, version: &str) -> Result<String> {
    Ok(format!(
        "DELETE FROM {BOOKKEEPING_TABLE} WHERE version = {};",
        quoted(dialect, version)?
    ))
}

/// The tracking rows that say a migration did not finish (running or dirty).
pub fn unfinished(tracked: &[Tracked]) -> Option<&Tracked> {
    tracked.iter().find(|t| t.state != TrackState::Applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_sql_is_escaped() {
        let sql = mark_dirty(Backend::Mysql, "1", r"near 'x\'").unwrap_or_default();
        assert!(sql.contains(r"'near ''x\\'''"), "{sql}");
        assert!(track(Backend::Sqlite, "v'1", "c", TrackState::Applied)
            .unwrap_or_default()
            .contains("'v''1'"));
    }

    #[test]
    fn states_round_trip() {
        for state in [TrackState::Applied, TrackState::Running, TrackState::Dirty] {
            assert_eq!(TrackState::parse(state.as_str()), state);
        }
        assert_eq!(TrackState::parse("weird"), TrackState::Dirty);
    }
}
