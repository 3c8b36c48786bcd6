//! [`Database`]: a pool plus the migrations that belong to its backend, and the core
//! operations on it (apply, revert, redo, status, introspect). The features built on it
//! (adopt, check, backups, seed, …) live in `ops/`, each adding its own `impl Database`.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::dsl::Select;
use diesel::{QueryDsl, SqliteConnection};
use diesel_async::pooled_connection::bb8;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};

use crate::backend::Backend;
use crate::config::DatabaseUrl;
use crate::db::blocking::{relaying, sender, Lend};
use crate::db::lock::MigrationLock;
use crate::db::lock_row::DEFAULT_LEASE;
use crate::db::sqlite::SqliteAsync;
use crate::db::waits::{lock_holders, Running};
use crate::db::with_connection;
use crate::db::{checkout, Pool, PoolOptions};
use crate::error::{Doing, Error, Result};
use crate::introspect::{Introspect, Schema};
use crate::migration::apply::{apply, Run};
use crate::migration::bookkeeping::tables::{
    __botdb_migrations as botdb_table, __diesel_schema_migrations as applied_table,
};
use crate::migration::bookkeeping::{
    create_sql, TrackState, Tracked, BOOKKEEPING_TABLE, BOTDB_TABLE,
};
use crate::migration::catalog::{Catalog, MigrationId, Source};
use crate::migration::harness::{lock_timed_out, with_bounded_waits};
use crate::migration::plan::{plan_down, plan_up, RevertTarget, RunOptions};
use crate::migration::report::{Report, Step};
use crate::migration::revert::revert;
use crate::migration::status::{preflight, unrecorded, Outlook, Status};

/// How long migrate, revert and redo wait for another process's migration lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// A connected database: a pool plus the migrations that belong to its backend.
#[derive(Debug, Clone)]
pub struct Database {
    url: DatabaseUrl,
    pool: Pool,
    source: Source,
    /// The catalogue, read the first time it is needed and then shared by everything this
    /// handle does (one command reads its migrations once).
    catalog: OnceLock<Arc<Catalog>>,
    lock_timeout: Duration,
    lock_lease: Duration,
    run_options: RunOptions,
    holds_lock: bool,
    /// While a lock with a lease is held for this handle: set when the lease is lost.
    lease_lost: Arc<Mutex<Option<Arc<AtomicBool>>>>,
}

/// The applied versions with when they ran, oldest first, and botdb's tracking rows.
pub(crate) type Bookkeeping = (Vec<(String, NaiveDateTime)>, Vec<Tracked>);

