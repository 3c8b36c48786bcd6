//! Running migrations: transactions, botdb's own bookkeeping, and saying exactly what
//! failed.
//!
//! - PostgreSQL and SQLite: by default every pending migration runs in one transaction,
//!   all or nothing (diesel's own per-migration transaction becomes a savepoint inside
//!   it). A migration marked `run_in_transaction = false` runs on its own, between
//!   transactions. With `per_migration`, each migration gets its own transaction, as in
//!   diesel.
//! - MySQL/MariaDB commit DDL implicitly, so each migration is recorded as `running`
//!   before it starts and `applied` after; one that fails is marked `dirty`, and botdb
//!   refuses to touch the database until `botdb resolve`.
//!
//! Beside diesel's `__diesel_schema_migrations`, which stays untouched and compatible,
//! botdb keeps `__botdb_migrations`: the SHA-256 of each applied up.sql, and the state
//! of a MySQL migration in progress.

use std::time::Instant;

use diesel::backend::Backend as DieselBackend;
use diesel::migration::Migration;
use diesel::Connection;
use diesel_migrations::MigrationHarness;

use crate::config::Backend;
use crate::error::{one_line, Error, Result};
use crate::migrate::{Action, MigrationId, Step};
use crate::script::{sha256_hex, MigrationText};
use crate::sql::{literal, Literal};
use crate::statements;

/// botdb's bookkeeping table.
pub const BOTDB_TABLE: &str = "__botdb_migrations";

/// Creates [`BOTDB_TABLE`]; the same statement on every backend.
pub const CREATE_BOTDB_TABLE: &str = "CREATE TABLE IF NOT EXISTS __botdb_migrations (
       version VARCHAR(50) PRIMARY KEY NOT NULL,
       checksum VARCHAR(64) NOT NULL,
       state VARCHAR(16) NOT NULL,
       detail TEXT
);";

/// A row of [`BOTDB_TABLE`].
#[derive(Debug, Clone, PartialEq, Eq, diesel::Queryable)]
pub struct Tracked {
    /// The version.
    pub version: String,
    /// SHA-256 of its up.sql when it was applied.
    pub checksum: String,
    /// `applied`, `running` or `dirty`.
    pub state: String,
    /// What failed, for a dirty migration.
    pub detail: Option<String>,
}

/// How a run is split into transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// One transaction per migration (diesel's behaviour) instead of one for the run.
    pub per_migration: bool,
    /// Run even though an applied migration's up.sql changed since.
    pub allow_changed: bool,
}

/// `INSERT` (after removing any old row) of a tracking row.
pub fn track(dialect: Backend, version: &str, checksum: &str, state: &str) -> Result<String> {
    let (v, c, s) = (
        literal(dialect, &Literal::Str(version))?,
        literal(dialect, &Literal::Str(checksum))?,
        literal(dialect, &Literal::Str(state))?,
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
        "UPDATE {BOTDB_TABLE} SET state = 'dirty', detail = {} WHERE version = {};",
        literal(dialect, &Literal::Str(&detail))?,
        literal(dialect, &Literal::Str(version))?
    ))
}

/// Marks an applied migration as being worked on (`running`), e.g. while reverting on
/// MySQL, so an interruption leaves it dirty rather than silently half-done.
pub fn mark_running(dialect: Backend, version: &str, detail: &str) -> Result<String> {
    Ok(format!(
        "UPDATE {BOTDB_TABLE} SET state = 'running', detail = {} WHERE version = {};",
        literal(dialect, &Literal::Str(detail))?,
        literal(dialect, &Literal::Str(version))?
    ))
}

/// Removes a migration's tracking row.
pub fn untrack(dialect: Backend, version: &str) -> Result<String> {
    Ok(format!(
        "DELETE FROM {BOTDB_TABLE} WHERE version = {};",
        literal(dialect, &Literal::Str(version))?
    ))
}

/// Refuses a database that is dirty, or whose applied migrations changed since they ran.
pub fn preflight(
    tracked: &[Tracked],
    texts: &[MigrationText],
    applied: &[String],
    options: RunOptions,
) -> Result<()> {
    if let Some(t) = tracked.iter().find(|t| t.state != "applied") {
        return Err(Error::Dirty {
            version: t.version.clone(),
            detail: t
                .detail
                .clone()
                .unwrap_or_else(|| "it was interrupted while running".into()),
        });
    }
    let changed = changed(tracked, texts, applied);
    if !changed.is_empty() && !options.allow_changed {
        return Err(Error::Changed(changed.join(", ")));
    }
    Ok(())
}

