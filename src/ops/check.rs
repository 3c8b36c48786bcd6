//! `check` and `verify`: is the live schema what the migrations and src/schema.rs say,
//! and does every migration go down and up again cleanly?

use crate::config::DatabaseUrl;
use crate::database::Database;
use crate::error::Result;
use crate::introspect::compare::{compare, compare_models, Difference};
use crate::introspect::Schema;
use crate::migration::catalog::{MigrationId, Source};
use crate::migration::plan::RevertTarget;
use crate::ops::alembic::{self, ALEMBIC_TABLE};
use crate::ops::scratch::{schema_at, Scratch};

/// What `botdb check` found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckReport {
    /// The newest applied version the live database was compared at.
    pub at: Option<String>,
    /// Differences from what the migrations produce at that version.
    pub migrations: Vec<Difference>,
    /// Differences from src/schema.rs (compared only when nothing is pending).
    pub models: Vec<Difference>,
    /// Migrations not applied yet.
    pub pending: usize,
    /// Pending migrations older than an applied one: a hole in the recorded history (e.g.
    /// a version row deleted by hand), compared as if applied.
    pub unrecorded: Vec<MigrationId>,
}

impl CheckReport {
    /// Whether the live database drifted, or its history has a hole.
    pub fn drifted(&self) -> bool {
        !self.migrations.is_empty() || !self.models.is_empty() || !self.unrecorded.is_empty()
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
    /// Compares the live schema with what the migrations produce at the database's
    /// version (built on a scratch database), and, when nothing is pending, with
    /// `src/schema.rs`. Tables other than botdb's (e.g. `alembic_version`) are ignored.
    pub async fn check(&self) -> Result<CheckReport> {
        let status = self.status().await?;
        let mut at = status.applied().map(|e| e.version.clone()).max();
        let mut pending = status.pending().count();
        let unrecorded = status
            .pending()
            .filter(|e| at.as_ref().is_some_and(|a| e.version < *a))
            .filter_map(|e| {
                Some(MigrationId {
                    version: e.version.clone(),
                    name: e.name.clone()?,
                })
            })
            .collect();
        // A database Alembic still manages is at the step its revision maps to.
        if let Some(revision) = self.alembic_revision().await? {
            if let Some(step) = alembic::revision(&revision) {
                at = step.version.map(str::to_string);
                pending = status
                    .migrations
                    .iter()
                    .filter(|e| at.as_ref().is_none_or(|a| e.version > *a))
                    .count();
            }
        }
        let expected = schema_at(self, at.as_deref()).await?;
        let actual = self.introspect().await?;
        let mut tables: Vec<&str> = expected
            .tables
            .keys()
            .chain(actual.tables.keys())
            .map(String::as_str)
            .collect();
        tables.retain(|t| *t != ALEMBIC_TABLE);
        let migrations = compare(&expected, &actual, Some(&tables));
        let models = if pending == 0 {
            compare_models(&actual)
        } else {
            Vec::new()
        };
        Ok(CheckReport {
            at,
            migrations,
            models,
            pending,
            unrecorded,
        })
    }
}

/// On a scratch database like `like` (a temporary SQLite file, or a temporary database on
/// the same server): applies every migration one by one, reverts them all one by one, and
/// applies them again, checking after each step that the schema is exactly what it was at
/// that version before; then compares the result with `src/schema.rs`.
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
    let mut check = |when: String, expected: &Schema, actual: &Schema| {
        if expected == actual {
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
    report.failures.extend(
        compare_models(&last)
            .iter()
            .map(|d| format!("against src/schema.rs: {d}")),
    );
    Ok(report)
}
