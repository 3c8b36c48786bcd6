//! The library as the bot uses it: on a current-thread runtime (plain `#[tokio::test]`),
//! through the re-exported diesel and diesel-async.

use botdb::diesel::prelude::*;
use botdb::diesel_async::RunQueryDsl;
use botdb::models::{NewUser, User};
use botdb::schema::users;
use std::time::Duration;

use botdb::{Backend, Database, Error, RevertTarget, RunOptions, Source};

use crate::support::{
    add_migration, count, recorded_versions, tracked_rows, TestDb, TestResult, VERSIONS,
};

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

/// A migration that takes seconds, in one statement: the sleep the server offers, or on
/// SQLite a long recursive count.
fn slow_up(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "CREATE TABLE slow_t (id INTEGER PRIMARY KEY);\nSELECT pg_sleep(5);\n",
        Backend::Mysql => "CREATE TABLE slow_t (id INTEGER PRIMARY KEY);\nDO SLEEP(5);\n",
        Backend::Sqlite => {
            "CREATE TABLE slow_t AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000) SELECT count(*) AS n FROM c;\n"
        }
    }
}

/// Three migrations, the middle one slow.
fn slow_history(db: &TestDb) -> Result<Source, Box<dyn std::error::Error + Send + Sync>> {
    let dir = db.scratch_dir().join("migrations");
    let table = |name: &str| format!("CREATE TABLE {name} (id INTEGER PRIMARY KEY);\n");
    add_migration(
        &dir,
        "2100-01-01-000001_first",
        &table("first_t"),
        "DROP TABLE first_t;\n",
        None,
    )?;
    add_migration(
        &dir,
        "2100-01-01-000002_slow",
        slow_up(db.backend),
        "DROP TABLE slow_t;\n",
        None,
    )?;
    add_migration(
        &dir,
        "2100-01-01-000003_last",
        &table("last_t"),
        "DROP TABLE last_t;\n",
        None,
    )?;
    Ok(Source::Dir(dir))
}

const SLOW_HISTORY: [&str; 3] = ["21000101000001", "21000101000002", "21000101000003"];

/// A second migrate, while `what` (a dropped run) still holds the lock, gives up on the
/// lock after its short timeout instead of running alongside.
async fn migrate_times_out_on_the_lock(db: &TestDb, source: &Source, what: &str) -> TestResult {
    let second = Database::connect(&db.url)
        .await?
        .with_source(source.clone())
        .with_lock_timeout(Duration::from_millis(300));
    match second.migrate().await {
        Err(Error::LockTimeout { .. }) => Ok(()),
        other => {
            Err(format!("a migrate while {what} must time out on the lock, got {other:?}").into())
        }
    }
}

/// A caller that drops a running `migrate` future (here through `tokio::time::timeout`)
/// does not release the migration lock while the migrations go on: a second migrate
/// meanwhile times out waiting for the lock instead of running alongside, and once the
/// first run ends, each migration is recorded once and as applied.
async fn dropped_migrate_keeps_the_lock(db: TestDb) -> TestResult {
    let source = slow_history(&db)?;
    // A transaction per migration, so the first one's step is reported before the slow
    // one starts.
    let first = Database::connect(&db.url)
        .await?
        .with_source(source.clone())
        .with_run_options(RunOptions {
            per_migration: true,
            allow_changed: false,
        });
    let (started, mut first_done) = tokio::sync::oneshot::channel();
    let mut started = Some(started);
    let mut on_event = |event: botdb::Event<'_>| {
        if let botdb::Event::Step(_) = event {
            if let Some(started) = started.take() {
                let _ = started.send(());
            }
        }
    };
    let mut run = Box::pin(first.migrate_with(None, &mut on_event));
    // Wait until the first migration is done, so the run holds the lock and is in the
    // slow one, then give up on it the way a caller's timeout does.
    tokio::select! {
        finished = &mut run => return Err(format!("the migrate ended before the slow migration: {finished:?}").into()),
        _ = &mut first_done => {}
    }
    let waited = tokio::time::timeout(Duration::from_millis(50), &mut run).await;
    assert!(waited.is_err(), "the slow migration was still running");
    drop(run);

    migrate_times_out_on_the_lock(&db, &source, "the dropped one still runs").await?;

    // The lock is free only once the first run has ended: then there is nothing left to do.
    let third = Database::connect(&db.url)
        .await?
        .with_source(source)
        .with_lock_timeout(Duration::from_secs(120));
    let report = third.migrate().await?;
    assert!(
        report.applied.is_empty(),
        "the dropped run applied everything before releasing the lock: {report:?}"
    );
    assert_eq!(recorded_versions(&third).await?, SLOW_HISTORY);
    for version in SLOW_HISTORY {
        let rows = count(
            &third,
            &format!(
                "SELECT COUNT(*) AS n FROM __diesel_schema_migrations WHERE version = '{version}'"
            ),
        )
        .await?;
        assert_eq!(rows, 1, "{version} is recorded once");
    }
    let states: Vec<String> = tracked_rows(&third)
        .await?
        .into_iter()
        .map(|r| r.state)
        .collect();
    assert_eq!(
        states, ["applied"; 3],
        "botdb's table records every migration as applied"
    );
    Ok(())
}