/// The applied migrations whose up.sql differs from the checksum recorded when they ran.
pub fn changed(tracked: &[Tracked], texts: &[MigrationText], applied: &[String]) -> Vec<String> {
    texts
        .iter()
        .filter(|t| applied.contains(&t.id.version))
        .filter(|t| {
            tracked.iter().any(|r| {
                r.version == t.id.version && r.state == "applied" && r.checksum != sha256_hex(&t.up)
            })
        })
        .map(|t| t.id.name.clone())
        .collect()
}

/// Failures inside a transaction closure.
enum Failed {
    Migration { index: usize, message: String },
    Db(diesel::result::Error),
    Botdb(Error),
}

impl From<diesel::result::Error> for Failed {
    fn from(e: diesel::result::Error) -> Self {
        Failed::Db(e)
    }
}

fn text_of<'a>(texts: &'a [MigrationText], id: &MigrationId) -> Result<&'a MigrationText> {
    texts
        .iter()
        .find(|t| t.id.version == id.version)
        .ok_or_else(|| Error::query("finding the migration's SQL", &id.name))
}

/// Applies the migrations at `indices`, in order, recording each in botdb's table too.
/// `unrecorded` are applied versions with no checksum yet (migrated before botdb kept
/// them, or by diesel_cli): theirs are recorded first.
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply<DB, C>(
    conn: &mut C,
    backend: Backend,
    migrations: &[Box<dyn Migration<DB>>],
    texts: &[MigrationText],
    indices: &[usize],
    unrecorded: &[&MigrationText],
    options: RunOptions,
    on_step: &mut dyn FnMut(&Step),
) -> Result<Vec<Step>>
where
    DB: DieselBackend,
    C: Connection<Backend = DB> + MigrationHarness<DB>,
{
    record_checksums(conn, backend, unrecorded)?;
    let mut steps = Vec::with_capacity(indices.len());
    let flags: Vec<bool> = indices
        .iter()
        .map(|&i| migrations[i].metadata().run_in_transaction())
        .collect();
    for positions in groups(backend, &flags, options) {
        let group: Vec<usize> = positions.iter().map(|&p| indices[p]).collect();
        let transactional = group
            .iter()
            .all(|&i| migrations[i].metadata().run_in_transaction());
        if backend == Backend::Mysql || !transactional {
            for &i in &group {
                steps.push(apply_alone(conn, backend, migrations, texts, i)?);
                on_step(&steps[steps.len() - 1]);
            }
            continue;
        }
        let mut done = Vec::new();
        let result = conn.transaction::<_, Failed, _>(|c| {
            for &i in &group {
                let id = MigrationId::of(migrations[i].as_ref());
                let text = text_of(texts, &id).map_err(Failed::Botdb)?;
                let start = Instant::now();
                c.run_migration(migrations[i].as_ref())
                    .map_err(|e| Failed::Migration {
                        index: i,
                        message: diesel_message(&*e),
                    })?;
                let sql = track(backend, &id.version, &sha256_hex(&text.up), "applied")
                    .map_err(Failed::Botdb)?;
                c.batch_execute(&sql)?;
                done.push(Step {
                    migration: id,
                    action: Action::Applied,
                    duration: start.elapsed(),
                });
            }
            Ok(())
        });
        match result {
            Ok(()) => {
                for step in done {
                    on_step(&step);
                    steps.push(step);
                }
            }
            Err(Failed::Migration { index, message }) => {
                let before: Vec<usize> =
                    group.iter().copied().take_while(|&i| i != index).collect();
                let statement = diagnose(conn, migrations, texts, &before, index);
                return Err(Error::MigrationFailed {
                    action: "applying",
                    name: MigrationId::of(migrations[index].as_ref()).name,
                    statement,
                    message,
                    outcome: rolled_back(before.len(), steps.len()),
                });
            }
            Err(Failed::Db(e)) => return Err(Error::query("recording applied migrations", e)),
            Err(Failed::Botdb(e)) => return Err(e),
        }
    }
    Ok(steps)
}

/// Records the checksums of applied migrations that have none yet.
fn record_checksums<C: Connection>(
    conn: &mut C,
    backend: Backend,
    unrecorded: &[&MigrationText],
) -> Result<()> {
    for t in unrecorded {
        let sql = track(backend, &t.id.version, &sha256_hex(&t.up), "applied")?;
        conn.batch_execute(&sql)
            .map_err(|e| Error::query("recording checksums", e))?;
    }
    Ok(())
}

/// What a failed transaction undid: the `in_transaction` migrations that shared it, but not
/// the `committed` ones applied before it in separate transactions.
fn rolled_back(in_transaction: usize, committed: usize) -> String {
    let migrations = |n: usize| {
        if n == 1 {
            "1 migration".to_string()
        } else {
            format!("{n} migrations")
        }
    };
    let undone = if in_transaction == 0 {
        "its transaction was rolled back".to_string()
    } else if committed == 0 {
        format!(
            "the whole run was rolled back, including the {} before it",
            migrations(in_transaction)
        )
    } else {
        format!(
            "its transaction was rolled back, including the {} before it",
            migrations(in_transaction)
        )
    };
    if committed == 0 {
        format!("{undone}, so the database is as it was before: fix the migration and run again")
    } else {
        format!(
            "{undone}; the {} this run committed before that (in separate transactions) stay applied: fix the migration and run again",
            migrations(committed)
        )
    }
}

