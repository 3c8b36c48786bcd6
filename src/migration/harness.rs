//! The seam to diesel's synchronous migration harness: catalogue entries as diesel
//! migrations, running the harness from async code, and reading its errors.

use std::time::Duration;

use diesel::backend::Backend as DieselBackend;
use diesel::connection::BoxableConnection;
use diesel::migration::{Migration, MigrationMetadata, MigrationName, MigrationVersion};
use diesel::Connection;

use crate::backend::Backend;
use crate::error::{one_line, Doing, Environment, Error, Result};
use crate::migration::catalog::{MigrationId, MigrationText};
use crate::sql::literal::{literal, Literal};

impl MigrationName for MigrationId {
    fn version(&self) -> MigrationVersion<'_> {
        MigrationVersion::from(self.version.as_str())
    }
}

impl MigrationMetadata for MigrationText {
    fn run_in_transaction(&self) -> bool {
        self.run_in_transaction
    }
}

/// What diesel's own migrations return when their SQL fails, worded the same.
#[derive(Debug)]
struct RunFailed(String);

impl std::fmt::Display for RunFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunFailed {}

impl RunFailed {
    /// `Failed to run <name> with: <why>`, as diesel says it.
    fn boxed(id: &MigrationId, why: impl std::fmt::Display) -> Box<Self> {
        Box::new(RunFailed(format!("Failed to run {id} with: {why}")))
    }
}

/// The catalogue's text runs exactly as diesel's file and embedded migrations run it: the
/// whole file in one batch.
impl<DB: DieselBackend> Migration<DB> for MigrationText {
    fn run(&self, conn: &mut dyn BoxableConnection<DB>) -> diesel::migration::Result<()> {
        if self.up.is_empty() {
            return Err(RunFailed::boxed(
                &self.id,
                "Attempted to run an empty migration.",
            ));
        }
        conn.batch_execute(&self.up)
            .map_err(|e| RunFailed::boxed(&self.id, e).into())
    }

    fn revert(&self, conn: &mut dyn BoxableConnection<DB>) -> diesel::migration::Result<()> {
        let Some(down) = self.down().map_err(|e| RunFailed::boxed(&self.id, e))? else {
            return Err(diesel_migrations::MigrationError::NoMigrationRevertFile.into());
        };
        conn.batch_execute(down)
            .map_err(|e| RunFailed::boxed(&self.id, e).into())
    }

    fn metadata(&self) -> &dyn MigrationMetadata {
        self
    }

    fn name(&self) -> &dyn MigrationName {
        &self.id
    }
}

/// Runs short blocking work (SQLite backups: opening a file, a pragma, the copy) from async
/// code: on a multi-threaded runtime with `block_in_place`, so the worker's other tasks
/// move elsewhere meanwhile; on a current-thread runtime (the CLI's, the bot's
/// `#[tokio::test]`) right here, holding up that runtime's other tasks until it is done.
/// Migrations do not use it: they run on a blocking thread of their own.
pub fn blocking<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        Ok(_) => work(),
        Err(_) => Err(Error::Runtime("missing (not inside tokio)")),
    }
}

/// How often a bookkeeping write that lost to a concurrent write is tried in all.
const CONFLICT_TRIES: u32 = 8;

/// Runs one of botdb's own bookkeeping writes that commits by itself (never one inside a
/// migration's transaction) again, with growing backoff, while it fails because a
/// concurrent write won (error 1213, which a Galera node returns when certification
/// fails; see [`Backend::write_conflict`]): a lost race is retried, never reported as a
/// failed migration or a dirty database. The writes are idempotent.
pub fn retry_conflicts<T>(
    backend: Backend,
    mut write: impl FnMut() -> diesel::QueryResult<T>,
) -> diesel::QueryResult<T> {
    let mut backoff = Duration::from_millis(20);
    let mut tries = 1;
    loop {
        match write() {
            Err(e) if tries < CONFLICT_TRIES && backend.write_conflict(&e.to_string()) => {
                tracing::debug!("a bookkeeping write lost to a concurrent one ({e}); retrying");
                std::thread::sleep(backoff);
                backoff *= 2;
                tries += 1;
            }
            other => return other,
        }
    }
}

