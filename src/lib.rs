//! # botdb
//!
//! The database of the Telegram digital-goods shop bot: its diesel schema and models,
//! its versioned migrations for SQLite, PostgreSQL and MySQL/MariaDB (embedded in the
//! binary), and the engine that applies them over a bb8 pool of diesel-async connections.
//!
//! The bot migrates at start-up, then uses the pool with diesel-async and the models:
//!
//! ```no_run
//! use botdb::models::{NewUser, User};
//! use botdb::schema::users;
//! use diesel::prelude::*;
//! use diesel_async::RunQueryDsl;
//!
//! async fn start(url: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!     let db = botdb::Database::connect(url).await?;
//!     let report = db.migrate().await?;
//!     println!("applied {} migrations", report.applied.len());
//!     assert_eq!(db.status().await?.pending().count(), 0);
//!
//!     // The pool is an enum over the three backends; with_connection! runs the body with
//!     // a pooled connection of whichever backend it is.
//!     let ann = botdb::with_connection!(db.pool(), |conn| {
//!         let new = NewUser { telegram_id: 42, username: Some("ann"), first_name: None, last_name: None };
//!         diesel::insert_into(users::table).values(&new).execute(&mut conn).await?;
//!         users::table
//!             .filter(users::telegram_id.eq(42))
//!             .select(User::as_select())
//!             .first::<User>(&mut conn)
//!             .await?
//!     });
//!     println!("{ann:?}");
//!     Ok(())
//! }
//! ```
#![warn(missing_docs)]

pub mod admin;
pub mod adopt;
pub mod alembic;
pub mod backup;
pub mod config;
pub mod db;
pub mod drift;
pub mod error;
pub mod guard;
pub mod introspect;
pub mod lock;
pub mod migrate;
pub mod models;
pub mod run;
#[allow(missing_docs)] // table! generates one item per column
pub mod schema;
pub mod script;
pub mod seed;
pub mod sql;
pub mod statements;

use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};

pub use config::{Backend, DatabaseUrl};
pub use db::{Pool, PoolOptions};
pub use error::{Error, Result};
pub use introspect::{Introspect, Schema};
pub use migrate::{Action, MigrationId, Report, RevertTarget, Source, State, Status, Step};
pub use run::RunOptions;

/// A connected database: a pool plus the migrations that belong to its backend.
#[derive(Debug, Clone)]
pub struct Database {
    url: DatabaseUrl,
    pool: Pool,
    source: Source,
    lock_timeout: std::time::Duration,
    run_options: RunOptions,
    holds_lock: bool,
}

