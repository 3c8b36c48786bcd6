//! The migration lock for engines whose advisory locks do not exclude every session that
//! may migrate a database: a row in `__botdb_lock`, taken by a committed `UPDATE`.
//!
//! On a Galera cluster `GET_LOCK` is node-local, but a committed write is certified
//! cluster-wide: when botdb processes on several nodes update the row at once, one commit
//! is ordered first and every other fails certification (error 1213) or, once the
//! winner's write has arrived, finds the row taken. So exactly one wins.
//!
//! A row does not die with its session as an advisory lock does, so it carries a lease:
//! the holder's token, host and pid, and an expiry in the server's UTC clock, renewed
//! every third of the lease while the run lasts. A holder killed with SIGKILL blocks the
//! others only until its lease expires; the next one takes the row over and says so.
//!
//! Only the lease expressions are dialect-specific ([`Backend::utc_now_sql`]); the rest is
//! diesel's query builder, so an engine without advisory locks (CockroachDB) can reuse it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Timestamp};
use diesel_async::{AsyncMysqlConnection, RunQueryDsl, SimpleAsyncConnection};

use crate::backend::{Backend, Cluster};
use crate::checksum::sha256_hex;
use crate::config::DatabaseUrl;
use crate::error::{Doing, Error, Result};

/// The lock row's table. Not part of the bot's schema: `check` and `verify` ignore it.
pub const LOCK_TABLE: &str = "__botdb_lock";

/// How long a lease lasts unless renewed, by default.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(15);

/// The one row's key.
const ROW: &str = "migrate";

/// How often a waiter looks at the row again.
const POLL: Duration = Duration::from_millis(200);

/// How often, and how long at first, a write that lost a certification race is retried.
const RETRIES: u32 = 8;
const FIRST_BACKOFF: Duration = Duration::from_millis(20);

mod table {
    diesel::table! {
        __botdb_lock (name) {
            name -> Varchar,
            holder -> Varchar,
            host -> Varchar,
            pid -> BigInt,
            acquired_at -> Nullable<Timestamp>,
            expires_at -> Timestamp,
        }
    }
}

use table::__botdb_lock::dsl as t;

/// Creates [`LOCK_TABLE`] on MySQL/MariaDB. InnoDB explicitly: Galera replicates nothing else.
const CREATE_MYSQL: &str = "CREATE TABLE IF NOT EXISTS __botdb_lock (
       name VARCHAR(64) PRIMARY KEY NOT NULL,
       holder VARCHAR(64) NOT NULL,
       host VARCHAR(255) NOT NULL,
       pid BIGINT NOT NULL,
       acquired_at DATETIME(6) NULL,
       expires_at DATETIME(6) NOT NULL
) ENGINE=InnoDB";

/// A free row: no holder, expired long ago.
fn epoch() -> NaiveDateTime {
    chrono::DateTime::UNIX_EPOCH.naive_utc()
}

/// Reads `wsrep_on`, `wsrep_cluster_size`, `wsrep_local_state_comment` and
/// `wsrep_cluster_status`: `Some` on a Galera node, `None` on a plain MySQL/MariaDB
/// server (where the variables are missing or `wsrep_on` is OFF).
pub async fn probe_mysql(conn: &mut AsyncMysqlConnection) -> Result<Option<Cluster>> {
    #[derive(QueryableByName)]
    struct Var {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = Variable_name)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text, column_name = Value)]
        value: String,
    }
    let probe = |e| Error::query(Doing::TakeLock, e);
    // SHOW works on MySQL too, where the variables do not exist and no row comes back.
    let on: Vec<Var> = diesel::sql_query("SHOW SESSION VARIABLES LIKE 'wsrep\\_on'")
        .load(conn)
        .await
        .map_err(probe)?;
    if !on.iter().any(|v| v.value.eq_ignore_ascii_case("ON")) {
        return Ok(None);
    }
    let status: Vec<Var> = diesel::sql_query(
        "SHOW GLOBAL STATUS WHERE Variable_name IN \
         ('wsrep_cluster_size', 'wsrep_local_state_comment', 'wsrep_cluster_status')",
    )
    .load(conn)
    .await
    .map_err(probe)?;
    let get = |name: &str| {
        status
            .iter()
            .find(|v| v.name.eq_ignore_ascii_case(name))
            .map(|v| v.value.clone())
            .unwrap_or_default()
    };
    Ok(Some(Cluster::Galera {
        size: get("wsrep_cluster_size").parse().unwrap_or(0),
        state: get("wsrep_local_state_comment"),
        status: get("wsrep_cluster_status"),
    }))
}

