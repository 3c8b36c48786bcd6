//! The migration lock: only one migrate, revert or redo runs against a database at a
//! time, across processes and machines.
//!
//! - PostgreSQL: a session advisory lock, on a connection of its own. Behind a
//!   transaction-mode pooler (`?pgbouncer=true`) a session outlives its client's use of
//!   it, so there botdb takes a transaction-scoped advisory lock instead (see
//!   [`Held::PgTransaction`]).
//! - MySQL/MariaDB: `GET_LOCK` on the database's name, on a connection of its own; on a
//!   Galera node, where `GET_LOCK` is node-local, the lock row of [`super::lock_row`].
//! - SQLite: an exclusive OS lock on `<database>.lock` beside the file.
//!
//! Each is released when the holder is done, and by the database or the OS when the
//! holding process dies, so a crash never leaves a stale lock (the lock row's lease runs
//! out instead).

use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncMysqlConnection, AsyncPgConnection, RunQueryDsl};

use crate::backend::{Backend, LockMethod};
use crate::checksum::sha256_hex;
use crate::config::DatabaseUrl;
use crate::db::lock_row::{probe_mysql, LeaseRow, DEFAULT_LEASE};
use crate::db::Pool;
use crate::error::{Doing, Error, Result};

/// The advisory lock key botdb uses on PostgreSQL ("botdb_mg" as bytes).
pub const PG_LOCK_KEY: i64 = 0x626f_7464_625f_6d67;

/// Whether some session holds the advisory lock (session- or transaction-scoped): a bigint
/// key shows in pg_locks as its high and low halves.
const PG_IS_HELD: &str = "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
     AND granted AND objsubid = 1 \
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
     AND classid::bigint = ($1 >> 32) AND objid::bigint = ($1 & 4294967295)) AS got";

/// How often a waiter polls a lock that has no blocking wait with a timeout.
const POLL: Duration = Duration::from_millis(100);

/// A held migration lock. Release it with [`MigrationLock::release`]; dropping it also
/// releases it (the connection closes, or the file is unlocked).
pub struct MigrationLock {
    held: Held,
}

enum Held {
    Postgres(Box<AsyncPgConnection>),
    /// Behind a transaction-mode pooler: `pg_advisory_xact_lock` in a transaction kept
    /// open on a connection of its own for as long as the lock is held.
    ///
    /// The pooler gives a client its server connection for the length of a transaction
    /// and to no one else meanwhile, so an open transaction is what pins the lock to this
    /// process. It ends with the transaction: at [`MigrationLock::release`] (COMMIT), or
    /// when botdb dies, since the pooler then closes the server connection it cannot reuse
    /// mid-transaction and PostgreSQL rolls it back. The run itself happens on other
    /// connections, in as many transactions as it needs (`--transaction-per-migration`,
    /// `run_in_transaction = false`), all while the lock transaction stays open, so runs
    /// spanning several transactions exclude a second run too. That transaction only holds
    /// the lock (no snapshot, no row locks, no transaction id), so keeping it open costs
    /// one server connection; `idle_in_transaction_session_timeout` is turned off for it,
    /// so a server that sets one cannot end the lock mid-run.
    PgTransaction(Box<AsyncPgConnection>),
    Mysql(Box<AsyncMysqlConnection>),
    Lease(LeaseRow),
    Sqlite(std::fs::File),
}

#[derive(QueryableByName)]
struct Got {
    #[diesel(sql_type = Nullable<Integer>)]
    got: Option<i32>,
}

#[derive(QueryableByName)]
struct PgGot {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    got: bool,
}

fn lock_error(e: impl std::fmt::Display) -> Error {
    Error::query(Doing::TakeLock, e)
}

fn timed_out(url: &DatabaseUrl, timeout: Duration) -> Error {
    Error::LockTimeout {
        url: url.redacted(),
        seconds: timeout.as_secs(),
    }
}

/// MySQL's lock names are at most 64 characters; a database name may be that long itself.
pub(crate) fn mysql_lock_name(database: &str) -> String {
    let name = format!("botdb:{database}");
    if name.chars().count() <= 64 {
        name
    } else {
        format!("botdb:{}", &sha256_hex(database)[..58])
    }
}

/// `<real file>.lock`: keyed on the real file, so every path to one database (a symlink,
/// `./shop.db`) takes the same lock. A path that is not a regular file (`/dev/null`, a
/// folder) is refused rather than given a lock file beside it.
fn sqlite_lock_path(url: &DatabaseUrl) -> Result<std::path::PathBuf> {
    let typed = url.sqlite_path().unwrap_or(std::path::Path::new(""));
    let open_error = |message: String| Error::query(Doing::OpenLockFile, message);
    let real = crate::db::sqlite::real_path(typed)
        .map_err(|e| open_error(format!("{}: {e}", typed.display())))?;
    if let Ok(meta) = std::fs::metadata(&real) {
        if !meta.is_file() {
            return Err(open_error(format!(
                "{} is not a regular file, so it cannot hold a SQLite database botdb migrates",
                real.display()
            )));
        }
    }
    let mut lock = real.into_os_string();
    lock.push(".lock");
    Ok(lock.into())
}

