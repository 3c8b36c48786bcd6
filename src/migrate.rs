//! The migration engine: which migrations exist, what is applied, and applying or
//! reverting them.
//!
//! Applied versions live in diesel's own `__diesel_schema_migrations` table, so
//! `diesel migration list` and `botdb status` always agree. Running migrations is
//! [`crate::run`]'s job; reading the status never goes through diesel's harness, which
//! creates its table as soon as it is asked what is applied, and status must never write.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::backend::Backend as DieselBackend;
use diesel::migration::{Migration, MigrationSource as DieselSource};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, FileBasedMigrations};

use crate::config::Backend;
use crate::error::{one_line, Error, Result};

/// The SQLite history, compiled into the binary.
pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// The PostgreSQL history, compiled into the binary.
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// The MySQL/MariaDB history, compiled into the binary.
pub const MYSQL: EmbeddedMigrations = embed_migrations!("migrations/mysql");

/// The name of diesel's bookkeeping table.
pub const BOOKKEEPING_TABLE: &str = "__diesel_schema_migrations";

/// diesel's bookkeeping table, declared here so botdb can read it without creating it.
#[allow(missing_docs)]
pub mod bookkeeping {
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

/// Where migrations come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Source {
    /// The migrations compiled into the binary.
    #[default]
    Embedded,
    /// A folder on disk: either one backend's folder, or a root holding
    /// `sqlite/`, `postgres/` and `mysql/`.
    Dir(PathBuf),
}

impl Source {
    /// The folder that holds `backend`'s migrations, for a [`Source::Dir`].
    pub fn dir_for(&self, backend: Backend) -> Option<PathBuf> {
        match self {
            Source::Embedded => None,
            Source::Dir(dir) => {
                let nested = dir.join(backend.name());
                Some(if nested.is_dir() { nested } else { dir.clone() })
            }
        }
    }

    /// Loads `backend`'s migrations, sorted by version.
    pub(crate) fn migrations<DB: DieselBackend>(
        &self,
        backend: Backend,
    ) -> Result<Vec<Box<dyn Migration<DB>>>> {
        let mut migrations = match self.dir_for(backend) {
            None => {
                let embedded = match backend {
                    Backend::Sqlite => SQLITE,
                    Backend::Postgres => POSTGRES,
                    Backend::Mysql => MYSQL,
                };
                DieselSource::<DB>::migrations(&embedded)
                    .map_err(|e| Error::query("loading the embedded migrations", e))?
            }
            Some(dir) => load_dir(&dir)?,
        };
        migrations.sort_by(|a, b| a.name().version().cmp(&b.name().version()));
        Ok(migrations)
    }

    /// Loads the migrations again to run them, and makes sure they are still the ones
    /// `planned` was computed from (a folder may change under a running botdb).
    pub(crate) fn migrations_as_planned<DB: DieselBackend>(
        &self,
        backend: Backend,
        planned: &[MigrationId],
    ) -> Result<Vec<Box<dyn Migration<DB>>>> {
        let migrations = self.migrations(backend)?;
        if ids(&migrations) != planned {
            let path = self.dir_for(backend).unwrap_or_default();
            return Err(Error::MigrationsDir {
                path,
                message: "it changed while botdb was reading it; nothing was run, try again".into(),
            });
        }
        Ok(migrations)
    }
}

fn load_dir<DB: DieselBackend>(dir: &Path) -> Result<Vec<Box<dyn Migration<DB>>>> {
    let dir_error = |message: String| Error::MigrationsDir {
        path: dir.to_path_buf(),
        message,
    };
    // diesel's loader reports unreadable folders vaguely; check what it cannot say.
    let entries = std::fs::read_dir(dir).map_err(|e| dir_error(e.to_string()))?;
    for entry in entries {
        let path = entry.map_err(|e| dir_error(e.to_string()))?.path();
        if path.is_dir() {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !name.contains('_') {
                return Err(dir_error(format!("`{name}` is not named <version>_<name>")));
            }
            for file in ["up.sql", "down.sql"] {
                if !path.join(file).is_file() {
                    return Err(dir_error(format!("`{name}` has no {file}")));
                }
            }
        }
    }
    let source =
        FileBasedMigrations::from_path(dir).map_err(|e| dir_error(one_line(&e.to_string())))?;
    DieselSource::<DB>::migrations(&source).map_err(|e| dir_error(one_line(&e.to_string())))
}

/// One migration, by version and full name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationId {
    /// The version as diesel records it, e.g. `20241220105908`.
    pub version: String,
    /// The folder name, e.g. `2024-12-20-105908_initial_revision`.
    pub name: String,
}

impl MigrationId {
    pub(crate) fn of<DB: DieselBackend>(migration: &dyn Migration<DB>) -> Self {
        Self {
            version: migration.name().version().to_string(),
            name: migration.name().to_string(),
        }
    }
}

