//! Applying migrations: transactions, botdb's own bookkeeping, and saying exactly what
//! failed.
//!
//! - Where DDL is transactional (PostgreSQL, SQLite), by default every pending migration
//!   runs in one transaction, all or nothing (diesel's own per-migration transaction
//!   becomes a savepoint inside it). A migration marked `run_in_transaction = false` runs
//!   on its own, between transactions. With `per_migration`, each migration gets its own
//!   transaction, as in diesel.
//! - Where it is not (MySQL/MariaDB), each migration is recorded as `running` before it
//!   starts and `applied` after; one that fails is marked `dirty`, and botdb refuses to
//!   touch the database until `botdb resolve`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use diesel::backend::Backend as DieselBackend;
use diesel::Connection;
use diesel_migrations::MigrationHarness;

use crate::error::{one_line, Doing, Error, Result};
use crate::migration::bookkeeping::{mark_dirty, track, untrack, TrackState};
use crate::migration::catalog::{Catalog, MigrationText};
use crate::migration::harness::{
    advice, deferred_check, diesel_message, lock_timed_out, retry_conflicts, Failed,
};
use crate::migration::plan::{groups, RunOptions};
use crate::migration::report::{plural, Action, Running, Step};
use crate::sql::split::{span, split, Statement};

/// One run of migrations to apply.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    /// Every migration, as read once for this command.
    pub catalog: &'a Catalog,
    /// Positions in `catalog` to apply, oldest first.
    pub plan: &'a [usize],
    /// Applied migrations with no checksum recorded yet (migrated before botdb kept them,
    /// or by diesel_cli): theirs are recorded first.
    pub unrecorded: &'a [&'a MigrationText],
    /// How the run is split into transactions.
    pub options: RunOptions,
    /// Set when the migration lock's lease was lost (a lock row another botdb took over):
    /// the run stops before its next migration rather than migrate alongside the new holder.
    pub lock_lost: Option<&'a AtomicBool>,
}

impl Run<'_> {
    /// Fails if the lock's lease was lost, naming where the run stopped.
    fn still_locked(&self, next: &MigrationText, done: usize) -> Result<()> {
        match self.lock_lost {
            Some(lost) if lost.load(Ordering::SeqCst) => Err(Error::LockLost {
                url: String::new(),
                detail: format!(
                    "the run stopped before {} with {} applied",
                    next.id.name,
                    plural(done, "migration")
                ),
            }),
            _ => Ok(()),
        }
    }
}

