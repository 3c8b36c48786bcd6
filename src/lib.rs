//! # botdb
//!
//! The database of the Telegram digital-goods shop bot: its diesel schema and models,
//! its versioned migrations for SQLite, PostgreSQL and MySQL/MariaDB (embedded in the
//! binary), and the engine that applies them over a bb8 pool of diesel-async connections.
//!
//! The bot migrates at start-up, then uses the pool with diesel-async and the models.
//! [`Database::from_env`] finds the database as the `botdb` command does (`.env`,
//! `DATABASE_URL`, `DB_URL`, `botdb.toml`); [`Database::connect`] takes a URL. botdb
//! re-exports the [`diesel`] and [`diesel_async`] it is built with, so the bot's queries
//! use the same versions without pinning them:
//!
//! ```no_run
//! use botdb::diesel::prelude::*;
//! use botdb::diesel_async::RunQueryDsl;
//! use botdb::models::{NewUser, User};
//! use botdb::schema::users;
//!
//! async fn start() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!     let db = botdb::Database::from_env().await?;
//!     let report = db.migrate().await?;
//!     println!("applied {} migrations", report.applied.len());
//!     assert_eq!(db.status().await?.pending().count(), 0);
//!
//!     // The pool is an enum over the three backends; with_connection! runs the body with
//!     // a pooled connection of whichever backend it is.
//!     let ann = botdb::with_connection!(db.pool(), |conn| {
//!         let new = NewUser { telegram_id: 42, username: Some("ann"), first_name: None, last_name: None };
//!         botdb::diesel::insert_into(users::table).values(&new).execute(&mut conn).await?;
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
//!
//! Any tokio runtime will do, the current-thread one of `#[tokio::main(flavor =
//! "current_thread")]` and `#[tokio::test]` included: diesel's synchronous migration
//! harness runs on tokio's blocking thread pool with a connection taken out of the pool.
//!
//! SQLite databases are files: `sqlite://:memory:` is refused, since every pooled
//! connection would get its own empty database. Tests use a temporary file.
//!
//! ## Where things live
//!
//! - [`migration`]: the engine (catalogue, bookkeeping, planning, applying, reverting),
//!   on any diesel connection, with no knowledge of pools.
//! - [`db`]: connections (the [`Pool`] enum over the three backends), creating and
//!   dropping databases, and the migration lock.
//! - [`introspect`]: the live schema, one file per backend, and comparing schemas.
//! - [`Database`] ([`database`]): a pool plus its migrations, and the core operations.
//! - [`ops`]: the features built on it (adopt, check, backups, seed, print-sql, …).
//! - [`model`]: the declared schema, the one source of truth: [`model::bot`] is the bot's.
//! - [`backend`]: every fact about each backend; [`config`]: URLs and `.env`.
#![warn(missing_docs)]

pub mod backend;
pub mod checksum;
pub mod config;
pub mod database;
pub mod db;
pub mod error;
pub mod introspect;
pub mod migration;
pub mod model;
pub mod models;
pub mod ops;
#[allow(missing_docs)] // table! generates one item per column
pub mod schema;
pub mod sql;

/// The diesel botdb is built with, for queries on [`Database::pool`].
pub use diesel;
/// The diesel-async botdb is built with (`RunQueryDsl`, `AsyncConnection`, …).
pub use diesel_async;

pub use backend::Backend;
pub use config::DatabaseUrl;
pub use database::{known_migrations, read_status, Database, DEFAULT_LOCK_TIMEOUT};
pub use db::lock::MigrationLock;
pub use db::{Pool, PoolOptions};
pub use error::{Error, Result};
pub use introspect::{Introspect, Schema};
pub use migration::{
    Action, MigrationId, Report, RevertTarget, RunOptions, Source, State, Status, Step,
};
pub use ops::migrate::Event;
pub use ops::setup::{reset, setup};
