//! Connections: the one place where the backend is chosen.
//!
//! [`Pool`] is an enum over the three bb8 pools of diesel-async connections. Code that
//! works on a connection is written once and expanded for each variant by
//! [`with_connection!`](crate::with_connection), so everything behind the enum stays generic.

use std::path::Path;
use std::time::{Duration, Instant};

use diesel_async::pooled_connection::bb8;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolError};
use diesel_async::{AsyncMysqlConnection, AsyncPgConnection};

use crate::backend::Backend;
use crate::config::DatabaseUrl;
use crate::db::sqlite::{sqlite_config, sqlite_target, SqliteAsync};
use crate::error::{one_line, Environment, Error, Result};

pub mod admin;
pub mod blocking;
pub mod lock;
pub mod lock_row;
pub(crate) mod mysql;
pub mod pooler;
pub mod sqlite;
pub mod waits;

/// A pool of connections to one of the three backends.
#[derive(Clone)]
pub enum Pool {
    /// SQLite through diesel-async's `SyncConnectionWrapper`.
    Sqlite(bb8::Pool<SqliteAsync>),
    /// PostgreSQL through diesel-async's pure-Rust driver.
    Postgres(bb8::Pool<AsyncPgConnection>),
    /// MySQL/MariaDB through diesel-async's pure-Rust driver.
    Mysql(bb8::Pool<AsyncMysqlConnection>),
    /// PostgreSQL through a transaction-mode pooler (`?pgbouncer=true`): no statement
    /// cache, and every [`with_connection!`](crate::with_connection) body runs in a
    /// transaction (see [`pooler`]). Queries of your own on it must run inside a
    /// transaction too.
    PgBouncer(bb8::Pool<AsyncPgConnection>),
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool({})", self.backend())
    }
}

impl Pool {
    /// The backend this pool talks to.
    pub fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) | Pool::PgBouncer(_) => Backend::Postgres,
            Pool::Mysql(_) => Backend::Mysql,
        }
    }
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections the pool opens.
    pub max_size: u32,
    /// How long to wait for a connection before giving up.
    pub connect_timeout: Duration,
    /// Open SQLite read-only, so nothing (not even an empty file) can be written.
    pub read_only: bool,
    /// Keep retrying the first connection for this long, for a database that is still
    /// starting (`--wait`).
    pub wait: Option<Duration>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 4,
            connect_timeout: Duration::from_secs(10),
            read_only: false,
            wait: None,
        }
    }
}

/// Runs `$body` with `$conn` bound to a pooled connection of whichever backend `$pool`
/// (a [`Pool`], e.g. [`Database::pool`](crate::Database::pool)) is: the bot's tool for
/// its own queries.
///
/// The body is type-checked once per backend, so it is written once and stays generic
/// over the connection type; it evaluates to the value of the whole macro. `?` inside it
/// returns from the enclosing function, whose error type must convert from
/// [`Error`](crate::Error) (a failed checkout) and from whatever the body's `?`s return
/// (`diesel::result::Error` for queries). `$conn` is a pooled connection: pass it as
/// `&mut conn` (or `&mut *conn`) to diesel-async's `RunQueryDsl` methods. Behind a
/// transaction-mode pooler (`?pgbouncer=true`) the body runs in one transaction.
///
/// ```no_run
/// use botdb::diesel::prelude::*;
/// use botdb::diesel_async::RunQueryDsl;
/// use botdb::schema::users;
///
/// async fn count_users(db: &botdb::Database) -> Result<i64, Box<dyn std::error::Error + Send + Sync>> {
///     let n = botdb::with_connection!(db.pool(), |conn| {
///         users::table.count().get_result::<i64>(&mut conn).await?
///     });
///     Ok(n)
/// }
/// ```
#[macro_export]
macro_rules! with_connection {
    ($pool:expr, |$conn:ident| $body:expr) => {
        match $pool {
            $crate::db::Pool::Sqlite(pool) => {
                #[allow(unused_mut)]
                let mut $conn =
                    $crate::db::checkout(pool, $crate::backend::Backend::Sqlite).await?;
                $body
            }
            $crate::db::Pool::Postgres(pool) => {
                #[allow(unused_mut)]
                let mut $conn =
                    $crate::db::checkout(pool, $crate::backend::Backend::Postgres).await?;
                $body
            }
            $crate::db::Pool::Mysql(pool) => {
                #[allow(unused_mut)]
                let mut $conn = $crate::db::checkout(pool, $crate::backend::Backend::Mysql).await?;
                $body
            }
            // Behind a transaction-mode pooler the body runs in a transaction; an early
            // return (`?`) drops the connection with it open, so it is rolled back.
            $crate::db::Pool::PgBouncer(pool) => {
                #[allow(unused_mut)]
                let mut $conn =
                    $crate::db::checkout(pool, $crate::backend::Backend::Postgres).await?;
                $crate::db::pooler::begin(&mut $conn).await?;
                let value = $body;
                $crate::db::pooler::commit(&mut $conn).await?;
                value
            }
        }
    };
}