impl MigrationLock {
    /// For a lock with a lease (a Galera lock row): the flag set once the lease is lost,
    /// which a run checks before each migration. Other locks cannot be lost while held.
    pub fn lost_flag(&self) -> Option<std::sync::Arc<std::sync::atomic::AtomicBool>> {
        match &self.held {
            Held::Lease(row) => Some(row.lost_flag()),
            _ => None,
        }
    }

    /// Whether some session holds the migration lock on the database `url` names right
    /// now, without taking it (SQLite: a shared lock tried and dropped at once; a missing
    /// lock file is not created). For `status`, to tell a migration another process is
    /// running from one whose process is gone.
    pub async fn is_held(pool: &Pool, url: &DatabaseUrl) -> Result<bool> {
        match pool {
            Pool::Postgres(pool) => {
                let mut conn = crate::db::checkout(pool, Backend::Postgres).await?;
                let row = diesel::sql_query(PG_IS_HELD)
                    .bind::<BigInt, _>(PG_LOCK_KEY)
                    .get_result::<PgGot>(&mut *conn)
                    .await
                    .map_err(lock_error)?;
                Ok(row.got)
            }
            Pool::PgBouncer(pool) => {
                let mut conn = crate::db::checkout(pool, Backend::Postgres).await?;
                crate::db::pooler::begin(&mut conn).await?;
                let row = diesel::sql_query(PG_IS_HELD)
                    .bind::<BigInt, _>(PG_LOCK_KEY)
                    .get_result::<PgGot>(&mut *conn)
                    .await
                    .map_err(lock_error)?;
                crate::db::pooler::commit(&mut conn).await?;
                Ok(row.got)
            }
            Pool::Mysql(pool) => {
                let mut conn = crate::db::checkout(pool, Backend::Mysql).await?;
                let cluster = probe_mysql(&mut conn).await?;
                if Backend::Mysql.lock_method(cluster.as_ref()) == LockMethod::LeaseRow {
                    return LeaseRow::is_held(&mut conn).await;
                }
                let row = diesel::sql_query("SELECT IS_USED_LOCK(?) IS NOT NULL AS got")
                    .bind::<Text, _>(mysql_lock_name(&url.database_name()))
                    .get_result::<Got>(&mut *conn)
                    .await
                    .map_err(lock_error)?;
                Ok(row.got == Some(1))
            }
            Pool::Sqlite(_) => {
                let path = sqlite_lock_path(url)?;
                let Ok(file) = std::fs::File::open(&path) else {
                    return Ok(false);
                };
                match file.try_lock_shared() {
                    Ok(()) => Ok(false),
                    Err(std::fs::TryLockError::WouldBlock) => Ok(true),
                    Err(std::fs::TryLockError::Error(e)) => {
                        Err(lock_error(format!("{}: {e}", path.display())))
                    }
                }
            }
        }
    }

    /// Takes the migration lock on the database `url` names, through `pool`, waiting up
    /// to `timeout` for another holder to finish.
    pub async fn acquire(pool: &Pool, url: &DatabaseUrl, timeout: Duration) -> Result<Self> {
        Self::acquire_with_lease(pool, url, timeout, DEFAULT_LEASE).await
    }