impl Database {
    /// Connects with default pool settings. Accepts every URL form [`DatabaseUrl::parse`] does.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(DatabaseUrl::parse(url)?, &PoolOptions::default()).await
    }

    /// Connects to the database the `botdb` command would use, with the same errors.
    ///
    /// Loads `.env` from the current folder or the nearest parent (never overriding the
    /// environment), then takes the URL from `DATABASE_URL`, else the Python bot's
    /// `DB_URL`, else the `url` of the `botdb.toml` environment named by `BOTDB_ENV`, else
    /// the default SQLite file `data/botdb.sqlite3`. A URL set but empty is an error, and a
    /// relative SQLite path in `.env` or `botdb.toml` is relative to that file. The
    /// environment of `botdb.toml` also supplies the pool size, timeouts, lock lease and
    /// migrations folder it sets (see [`Profile`](crate::config::Profile)).
    ///
    /// ```no_run
    /// # async fn f() -> botdb::Result<()> {
    /// let db = botdb::Database::from_env().await?;
    /// db.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn from_env() -> Result<Self> {
        crate::config::load_dotenv()?;
        let profile = match std::env::var(crate::config::ENV_VARIABLE) {
            Ok(name) if !name.trim().is_empty() => Some(crate::config::Profile::load(name.trim())?),
            _ => None,
        };
        let (url, source) = crate::config::resolve_with(None, profile.as_ref())?;
        tracing::debug!(%url, "database from {source}");
        let Some(profile) = profile else {
            return Self::connect_with(url, &PoolOptions::default()).await;
        };
        let defaults = PoolOptions::default();
        let options = PoolOptions {
            max_size: profile.pool_size.unwrap_or(defaults.max_size),
            connect_timeout: profile.connect_timeout.unwrap_or(defaults.connect_timeout),
            read_only: false,
            wait: profile.wait,
        };
        let mut db = Self::connect_with(url, &options)
            .await?
            .with_lock_timeout(profile.lock_timeout.unwrap_or(DEFAULT_LOCK_TIMEOUT))
            .with_lock_lease(profile.lock_lease.unwrap_or(DEFAULT_LEASE));
        if let Some(dir) = profile.migrations_dir {
            db = db.with_source(Source::Dir(dir));
        }
        Ok(db)
    }

    /// Connects with explicit pool settings.
    pub async fn connect_with(url: DatabaseUrl, options: &PoolOptions) -> Result<Self> {
        tracing::debug!(url = %url, "connecting");
        let pool = crate::db::connect(&url, options).await?;
        Ok(Self {
            url,
            pool,
            source: Source::Embedded,
            catalog: OnceLock::new(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            lock_lease: DEFAULT_LEASE,
            run_options: RunOptions::default(),
            holds_lock: false,
            lease_lost: Arc::default(),
        })
    }

    /// How migrate splits its work into transactions, and whether it runs despite edited
    /// migrations (see [`RunOptions`]).
    pub fn with_run_options(mut self, options: RunOptions) -> Self {
        self.run_options = options;
        self
    }

    /// Waits up to `timeout` for another process's migration lock (default 60 s).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// How long a lock row's lease lasts unless renewed (default 15 s): on a server whose
    /// advisory locks do not exclude every session (a Galera cluster), how long a botdb that
    /// died holding the migration lock blocks the others. Renewed every third of it.
    pub fn with_lock_lease(mut self, lease: Duration) -> Self {
        self.lock_lease = lease;
        self
    }

    /// For a caller that took the migration lock itself with [`Database::lock`] (to do
    /// more under it, e.g. a backup): this handle's operations then do not take it again.
    pub fn assume_locked(mut self) -> Self {
        self.holds_lock = true;
        self
    }

    /// [`Database::assume_locked`], for the `lock` this caller holds: if it has a lease
    /// (a Galera lock row) that is lost meanwhile, a run stops before its next migration.
    pub fn assume_locked_by(self, lock: &MigrationLock) -> Self {
        self.watch_lease(lock);
        self.assume_locked()
    }

    fn watch_lease(&self, lock: &MigrationLock) {
        if let Ok(mut watched) = self.lease_lost.lock() {
            *watched = lock.lost_flag();
        }
    }

    /// Uses migrations from `source` instead of the embedded ones.
    pub fn with_source(mut self, source: Source) -> Self {
        self.source = source;
        self.catalog = OnceLock::new();
        self
    }

    /// The connection pool, for the bot's own queries.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The URL (displays redacted).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    /// Where the migrations come from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The migrations of this database's backend, read once per handle.
    pub fn catalog(&self) -> Result<&Catalog> {
        Ok(self.loaded_catalog()?)
    }

    fn loaded_catalog(&self) -> Result<&Arc<Catalog>> {
        if let Some(catalog) = self.catalog.get() {
            return Ok(catalog);
        }
        let loaded = Arc::new(Catalog::load(&self.source, self.backend())?);
        Ok(self.catalog.get_or_init(|| loaded))
    }

    /// The catalogue, to share with another handle on the same migrations.
    pub(crate) fn shared_catalog(&self) -> Result<Arc<Catalog>> {
        Ok(Arc::clone(self.loaded_catalog()?))
    }

    /// Uses a catalogue another handle already read.
    pub(crate) fn with_catalog(self, catalog: Arc<Catalog>) -> Self {
        let _ = self.catalog.set(catalog);
        self
    }

    /// The migrations this database's backend has, oldest first.
    pub fn known_migrations(&self) -> Result<Vec<MigrationId>> {
        Ok(self.catalog()?.ids())
    }

    /// Takes the migration lock, waiting up to `timeout` for another holder to finish.
    pub async fn lock(&self, timeout: Duration) -> Result<MigrationLock> {
        MigrationLock::acquire_with_lease(&self.pool, &self.url, timeout, self.lock_lease).await
    }

    /// Runs `work` holding the migration lock, so no other botdb migrates this database
    /// meanwhile. `work` starts only once the lock is held, so what it reads is current.
    pub(crate) async fn locked<T>(
        &self,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        if self.holds_lock {
            return work.await;
        }
        let lock = self.take_lock().await?;
        let result = work.await;
        self.release(lock, result).await
    }

    /// Takes the migration lock for this handle's own operations and watches its lease.
    async fn take_lock(&self) -> Result<MigrationLock> {
        let lock = self.lock(self.lock_timeout).await?;
        self.watch_lease(&lock);
        Ok(lock)
    }

    /// Releases what [`Database::take_lock`] took, once the work under it gave `result`.
    async fn release<T>(&self, lock: MigrationLock, result: Result<T>) -> Result<T> {
        if let Ok(mut watched) = self.lease_lost.lock() {
            *watched = None;
        }
        let released = lock.release().await;
        let value = result?;
        released?;
        Ok(value)
    }

    /// Runs `work` (a migrate, revert or redo) under the migration lock on a task of its
    /// own, and waits for it, passing on the events it sends to `on_event`. `work` gets a
    /// handle that holds the lock.
    ///
    /// Migrations run on a blocking thread that cannot be stopped halfway. Were the lock
    /// held by the caller's future, dropping that future (a timeout, a `select!`) would
    /// release the lock while the thread goes on migrating, and let a second migrator start
    /// alongside it. So the lock is taken here, in the caller's future (dropped while it
    /// waits for the lock, nothing has run and nothing will), and then moves to the task,
    /// which keeps it until the work has finished and releases it; a caller that stopped
    /// waiting only stops hearing about it.
    pub(crate) async fn to_the_end<T, E, F, Fut>(
        &self,
        on_event: &mut (dyn FnMut(&E) + Send),
        work: F,
    ) -> Result<T>
    where
        F: FnOnce(Database, tokio::sync::mpsc::UnboundedSender<E>) -> Fut,
        Fut: std::future::Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let lock = match self.holds_lock {
            true => None,
            false => Some(self.take_lock().await?),
        };
        let db = self.clone().assume_locked();
        // The sender lives as long as the work, so the relay ends when the work does.
        let joined = relaying(on_event, |events| {
            let work = work(db.clone(), events);
            tokio::spawn(async move {
                let result = work.await;
                match lock {
                    Some(lock) => db.release(lock, result).await,
                    None => result,
                }
            })
        })
        .await;
        joined.map_err(|e| {
            Error::Refused(format!(
                "the migration task failed unexpectedly ({e}); the database was left as the failure left it: check `botdb status`"
            ))
        })?
    }

    /// Applies pending migrations up to and including `to` (all when `None`), without
    /// taking the lock and without looking for an Alembic database to adopt (see
    /// [`Database::migrate_with`] for both).
    pub(crate) async fn apply_pending(
        &self,
        to: Option<&str>,
        on_step: &mut (dyn FnMut(&Step) + Send),
    ) -> Result<Report> {
        let options = self.run_options;
        let catalog = self.catalog()?;
        let (applied, tracked) = self.ensure_bookkeeping().await?;
        let applied: Vec<String> = applied.into_iter().map(|(v, _)| v).collect();
        preflight(&tracked, Some(catalog), &applied, options)?;
        let plan = plan_up(catalog, &applied, to)?;
        self.refuse_outside_transaction(plan.iter().map(|&i| &catalog.migrations()[i]))?;
        let shared = self.shared_catalog()?;
        let lock_lost = self.lease_lost.lock().ok().and_then(|w| w.clone());
        let (backend, timeout) = (self.backend(), self.lock_timeout);
        let result = with_connection!(&self.pool, |conn| {
            let _running = Running::register(&mut *conn, &self.url).await?;
            let (catalog, applied, plan) = (Arc::clone(&shared), applied.clone(), plan.clone());
            let (returned, result) = conn
                .on_blocking_thread(on_step, move |c, on_step| {
                    let run = Run {
                        catalog: &catalog,
                        plan: &plan,
                        unrecorded: &unrecorded(&catalog, &applied, &tracked),
                        options,
                        lock_lost: lock_lost.as_deref(),
                    };
                    with_bounded_waits(c, backend, timeout, |c| apply(c, &run, on_step))
                })
                .await?;
            // Back to the pool, or (behind a pooler) to commit what the run left committed.
            #[allow(unused_assignments)]
            {
                conn = returned;
            }
            result
        });
        let steps = self
            .naming_lock_holders(result)
            .await
            .map_err(|e| match e {
                Error::LockLost { detail, .. } => Error::LockLost {
                    url: self.url.redacted(),
                    detail,
                },
                e => e,
            })?;
        let current = applied
            .iter()
            .chain(steps.iter().map(|s| &s.migration.version))
            .max()
            .cloned();
        Ok(Report {
            adopted: None,
            reverted: Vec::new(),
            applied: steps,
            current,
        })
    }

    /// Reverts applied migrations, newest first, calling `on_step` after each one. Holds
    /// the migration lock throughout.
    ///
    /// The revert runs to its end, and keeps the lock until then, even if this future is
    /// dropped (see [`Database::migrate_with`]).
    pub async fn revert(
        &self,
        target: &RevertTarget,
        on_step: &mut (dyn FnMut(&Step) + Send),
    ) -> Result<Report> {
        let target = target.clone();
        self.to_the_end(on_step, move |db, steps| async move {
            db.revert_locked(&target, &mut sender(steps)).await
        })
        .await
    }

    async fn revert_locked(
        &self,
        target: &RevertTarget,
        on_step: &mut (dyn FnMut(&Step) + Send),
    ) -> Result<Report> {
        self.locked(async {
            let (applied, reverted) = self.revert_unlocked(target, on_step).await?;
            let current = applied
                .iter()
                .filter(|v| !reverted.iter().any(|s| s.migration.version == **v))
                .max()
                .cloned();
            Ok(Report {
                adopted: None,
                reverted,
                applied: Vec::new(),
                current,
            })
        })
        .await
    }

    /// Reverts; returns what was applied before, and the steps.
    async fn revert_unlocked(
        &self,
        target: &RevertTarget,
        on_step: &mut (dyn FnMut(&Step) + Send),
    ) -> Result<(Vec<String>, Vec<Step>)> {
        let (applied, tracked) = self.ensure_bookkeeping().await?;
        let applied: Vec<String> = applied.into_iter().map(|(v, _)| v).collect();
        // A revert only needs the database not to be dirty; edited up.sql files do not matter.
        preflight(&tracked, None, &applied, self.run_options)?;
        let catalog = self.catalog()?;
        let plan = plan_down(catalog, &applied, target)?;
        self.refuse_outside_transaction(plan.iter().filter_map(|v| catalog.find(v).ok()))?;
        let shared = self.shared_catalog()?;
        let (backend, timeout) = (self.backend(), self.lock_timeout);
        let result = with_connection!(&self.pool, |conn| {
            let _running = Running::register(&mut *conn, &self.url).await?;
            let (catalog, applied, tracked, plan) = (
                Arc::clone(&shared),
                applied.clone(),
                tracked.clone(),
                plan.clone(),
            );
            let (returned, result) = conn
                .on_blocking_thread(on_step, move |c, on_step| {
                    let unrecorded = unrecorded(&catalog, &applied, &tracked);
                    with_bounded_waits(c, backend, timeout, |c| {
                        revert(c, &catalog, &plan, &unrecorded, on_step)
                    })
                })
                .await?;
            #[allow(unused_assignments)]
            {
                conn = returned;
            }
            result
        });
        let steps = self.naming_lock_holders(result).await?;
        Ok((applied, steps))
    }

    /// Behind a transaction-mode pooler every query runs in a transaction, so a migration
    /// that must run outside one (`run_in_transaction = false`) cannot: it is refused
    /// before anything runs.
    fn refuse_outside_transaction<'a>(
        &self,
        mut migrations: impl Iterator<Item = &'a crate::migration::catalog::MigrationText>,
    ) -> Result<()> {
        if !self.url.behind_pooler() {
            return Ok(());
        }
        match migrations.find(|m| !m.run_in_transaction) {
            Some(m) => Err(Error::Refused(format!(
                "migration {} must run outside a transaction (run_in_transaction = false), which cannot be done through a transaction-mode pooler ({}); nothing was changed: give the server's own URL for migrations in DIRECT_URL or --direct-url (without ?pgbouncer=true), while the bot keeps the pooled one",
                m.id.name,
                self.url.redacted()
            ))),
            None => Ok(()),
        }
    }

    /// Refuses a hot standby (a server in recovery) for a command that writes, before it
    /// does anything.
    pub async fn refuse_standby(&self) -> Result<()> {
        #[derive(diesel::QueryableByName)]
        struct Recovery {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            standby: bool,
        }
        if self.backend() != Backend::Postgres {
            return Ok(());
        }
        let standby = with_connection!(&self.pool, |conn| {
            diesel::sql_query("SELECT pg_is_in_recovery() AS standby")
                .get_result::<Recovery>(&mut *conn)
                .await
                .map_err(|e| Error::query(Doing::CheckStandby, e))?
                .standby
        });
        if standby {
            return Err(Error::Standby {
                url: self.url.redacted(),
            });
        }
        Ok(())
    }

    /// A migration that gave up waiting for a lock says which sessions hold it.
    async fn naming_lock_holders<T>(&self, result: Result<T>) -> Result<T> {
        let (action, name, statement, message, outcome) = match result {
            Err(Error::MigrationFailed {
                action,
                name,
                statement,
                message,
                outcome,
            }) if lock_timed_out(&message) => (action, name, statement, message, outcome),
            other => return other,
        };
        let held = match lock_holders(&self.pool, &self.url).await {
            Ok(holders) if holders.is_empty() => {
                "no other session holds a lock on this database's tables any more".to_string()
            }
            Ok(holders) => {
                let list: Vec<String> = holders.iter().map(ToString::to_string).collect();
                match self.backend() {
                    Backend::Mysql => {
                        format!("other sessions on this database: {}", list.join("; "))
                    }
                    _ => format!("held by {}", list.join("; ")),
                }
            }
            Err(e) => format!("the sessions holding it could not be read: {e}"),
        };
        Err(Error::MigrationFailed {
            action,
            name,
            statement,
            message: format!(
                "{message} (botdb waited {} s; {held})",
                self.lock_timeout.as_secs_f64()
            ),
            outcome,
        })
    }

    /// Reverts the newest `steps` migrations and applies them again, holding the migration
    /// lock. Runs to its end even if this future is dropped (see [`Database::migrate_with`]).
    pub async fn redo(
        &self,
        steps: usize,
        on_step: &mut (dyn FnMut(&Step) + Send),
    ) -> Result<Report> {
        self.to_the_end(on_step, move |db, events| async move {
            db.redo_locked(steps, &mut sender(events)).await
        })
        .await
    }

    async fn redo_locked(
        &self,
        steps: usize,
        on_step: &mut (dyn FnMut(&Step) + Send),
    ) -> Result<Report> {
        self.locked(async {
            let (applied, reverted) = self
                .revert_unlocked(&RevertTarget::Steps(steps), on_step)
                .await?;
            let last = <[Step]>::first(&reverted).map(|s| s.migration.version.clone());
            let report = self.apply_pending(last.as_deref(), on_step).await?;
            let current = applied.iter().max().cloned();
            Ok(Report {
                adopted: None,
                reverted,
                applied: report.applied,
                current,
            })
        })
        .await
    }

    /// The bookkeeping, creating both tables first if they do not exist (for commands
    /// that write).
    pub(crate) async fn ensure_bookkeeping(&self) -> Result<Bookkeeping> {
        if let Pool::Sqlite(pool) = &self.pool {
            return sqlite_bookkeeping(pool, true).await;
        }
        with_connection!(&self.pool, |conn| {
            conn.batch_execute(&create_sql())
                .await
                .map_err(|e| Error::query(Doing::CreateBookkeeping, e))?;
        });
        self.bookkeeping_rows(true, true).await
    }

    /// The bookkeeping as it is: a missing table reads as empty, and nothing is written.
    pub(crate) async fn read_bookkeeping(&self) -> Result<Bookkeeping> {
        if let Pool::Sqlite(pool) = &self.pool {
            return sqlite_bookkeeping(pool, false).await;
        }
        let tables = with_connection!(&self.pool, |conn| conn.tables().await?);
        let has = |name: &str| tables.iter().any(|t| t == name);
        self.bookkeeping_rows(has(BOOKKEEPING_TABLE), has(BOTDB_TABLE))
            .await
    }

    async fn bookkeeping_rows(&self, diesel_table: bool, botdb_table: bool) -> Result<Bookkeeping> {
        let (applied, tracked) = with_connection!(&self.pool, |conn| {
            let applied = if diesel_table {
                applied_rows()
                    .load::<(String, NaiveDateTime)>(&mut conn)
                    .await
                    .map_err(|e| Error::query(Doing::ReadApplied, e))?
            } else {
                Vec::new()
            };
            let tracked = if botdb_table {
                tracked_rows()
                    .load::<TrackedRow>(&mut conn)
                    .await
                    .map_err(|e| Error::query(Doing::ReadTracking, e))?
            } else {
                Vec::new()
            };
            (applied, tracked)
        });
        Ok(bookkeeping(applied, tracked))
    }

    /// Every known migration and every applied version, with dirty and edited migrations
    /// marked. Never writes: when the bookkeeping tables do not exist yet, everything is
    /// pending.
    ///
    /// A migration recorded as `running` is reported as
    /// [`State::Running`](crate::migration::status::State::Running) while another
    /// process holds the migration lock, and as dirty once no process does.
    pub async fn status(&self) -> Result<Status> {
        let catalog = self.catalog()?;
        let status = |(applied, tracked): Bookkeeping| {
            let status = Status::new(self.backend(), catalog.ids(), applied)
                .with_tracking(&tracked, catalog);
            (status, tracked)
        };
        let (read, tracked) = status(self.read_bookkeeping().await?);
        let is_running = |t: &[Tracked]| t.iter().any(|t| t.state == TrackState::Running);
        // Under our own lock nobody else can be running: a `running` row is left over.
        if self.holds_lock || !is_running(&tracked) {
            return Ok(read);
        }
        if MigrationLock::is_held(&self.pool, &self.url).await? {
            return Ok(read.running_elsewhere(&tracked));
        }
        // The owner may have finished, or a new one started, since the first read.
        let (read, tracked) = status(self.read_bookkeeping().await?);
        if is_running(&tracked) && MigrationLock::is_held(&self.pool, &self.url).await? {
            return Ok(read.running_elsewhere(&tracked));
        }
        Ok(read)
    }

    /// What a migrate up to `to` would do, from one read of the bookkeeping: whether it
    /// applies anything, and its report when it would change nothing at all (see
    /// [`Outlook`]). Never writes. Call it holding the migration lock, so the answer
    /// still holds when the migrate runs.
    pub async fn outlook(&self, to: Option<&str>) -> Result<Outlook> {
        let catalog = self.catalog()?;
        let (applied, tracked) = self.read_bookkeeping().await?;
        let applied: Vec<String> = applied.into_iter().map(|(v, _)| v).collect();
        Ok(Outlook::new(
            catalog,
            &applied,
            &tracked,
            to,
            self.run_options,
        ))
    }

    /// The live schema of the bot's tables.
    pub async fn introspect(&self) -> Result<Schema> {
        with_connection!(&self.pool, |conn| conn.schema().await)
    }
}

