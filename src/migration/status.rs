//! What is applied, read against the catalogue: [`Status`] for `botdb status`, and the
//! checks every run makes first (nothing dirty, nothing edited after it ran).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::migration::bookkeeping::{unfinished, TrackState, Tracked};
use crate::migration::catalog::{Catalog, MigrationId, MigrationText};
use crate::migration::plan::{plan_up, RunOptions};
use crate::migration::report::Report;

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
    /// Being applied or reverted right now by another process, which holds the migration
    /// lock.
    Running,
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
    /// When it was applied (the database's clock, UTC on SQLite). Serialized as RFC 3339
    /// in UTC, e.g. `2026-11-27T17:00:00Z`.
    #[serde(serialize_with = "rfc3339_utc")]
    pub applied_at: Option<NaiveDateTime>,
    /// Applied, but its up.sql changed since (the recorded checksum differs).
    pub changed: bool,
}

/// diesel records `run_on` without a zone, from the database's clock: UTC on SQLite, and
/// on a server in its session time zone, which botdb leaves at the server's default (UTC
/// unless the server is configured otherwise).
fn rfc3339_utc<S: serde::Serializer>(
    at: &Option<NaiveDateTime>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_str(
            &at.and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
        None => serializer.serialize_none(),
    }
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
    pub fn with_tracking(mut self, tracked: &[Tracked], catalog: &Catalog) -> Self {
        let recorded: HashMap<&str, &str> = tracked
            .iter()
            .filter(|t| t.state == TrackState::Applied)
            .map(|t| (t.version.as_str(), t.checksum.as_str()))
            .collect();
        let unfinished: HashSet<&str> = tracked
            .iter()
            .filter(|t| t.state != TrackState::Applied)
            .map(|t| t.version.as_str())
            .collect();
        for entry in &mut self.migrations {
            // What `changed` reports, entry by entry: an applied migration of the
            // catalogue whose recorded checksum differs.
            let applied = matches!(entry.state, State::Applied | State::Unknown);
            entry.changed = applied
                && entry.name.as_deref().is_some_and(|name| {
                    catalog.get(&entry.version).is_some_and(|m| {
                        m.id.name == name
                            && recorded
                                .get(entry.version.as_str())
                                .is_some_and(|c| *c != m.checksum)
                    })
                });
            if unfinished.contains(entry.version.as_str()) {
                entry.state = State::Dirty;
            }
        }
        self
    }

    /// The migrations another process is applying or reverting right now.
    pub fn running(&self) -> impl Iterator<Item = &Entry> {
        self.migrations.iter().filter(|e| e.state == State::Running)
    }

    /// For when another process holds the migration lock: the migrations it recorded as
    /// `running` are its work in progress, not left dirty.
    pub fn running_elsewhere(mut self, tracked: &[Tracked]) -> Self {
        let running: HashSet<&str> = tracked
            .iter()
            .filter(|t| t.state == TrackState::Running)
            .map(|t| t.version.as_str())
            .collect();
        for entry in &mut self.migrations {
            if entry.state == State::Dirty && running.contains(entry.version.as_str()) {
                entry.state = State::Running;
            }
        }
        self
    }

    /// Whether anything needs attention before migrating: a dirty or changed migration.
    pub fn problem(&self) -> Option<Error> {
        if let Some(e) = self.migrations.iter().find(|e| e.state == State::Dirty) {
            return Some(Error::Dirty {
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
        (!changed.is_empty()).then(|| Error::Changed(changed.join(", ")))
    }

    /// Combines the known migrations with the applied versions and when they ran.
    pub fn new(
        backend: Backend,
        mut known: Vec<MigrationId>,
        mut applied: Vec<(String, NaiveDateTime)>,
    ) -> Self {
        // Both in version order (a stable sort, nearly free on what is already sorted),
        // merged in one pass: a history can be long.
        known.sort_by(|a, b| a.version.cmp(&b.version));
        applied.sort_by(|a, b| a.0.cmp(&b.0));
        let mut entries: Vec<Entry> = Vec::with_capacity(known.len());
        let mut applied = applied.into_iter().peekable();
        let record =
            |entries: &mut Vec<Entry>, version: String, run_on: NaiveDateTime| match entries
                .last_mut()
            {
                Some(last) if last.version == version => {
                    if last.state == State::Pending {
                        last.state = State::Applied;
                    }
                    last.applied_at = Some(run_on);
                }
                _ => entries.push(Entry {
                    version,
                    name: None,
                    state: State::Unknown,
                    applied_at: Some(run_on),
                    changed: false,
                }),
            };
        for m in known {
            while let Some((version, run_on)) = applied.next_if(|(v, _)| *v < m.version) {
                record(&mut entries, version, run_on);
            }
            match entries.last_mut() {
                // The same version twice: the later name stands.
                Some(last) if last.version == m.version => last.name = Some(m.name),
                _ => entries.push(Entry {
                    version: m.version,
                    name: Some(m.name),
                    state: State::Pending,
                    applied_at: None,
                    changed: false,
                }),
            }
            while let Some((version, run_on)) =
                applied.next_if(|(v, _)| entries.last().is_some_and(|e| e.version == *v))
            {
                record(&mut entries, version, run_on);
            }
        }
        for (version, run_on) in applied {
            record(&mut entries, version, run_on);
        }
        Status {
            backend,
            migrations: entries,
        }
    }
}

/// Refuses a database that is dirty, or whose applied migrations changed since they ran.
pub fn preflight(
    tracked: &[Tracked],
    catalog: Option<&Catalog>,
    applied: &[String],
    options: RunOptions,
) -> Result<()> {
    if let Some(t) = unfinished(tracked) {
        return Err(Error::Dirty {
            version: t.version.clone(),
            detail: t
                .detail
                .clone()
                .unwrap_or_else(|| "it was interrupted while running".into()),
        });
    }
    let changed = catalog.map_or_else(Vec::new, |c| changed(tracked, c, applied));
    if !changed.is_empty() && !options.allow_changed {
        return Err(Error::Changed(changed.join(", ")));
    }
    Ok(())
}

/// The applied migrations whose up.sql differs from the checksum recorded when they ran,
/// by name, oldest first.
pub fn changed(tracked: &[Tracked], catalog: &Catalog, applied: &[String]) -> Vec<String> {
    let recorded: HashMap<&str, &str> = tracked
        .iter()
        .filter(|t| t.state == TrackState::Applied)
        .map(|t| (t.version.as_str(), t.checksum.as_str()))
        .collect();
    let applied: HashSet<&str> = applied.iter().map(String::as_str).collect();
    catalog
        .migrations()
        .iter()
        .filter(|m| applied.contains(m.id.version.as_str()))
        .filter(|m| {
            recorded
                .get(m.id.version.as_str())
                .is_some_and(|c| *c != m.checksum)
        })
        .map(|m| m.id.name.clone())
        .collect()
}

/// Applied migrations with no checksum recorded (applied before botdb kept them, or by
/// diesel_cli, or stamped by an older botdb), oldest first.
pub fn unrecorded<'a>(
    catalog: &'a Catalog,
    applied: &[String],
    tracked: &[Tracked],
) -> Vec<&'a MigrationText> {
    let tracked: HashSet<&str> = tracked.iter().map(|t| t.version.as_str()).collect();
    let applied: HashSet<&str> = applied.iter().map(String::as_str).collect();
    catalog
        .migrations()
        .iter()
        .filter(|m| applied.contains(m.id.version.as_str()))
        .filter(|m| !tracked.contains(m.id.version.as_str()))
        .collect()
}

/// What a migrate up to `to` would do, judged from one read of the bookkeeping taken
/// under the migration lock, before deciding on a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outlook {
    /// It has migrations to apply: those `botdb status` lists as pending, up to `to`. False
    /// for a `to` the catalogue does not know (the migrate refuses it, changing nothing).
    pub pending: bool,
    /// Its report, when it would apply nothing and write nothing: nothing pending up to
    /// `to`, both bookkeeping tables there, every applied migration's checksum recorded,
    /// nothing dirty, and nothing edited (unless allowed). `None` when the migrate itself
    /// must run to find out, or to say what is wrong.
    pub up_to_date: Option<Report>,
}