    /// [`MigrationLock::acquire`], with the lease a lock row is taken for where the server
    /// needs one (a Galera node): how long a holder that died blocks the others.
    pub async fn acquire_with_lease(
        pool: &Pool,
        url: &DatabaseUrl,
        timeout: Duration,
        lease: Duration,
    ) -> Result<Self> {
        let start = Instant::now();
        let mut announced = false;
        let mut announce = |what: &str| {
            if !announced {
                tracing::info!(
                    pid = std::process::id(),
                    "another botdb holds the migration lock on {}{what}; waiting up to {} s",
                    url,
                    timeout.as_secs()
                );
                announced = true;
            }
        };
        let held = match pool {
            Pool::Postgres(pool) => {
                let mut conn = pool.dedicated_connection().await.map_err(lock_error)?;
                loop {
                    let row = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS got")
                        .bind::<BigInt, _>(PG_LOCK_KEY)
                        .get_result::<PgGot>(&mut conn)
                        .await
                        .map_err(lock_error)?;
                    if row.got {
                        break Held::Postgres(Box::new(conn));
                    }
                    if start.elapsed() >= timeout {
                        return Err(timed_out(url, timeout));
                    }
                    announce("");
                    tokio::time::sleep(POLL).await;
                }
            }
            Pool::PgBouncer(pool) => {
                let mut conn = pool.dedicated_connection().await.map_err(lock_error)?;
                crate::db::pooler::begin(&mut conn).await?;
                diesel_async::SimpleAsyncConnection::batch_execute(
                    &mut conn,
                    "SET LOCAL idle_in_transaction_session_timeout = 0",
                )
                .await
                .map_err(lock_error)?;
                loop {
                    let row = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS got")
                        .bind::<BigInt, _>(PG_LOCK_KEY)
                        .get_result::<PgGot>(&mut conn)
                        .await
                        .map_err(lock_error)?;
                    if row.got {
                        break Held::PgTransaction(Box::new(conn));
                    }
                    if start.elapsed() >= timeout {
                        return Err(timed_out(url, timeout));
                    }
                    announce("");
                    tokio::time::sleep(POLL).await;
                }
            }
            Pool::Mysql(pool) => 'mysql: {
                let mut conn = pool.dedicated_connection().await.map_err(lock_error)?;
                let cluster = probe_mysql(&mut conn).await?;
                if let Some(cluster) = cluster.as_ref().filter(|c| !c.usable()) {
                    return Err(Error::NodeNotSynced {
                        url: url.redacted(),
                        cluster: cluster.to_string(),
                    });
                }
                if Backend::Mysql.lock_method(cluster.as_ref()) == LockMethod::LeaseRow {
                    tracing::debug!(
                        "{url} is a {}: taking the lock row",
                        cluster
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default()
                    );
                    break 'mysql Held::Lease(LeaseRow::acquire(conn, url, timeout, lease).await?);
                }
                let name = mysql_lock_name(&url.database_name());
                // GET_LOCK waits by itself; a zero-second try first tells whether to log.
                let mut wait = 0;
                let mut waited = false;
                loop {
                    let row = diesel::sql_query("SELECT GET_LOCK(?, ?) AS got")
                        .bind::<Text, _>(&name)
                        .bind::<Integer, _>(wait)
                        .get_result::<Got>(&mut conn)
                        .await
                        .map_err(lock_error)?;
                    if row.got == Some(1) {
                        break Held::Mysql(Box::new(conn));
                    }
                    if waited || timeout.is_zero() {
                        return Err(timed_out(url, timeout));
                    }
                    announce("");
                    // Whole seconds, rounded up, so a timeout under a second still waits.
                    let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
                    wait = i32::try_from(secs).unwrap_or(i32::MAX);
                    waited = true;
                }
            }
            Pool::Sqlite(_) => {
                let lock_path = sqlite_lock_path(url)?;
                let path = lock_path.display();
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)
                    .map_err(|e| Error::query(Doing::OpenLockFile, format!("{path}: {e}")))?;
                loop {
                    match file.try_lock() {
                        Ok(()) => break Held::Sqlite(file),
                        Err(std::fs::TryLockError::WouldBlock) => {}
                        Err(std::fs::TryLockError::Error(e)) => {
                            return Err(lock_error(format!("{path}: {e}")))
                        }
                    }
                    if start.elapsed() >= timeout {
                        return Err(timed_out(url, timeout));
                    }
                    announce(&format!(" ({path})"));
                    tokio::time::sleep(POLL).await;
                }
            }
        };
        if announced {
            tracing::info!(
                pid = std::process::id(),
                "got the migration lock after waiting {:.1} s",
                start.elapsed().as_secs_f64()
            );
        }
        Ok(MigrationLock { held })
    }

    /// Releases the lock.
    pub async fn release(self) -> Result<()> {
        match self.held {
            Held::Postgres(mut conn) => {
                diesel::sql_query("SELECT pg_advisory_unlock($1) AS got")
                    .bind::<BigInt, _>(PG_LOCK_KEY)
                    .get_result::<PgGot>(&mut *conn)
                    .await
                    .map_err(lock_error)?;
            }
            Held::PgTransaction(mut conn) => crate::db::pooler::commit(&mut conn).await?,
            Held::Mysql(mut conn) => {
                diesel::sql_query("SELECT RELEASE_ALL_LOCKS() AS got")
                    .get_result::<Got>(&mut *conn)
                    .await
                    .map_err(lock_error)?;
            }
            Held::Lease(row) => row.release().await?,
            Held::Sqlite(file) => file.unlock().map_err(lock_error)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mysql_lock_names_fit_in_64_characters() {
        assert_eq!(super::mysql_lock_name("shop"), "botdb:shop");
        let long = "d".repeat(64);
        let name = super::mysql_lock_name(&long);
        assert_eq!(name.len(), 64);
        assert_ne!(name, super::mysql_lock_name(&"e".repeat(64)));
    }
}