/// A row of botdb's table as read: `(version, checksum, state, detail)`.
type TrackedRow = (String, String, String, Option<String>);

/// The applied versions with when they ran.
fn applied_rows() -> Select<applied_table::table, (applied_table::version, applied_table::run_on)> {
    use applied_table::{run_on, table, version};
    table.select((version, run_on))
}

/// botdb's tracking rows.
fn tracked_rows() -> Select<
    botdb_table::table,
    (
        botdb_table::version,
        botdb_table::checksum,
        botdb_table::state,
        botdb_table::detail,
    ),
> {
    use botdb_table::{checksum, detail, state, table, version};
    table.select((version, checksum, state, detail))
}

fn bookkeeping(mut applied: Vec<(String, NaiveDateTime)>, tracked: Vec<TrackedRow>) -> Bookkeeping {
    applied.sort();
    (
        applied,
        tracked.into_iter().map(Tracked::from_row).collect(),
    )
}

/// The bookkeeping of a SQLite database (created first when `create`), read in one
/// blocking task on the connection's thread rather than one per statement, and without
/// listing every table to learn whether the two exist.
async fn sqlite_bookkeeping(pool: &bb8::Pool<SqliteAsync>, create: bool) -> Result<Bookkeeping> {
    let mut conn = checkout(pool, Backend::Sqlite).await?;
    conn.spawn_blocking(move |conn| Ok(sqlite_bookkeeping_on(conn, create)))
        .await
        .map_err(|e| Error::query(Doing::ReadApplied, e))?
}