/// One migration outside any shared transaction: MySQL, or `run_in_transaction = false`.
fn apply_alone<DB, C>(
    conn: &mut C,
    backend: Backend,
    migrations: &[Box<dyn Migration<DB>>],
    texts: &[MigrationText],
    i: usize,
) -> Result<Step>
where
    DB: DieselBackend,
    C: Connection<Backend = DB> + MigrationHarness<DB>,
{
    let id = MigrationId::of(migrations[i].as_ref());
    let checksum = sha256_hex(&text_of(texts, &id)?.up);
    let record = |conn: &mut C, sql: Result<String>| -> Result<()> {
        conn.batch_execute(&sql?)
            .map_err(|e| Error::query("recording the migration's state", e))
    };
    // If the process dies mid-migration, this row says so on the next run.
    record(conn, track(backend, &id.version, &checksum, "running"))?;
    let start = Instant::now();
    if let Err(e) = conn.run_migration(migrations[i].as_ref()) {
        let message = diesel_message(&*e);
        let outcome = if backend == Backend::Mysql {
            record(conn, mark_dirty(backend, &id.version, &message))?;
            format!(
                "MySQL commits DDL implicitly, so statements before the failing one may have taken effect; botdb marked the database dirty: check the schema by hand, then run `botdb resolve {} --applied` or `--reverted`",
                id.version
            )
        } else {
            record(conn, untrack(backend, &id.version))?;
            "it ran outside a transaction (run_in_transaction = false), so statements before the failing one may have taken effect: check the schema by hand".to_string()
        };
        return Err(Error::MigrationFailed {
            action: "applying",
            name: id.name,
            statement: String::new(),
            message,
            outcome,
        });
    }
    record(conn, track(backend, &id.version, &checksum, "applied"))?;
    Ok(Step {
        migration: id,
        action: Action::Applied,
        duration: start.elapsed(),
    })
}

/// Reverts `versions` (newest first), each with its tracking row, in one transaction each.
/// `unrecorded` are applied versions with no tracking row yet: on MySQL the row is what
/// marks a half-reverted migration dirty, so theirs are recorded first.
pub(crate) fn revert<DB, C>(
    conn: &mut C,
    backend: Backend,
    migrations: &[Box<dyn Migration<DB>>],
    versions: &[String],
    unrecorded: &[&MigrationText],
    on_step: &mut dyn FnMut(&Step),
) -> Result<Vec<Step>>
where
    DB: DieselBackend,
    C: Connection<Backend = DB> + MigrationHarness<DB>,
{
    record_checksums(conn, backend, unrecorded)?;
    let mut steps = Vec::with_capacity(versions.len());
    for version in versions {
        let migration = migrations
            .iter()
            .find(|m| m.name().version().to_string() == *version)
            .ok_or_else(|| Error::UnknownApplied(version.clone()))?;
        let id = MigrationId::of(migration.as_ref());
        let start = Instant::now();
        let result = if backend == Backend::Mysql {
            // DDL commits implicitly, which would end an enclosing transaction under
            // diesel's savepoint: record the attempt instead, and clear it afterwards.
            let sql = mark_running(backend, version, "reverting")?;
            conn.batch_execute(&sql)
                .map_err(|e| Error::query("recording the migration's state", e))?;
            match conn.revert_migration(migration.as_ref()) {
                Ok(_) => conn
                    .batch_execute(&untrack(backend, version)?)
                    .map_err(Failed::Db),
                Err(e) => Err(Failed::Migration {
                    index: 0,
                    message: diesel_message(&*e),
                }),
            }
        } else {
            conn.transaction::<_, Failed, _>(|c| {
                c.revert_migration(migration.as_ref())
                    .map_err(|e| Failed::Migration {
                        index: 0,
                        message: diesel_message(&*e),
                    })?;
                c.batch_execute(&untrack(backend, version).map_err(Failed::Botdb)?)?;
                Ok(())
            })
        };
        match result {
            Ok(()) => {}
            Err(Failed::Migration { message, .. }) => {
                let outcome = if backend == Backend::Mysql {
                    let sql =
                        mark_dirty(backend, version, &format!("reverting failed: {message}"))?;
                    conn.batch_execute(&sql)
                        .map_err(|e| Error::query("recording the migration's state", e))?;
                    format!("MySQL commits DDL implicitly, so part of down.sql may have taken effect; botdb marked the database dirty: check the schema by hand, then run `botdb resolve {version} --applied` or `--reverted`")
                } else {
                    "its transaction was rolled back, so the migration is still applied: fix down.sql and run again".to_string()
                };
                return Err(Error::MigrationFailed {
                    action: "reverting",
                    name: id.name,
                    statement: String::new(),
                    message,
                    outcome,
                });
            }
            Err(Failed::Db(e)) => return Err(Error::query("recording the reverted migration", e)),
            Err(Failed::Botdb(e)) => return Err(e),
        }
        let step = Step {
            migration: id,
            action: Action::Reverted,
            duration: start.elapsed(),
        };
        on_step(&step);
        steps.push(step);
    }
    Ok(steps)
}