impl std::fmt::Display for MigrationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

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
    pub adopted: Option<crate::adopt::Adoption>,
    /// The migrations reverted, newest first.
    pub reverted: Vec<Step>,
    /// The migrations applied, oldest first.
    pub applied: Vec<Step>,
    /// The newest applied version afterwards, if any.
    pub current: Option<String>,
}

/// How far a revert goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevertTarget {
    /// The newest N applied migrations.
    Steps(usize),
    /// Everything applied after this version; the version itself stays applied.
    To(String),
    /// Everything.
    All,
}

/// Whether a migration is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Recorded in the bookkeeping table.
    Applied,
    /// Known to the binary, not applied.
    Pending,
    /// Recorded in the database but unknown to this binary.
    Unknown,
    /// Started on MySQL and never finished: the database needs `botdb resolve`.
    Dirty,
}

/// One line of [`Status`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// The version.
    pub version: String,
    /// The folder name; `None` for a version this binary does not know.
    pub name: Option<String>,
    /// Applied, pending or unknown.
    pub state: State,
    /// When it was applied (the database's clock, UTC on SQLite).
    pub applied_at: Option<NaiveDateTime>,
    /// Applied, but its up.sql changed since (the recorded checksum differs).
    pub changed: bool,
}

/// Every known migration and every applied version, ordered by version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// The backend the status was read from.
    pub backend: Backend,
    /// One entry per version.
    pub migrations: Vec<Entry>,
}

impl Status {
    /// The versions still to apply.
    pub fn pending(&self) -> impl Iterator<Item = &Entry> {
        self.migrations.iter().filter(|e| e.state == State::Pending)
    }

    /// The versions recorded as applied, known or not.
    pub fn applied(&self) -> impl Iterator<Item = &Entry> {
        self.migrations
            .iter()
            .filter(|e| matches!(e.state, State::Applied | State::Unknown))
    }

    /// Marks what botdb's own bookkeeping says: migrations left dirty, and applied ones
    /// whose up.sql no longer matches the checksum recorded when they ran.
    pub(crate) fn with_tracking(
        mut self,
        tracked: &[crate::run::Tracked],
        texts: &[crate::script::MigrationText],
    ) -> Self {
        let applied: Vec<String> = self.applied().map(|e| e.version.clone()).collect();
        let changed = crate::run::changed(tracked, texts, &applied);
        for entry in &mut self.migrations {
            if tracked
                .iter()
                .any(|t| t.version == entry.version && t.state != "applied")
            {
                entry.state = State::Dirty;
            }
            entry.changed = entry.name.as_ref().is_some_and(|n| changed.contains(n));
        }
        self
    }

    /// Whether anything needs attention before migrating: a dirty or changed migration.
    pub fn problem(&self) -> Option<crate::Error> {
        if let Some(e) = self.migrations.iter().find(|e| e.state == State::Dirty) {
            return Some(crate::Error::Dirty {
                version: e.version.clone(),
                detail: "see `botdb status`".into(),
            });
        }
        let changed: Vec<&str> = self
            .migrations
            .iter()
            .filter(|e| e.changed)
            .filter_map(|e| e.name.as_deref())
            .collect();
        (!changed.is_empty()).then(|| crate::Error::Changed(changed.join(", ")))
    }

    /// Combines the known migrations with the applied versions and when they ran.
    pub fn new(
        backend: Backend,
        known: Vec<MigrationId>,
        applied: Vec<(String, NaiveDateTime)>,
    ) -> Self {
        let mut entries: BTreeMap<String, Entry> = known
            .into_iter()
            .map(|m| {
                let entry = Entry {
                    version: m.version.clone(),
                    name: Some(m.name),
                    state: State::Pending,
                    applied_at: None,
                    changed: false,
                };
                (m.version, entry)
            })
            .collect();
        for (version, run_on) in applied {
            let entry = entries.entry(version.clone()).or_insert(Entry {
                version,
                name: None,
                state: State::Unknown,
                applied_at: None,
                changed: false,
            });
            if entry.state == State::Pending {
                entry.state = State::Applied;
            }
            entry.applied_at = Some(run_on);
        }
        Status {
            backend,
            migrations: entries.into_values().collect(),
        }
    }
}

/// diesel stores a folder's version without its dashes: `2024-12-20-105908` is
/// recorded as `20241220105908`. Users may type either.
pub fn normalize_version(version: &str) -> String {
    version.trim().replace('-', "")
}

/// Resolves a version given by a user: `2024-12-20-105908`, `20241220105908`, or the
/// full folder name.
pub(crate) fn find_version<'a>(known: &'a [MigrationId], wanted: &str) -> Result<&'a MigrationId> {
    let wanted = wanted.trim();
    let version = normalize_version(wanted);
    known
        .iter()
        .find(|m| m.version == version || m.name == wanted)
        .ok_or_else(|| Error::UnknownVersion(wanted.to_string()))
}