fn sqlite_bookkeeping_on(conn: &mut SqliteConnection, create: bool) -> Result<Bookkeeping> {
    use diesel::connection::SimpleConnection;
    // The sync driver's `load`, named in full: diesel-async's is in scope too.
    use diesel::RunQueryDsl as SyncQuery;
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let (diesel_table, botdb_table) = if create {
        conn.batch_execute(&create_sql())
            .map_err(|e| Error::query(Doing::CreateBookkeeping, e))?;
        (true, true)
    } else {
        let query = diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)",
        )
        .bind::<diesel::sql_types::Text, _>(BOOKKEEPING_TABLE)
        .bind::<diesel::sql_types::Text, _>(BOTDB_TABLE);
        let names =
            SyncQuery::load::<Name>(query, conn).map_err(|e| Error::query(Doing::ListTables, e))?;
        let has = |table: &str| names.iter().any(|n| n.name == table);
        (has(BOOKKEEPING_TABLE), has(BOTDB_TABLE))
    };
    let applied = if diesel_table {
        SyncQuery::load::<(String, NaiveDateTime)>(applied_rows(), conn)
            .map_err(|e| Error::query(Doing::ReadApplied, e))?
    } else {
        Vec::new()
    };
    let tracked = if botdb_table {
        SyncQuery::load::<TrackedRow>(tracked_rows(), conn)
            .map_err(|e| Error::query(Doing::ReadTracking, e))?
    } else {
        Vec::new()
    };
    Ok(bookkeeping(applied, tracked))
}