// `#[macro_export]` puts the macro at the crate root; this is its home in the tree.
pub use crate::with_connection;

/// Takes a connection out of a pool, owned so it can move into a blocking migration
/// harness. [`with_connection!`](crate::with_connection) calls it.
pub async fn checkout<C>(
    pool: &bb8::Pool<C>,
    backend: Backend,
) -> Result<::bb8::PooledConnection<'static, AsyncDieselConnectionManager<C>>>
where
    C: diesel_async::pooled_connection::PoolableConnection + 'static,
    AsyncDieselConnectionManager<C>: ::bb8::ManageConnection<Error = PoolError>,
{
    pool.get_owned().await.map_err(|e| Error::Connect {
        url: backend.to_string(),
        message: one_line(&e.to_string()),
        hint: "the connection pool could not hand out a connection; use a larger pool or a longer connect timeout (`PoolOptions::max_size`, `PoolOptions::connect_timeout`)",
    })
}

/// Opens a pool for `url` and checks that one connection can be made.
pub async fn connect(url: &DatabaseUrl, options: &PoolOptions) -> Result<Pool> {
    match url.backend() {
        Backend::Sqlite => {
            let path = url.sqlite_path().unwrap_or(Path::new(""));
            let target = sqlite_target(path, options.read_only)?;
            let manager = AsyncDieselConnectionManager::<SqliteAsync>::new_with_config(
                target,
                sqlite_config(),
            );
            // A local file fails for good (not a database, read-only, locked past the busy
            // timeout), and a connection that opened stays valid: no retry loops, no pings.
            let sqlite = |b: ::bb8::Builder<_>| b.retry_connection(false).test_on_check_out(false);
            Ok(Pool::Sqlite(build(url, manager, options, sqlite).await?))
        }
        Backend::Postgres if url.behind_pooler() => {
            let manager = pooler::manager(url);
            Ok(Pool::PgBouncer(build(url, manager, options, |b| b).await?))
        }
        Backend::Postgres => {
            let manager =
                AsyncDieselConnectionManager::<AsyncPgConnection>::new(url.connection_string());
            Ok(Pool::Postgres(build(url, manager, options, |b| b).await?))
        }
        Backend::Mysql => {
            let manager = AsyncDieselConnectionManager::<AsyncMysqlConnection>::new_with_config(
                url.connection_string(),
                mysql::mysql_config(),
            );
            Ok(Pool::Mysql(build(url, manager, options, |b| b).await?))
        }
    }
}

