//! A database `botdb migrate` made serves the Python bot's SQLAlchemy models unchanged:
//! the same tables, column names, nullability and unique constraints as the DDL those
//! models create (tests/fixtures, copied from shared/fixtures/python-bot).

use std::collections::BTreeSet;

use botdb::{Backend, Schema};

use crate::support::{execute, TestDb, TestResult, BOT_TABLES};

type Shape = Vec<(String, BTreeSet<(String, bool)>, BTreeSet<Vec<String>>)>;

/// Per table: (column, nullable) pairs and the column lists of unique constraints.
pub fn shape(schema: &Schema) -> Shape {
    BOT_TABLES
        .iter()
        .map(|&table| {
            let t = &schema.table(table).expect("table");
            let columns = t
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.nullable))
                .collect();
            let uniques = t.uniques.iter().map(|u| u.columns.clone()).collect();
            (table.to_string(), columns, uniques)
        })
        .collect()
}

async fn compare(backend: Backend, fixture: &str) -> TestResult {
    let ours = TestDb::create(backend).await.ok_or("database")?;
    let theirs = TestDb::create(backend).await.ok_or("database")?;
    let ours = ours.connect().await;
    ours.migrate().await?;
    let python = theirs.connect().await;
    execute(&python, fixture).await?;
    assert_eq!(
        shape(&ours.introspect().await?),
        shape(&python.introspect().await?),
        "{backend}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_matches_the_python_models() -> TestResult {
    compare(Backend::Sqlite, include_str!("fixtures/sqlite.sql")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_postgres), ignore = "set TEST_POSTGRES_URL to run it")]
async fn postgres_matches_the_python_models() -> TestResult {
    compare(Backend::Postgres, include_str!("fixtures/postgres.sql")).await
}