/// Applies the planned migrations, in order, recording each in botdb's table too.
pub fn apply<DB, C>(
    conn: &mut C,
    run: &Run<'_>,
    on_step: &mut dyn FnMut(&Step),
) -> Result<Vec<Step>>
where
    DB: DieselBackend,
    C: Connection<Backend = DB> + MigrationHarness<DB>,
{
    let catalog = run.catalog;
    let backend = catalog.backend();
    let migrations = catalog.migrations();
    record_checksums(conn, catalog, run.unrecorded)?;
    let mut steps = Vec::with_capacity(run.plan.len());
    let flags: Vec<bool> = run
        .plan
        .iter()
        .map(|&i| migrations[i].run_in_transaction)
        .collect();
    for positions in groups(backend, &flags, run.options) {
        let group: Vec<usize> = positions.iter().map(|&p| run.plan[p]).collect();
        let transactional = group.iter().all(|&i| migrations[i].run_in_transaction);
        if !backend.transactional_ddl() || !transactional {
            for &i in &group {
                run.still_locked(&migrations[i], steps.len())?;
                let step = apply_alone(conn, catalog, &migrations[i])?;
                on_step(&step);
                steps.push(step);
            }
            continue;
        }
        if let Some(&first) = group.first() {
            run.still_locked(&migrations[first], steps.len())?;
        }
        let mut done = Vec::new();
        let check_deferred = deferred_check(conn, backend);
        let result = conn.transaction::<_, Failed, _>(|c| {
            for &i in &group {
                let migration = &migrations[i];
                let start = Instant::now();
                let _running = Running::start(&migration.id, Action::Applied);
                c.run_migration(migration).map_err(|e| Failed::Migration {
                    index: i,
                    message: diesel_message(&*e),
                })?;
                let sql = track(
                    backend,
                    &migration.id.version,
                    &migration.checksum,
                    TrackState::Applied,
                )
                .map_err(Failed::Botdb)?;
                c.batch_execute(&sql)
                    .map_err(|e| Failed::Botdb(Error::query(Doing::RecordApplied, e)))?;
                done.push(Step {
                    migration: migration.id.clone(),
                    action: Action::Applied,
                    duration: start.elapsed(),
                });
            }
            if let Some(sql) = check_deferred {
                c.batch_execute(sql)?;
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
                let waited = lock_timed_out(&message);
                let fix = advice(&message, FIX);
                // A read-only or full database, or a SQLite lock, fails the replay the same
                // way (after another busy timeout): only a failure of the SQL itself, or a
                // server's lock wait (replayed with a short timeout), is worth locating.
                let statement = if fix == FIX || waited {
                    diagnose(conn, catalog, &before, index, waited)
                } else {
                    String::new()
                };
                return Err(Error::MigrationFailed {
                    action: "applying",
                    name: migrations[index].id.name.clone(),
                    statement,
                    outcome: rolled_back(before.len(), steps.len(), fix),
                    message,
                });
            }
            // Only the transaction itself is left to fail here, and diesel rolled it back
            // (a COMMIT refused for a full disk or a lock); if even that failed, it says so.
            Err(Failed::Db(e @ diesel::result::Error::RollbackErrorOnCommit { .. })) => {
                return Err(Error::query(Doing::RecordApplied, e))
            }
            Err(Failed::Db(e)) => {
                let message = one_line(&e.to_string());
                let last = group.last().copied().unwrap_or_default();
                return Err(Error::MigrationFailed {
                    action: "committing",
                    name: migrations[last].id.name.clone(),
                    statement: String::new(),
                    outcome: rolled_back(group.len() - 1, steps.len(), advice(&message, FIX)),
                    message,
                });
            }
            Err(Failed::Botdb(e)) => return Err(e),
        }
    }
    Ok(steps)
}

/// Records the checksums of applied migrations that have none yet.
pub fn record_checksums<C: Connection>(
    conn: &mut C,
    catalog: &Catalog,
    unrecorded: &[&MigrationText],
) -> Result<()> {
    for t in unrecorded {
        let sql = track(
            catalog.backend(),
            &t.id.version,
            &t.checksum,
            TrackState::Applied,
        )?;
        retry_conflicts(catalog.backend(), || conn.batch_execute(&sql))
            .map_err(|e| Error::query(Doing::RecordChecksums, e))?;
    }
    Ok(())
}

/// The advice when the migration's SQL itself failed.
const FIX: &str = "fix the migration and run again";

/// What a failed transaction undid: the `in_transaction` migrations that shared it, but not
/// the `committed` ones applied before it in separate transactions; then what to do.
fn rolled_back(in_transaction: usize, committed: usize, advice: &str) -> String {
    let migrations = |n: usize| plural(n, "migration");
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
        format!("{undone}, so the database is as it was before: {advice}")
    } else {
        let stay = if committed == 1 { "stays" } else { "stay" };
        format!(
            "{undone}; the {} this run committed before that (in separate transactions) {stay} applied: {advice}",
            migrations(committed)
        )
    }
}

/// `; <what to do>` when the database's `message` blames the environment, not the SQL.
fn cause(message: &str) -> String {
    match advice(message, FIX) {
        FIX => String::new(),
        hint => format!("; {hint}"),
    }
}

