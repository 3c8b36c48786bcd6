//! `check` and `verify`: is the live schema the declared model, and does every migration
//! go down and up again cleanly?

use crate::config::DatabaseUrl;
use crate::database::Database;
use crate::db::with_connection;
use crate::error::Result;
use crate::introspect::compare::{compare, compare_names, compare_with, Difference, Strictness};
use crate::introspect::{Introspect, Schema};
use crate::migration::catalog::{MigrationId, Source};
use crate::migration::plan::RevertTarget;
use crate::model;
use crate::ops::alembic::{self, ALEMBIC_TABLE};
use crate::ops::scratch::Scratch;

/// What `botdb check` found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckReport {
    /// The newest applied version.
    pub at: Option<String>,
    /// Migrations newer than the newest applied one. The model describes the schema at
    /// the head of the history, so with any pending the database is not compared with it.
    pub pending: usize,
    /// Differences from the declared model (compared only when nothing is pending).
    pub differences: Vec<Difference>,
    /// Constraints and indexes the model names otherwise (e.g. a database the Python bot
    /// made): reported, but not drift.
    pub names: Vec<Difference>,
    /// Pending migrations older than an applied one: a hole in the recorded history (e.g.
    /// a version row deleted by hand).
    pub unrecorded: Vec<MigrationId>,
}

impl CheckReport {
    /// Whether the database is at the head of the history.
    pub fn up_to_date(&self) -> bool {
        self.pending == 0
    }

    /// Whether the check fails: migrations pending, drift from the model, or a hole in
    /// the history.
    pub fn failed(&self) -> bool {
        !self.up_to_date() || !self.differences.is_empty() || !self.unrecorded.is_empty()
    }
}

/// What `botdb verify` found: every place where a step did not give the schema it should.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// Migrations exercised.
    pub migrations: usize,
    /// What went wrong, each naming its step.
    pub failures: Vec<String>,
}

impl Database {
    /// Compares the live schema with the declared model ([`model::bot::schema`]), like
    /// `alembic check`: reads the history and the catalogue and writes nothing, so it
    /// works for a read-only role and on a hot standby. A database with migrations
    /// pending is not up to date and is not compared. Tables other than botdb's (e.g.
    /// `alembic_version`) are ignored.
    pub async fn check(&self) -> Result<CheckReport> {
        let status = self.status().await?;
        let mut at = status.applied().map(|e| e.version.clone()).max();
        let newer = |v: &String, at: &Option<String>| at.as_ref().is_none_or(|a| v > a);
        let mut pending = status.pending().filter(|e| newer(&e.version, &at)).count();
        let mut unrecorded: Vec<MigrationId> = status
            .pending()
            .filter(|e| !newer(&e.version, &at))
            .filter_map(|e| {
                Some(MigrationId {
                    version: e.version.clone(),
                    name: e.name.clone()?,
                })
            })
            .collect();
        // With nothing pending the catalogue is read now, once: its table list says whether
        // Alembic's table is there, and it is compared with the model. With migrations
        // pending it is read only if Alembic's revision turns out to cover them.
        let catalogue = match pending {
            0 => Some(with_connection!(self.pool(), |conn| conn
                .catalogue()
                .await?)),
            _ => None,
        };
        // A database Alembic still manages is at the step its revision maps to.
        let alembic = match &catalogue {
            Some(read) if !read.tables.iter().any(|t| t == ALEMBIC_TABLE) => None,
            _ => self.alembic_revision().await?,
        };
        if let Some(revision) = alembic {
            if let Some(step) = alembic::revision(&revision) {
                at = step.version.map(str::to_string);
                pending = status
                    .migrations
                    .iter()
                    .filter(|e| newer(&e.version, &at))
                    .count();
                unrecorded.clear();
            }
        }
        let (differences, names) = if pending == 0 {
            let catalogue = match catalogue {
                Some(read) => read,
                None => with_connection!(self.pool(), |conn| conn.catalogue().await?),
            };
            differences_from_model(&model::bot::schema(), &catalogue.schema()?)
        } else {
            (Vec::new(), Vec::new())
        };
        Ok(CheckReport {
            at,
            pending,
            differences,
            names,
            unrecorded,
        })
    }
}

