//! What the integration tests share: a fresh database per test and backend
//! ([`per_backend!`], [`run`]) and the helpers in the submodules, re-exported here.

use std::future::Future;

use botdb::Backend;

mod cli;
mod data;
mod db;
mod files;
mod sql;
mod topology;

pub use cli::{botdb, outcome, run_botdb, run_url};
pub use data::{check_content, insert_batch};
pub use db::{required_server_url, server_url, with_database, TestDb};
pub use files::{add_migration, apply_with_client, copy_migrations};
pub use sql::{
    bot_tables, count, execute, recorded_versions, row_counts, tracked_as_applied, tracked_rows,
};
pub use topology::{pooled_url, standby_url};

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

// Under CI every server test must run: a missing variable stops the build of the tests
// (build.rs turns the variables into these cfgs).
#[cfg(all(botdb_ci, not(botdb_test_postgres)))]
compile_error!("CI is set but TEST_POSTGRES_URL is not, so the PostgreSQL tests would not run: set it, e.g. TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres (see Testing in README.md)");
#[cfg(all(botdb_ci, not(botdb_test_mysql)))]
compile_error!("CI is set but TEST_MYSQL_URL is not, so the MariaDB/MySQL tests would not run: set it, e.g. TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/mysql (see Testing in README.md)");

/// Runs `test` on a fresh database of `backend`.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = TestResult>,
{
    let db = TestDb::create(backend)
        .await
        .expect("TestDb::create always returns a database");
    if let Err(e) = test(db).await {
        panic!("{backend}: {e}");
    }
}

/// Generates a `sqlite`, `postgres` and `mysql` test for each async fn named:
/// `per_backend!(fn_a, fn_b)`. A backend list before a `;` generates only those:
/// `per_backend!(sqlite, postgres; fn_a, fn_b)`. The `postgres` and `mysql` tests are
/// ignored (reported so by `cargo test`) when TEST_POSTGRES_URL / TEST_MYSQL_URL were not
/// set when the tests were built.
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
            $crate::per_backend!(@test $backend $test);
        )+}
    };
    (@test sqlite $test:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sqlite() {
            $crate::support::run(botdb::Backend::Sqlite, super::$test).await
        }
    };
    (@test postgres $test:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[cfg_attr(not(botdb_test_postgres), ignore = "set TEST_POSTGRES_URL to run it")]
        async fn postgres() {
            $crate::support::run(botdb::Backend::Postgres, super::$test).await
        }
    };
    (@test mysql $test:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[cfg_attr(not(botdb_test_mysql), ignore = "set TEST_MYSQL_URL to run it")]
        async fn mysql() {
            $crate::support::run(botdb::Backend::Mysql, super::$test).await
        }
    };
    (@test $other:ident $test:ident) => {
        $crate::per_backend!(@backend $other);
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
