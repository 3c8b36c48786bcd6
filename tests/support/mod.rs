//! What the integration tests share: a fresh database per test and backend
//! ([`per_backend!`], [`run`]) and the helpers in the submodules, re-exported here.

use std::future::Future;

use botdb::Backend;

mod cli;
mod data;
mod db;
mod files;
mod sql;

pub use cli::{botdb, run_botdb};
pub use data::{check_content, insert_batch};
pub use db::{server_url, with_database, TestDb};
pub use files::{add_migration, apply_with_client, copy_migrations};
pub use sql::{bot_tables, count, execute, recorded_versions, row_counts, tracked_as_applied};

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// The migrations every backend has, oldest first, as diesel records them.
pub const VERSIONS: [&str; 6] = [
    "20241220105908",
    "20241220144707",
    "20241220215903",
    "20241226132844",
    "20261125100000",
    "20261125100100",
];

/// The bot's tables.
pub const BOT_TABLES: [&str; 4] = ["categories", "products", "purchases", "users"];

/// Runs `test` on a fresh database of `backend`, or reports it skipped.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = TestResult>,
{
    if let Some(db) = TestDb::create(backend).await {
        if let Err(e) = test(db).await {
            panic!("{backend}: {e}");
        }
    }
}

/// Generates a `sqlite`, `postgres` and `mysql` test for each async fn named:
/// `per_backend!(fn_a, fn_b)`. A backend list before a `;` generates only those:
/// `per_backend!(sqlite, postgres; fn_a, fn_b)`.
#[macro_export]
macro_rules! per_backend {
    ($($backend:ident),+ ; $($test:ident),* $(,)?) => {
        $crate::per_backend!(@each [$($backend),+] $($test),*);
    };
    ($($test:ident),* $(,)?) => {
        $crate::per_backend!(sqlite, postgres, mysql; $($test),*);
    };
    (@each $backends:tt $($test:ident),*) => {$(
        $crate::per_backend!(@module $test $backends);
    )*};
    (@module $test:ident [$($backend:ident),+]) => {
        mod $test {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $backend() {
                $crate::support::run($crate::per_backend!(@backend $backend), super::$test).await
            }
        )+}
    };
    (@backend sqlite) => {
        botdb::Backend::Sqlite
    };
    (@backend postgres) => {
        botdb::Backend::Postgres
    };
    (@backend mysql) => {
        botdb::Backend::Mysql
    };
    (@backend $other:ident) => {
        compile_error!(concat!(
            "per_backend!: unknown backend `",
            stringify!($other),
            "` (sqlite, postgres or mysql)"
        ))
    };
}