/// Runs `$write` (an `async` expression giving a `QueryResult`) again, with growing
/// backoff, while it fails because a concurrent write won (see
/// [`Backend::write_conflict`]): a lost certification is not a failure of botdb's own
/// bookkeeping, just a race to run again.
macro_rules! retry_conflicts {
    ($backend:expr, $what:expr, $write:expr) => {{
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match $write.await {
                Err(e) if attempt < RETRIES && $backend.write_conflict(&e.to_string()) => {
                    tracing::debug!("{} lost to a concurrent write ({e}); retrying", $what);
                    tokio::time::sleep(backoff + jitter(backoff)).await;
                    backoff *= 2;
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}

/// Up to half of `d`, from the clock's low bits: enough to keep racing processes apart.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    d.mul_f64(f64::from(nanos % 500) / 1000.0)
}

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// What the row says.
#[derive(Debug, Queryable)]
struct Seen {
    holder: String,
    host: String,
    pid: i64,
    expired: bool,
    /// Microseconds since it expired (negative: until it expires).
    overdue: i64,
}

/// A held lock row, renewed by a task of its own until released.
pub struct LeaseRow {
    token: String,
    url: DatabaseUrl,
    lost: Arc<AtomicBool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    renewer: Option<tokio::task::JoinHandle<AsyncMysqlConnection>>,
}

impl LeaseRow {
    /// Set once the lease is lost (taken over, or not renewed in time): a run checks it
    /// before each migration and stops.
    pub fn lost_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.lost)
    }
}

impl Drop for LeaseRow {
    fn drop(&mut self) {
        // Not released (an error or interrupt on the way): the lease runs out by itself.
        if let Some(task) = self.renewer.take() {
            task.abort();
        }
    }
}

fn lease_micros(lease: Duration) -> i64 {
    i64::try_from(lease.as_micros()).unwrap_or(i64::MAX)
}

/// `<now> + INTERVAL lease`, in the server's UTC clock.
macro_rules! lease_end {
    ($backend:expr, $lease:expr) => {
        sql::<Timestamp>(&format!("{} + INTERVAL ", $backend.utc_now_sql()))
            .bind::<BigInt, _>(lease_micros($lease))
            .sql(" MICROSECOND")
    };
}

impl LeaseRow {
    /// Whether a live holder has the row right now (for `status`). A missing table is a
    /// free lock.
    pub async fn is_held(conn: &mut AsyncMysqlConnection) -> Result<bool> {
        let exists: i64 = diesel::sql_query(
            "SELECT COUNT(*) AS n FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '__botdb_lock'",
        )
        .get_result::<Count>(conn)
        .await
        .map_err(|e| Error::query(Doing::TakeLock, e))?
        .n;
        if exists == 0 {
            return Ok(false);
        }
        let live: Vec<bool> = t::__botdb_lock
            .filter(t::name.eq(ROW))
            .select(sql::<Bool>(&format!(
                "holder <> '' AND expires_at >= {}",
                Backend::Mysql.utc_now_sql()
            )))
            .load(conn)
            .await
            .map_err(|e| Error::query(Doing::TakeLock, e))?;
        Ok(live.into_iter().next().unwrap_or(false))
    }

    /// Takes the row on `conn` (a connection of its own, kept for renewals), waiting up
    /// to `timeout` for a live holder to release it and taking over a lease that ran out.
    pub async fn acquire(
        mut conn: AsyncMysqlConnection,
        url: &DatabaseUrl,
        timeout: Duration,
        lease: Duration,
    ) -> Result<Self> {
        let backend = Backend::Mysql;
        let lock_error = |e: diesel::result::Error| Error::query(Doing::TakeLock, e);
        retry_conflicts!(backend, "creating the lock table", {
            conn.batch_execute(CREATE_MYSQL)
        })
        .map_err(lock_error)?;
        retry_conflicts!(backend, "adding the lock row", {
            diesel::insert_or_ignore_into(t::__botdb_lock)
                .values((
                    t::name.eq(ROW),
                    t::holder.eq(""),
                    t::host.eq(""),
                    t::pid.eq(0),
                    t::expires_at.eq(epoch()),
                ))
                .execute(&mut conn)
        })
        .map_err(lock_error)?;

        let host = this_host();
        let pid = i64::from(std::process::id());
        let start = Instant::now();
        let token = sha256_hex(&format!("{host} {pid} {:?}", std::time::SystemTime::now()))[..32]
            .to_string();
        let now = backend.utc_now_sql();
        let mut announced = false;
        loop {
            let seen: Seen = t::__botdb_lock
                .filter(t::name.eq(ROW))
                .select((
                    t::holder,
                    t::host,
                    t::pid,
                    sql::<Bool>(&format!("expires_at < {now}")),
                    sql::<BigInt>(&format!("TIMESTAMPDIFF(MICROSECOND, expires_at, {now})")),
                ))
                .first(&mut conn)
                .await
                .map_err(lock_error)?;
            if seen.holder.is_empty() || seen.expired {
                let taken = diesel::update(
                    t::__botdb_lock
                        .filter(t::name.eq(ROW))
                        .filter(t::holder.eq(&seen.holder))
                        .filter(sql::<Bool>(&format!("(holder = '' OR expires_at < {now})"))),
                )
                .set((
                    t::holder.eq(&token),
                    t::host.eq(&host),
                    t::pid.eq(pid),
                    t::acquired_at.eq(sql::<Timestamp>(now).nullable()),
                    t::expires_at.eq(lease_end!(backend, lease)),
                ))
                .execute(&mut conn)
                .await;
                match taken {
                    Ok(1) => {
                        if !seen.holder.is_empty() {
                            tracing::warn!(
                                "took over an expired migration lock on {url}: it was held by pid {} on {}, whose lease ran out {:.1} s ago (a botdb that died without releasing it)",
                                seen.pid,
                                seen.host,
                                seen.overdue as f64 / 1e6
                            );
                        }
                        break;
                    }
                    Ok(_) => {}
                    Err(e) if backend.write_conflict(&e.to_string()) => {
                        tracing::debug!("lost the race for the lock row: {e}");
                    }
                    Err(e) => return Err(lock_error(e)),
                }
            }
            if start.elapsed() >= timeout {
                return Err(Error::LockTimeout {
                    url: url.redacted(),
                    seconds: timeout.as_secs(),
                });
            }
            if !announced && !seen.holder.is_empty() && !seen.expired {
                tracing::info!(
                    pid = std::process::id(),
                    "another botdb (pid {} on {}) holds the migration lock on {url} (a lock row: the server is a cluster); waiting up to {} s",
                    seen.pid,
                    seen.host,
                    timeout.as_secs()
                );
                announced = true;
            }
            tokio::time::sleep(POLL + jitter(POLL)).await;
        }
        if announced {
            tracing::info!(
                pid = std::process::id(),
                "got the migration lock after waiting {:.1} s",
                start.elapsed().as_secs_f64()
            );
        }

        let lost = Arc::new(AtomicBool::new(false));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let renewer = {
            let (token, lost, url) = (token.clone(), Arc::clone(&lost), url.clone());
            tokio::spawn(async move {
                let mut last = Instant::now();
                loop {
                    tokio::select! {
                        _ = &mut stopped => return conn,
                        () = tokio::time::sleep(lease / 3) => {}
                    }
                    let renewed = retry_conflicts!(backend, "renewing the lock lease", {
                        diesel::update(
                            t::__botdb_lock
                                .filter(t::name.eq(ROW))
                                .filter(t::holder.eq(&token)),
                        )
                        .set(t::expires_at.eq(lease_end!(backend, lease)))
                        .execute(&mut conn)
                    });
                    match renewed {
                        Ok(1) => last = Instant::now(),
                        Ok(_) => {
                            tracing::error!("the migration lock on {url} was taken over by another botdb: this run's lease ran out before it was renewed");
                            AtomicBool::store(&lost, true, Ordering::SeqCst);
                        }
                        Err(e) if last.elapsed() < lease => {
                            tracing::warn!("renewing the migration lock's lease on {url} failed ({e}); retrying");
                        }
                        Err(e) => {
                            tracing::error!("the migration lock's lease on {url} ran out: renewing it failed for {:.0} s ({e})", last.elapsed().as_secs_f64());
                            AtomicBool::store(&lost, true, Ordering::SeqCst);
                        }
                    }
                    // A lost lease is not renewed again: the run stops at its next step
                    // (see `lost_flag`), and release reports it.
                    if AtomicBool::load(&lost, Ordering::SeqCst) {
                        let _ = (&mut stopped).await;
                        return conn;
                    }
                }
            })
        };
        Ok(LeaseRow {
            token,
            url: url.clone(),
            lost,
            stop: Some(stop),
            renewer: Some(renewer),
        })
    }

    /// Frees the row (if it is still this holder's), and says whether the lease was lost
    /// while the run held it.
    pub async fn release(mut self) -> Result<()> {
        let lost = |detail: &str| Error::LockLost {
            url: self.url.redacted(),
            detail: detail.to_string(),
        };
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(task) = self.renewer.take() else {
            return Ok(());
        };
        let mut conn = match task.await {
            Ok(conn) => conn,
            Err(e) => {
                return Err(Error::query(
                    Doing::TakeLock,
                    format!("the lease renewer stopped: {e}"),
                ))
            }
        };
        let freed = retry_conflicts!(Backend::Mysql, "releasing the lock row", {
            diesel::update(
                t::__botdb_lock
                    .filter(t::name.eq(ROW))
                    .filter(t::holder.eq(&self.token)),
            )
            .set((
                t::holder.eq(""),
                t::host.eq(""),
                t::pid.eq(0),
                t::acquired_at.eq(None::<NaiveDateTime>),
                t::expires_at.eq(epoch()),
            ))
            .execute(&mut conn)
        })
        .map_err(|e| Error::query(Doing::TakeLock, e))?;
        if AtomicBool::load(&self.lost, Ordering::SeqCst) || freed == 0 {
            return Err(lost(
                "its lease expired and another botdb took the lock row over",
            ));
        }
        Ok(())
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}