/// The status of the database at `url`, guaranteed not to write: SQLite is opened
/// read-only, and a SQLite file that does not exist is not created (everything is pending).
pub async fn read_status(
    url: &DatabaseUrl,
    options: &PoolOptions,
    source: &Source,
) -> Result<Status> {
    let catalog = Arc::new(Catalog::load(source, url.backend())?);
    read_status_of(url, options, source, catalog).await
}

/// [`read_status`] against migrations already read (`catalog`, from `source`).
pub async fn read_status_of(
    url: &DatabaseUrl,
    options: &PoolOptions,
    source: &Source,
    catalog: Arc<Catalog>,
) -> Result<Status> {
    if url.sqlite_path().is_some_and(|p| !p.exists()) {
        tracing::warn!("{url} does not exist yet: every migration is pending");
        return Ok(Status::new(url.backend(), catalog.ids(), Vec::new()));
    }
    let options = PoolOptions {
        read_only: true,
        ..options.clone()
    };
    let db = Database::connect_with(url.clone(), &options).await?;
    db.with_source(source.clone())
        .with_catalog(catalog)
        .status()
        .await
}

/// The migrations `source` holds for `backend`, oldest first, without connecting.
pub fn known_migrations(source: &Source, backend: Backend) -> Result<Vec<MigrationId>> {
    Ok(Catalog::load(source, backend)?.ids())
}
