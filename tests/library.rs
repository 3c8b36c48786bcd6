//! The library as the bot uses it: on a current-thread runtime (plain `#[tokio::test]`),
//! through the re-exported diesel and diesel-async.

use botdb::diesel::prelude::*;
use botdb::diesel_async::RunQueryDsl;
use botdb::models::{NewUser, User};
use botdb::schema::users;
use botdb::{Backend, Database, RevertTarget};

use crate::support::{TestDb, TestResult, VERSIONS};

/// Migrates from empty, queries, reverts one and migrates again, all on the test's own
/// current-thread runtime.
async fn migrate_and_query(db: TestDb) -> TestResult {
    assert_eq!(
        tokio::runtime::Handle::current().runtime_flavor(),
        tokio::runtime::RuntimeFlavor::CurrentThread
    );
    let database = Database::connect(&db.url).await?;
    let mut steps = Vec::new();
    let report = database
        .migrate_with(None, &mut |event| {
            if let botdb::Event::Step(step) = event {
                steps.push(step.migration.version.clone());
            }
        })
        .await?;
    assert_eq!(report.applied.len(), VERSIONS.len());
    assert_eq!(steps, VERSIONS, "on_step saw every migration, in order");
    let ann = botdb::with_connection!(database.pool(), |conn| {
        let new = NewUser {
            telegram_id: 42,
            username: Some("ann"),
            first_name: None,
            last_name: None,
        };
        botdb::diesel::insert_into(users::table)
            .values(&new)
            .execute(&mut conn)
            .await?;
        users::table
            .filter(users::telegram_id.eq(42))
            .select(User::as_select())
            .first::<User>(&mut conn)
            .await?
    });
    assert_eq!(ann.username.as_deref(), Some("ann"));

    let reverted = database
        .revert(&RevertTarget::Steps(1), &mut |_| {})
        .await?;
    assert_eq!(reverted.reverted.len(), 1);
    assert_eq!(database.status().await?.pending().count(), 1);
    let again = database.migrate().await?;
    assert_eq!(again.applied.len(), 1);
    assert_eq!(database.status().await?.pending().count(), 0);
    let users = botdb::with_connection!(database.pool(), |conn| {
        users::table.count().get_result::<i64>(&mut conn).await?
    });
    assert_eq!(
        users, 1,
        "the user survived reverting and re-applying the newest migration"
    );
    Ok(())
}

#[tokio::test]
async fn current_thread_sqlite() {
    crate::support::run(Backend::Sqlite, migrate_and_query).await
}

#[tokio::test]
#[cfg_attr(not(botdb_test_postgres), ignore = "set TEST_POSTGRES_URL to run it")]
async fn current_thread_postgres() {
    crate::support::run(Backend::Postgres, migrate_and_query).await
}

#[tokio::test]
#[cfg_attr(not(botdb_test_mysql), ignore = "set TEST_MYSQL_URL to run it")]
async fn current_thread_mysql() {
    crate::support::run(Backend::Mysql, migrate_and_query).await
}

#[tokio::test]
async fn in_memory_sqlite_is_refused() {
    for url in ["sqlite://:memory:", "sqlite::memory:", ":memory:"] {
        let err = Database::connect(url)
            .await
            .expect_err("an in-memory database is refused")
            .to_string();
        assert!(
            err.contains("in-memory") && err.contains("use a file"),
            "{url}: {err}"
        );
    }
}