/// The migrations to apply, oldest first: everything pending, or up to and including `to`.
pub(crate) fn plan_up(
    known: &[MigrationId],
    applied: &[String],
    to: Option<&str>,
) -> Result<Vec<usize>> {
    let limit = to.map(|v| find_version(known, v)).transpose()?;
    Ok(known
        .iter()
        .enumerate()
        .filter(|(_, m)| !applied.contains(&m.version))
        .filter(|(_, m)| limit.is_none_or(|l| m.version <= l.version))
        .map(|(i, _)| i)
        .collect())
}

/// The applied versions to revert, newest first.
pub(crate) fn plan_down(
    known: &[MigrationId],
    applied: &[String],
    target: &RevertTarget,
) -> Result<Vec<String>> {
    let mut newest_first: Vec<String> = applied.to_vec();
    newest_first.sort_by(|a, b| b.cmp(a));
    let chosen: Vec<String> = match target {
        RevertTarget::Steps(0) => return Err(Error::ZeroSteps),
        RevertTarget::Steps(n) if *n > newest_first.len() => {
            return Err(Error::TooManySteps {
                requested: *n,
                applied: newest_first.len(),
            })
        }
        RevertTarget::Steps(n) => newest_first.into_iter().take(*n).collect(),
        RevertTarget::All => newest_first,
        RevertTarget::To(v) => {
            let keep = match find_version(known, v) {
                Ok(m) => m.version.clone(),
                Err(_) if applied.contains(&normalize_version(v)) => normalize_version(v),
                Err(e) => return Err(e),
            };
            if !applied.contains(&keep) {
                return Err(Error::NotApplied(keep));
            }
            newest_first.into_iter().filter(|a| *a > keep).collect()
        }
    };
    Ok(chosen)
}

pub(crate) fn ids<DB: DieselBackend>(migrations: &[Box<dyn Migration<DB>>]) -> Vec<MigrationId> {
    migrations
        .iter()
        .map(|m| MigrationId::of(m.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<MigrationId> {
        [
            "2024-01-01-000001_a",
            "2024-01-01-000002_b",
            "2024-01-01-000003_c",
        ]
        .iter()
        .map(|n| MigrationId {
            version: n
                .split_once('_')
                .map(|(v, _)| normalize_version(v))
                .unwrap_or_default(),
            name: n.to_string(),
        })
        .collect()
    }

    fn applied(n: usize) -> Vec<String> {
        known().into_iter().take(n).map(|m| m.version).collect()
    }

    #[test]
    fn plans_up_to_a_version() {
        assert_eq!(
            plan_up(&known(), &applied(0), None).ok(),
            Some(vec![0, 1, 2])
        );
        assert_eq!(
            plan_up(&known(), &applied(1), Some("2024-01-01-000002")).ok(),
            Some(vec![1])
        );
        assert_eq!(
            plan_up(&known(), &applied(0), Some("2024-01-01-000002_b")).ok(),
            Some(vec![0, 1])
        );
        assert!(matches!(
            plan_up(&known(), &applied(0), Some("nope")),
            Err(Error::UnknownVersion(_))
        ));
        assert_eq!(plan_up(&known(), &applied(3), None).ok(), Some(vec![]));
    }

    #[test]
    fn plans_down() {
        let all = applied(3);
        assert_eq!(
            plan_down(&known(), &all, &RevertTarget::Steps(1)).ok(),
            Some(vec!["20240101000003".to_string()])
        );
        assert_eq!(
            plan_down(
                &known(),
                &all,
                &RevertTarget::To("2024-01-01-000001".into())
            )
            .ok(),
            Some(vec![
                "20240101000003".to_string(),
                "20240101000002".to_string()
            ])
        );
        assert_eq!(
            plan_down(&known(), &all, &RevertTarget::All)
                .map(|v| v.len())
                .ok(),
            Some(3)
        );
        assert!(matches!(
            plan_down(&known(), &all, &RevertTarget::Steps(0)),
            Err(Error::ZeroSteps)
        ));
        assert!(matches!(
            plan_down(&known(), &all, &RevertTarget::Steps(4)),
            Err(Error::TooManySteps {
                requested: 4,
                applied: 3
            })
        ));
        assert!(matches!(
            plan_down(
                &known(),
                &applied(1),
                &RevertTarget::To("2024-01-01-000002".into())
            ),
            Err(Error::NotApplied(_))
        ));
    }

    #[test]
    fn status_marks_unknown_versions() {
        let at = NaiveDateTime::default();
        let status = Status::new(
            Backend::Sqlite,
            known(),
            vec![("20240101000001".into(), at), ("20230101000000".into(), at)],
        );
        let states: Vec<State> = status.migrations.iter().map(|e| e.state).collect();
        assert_eq!(
            states,
            [
                State::Unknown,
                State::Applied,
                State::Pending,
                State::Pending
            ]
        );
        assert_eq!(status.pending().count(), 2);
    }
}