/// How `live` differs from `declared`, ignoring Alembic's bookkeeping table: the
/// differences, then the names that differ.
pub fn differences_from_model(
    declared: &Schema,
    live: &Schema,
) -> (Vec<Difference>, Vec<Difference>) {
    let tables: Vec<&str> = declared
        .table_names()
        .into_iter()
        .chain(live.table_names())
        .filter(|t| *t != ALEMBIC_TABLE)
        .collect();
    (
        compare_with(declared, live, Some(&tables), Strictness::Model),
        compare_names(declared, live, Some(&tables)),
    )
}

/// On a scratch database like `like` (a temporary SQLite file, or a temporary database on
/// the same server): applies every migration one by one, reverts them all one by one, and
/// applies them again, checking after each step that the schema is exactly what it was at
/// that version before; then compares the result with the declared model's tables.
pub async fn verify(like: &DatabaseUrl, source: &Source) -> Result<VerifyReport> {
    let scratch = Scratch::create(like, source).await?;
    let result = verify_on(&scratch.db).await;
    scratch.remove().await?;
    result
}

async fn verify_on(db: &Database) -> Result<VerifyReport> {
    let known = db.known_migrations()?;
    let mut report = VerifyReport {
        migrations: known.len(),
        failures: Vec::new(),
    };
    let mut at_step = vec![db.introspect().await?];
    for m in &known {
        db.apply_pending(Some(&m.version), &mut |_| {}).await?;
        at_step.push(db.introspect().await?);
    }
    // A leftover stays through every later step: it is reported at the step that left
    // it, not again at each step after.
    let mut seen: Vec<String> = Vec::new();
    // Where a revert cannot put a column back in its place, the place does not count:
    // diesel names every column it selects, so the order is not part of the schema there.
    let places_columns = db.backend().places_columns();
    let in_order = |schema: &Schema| {
        let mut schema = schema.clone();
        if !places_columns {
            for table in &mut schema.tables {
                table.columns.sort_by(|a, b| a.name.cmp(&b.name));
            }
        }
        schema
    };
    let mut check = |when: String, expected: &Schema, actual: &Schema| {
        if in_order(expected) == in_order(actual) {
            seen.clear();
            return;
        }
        let lines: Vec<String> = compare(expected, actual, None)
            .iter()
            .map(Difference::to_string)
            .collect();
        let new: Vec<&String> = lines.iter().filter(|l| !seen.contains(l)).collect();
        if lines.is_empty() {
            report.failures.push(format!(
                "{when}: the schema differs in names, types or column order"
            ));
        } else if !new.is_empty() {
            let detail = new
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            report.failures.push(format!("{when}: {detail}"));
        }
        seen = lines;
    };
    for (i, m) in known.iter().enumerate().rev() {
        db.revert(&RevertTarget::Steps(1), &mut |_| {}).await?;
        check(
            format!("after reverting {m}"),
            &at_step[i],
            &db.introspect().await?,
        );
    }
    for (i, m) in known.iter().enumerate() {
        db.apply_pending(Some(&m.version), &mut |_| {}).await?;
        check(
            format!("after applying {m} again"),
            &at_step[i + 1],
            &db.introspect().await?,
        );
    }
    let last = at_step.last().cloned().unwrap_or_default();
    let declared = model::bot::schema();
    let tables = declared.table_names();
    let drift = compare_with(&declared, &last, Some(&tables), Strictness::Model);
    let names = compare_names(&declared, &last, Some(&tables));
    report.failures.extend(
        drift
            .iter()
            .chain(&names)
            .map(|d| format!("against the declared model: {d}")),
    );
    Ok(report)
}