impl Outlook {
    /// Judges a migrate up to `to` from the applied versions and botdb's tracking rows.
    pub fn new(
        catalog: &Catalog,
        applied: &[String],
        tracked: &[Tracked],
        to: Option<&str>,
        options: RunOptions,
    ) -> Self {
        let limit = match to {
            None => Some(None),
            Some(t) => catalog.find(t).ok().map(|m| Some(m.id.version.as_str())),
        };
        let pending = limit.is_some_and(|limit| {
            let applied: HashSet<&str> = applied.iter().map(String::as_str).collect();
            let unfinished: HashSet<&str> = tracked
                .iter()
                .filter(|t| t.state != TrackState::Applied)
                .map(|t| t.version.as_str())
                .collect();
            catalog.migrations().iter().any(|m| {
                let v = m.id.version.as_str();
                !applied.contains(v) && !unfinished.contains(v) && limit.is_none_or(|l| v <= l)
            })
        });
        // Applied versions and tracking rows mean both tables exist, so the run would
        // create neither, and no Alembic database waits to be adopted (that needs diesel's
        // table empty); the other conditions are the run's own checks.
        let up_to_date = (!pending
            && !applied.is_empty()
            && !tracked.is_empty()
            && unrecorded(catalog, applied, tracked).is_empty()
            && preflight(tracked, Some(catalog), applied, options).is_ok()
            && plan_up(catalog, applied, to).is_ok_and(|plan| plan.is_empty()))
        .then(|| Report {
            adopted: None,
            reverted: Vec::new(),
            applied: Vec::new(),
            current: applied.iter().max().cloned(),
        });
        Outlook {
            pending,
            up_to_date,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_marks_unknown_versions() {
        let at = NaiveDateTime::default();
        let known = [
            "2024-01-01-000001_a",
            "2024-01-01-000002_b",
            "2024-01-01-000003_c",
        ]
        .iter()
        .map(|n| MigrationId::from_name(n))
        .collect();
        let status = Status::new(
            Backend::Sqlite,
            known,
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