/// The plan cut into runs that share a transaction, as positions into `in_transaction`
/// (each planned migration's `run_in_transaction`): everything together between
/// migrations that must run outside one, or one migration each on MySQL or with
/// `per_migration`. A group of one whose flag is false runs outside any transaction.
pub fn groups(backend: Backend, in_transaction: &[bool], options: RunOptions) -> Vec<Vec<usize>> {
    if options.per_migration || backend == Backend::Mysql {
        return (0..in_transaction.len()).map(|i| vec![i]).collect();
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut current = Vec::new();
    for (i, &flag) in in_transaction.iter().enumerate() {
        if flag {
            current.push(i);
        } else {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
            groups.push(vec![i]);
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

/// Finds the failing statement of a migration that failed inside a transaction, by
/// replaying the run up to it, statement by statement, in a transaction that is then
/// rolled back. Returns e.g. ` at statement 2 (line 5: SELEKT nonsense)`, or nothing if
/// the replay cannot tell.
fn diagnose<DB, C>(
    conn: &mut C,
    migrations: &[Box<dyn Migration<DB>>],
    texts: &[MigrationText],
    before: &[usize],
    failing: usize,
) -> String
where
    DB: DieselBackend,
    C: Connection<Backend = DB>,
{
    let mut found = String::new();
    let _ = conn.transaction::<(), diesel::result::Error, _>(|c| {
        for &i in before {
            if let Ok(t) = text_of(texts, &MigrationId::of(migrations[i].as_ref())) {
                c.batch_execute(&t.up)?;
            }
        }
        if let Ok(t) = text_of(texts, &MigrationId::of(migrations[failing].as_ref())) {
            for (n, s) in statements::split(&t.up).iter().enumerate() {
                if c.batch_execute(s.text).is_err() {
                    let first_line = s.text.lines().next().unwrap_or("").trim();
                    let shown: String = first_line.chars().take(80).collect();
                    found = format!(" at statement {} (line {}: {shown})", n + 1, s.line);
                    break;
                }
            }
        }
        Err(diesel::result::Error::RollbackTransaction)
    });
    found
}

/// diesel wraps the database's message as "Failed to run <name> with: <message>".
fn diesel_message(e: &(dyn std::error::Error + 'static)) -> String {
    let text = e.to_string();
    one_line(text.split_once(" with: ").map_or(text.as_str(), |(_, m)| m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_are_grouped_like_migrate_runs_them() {
        let all = RunOptions::default();
        assert_eq!(
            groups(Backend::Postgres, &[true, true, true], all),
            vec![vec![0, 1, 2]]
        );
        assert_eq!(
            groups(Backend::Sqlite, &[true, false, true], all),
            vec![vec![0], vec![1], vec![2]]
        );
        assert_eq!(
            groups(Backend::Sqlite, &[true, true, false], all),
            vec![vec![0, 1], vec![2]]
        );
        assert_eq!(
            groups(Backend::Mysql, &[true, true], all),
            vec![vec![0], vec![1]]
        );
        let each = RunOptions {
            per_migration: true,
            ..all
        };
        assert_eq!(
            groups(Backend::Postgres, &[true, true], each),
            vec![vec![0], vec![1]]
        );
    }

    #[test]
    fn a_rollback_says_what_stays_applied() {
        assert_eq!(
            rolled_back(0, 0),
            "its transaction was rolled back, so the database is as it was before: fix the migration and run again"
        );
        assert!(rolled_back(3, 0)
            .contains("including the 3 migrations before it, so the database is as it was before"));
        let partly = rolled_back(1, 2);
        assert!(
            partly.contains(
                "including the 1 migration before it; the 2 migrations this run committed"
            ),
            "{partly}"
        );
        assert!(!partly.contains("as it was before"), "{partly}");
    }

    #[test]
    fn tracking_sql_is_escaped() {
        let sql = mark_dirty(Backend::Mysql, "1", r"near 'x\'").unwrap_or_default();
        assert!(sql.contains(r"'near ''x\\'''"), "{sql}");
        assert!(track(Backend::Sqlite, "v'1", "c", "applied")
            .unwrap_or_default()
            .contains("'v''1'"));
    }
}
