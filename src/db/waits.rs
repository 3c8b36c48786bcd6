//! Waits on other sessions while a migration runs: who holds the table a migration
//! could not lock in time, and stopping a statement the server is still running when
//! botdb is interrupted.
//!
//! - PostgreSQL: after a `lock_timeout`, `pg_locks` and `pg_stat_activity` name the
//!   sessions that hold locks on the database's tables.
//! - MySQL/MariaDB: after a `lock_wait_timeout`, the processlist names the other sessions
//!   on the database (MariaDB does not show metadata-lock owners without a plugin). A
//!   statement keeps running on the server after its client is gone, so an interrupted
//!   botdb stops it (`KILL QUERY`) and waits for its migration to record the outcome.

use std::sync::Mutex;

use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncMysqlConnection, AsyncPgConnection, RunQueryDsl};

use crate::backend::Backend;
use crate::config::DatabaseUrl;
use crate::db::lock::mysql_lock_name;
use crate::db::sqlite::SqliteAsync;
use crate::db::Pool;
use crate::error::{one_line, Doing, Error, Result};

/// Another session holding a lock a migration may have waited for.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Holder {
    /// The locked table, when the server says (PostgreSQL).
    #[diesel(sql_type = Text)]
    pub table_name: String,
    /// The session's process id (PostgreSQL) or connection id (MySQL).
    #[diesel(sql_type = BigInt)]
    pub pid: i64,
    /// Who it is: `application_name 'psql'` (PostgreSQL), `user bot@host` (MySQL).
    #[diesel(sql_type = Text)]
    pub client: String,
    /// What it is doing: e.g. `idle in transaction`, `Sleep`.
    #[diesel(sql_type = Text)]
    pub state: String,
    /// Since when: its transaction's start (PostgreSQL), or how long in this state (MySQL).
    #[diesel(sql_type = Text)]
    pub since: String,
    /// The lock it holds (PostgreSQL), or its running statement (MySQL).
    #[diesel(sql_type = Text)]
    pub detail: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.table_name.is_empty() {
            write!(f, "table {} by ", self.table_name)?;
        }
        write!(
            f,
            "pid {} ({}, {} {}",
            self.pid, self.client, self.state, self.since
        )?;
        if !self.detail.is_empty() {
            write!(f, ", {}", self.detail)?;
        }
        f.write_str(")")
    }
}

/// PostgreSQL: every lock another session holds on a table of this database.
const PG_HOLDERS: &str = "SELECT c.relname::text AS table_name, a.pid::bigint AS pid, \
     'application_name ' || quote_literal(COALESCE(a.application_name, '')) AS client, COALESCE(a.state, '') AS state, \
     'since ' || COALESCE(to_char(COALESCE(a.xact_start, a.state_change), 'YYYY-MM-DD HH24:MI:SS'), '?') AS since, \
     'holds ' || l.mode AS detail \
     FROM pg_locks l \
     JOIN pg_class c ON c.oid = l.relation \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     JOIN pg_stat_activity a ON a.pid = l.pid \
     WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid() \
     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
     AND c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
     ORDER BY c.relname, a.pid";

/// MySQL/MariaDB: the other sessions using this database, longest-standing first, but
/// not botdb's own: this one, and the one holding the migration lock (bound as `?`).
const MYSQL_HOLDERS: &str = "SELECT '' AS table_name, CAST(ID AS SIGNED) AS pid, \
     CONCAT('user ', USER, '@', HOST) AS client, COALESCE(COMMAND, '') AS state, \
     CONCAT('for ', TIME, ' s') AS since, \
     COALESCE(LEFT(INFO, 80), '') AS detail \
     FROM information_schema.PROCESSLIST \
     WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND ID <> COALESCE(IS_USED_LOCK(?), 0) \
     ORDER BY TIME DESC, ID";