/// The same for a revert: dropping its future keeps the lock until the revert has ended.
async fn dropped_revert_keeps_the_lock(db: TestDb) -> TestResult {
    let source = slow_history(&db)?;
    // The slow migration is also slow to revert.
    let slow_dir = match &source {
        Source::Dir(dir) => dir.join("2100-01-01-000002_slow"),
        _ => unreachable!("slow_history gives a folder"),
    };
    let slow_down = slow_up(db.backend).replace("CREATE TABLE slow_t", "CREATE TABLE slow_down_t");
    std::fs::write(
        slow_dir.join("down.sql"),
        format!("DROP TABLE slow_t;\n{slow_down}"),
    )?;
    let first = Database::connect(&db.url)
        .await?
        .with_source(source.clone());
    first.migrate().await?;

    let (started, mut first_done) = tokio::sync::oneshot::channel();
    let mut started = Some(started);
    let all = RevertTarget::All;
    let mut on_step = |_: &botdb::Step| {
        if let Some(started) = started.take() {
            let _ = started.send(());
        }
    };
    let mut run = Box::pin(first.revert(&all, &mut on_step));
    tokio::select! {
        finished = &mut run => return Err(format!("the revert ended before the slow migration: {finished:?}").into()),
        _ = &mut first_done => {}
    }
    let waited = tokio::time::timeout(Duration::from_millis(50), &mut run).await;
    assert!(
        waited.is_err(),
        "the slow migration was still being reverted"
    );
    drop(run);

    migrate_times_out_on_the_lock(&db, &source, "the dropped revert still runs").await?;
    let third = Database::connect(&db.url)
        .await?
        .with_source(source)
        .with_lock_timeout(Duration::from_secs(120));
    let lock = third.lock(Duration::from_secs(120)).await?;
    lock.release().await?;
    assert!(
        recorded_versions(&third).await?.is_empty(),
        "the dropped revert reverted everything before releasing the lock"
    );
    assert!(tracked_rows(&third).await?.is_empty());
    Ok(())
}

/// A migrate dropped while it still waits for the lock has run nothing, and runs nothing
/// once the lock is free.
async fn dropped_while_waiting_for_the_lock_never_runs(db: TestDb) -> TestResult {
    let holder = Database::connect(&db.url).await?;
    let lock = holder.lock(Duration::from_secs(10)).await?;
    let waiting = Database::connect(&db.url)
        .await?
        .with_lock_timeout(Duration::from_secs(60));
    let gave_up = tokio::time::timeout(Duration::from_millis(500), waiting.migrate()).await;
    assert!(
        gave_up.is_err(),
        "the migrate waited for the lock: {gave_up:?}"
    );
    lock.release().await?;
    // Long enough for a run that went on in the background to take the lock and apply.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        recorded_versions(&holder).await?.is_empty(),
        "nothing was applied after the caller gave up"
    );
    let report = holder.migrate().await?;
    assert_eq!(report.applied.len(), VERSIONS.len());
    Ok(())
}

crate::per_backend!(
    dropped_migrate_keeps_the_lock,
    dropped_revert_keeps_the_lock,
    dropped_while_waiting_for_the_lock_never_runs
);