/// One migration outside any shared transaction: where DDL is not transactional, or
/// `run_in_transaction = false`.
fn apply_alone<DB, C>(conn: &mut C, catalog: &Catalog, migration: &MigrationText) -> Result<Step>
where
    DB: DieselBackend,
    C: Connection<Backend = DB> + MigrationHarness<DB>,
{
    let backend = catalog.backend();
    let id = &migration.id;
    let record = |conn: &mut C, sql: Result<String>| -> Result<()> {
        let sql = sql?;
        retry_conflicts(backend, || conn.batch_execute(&sql))
            .map_err(|e| Error::query(Doing::RecordState, e))
    };
    let track_as = |conn: &mut C, state: TrackState| {
        record(
            conn,
            track(backend, &id.version, &migration.checksum, state),
        )
    };
    // If the process dies mid-migration, this row says so on the next run.
    track_as(conn, TrackState::Running)?;
    let start = Instant::now();
    let running = Running::start(id, Action::Applied);
    let ran = conn.run_migration(migration);
    drop(running);
    if let Err(e) = ran {
        let message = diesel_message(&*e);
        let outcome = if !backend.transactional_ddl() {
            record(conn, mark_dirty(backend, &id.version, &message))?;
            format!(
                "MySQL commits DDL implicitly, so statements before the failing one may have taken effect; botdb marked the database dirty: check the schema by hand, then run `botdb resolve {} --applied` or `--reverted`{}",
                id.version,
                cause(&message)
            )
        } else {
            record(conn, untrack(backend, &id.version))?;
            format!("it ran outside a transaction (run_in_transaction = false), so statements before the failing one may have taken effect: check the schema by hand{}", cause(&message))
        };
        return Err(Error::MigrationFailed {
            action: "applying",
            name: id.name.clone(),
            statement: String::new(),
            message,
            outcome,
        });
    }
    track_as(conn, TrackState::Applied)?;
    Ok(Step {
        migration: id.clone(),
        action: Action::Applied,
        duration: start.elapsed(),
    })
}

/// Finds the failing statement of a migration that failed inside a transaction, by
/// replaying the run up to it in a transaction that is then rolled back. Returns e.g. ` at statement 2 (line 5: SELEKT nonsense)`, or nothing if
/// the replay cannot tell. After a lock timeout (`waited`) the replay waits only briefly
/// for the same lock, rather than as long again.
fn diagnose<DB, C>(
    conn: &mut C,
    catalog: &Catalog,
    before: &[usize],
    failing: usize,
    waited: bool,
) -> String
where
    DB: DieselBackend,
    C: Connection<Backend = DB>,
{
    let migrations = catalog.migrations();
    let up = &migrations[failing].up;
    let statements = split(up);
    let mut found = String::new();
    let _ = conn.transaction::<(), diesel::result::Error, _>(|c| {
        if waited && catalog.backend() == crate::backend::Backend::Postgres {
            c.batch_execute("SET LOCAL lock_timeout = 200")?;
        }
        for &i in before {
            c.batch_execute(&migrations[i].up)?;
        }
        if let Some(n) = first_failing(c, up, &statements) {
            let s = &statements[n];
            let first_line = s.text.lines().next().unwrap_or("").trim();
            let shown: String = first_line.chars().take(80).collect();
            found = format!(" at statement {} (line {}: {shown})", n + 1, s.line);
        }
        Err(diesel::result::Error::RollbackTransaction)
    });
    found
}

/// Statements a replay runs as one batch: a file of many statements costs a few hundred
/// round trips, not one per statement.
const CHUNK: usize = 1000;

/// The position of the first of `statements` (of the file `sql`) that fails. Chunks run
/// under a savepoint: one that succeeds stays, one that fails is rolled back and halved
/// until a single statement is left, so each statement runs about twice at most.
fn first_failing<C: Connection>(
    c: &mut C,
    sql: &str,
    statements: &[Statement<'_>],
) -> Option<usize> {
    let mut run = |range: std::ops::Range<usize>| {
        c.transaction(|c| c.batch_execute(span(sql, &statements[range])))
            .is_ok()
    };
    let mut done = 0;
    while done < statements.len() {
        let end = (done + CHUNK).min(statements.len());
        if run(done..end) {
            done = end;
            continue;
        }
        // Everything before `lo` ran; statements lo..hi fail together.
        let (mut lo, mut hi) = (done, end);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if run(lo..mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return Some(lo);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollback_says_what_stays_applied() {
        assert_eq!(
            rolled_back(0, 0, FIX),
            "its transaction was rolled back, so the database is as it was before: fix the migration and run again"
        );
        assert!(rolled_back(3, 0, FIX)
            .contains("including the 3 migrations before it, so the database is as it was before"));
        let partly = rolled_back(1, 2, FIX);
        assert!(
            partly.contains(
                "including the 1 migration before it; the 2 migrations this run committed"
            ),
            "{partly}"
        );
        assert!(!partly.contains("as it was before"), "{partly}");
    }
}
