//! Reverting migrations, newest first, each in its own transaction where DDL is
//! transactional, and tracked as `running` where it is not.

use std::time::Instant;

use diesel::backend::Backend as DieselBackend;
use diesel::Connection;
use diesel_migrations::MigrationHarness;

use crate::error::{Doing, Error, Result};
use crate::migration::apply::record_checksums;
use crate::migration::bookkeeping::{mark_dirty, mark_running, untrack};
use crate::migration::catalog::{Catalog, MigrationText};
use crate::migration::harness::{advice, deferred_check, diesel_message, retry_conflicts, Failed};
use crate::migration::report::{Action, Running, Step};

/// Reverts `versions` (newest first), each with its tracking row, in one transaction each.
/// `unrecorded` are applied versions with no tracking row yet: where DDL is not
/// transactional the row is what marks a half-reverted migration dirty, so theirs are
/// recorded first.
pub fn revert<DB, C>(
    conn: &mut C,
    catalog: &Catalog,
    versions: &[String],
    unrecorded: &[&MigrationText],
    on_step: &mut dyn FnMut(&Step),
) -> Result<Vec<Step>>
where
    DB: DieselBackend,
    C: Connection<Backend = DB> + MigrationHarness<DB>,
{
    let backend = catalog.backend();
    record_checksums(conn, catalog, unrecorded)?;
    let mut steps = Vec::with_capacity(versions.len());
    for version in versions {
        let migration = catalog
            .get(version)
            .ok_or_else(|| Error::UnknownApplied(version.clone()))?;
        let start = Instant::now();
        let running = Running::start(&migration.id, Action::Reverted);
        let result = if !backend.transactional_ddl() {
            // DDL commits implicitly, which would end an enclosing transaction under
            // diesel's savepoint: record the attempt instead, and clear it afterwards.
            let sql = mark_running(backend, version, "reverting")?;
            retry_conflicts(backend, || conn.batch_execute(&sql))
                .map_err(|e| Error::query(Doing::RecordState, e))?;
            match conn.revert_migration(migration) {
                Ok(_) => {
                    let sql = untrack(backend, version)?;
                    retry_conflicts(backend, || conn.batch_execute(&sql)).map_err(Failed::Db)
                }
                Err(e) => Err(Failed::Migration {
                    index: 0,
                    message: diesel_message(&*e),
                }),
            }
        } else {
            let check_deferred = deferred_check(conn, backend);
            conn.transaction::<_, Failed, _>(|c| {
                c.revert_migration(migration)
                    .map_err(|e| Failed::Migration {
                        index: 0,
                        message: diesel_message(&*e),
                    })?;
                c.batch_execute(&untrack(backend, version).map_err(Failed::Botdb)?)?;
                if let Some(sql) = check_deferred {
                    // A deferred constraint down.sql broke: the migration's failure, as
                    // its COMMIT would have reported on a direct connection.
                    c.batch_execute(sql).map_err(|e| Failed::Migration {
                        index: 0,
                        message: diesel_message(&e),
                    })?;
                }
                Ok(())
            })
        };
        drop(running);
        match result {
            Ok(()) => {}
            Err(Failed::Migration { message, .. }) => {
                let outcome = if !backend.transactional_ddl() {
                    let sql =
                        mark_dirty(backend, version, &format!("reverting failed: {message}"))?;
                    retry_conflicts(backend, || conn.batch_execute(&sql))
                        .map_err(|e| Error::query(Doing::RecordState, e))?;
                    format!("MySQL commits DDL implicitly, so part of down.sql may have taken effect; botdb marked the database dirty: check the schema by hand, then run `botdb resolve {version} --applied` or `--reverted`")
                } else {
                    format!(
                        "its transaction was rolled back, so the migration is still applied: {}",
                        advice(&message, "fix down.sql and run again")
                    )
                };
                return Err(Error::MigrationFailed {
                    action: "reverting",
                    name: migration.id.name.clone(),
                    statement: String::new(),
                    message,
                    outcome,
                });
            }
            Err(Failed::Db(e)) => return Err(Error::query(Doing::RecordReverted, e)),
            Err(Failed::Botdb(e)) => return Err(e),
        }
        let step = Step {
            migration: migration.id.clone(),
            action: Action::Reverted,
            duration: start.elapsed(),
        };
        on_step(&step);
        steps.push(step);
    }
    Ok(steps)
}