/// Failures inside a transaction closure.
pub(crate) enum Failed {
    /// The migration at this position of the catalogue failed, with the database's message.
    Migration { index: usize, message: String },
    /// botdb's own bookkeeping statement failed.
    Db(diesel::result::Error),
    /// Something else botdb reports itself.
    Botdb(Error),
}

impl From<diesel::result::Error> for Failed {
    fn from(e: diesel::result::Error) -> Self {
        Failed::Db(e)
    }
}

/// diesel wraps the database's message as "Failed to run <name> with: <message>".
pub fn diesel_message(e: &(dyn std::error::Error + 'static)) -> String {
    let text = e.to_string();
    one_line(text.split_once(" with: ").map_or(text.as_str(), |(_, m)| m))
}

/// Runs `work` with every wait for a lock another session holds on a table or row bounded
/// by `timeout` (at least a millisecond on PostgreSQL, a second on MySQL): PostgreSQL's
/// `lock_timeout`, MySQL's `lock_wait_timeout` (metadata locks, e.g. `LOCK TABLES`) and
/// `innodb_lock_wait_timeout` (rows). SQLite's busy timeout bounds its waits already.
/// The session's defaults are restored afterwards.
pub fn with_bounded_waits<C: Connection, T>(
    conn: &mut C,
    backend: Backend,
    timeout: Duration,
    work: impl FnOnce(&mut C) -> Result<T>,
) -> Result<T> {
    let (set, reset) = match backend {
        Backend::Sqlite => return work(conn),
        Backend::Postgres => {
            let millis = i64::try_from(timeout.as_millis())
                .unwrap_or(i64::MAX)
                .max(1);
            (
                format!(
                    "SET lock_timeout = {}",
                    literal(backend, &Literal::Int(millis))?
                ),
                "RESET lock_timeout",
            )
        }
        Backend::Mysql => {
            let rounded_up = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
            let secs = literal(
                backend,
                &Literal::Int(i64::try_from(rounded_up).unwrap_or(i64::MAX).max(1)),
            )?;
            (
                format!("SET SESSION lock_wait_timeout = {secs}, SESSION innodb_lock_wait_timeout = {secs}"),
                "SET SESSION lock_wait_timeout = DEFAULT, SESSION innodb_lock_wait_timeout = DEFAULT",
            )
        }
    };
    conn.batch_execute(&set)
        .map_err(|e| Error::query(Doing::BoundLockWaits, e))?;
    let result = work(conn);
    let restored = conn.batch_execute(reset);
    let value = result?;
    // The work is done (and committed): failing to restore a session setting only
    // matters to the connection, so it is not reported as the command's failure.
    if let Err(e) = restored {
        tracing::warn!("restoring the session's lock wait timeout failed: {e}");
    }
    Ok(value)
}

/// Whether the database's message says a statement gave up waiting for another
/// session's lock (see [`with_bounded_waits`]).
pub fn lock_timed_out(message: &str) -> bool {
    message.contains("canceling statement due to lock timeout")
        || message.contains("Lock wait timeout exceeded")
}

/// What to do after a lock wait timed out.
pub const LOCK_ADVICE: &str = "another session holds a lock on a table the migration needs: let it finish (or end it), then run again; the lock timeout (`Database::with_lock_timeout`) sets how long botdb waits";
/// What to do after a migration's SQL failed with the database's `message`: `fix` (edit the
/// migration), unless the message says the cause lies around the SQL (a lock, a read-only
/// or full database), which no edit fixes.
pub fn advice(message: &str, fix: &'static str) -> &'static str {
    if lock_timed_out(message) {
        return LOCK_ADVICE;
    }
    Environment::of(message).map_or(fix, Environment::hint)
}

/// The SQL that checks deferred constraints at the end of a migration's transaction, when
/// that transaction is a savepoint in one already open on PostgreSQL, as behind a
/// transaction-mode pooler (`db::pooler`). Releasing a savepoint checks no deferred
/// constraint: that would happen only at the outer COMMIT, after the run, where the error
/// could name no migration, and would undo the migrations before it too. So each such
/// transaction checks them itself, where a direct connection's COMMIT would, and fails as
/// that COMMIT fails.
pub fn deferred_check<C: Connection>(conn: &mut C, backend: Backend) -> Option<&'static str> {
    use diesel::connection::TransactionManager;
    let nested = C::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .is_ok_and(|depth| depth.is_some());
    backend.check_deferred_sql().filter(|_| nested)
}