/// The sessions that may hold what a migration timed out waiting for (see the module docs).
pub async fn lock_holders(pool: &Pool, url: &DatabaseUrl) -> Result<Vec<Holder>> {
    let holders = match pool {
        Pool::Postgres(pool) => {
            let mut conn = crate::db::checkout(pool, Backend::Postgres).await?;
            diesel::sql_query(PG_HOLDERS)
                .load::<Holder>(&mut *conn)
                .await
        }
        Pool::PgBouncer(pool) => {
            let mut conn = crate::db::checkout(pool, Backend::Postgres).await?;
            crate::db::pooler::begin(&mut conn).await?;
            let holders = diesel::sql_query(PG_HOLDERS)
                .load::<Holder>(&mut *conn)
                .await;
            crate::db::pooler::commit(&mut conn).await?;
            holders
        }
        Pool::Mysql(pool) => {
            let mut conn = crate::db::checkout(pool, Backend::Mysql).await?;
            diesel::sql_query(MYSQL_HOLDERS)
                .bind::<Text, _>(mysql_lock_name(&url.database_name()))
                .load::<Holder>(&mut *conn)
                .await
        }
        Pool::Sqlite(_) => return Ok(Vec::new()),
    };
    holders.map_err(|e| Error::query(Doing::ReadLockHolders, e))
}

#[derive(QueryableByName)]
struct SessionId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// The server's id of a connection's session, where a statement can be stopped from
/// another session.
pub trait Session {
    /// The MySQL connection id; `None` where botdb does not stop statements itself
    /// (PostgreSQL and SQLite roll an interrupted run back by themselves).
    fn session_id(&mut self) -> impl std::future::Future<Output = Result<Option<i64>>> + Send;
}

impl Session for AsyncMysqlConnection {
    async fn session_id(&mut self) -> Result<Option<i64>> {
        let row = diesel::sql_query("SELECT CAST(CONNECTION_ID() AS SIGNED) AS id")
            .get_result::<SessionId>(self)
            .await
            .map_err(|e| Error::query(Doing::ReadSession, e))?;
        Ok(Some(row.id))
    }
}

impl Session for AsyncPgConnection {
    async fn session_id(&mut self) -> Result<Option<i64>> {
        Ok(None)
    }
}

impl Session for SqliteAsync {
    async fn session_id(&mut self) -> Result<Option<i64>> {
        Ok(None)
    }
}

/// Sessions running migration SQL right now: (database, session id).
static RUNNING: Mutex<Vec<(DatabaseUrl, i64)>> = Mutex::new(Vec::new());

/// A session registered as running migration SQL until this is dropped.
#[derive(Debug)]
pub struct Running {
    entry: Option<(DatabaseUrl, i64)>,
}

impl Running {
    /// Registers `conn`'s session (when its backend has one botdb stops; see [`Session`]).
    pub async fn register<S: Session>(conn: &mut S, url: &DatabaseUrl) -> Result<Self> {
        let entry = conn.session_id().await?.map(|id| (url.clone(), id));
        if let Some(entry) = &entry {
            if let Ok(mut running) = RUNNING.lock() {
                running.push(entry.clone());
            }
        }
        Ok(Running { entry })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let (Some((url, id)), Ok(mut running)) = (self.entry.take(), RUNNING.lock()) {
            running
                .retain(|(u, i)| !(*i == id && u.connection_string() == url.connection_string()));
        }
    }
}

/// How [`stop_running`] stops a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `KILL QUERY`: the statement fails, the session stays, so botdb can record it.
    Query,
    /// `KILL`: the session ends too.
    Connection,
}

/// Stops the statements registered sessions are running, from a new session each.
/// Returns what it stopped (`mysql://…: connection 42`) and what it could not.
pub async fn stop_running(how: Stop) -> Vec<std::result::Result<String, String>> {
    let running: Vec<(DatabaseUrl, i64)> = RUNNING.lock().map(|r| r.clone()).unwrap_or_default();
    let mut results = Vec::new();
    for (url, id) in running {
        let what = format!("{url}: connection {id}");
        let killed = async {
            let mut conn = crate::db::mysql::establish(url.connection_string())
                .await
                .map_err(|e| e.to_string())?;
            let sql = match how {
                Stop::Query => "KILL QUERY ?",
                Stop::Connection => "KILL CONNECTION ?",
            };
            diesel::sql_query(sql)
                .bind::<BigInt, _>(id)
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        results.push(match killed {
            Ok(_) => Ok(what),
            // The statement may have ended meanwhile: nothing left to stop.
            Err(e) if e.contains("Unknown thread id") => Ok(what),
            Err(e) => Err(format!("{what}: {}", one_line(&url.scrub(&e)))),
        });
    }
    results
}