async fn build<C>(
    url: &DatabaseUrl,
    manager: AsyncDieselConnectionManager<C>,
    options: &PoolOptions,
    tune: impl FnOnce(
        ::bb8::Builder<AsyncDieselConnectionManager<C>>,
    ) -> ::bb8::Builder<AsyncDieselConnectionManager<C>>,
) -> Result<bb8::Pool<C>>
where
    C: diesel_async::pooled_connection::PoolableConnection + 'static,
    AsyncDieselConnectionManager<C>: ::bb8::ManageConnection<Connection = C, Error = PoolError>,
{
    let builder = ::bb8::Pool::builder()
        .max_size(options.max_size.max(1))
        .min_idle(Some(0))
        .connection_timeout(options.connect_timeout)
        .error_sink(Box::new(LogSink::new(url.clone())));
    let pool = tune(builder).build_unchecked(manager);
    // bb8's get() reports every failure as "timed out"; a dedicated first connection
    // surfaces the server's own reason (wrong password, missing database, ...).
    let deadline = options.wait.map(|w| Instant::now() + w);
    let mut delay = Duration::from_millis(100);
    let mut last_log: Option<Instant> = None;
    loop {
        let message = match tokio::time::timeout(
            options.connect_timeout,
            pool.dedicated_connection(),
        )
        .await
        {
            Ok(Ok(conn)) => {
                // Only fails when the pool is full, which a new pool is not.
                let _ = pool.add(conn);
                return Ok(pool);
            }
            Ok(Err(e)) => {
                let mut message = with_causes(&e);
                // diesel-async keeps only "error connecting to server" of tokio-postgres's
                // error; the socket's own error says why.
                if message.ends_with("error connecting to server") {
                    if let Some(reason) = tcp_probe(url).await {
                        message = format!("{message}: {reason}");
                    }
                }
                message
            }
            Err(_elapsed) => format!("no answer within {} s", options.connect_timeout.as_secs()),
        };
        let now = Instant::now();
        match (deadline, options.wait) {
            (Some(deadline), Some(wait)) if now >= deadline => {
                let waited = format!(
                    "{message} (still failing after waiting {} s)",
                    wait.as_secs()
                );
                return Err(connect_error(url, &waited));
            }
            (None, _) | (_, None) => return Err(connect_error(url, &message)),
            // Waiting does not turn a file into a database or make it writable.
            _ if matches!(
                Environment::of(&message),
                Some(Environment::Corrupt | Environment::ReadOnly)
            ) =>
            {
                return Err(connect_error(url, &message))
            }
            _ => {}
        }
        let left = deadline.map_or(Duration::ZERO, |d| d.saturating_duration_since(now));
        if last_log.is_none_or(|t| now.duration_since(t) >= WAIT_LOG_INTERVAL) {
            tracing::warn!(
                "waiting for {url} ({} s left): {}",
                left.as_secs(),
                url.scrub(&message)
            );
            last_log = Some(now);
        }
        tokio::time::sleep(delay.min(left)).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// `--wait` logs a retry at most this often.
const WAIT_LOG_INTERVAL: Duration = Duration::from_secs(5);

/// Logs connection failures of a running pool (bb8 retries them), password scrubbed. A
/// failure that repeats is logged once, so a retry loop cannot flood the log.
#[derive(Debug, Clone)]
struct LogSink {
    url: DatabaseUrl,
    last: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl LogSink {
    fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            last: Default::default(),
        }
    }
}

impl ::bb8::ErrorSink<PoolError> for LogSink {
    fn sink(&self, error: PoolError) {
        let message = self.url.scrub(&error.to_string());
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.as_deref() != Some(message.as_str()) {
            tracing::warn!(url = %self.url, "connection failed: {message}");
            *last = Some(message);
        }
    }

    fn boxed_clone(&self) -> Box<dyn ::bb8::ErrorSink<PoolError>> {
        Box::new(self.clone())
    }
}

/// SQLite's rollback journal of the database at `path`.
fn journal_of(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-journal");
    name.into()
}

/// Why a TCP connection to the URL's host and port fails, if it does.
async fn tcp_probe(url: &DatabaseUrl) -> Option<String> {
    let (host, port) = url.host_port()?;
    match tokio::net::TcpStream::connect((host.as_str(), port)).await {
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    }
}

/// The error and every cause it wraps, as drivers often keep the useful part in a cause.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = cause.source();
    }
    message
}

pub(crate) fn connect_error(url: &DatabaseUrl, raw: &str) -> Error {
    let message = one_line(&url.scrub(raw));
    let lower = message.to_lowercase();
    let environment = Environment::of(&message);
    let hot_journal = url.sqlite_path().is_some_and(|p| journal_of(p).exists());
    let hint = if environment == Some(Environment::ReadOnly) && hot_journal {
        "a process died while writing it and left a hot journal (<database>-journal) that SQLite must roll back before the database can be read, which needs write access: run botdb once as a user who may write the file and its folder (or fix their permissions)"
    } else if let Some(environment) = environment {
        environment.hint()
    } else if lower.contains("role \"") && lower.contains("does not exist") {
        "the server has no user (role) of that name: fix the user name in the database URL, or create the role with its password (CREATE ROLE … LOGIN PASSWORD …)"
    } else if lower.contains("access denied") && lower.contains("to database") {
        "the user may not use this database: grant it the privileges (GRANT ALL ON db.* TO …), or, if the database does not exist yet, create it with `botdb setup` as a user who may"
    } else if lower.contains("password") || lower.contains("access denied") {
        "check the user name and password in the database URL (percent-encode special characters in the password), and that this user may log in from this host"
    } else if lower.contains("does not exist") || lower.contains("unknown database") {
        "create the database with `botdb setup` (or CREATE DATABASE), or fix its name in the URL"
    } else if lower.contains("unable to open")
        || lower.contains("readonly")
        || lower.contains("read-only")
    {
        "check that the SQLite path exists and is writable by this user"
    } else {
        "check that the server is running and that the URL's host and port are right"
    };
    Error::Connect {
        url: url.redacted(),
        message,
        hint,
    }
}