/// How long migrate, revert and redo wait for another process's migration lock by default.
pub const DEFAULT_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// What a migrate reports as it goes.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// An Alembic database was taken over (before any migration ran).
    Adopted(&'a adopt::Adoption),
    /// A migration finished.
    Step(&'a Step),
}

impl Database {
    /// Connects with default pool settings. Accepts every URL form [`DatabaseUrl::parse`] does.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(DatabaseUrl::parse(url)?, &PoolOptions::default()).await
    }

    /// Connects with explicit pool settings.
    pub async fn connect_with(url: DatabaseUrl, options: &PoolOptions) -> Result<Self> {
        tracing::debug!(url = %url, "connecting");
        let pool = db::connect(&url, options).await?;
        Ok(Self {
            url,
            pool,
            source: Source::Embedded,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            run_options: RunOptions::default(),
            holds_lock: false,
        })
    }

    /// How migrate splits its work into transactions, and whether it runs despite edited
    /// migrations (see [`RunOptions`]).
    pub fn with_run_options(mut self, options: RunOptions) -> Self {
        self.run_options = options;
        self
    }

    /// Waits up to `timeout` for another process's migration lock (default 60 s).
    pub fn with_lock_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// For a caller that took the migration lock itself with [`Database::lock`] (to do
    /// more under it, e.g. a backup): this handle's operations then do not take it again.
    pub fn assume_locked(mut self) -> Self {
        self.holds_lock = true;
        self
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
        let lock = self.lock(self.lock_timeout).await?;
        let result = work.await;
        let released = lock.release().await;
        let value = result?;
        released?;
        Ok(value)
    }

    /// Uses migrations from `source` instead of the embedded ones.
    pub fn with_source(mut self, source: Source) -> Self {
        self.source = source;
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

    /// The migrations this database's backend has, oldest first.
    pub fn known_migrations(&self) -> Result<Vec<MigrationId>> {
        known_migrations(&self.source, self.backend())
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<Report> {
        self.migrate_with(None, &mut |_| {}).await
    }

    /// Applies pending migrations up to and including `to` (all when `None`), calling
    /// `on_event` as it goes. Holds the migration lock throughout.
    ///
    /// A database that the Python bot's Alembic managed (it has `alembic_version` and no
    /// diesel bookkeeping) is adopted first, see [`Database::adopt`].
    pub async fn migrate_with(
        &self,
        to: Option<&str>,
        on_event: &mut (dyn FnMut(Event<'_>) + Send),
    ) -> Result<Report> {
        self.locked(async {
            let adopted = match self.alembic_revision().await? {
                Some(_) => Some(self.adopt_unlocked(false).await?),
                None => None,
            };
            if let Some(adoption) = &adopted {
                on_event(Event::Adopted(adoption));
            }
            let report = self
                .apply_pending(to, &mut |step| on_event(Event::Step(step)))
                .await?;
            Ok(Report { adopted, ..report })
        })
        .await
    }

    /// Applies pending migrations, without looking for an Alembic database to adopt.
    pub(crate) async fn apply_pending(
        &self,
        to: Option<&str>,
        on_step: &mut (dyn FnMut(&Step) + Send),
    ) -> Result<Report> {
        let backend = self.backend();
        let options = self.run_options;
        let texts = script::migration_texts(&self.source, backend)?;
        let (applied, tracked) = self.bookkeeping(true).await?;
        let applied: Vec<String> = applied.into_iter().map(|(v, _)| v).collect();
        run::preflight(&tracked, &texts, &applied, options)?;
        let known = self.known_migrations()?;
        let plan = migrate::plan_up(&known, &applied, to)?;
        let unrecorded = unrecorded(&texts, &applied, &tracked);
        let steps = with_connection!(&self.pool, |conn| {
            let migrations = self.source.migrations_as_planned(backend, &known)?;
            let mut conn = AsyncConnectionWrapper::<_>::from(conn);
            blocking(|| {
                run::apply(
                    &mut conn,
                    backend,
                    &migrations,
                    &texts,
                    &plan,
                    &unrecorded,
                    options,
                    on_step,
                )
            })?
        });
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
    pub async fn revert(
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
        let backend = self.backend();
        let (applied, tracked) = self.bookkeeping(true).await?;
        let applied: Vec<String> = applied.into_iter().map(|(v, _)| v).collect();
        // A revert only needs the database not to be dirty; edited up.sql files do not matter.
        let options = RunOptions {
            allow_changed: true,
            ..self.run_options
        };
        run::preflight(&tracked, &[], &applied, options)?;
        let known = self.known_migrations()?;
        let plan = migrate::plan_down(&known, &applied, target)?;
        let texts = script::migration_texts(&self.source, backend)?;
        let unrecorded = unrecorded(&texts, &applied, &tracked);
        let steps = with_connection!(&self.pool, |conn| {
            let migrations = self.source.migrations_as_planned(backend, &known)?;
            let mut conn = AsyncConnectionWrapper::<_>::from(conn);
            blocking(|| run::revert(&mut conn, backend, &migrations, &plan, &unrecorded, on_step))?
        });
        Ok((applied, steps))
    }

    /// Reverts the newest `steps` migrations and applies them again, holding the migration lock.
    pub async fn redo(
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

    /// The bookkeeping, creating its tables first if they do not exist.
    pub(crate) async fn bookkeeping_rows(
        &self,
    ) -> Result<(Vec<(String, chrono::NaiveDateTime)>, Vec<run::Tracked>)> {
        self.bookkeeping(true).await
    }

    /// What the bookkeeping says: the applied versions with when they ran, and botdb's
    /// tracking rows. `create` makes both tables first (for commands that write); without
    /// it a missing table reads as empty and nothing is written.
    async fn bookkeeping(
        &self,
        create: bool,
    ) -> Result<(Vec<(String, chrono::NaiveDateTime)>, Vec<run::Tracked>)> {
        use diesel::QueryDsl;
        use migrate::bookkeeping::{
            __botdb_migrations as botdb, __diesel_schema_migrations as diesel_table,
        };
        let (applied, tracked) = with_connection!(&self.pool, |conn| {
            let tables = if create {
                let sql = format!(
                    "{}\n{}",
                    diesel::migration::CREATE_MIGRATIONS_TABLE,
                    run::CREATE_BOTDB_TABLE
                );
                conn.batch_execute(&sql)
                    .await
                    .map_err(|e| Error::query("creating the bookkeeping tables", e))?;
                vec![
                    migrate::BOOKKEEPING_TABLE.to_string(),
                    run::BOTDB_TABLE.to_string(),
                ]
            } else {
                conn.tables().await?
            };
            let applied = if tables.iter().any(|t| t == migrate::BOOKKEEPING_TABLE) {
                diesel_table::table
                    .select((diesel_table::version, diesel_table::run_on))
                    .load::<(String, chrono::NaiveDateTime)>(&mut conn)
                    .await
                    .map_err(|e| Error::query("reading __diesel_schema_migrations", e))?
            } else {
                Vec::new()
            };
            let tracked = if tables.iter().any(|t| t == run::BOTDB_TABLE) {
                botdb::table
                    .select((botdb::version, botdb::checksum, botdb::state, botdb::detail))
                    .load::<run::Tracked>(&mut conn)
                    .await
                    .map_err(|e| Error::query("reading __botdb_migrations", e))?
            } else {
                Vec::new()
            };
            (applied, tracked)
        });
        Ok((applied_sorted(applied), tracked))
    }

    /// Every known migration and every applied version, with dirty and edited migrations
    /// marked. Never writes: when the bookkeeping tables do not exist yet, everything is
    /// pending.
    pub async fn status(&self) -> Result<Status> {
        let known = self.known_migrations()?;
        let (applied, tracked) = self.bookkeeping(false).await?;
        let texts = script::migration_texts(&self.source, self.backend())?;
        Ok(Status::new(self.backend(), known, applied).with_tracking(&tracked, &texts))
    }

    /// The live schema of the bot's tables.
    pub async fn introspect(&self) -> Result<Schema> {
        with_connection!(&self.pool, |conn| conn.schema().await)
    }
}

/// Creates the database if it does not exist (on a server, through its maintenance
/// database; on SQLite, the file and its folder), then migrates it. Returns whether it
/// was created.
pub async fn setup(
    url: &DatabaseUrl,
    options: &PoolOptions,
    source: &Source,
) -> Result<(bool, Database, Report)> {
    let created = !admin::exists(url).await?;
    if created {
        tracing::info!(%url, "creating the database");
        admin::create(url).await?;
    }
    let db = Database::connect_with(url.clone(), options)
        .await?
        .with_source(source.clone());
    let report = db.migrate().await?;
    Ok((created, db, report))
}

/// Drops the database (every row in it) and sets it up again. The caller confirms first.
pub async fn reset(
    url: &DatabaseUrl,
    options: &PoolOptions,
    source: &Source,
) -> Result<(Database, Report)> {
    tracing::info!(%url, "dropping the database");
    admin::drop(url).await?;
    let (_, db, report) = setup(url, options, source).await?;
    Ok((db, report))
}

/// The status of the database at `url`, guaranteed not to write: SQLite is opened
/// read-only, and a SQLite file that does not exist is not created (everything is pending).
pub async fn read_status(
    url: &DatabaseUrl,
    options: &PoolOptions,
    source: &Source,
) -> Result<Status> {
    if url.sqlite_path().is_some_and(|p| !p.exists()) {
        tracing::warn!("{url} does not exist yet: every migration is pending");
        return Ok(Status::new(
            url.backend(),
            known_migrations(source, url.backend())?,
            Vec::new(),
        ));
    }
    let options = PoolOptions {
        read_only: true,
        ..options.clone()
    };
    let db = Database::connect_with(url.clone(), &options).await?;
    db.with_source(source.clone()).status().await
}

/// The migrations `source` holds for `backend`, oldest first, without connecting.
pub fn known_migrations(source: &Source, backend: Backend) -> Result<Vec<MigrationId>> {
    // The backend type only decides which connection the migrations could run on; any will do.
    let migrations = source.migrations::<diesel::sqlite::Sqlite>(backend)?;
    Ok(migrate::ids(&migrations))
}

/// Runs diesel's synchronous migration harness on this worker thread, which
/// `block_in_place` allows only on a multi-threaded runtime: anywhere else, an error
/// instead of tokio's panic.
fn blocking<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        Ok(RuntimeFlavor::CurrentThread) => Err(Error::Runtime("current-thread")),
        Ok(_) => Err(Error::Runtime("of an unsupported flavor")),
        Err(_) => Err(Error::Runtime("missing (not inside tokio)")),
    }
}

/// Applied migrations with no checksum recorded (applied before botdb kept them, or by
/// diesel_cli, or stamped by an older botdb).
fn unrecorded<'a>(
    texts: &'a [script::MigrationText],
    applied: &[String],
    tracked: &[run::Tracked],
) -> Vec<&'a script::MigrationText> {
    texts
        .iter()
        .filter(|t| {
            applied.contains(&t.id.version) && !tracked.iter().any(|r| r.version == t.id.version)
        })
        .collect()
}

fn applied_sorted(
    mut applied: Vec<(String, chrono::NaiveDateTime)>,
) -> Vec<(String, chrono::NaiveDateTime)> {
    applied.sort();
    applied
}
