//! Through PgBouncer 1.18 in `pool_mode = transaction` (`?pgbouncer=true`): every command,
//! eight concurrent migrates, a migrate killed with SIGKILL, and the bot's queries through
//! the library's pool.

use std::process::{Command, Stdio};
use std::time::Duration;

use botdb::{Backend, Database, PoolOptions};

use crate::support::run_url as run;
use crate::support::{pooled_url, recorded_versions, TestDb, TestResult, VERSIONS};

async fn postgres() -> TestDb {
    TestDb::create(Backend::Postgres)
        .await
        .expect("test database")
}

fn ok(url: &str, args: &[&str]) -> String {
    let (code, out, err) = run(url, args);
    assert_eq!(
        code,
        Some(0),
        "botdb {args:?} through the pooler: {out}{err}"
    );
    assert!(!err.contains("prepared statement"), "{err}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_pgbouncer), ignore = "set TEST_PGBOUNCER_URL to run it")]
async fn every_command_works_through_the_pooler() -> TestResult {
    let db = postgres().await;
    let url = pooled_url(&db);
    let direct = db.connect_direct().await;
    assert!(ok(&url, &["migrate"]).contains("migrate: 6 migrations"));
    assert_eq!(recorded_versions(&direct).await?, VERSIONS);
    assert!(ok(&url, &["status"]).contains("6 applied, 0 pending"));
    ok(&url, &["status", "--check"]);
    ok(&url, &["seed"]);
    let users = crate::support::count(&direct, "SELECT COUNT(*) AS n FROM users").await?;
    assert_eq!(users, 2);
    ok(&url, &["check"]);
    ok(&url, &["revert", "--yes", "--steps", "2"]);
    assert_eq!(recorded_versions(&direct).await?, VERSIONS[..4]);
    assert!(ok(&url, &["print-sql"]).contains("migrate, 2 migrations"));
    ok(&url, &["redo", "--yes"]);
    // The schema stays at VERSIONS[3]: recording VERSIONS[2] needs --force.
    ok(&url, &["stamp", "--force", VERSIONS[2]]);
    assert_eq!(recorded_versions(&direct).await?, VERSIONS[..3]);
    ok(&url, &["stamp", "--force", VERSIONS[3]]);
    ok(&url, &["migrate"]);
    assert_eq!(recorded_versions(&direct).await?, VERSIONS);
    ok(&url, &["revert", "--yes", "--all"]);
    ok(&url, &["migrate", "--transaction-per-migration"]);
    assert_eq!(recorded_versions(&direct).await?, VERSIONS);
    ok(&url, &["verify"]);
    ok(&url, &["reset", "--yes"]);
    assert_eq!(recorded_versions(&direct).await?, VERSIONS);
    // Every lock botdb took through the pooler was released.
    assert_eq!(
        crate::support::count(
            &direct,
            "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        .await?,
        0
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_pgbouncer), ignore = "set TEST_PGBOUNCER_URL to run it")]
async fn eight_concurrent_migrates_apply_each_migration_once() -> TestResult {
    let db = postgres().await;
    let url = pooled_url(&db);
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(assert_cmd::cargo::cargo_bin("botdb"))
                .args(["--database-url", &url, "migrate"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn botdb")
        })
        .collect();
    let mut applied = 0;
    for child in children {
        let out = child.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        applied += stdout.lines().filter(|l| l.starts_with("applied ")).count();
    }
    assert_eq!(
        applied,
        VERSIONS.len(),
        "each migration applied exactly once"
    );
    let direct = db.connect_direct().await;
    assert_eq!(recorded_versions(&direct).await?, VERSIONS);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_pgbouncer), ignore = "set TEST_PGBOUNCER_URL to run it")]
async fn a_migrate_killed_with_sigkill_leaves_no_lock() -> TestResult {
    let db = postgres().await;
    let url = pooled_url(&db);
    let dir = crate::support::copy_migrations(Backend::Postgres, &db.scratch_dir())?;
    crate::support::add_migration(
        &dir,
        "2030-01-01-000000_slow",
        "SELECT pg_sleep(60);",
        "SELECT 1;",
        None,
    )?;
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("botdb"))
        .args(["--database-url", &url, "--migrations-dir"])
        .arg(&dir)
        .arg("migrate")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let direct = db.connect_direct().await;
    let held = "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted \
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    let mut seen = false;
    for _ in 0..200 {
        if crate::support::count(&direct, held).await? > 0 {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "the first migrate never took the lock");
    // Kill it by its own pid (SIGKILL: no cleanup of any kind).
    Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()?;
    child.wait()?;
    let (code, out, err) = run(
        &url,
        &[
            "--migrations-dir",
            &dir.display().to_string(),
            "--lock-timeout",
            "20",
            "migrate",
            "--to",
            VERSIONS[5],
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(recorded_versions(&direct).await?, VERSIONS);
    assert_eq!(crate::support::count(&direct, held).await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(botdb_test_pgbouncer), ignore = "set TEST_PGBOUNCER_URL to run it")]
async fn the_bots_queries_run_10000_times_on_16_tasks() -> TestResult {
    use botdb::schema::users;
    use diesel::{ExpressionMethods, QueryDsl};
    use diesel_async::RunQueryDsl;

    let db = postgres().await;
    let url = pooled_url(&db);
    ok(&url, &["migrate"]);
    let options = PoolOptions {
        max_size: 16,
        ..PoolOptions::default()
    };
    let pooled = Database::connect_with(botdb::DatabaseUrl::parse(&url)?, &options).await?;
    let mut tasks = Vec::new();
    for task in 0..16_i64 {
        let pooled = pooled.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..625_i64 {
                let id = task * 1_000_000 + i;
                let found: botdb::Result<i64> = async {
                    Ok(botdb::with_connection!(pooled.pool(), |conn| {
                        if i % 25 == 0 {
                            diesel::insert_into(users::table)
                                .values(users::telegram_id.eq(id))
                                .execute(&mut conn)
                                .await
                                .map_err(|e| botdb::Error::Refused(e.to_string()))?;
                        }
                        users::table
                            .filter(users::telegram_id.eq(task * 1_000_000))
                            .count()
                            .get_result::<i64>(&mut conn)
                            .await
                            .map_err(|e| botdb::Error::Refused(e.to_string()))?
                    }))
                }
                .await;
                let found = found.map_err(|e| format!("task {task}, iteration {i}: {e}"))?;
                assert_eq!(found, 1);
            }
            Ok::<_, String>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let direct = db.connect_direct().await;
    assert_eq!(
        crate::support::count(&direct, "SELECT COUNT(*) AS n FROM users").await?,
        16 * 25
    );
    Ok(())
}

/// Through the pooler a `with_connection!` body is one transaction, and PostgreSQL aborts a
/// transaction at its first failed query. A query the bot expects may fail (a duplicate)
/// goes in `conn.transaction(…)`, a savepoint there, and the body goes on; a body that
/// swallows a failed query outside one gets an error, not a commit that silently kept
/// none of its writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_pgbouncer), ignore = "set TEST_PGBOUNCER_URL to run it")]
async fn a_failed_query_in_a_pooled_body_is_never_committed_silently() -> TestResult {
    use botdb::schema::users;
    use diesel::ExpressionMethods;
    use diesel_async::{AsyncConnection, RunQueryDsl};
    use scoped_futures::ScopedFutureExt;

    let db = postgres().await;
    let url = pooled_url(&db);
    ok(&url, &["migrate"]);
    let pooled = Database::connect(&url).await?;
    let direct = db.connect_direct().await;
    let users = |n: i64| format!("SELECT COUNT(*) AS n FROM users WHERE telegram_id = {n}");
    let refused = |e: diesel::result::Error| botdb::Error::Refused(e.to_string());

    // The duplicate in a savepoint: refused, and the body's other writes are committed.
    let duplicate_refused: botdb::Result<bool> = async {
        Ok(botdb::with_connection!(pooled.pool(), |conn| {
            for id in [1_i64, 2] {
                diesel::insert_into(users::table)
                    .values(users::telegram_id.eq(id))
                    .execute(&mut conn)
                    .await
                    .map_err(refused)?;
            }
            let again = conn
                .transaction(savepoint(&conn, |c| {
                    async move {
                        diesel::insert_into(users::table)
                            .values(users::telegram_id.eq(1_i64))
                            .execute(c)
                            .await
                    }
                    .scope_boxed()
                }))
                .await;
            diesel::insert_into(users::table)
                .values(users::telegram_id.eq(3_i64))
                .execute(&mut conn)
                .await
                .map_err(refused)?;
            again.is_err()
        }))
    }
    .await;
    assert!(duplicate_refused?);
    for id in [1, 2, 3] {
        assert_eq!(crate::support::count(&direct, &users(id)).await?, 1);
    }

    // The duplicate swallowed outside a savepoint: the body "succeeds", the commit does not.
    let swallowed: botdb::Result<()> = async {
        botdb::with_connection!(pooled.pool(), |conn| {
            diesel::insert_into(users::table)
                .values(users::telegram_id.eq(4_i64))
                .execute(&mut conn)
                .await
                .map_err(refused)?;
            let _ = diesel::insert_into(users::table)
                .values(users::telegram_id.eq(1_i64))
                .execute(&mut conn)
                .await;
        });
        Ok(())
    }
    .await;
    let e = swallowed.expect_err("an aborted transaction is not reported as committed");
    assert!(
        e.to_string().contains(
            "current transaction is aborted, commands ignored until end of transaction block; \
             the transaction was rolled back, so none of its writes were kept"
        ),
        "{e}"
    );
    assert_eq!(crate::support::count(&direct, &users(4)).await?, 0);
    // The pool's connections are fine afterwards.
    assert_eq!(crate::support::count(&pooled, &users(1)).await?, 1);
    Ok(())
}

/// Types a transaction's body for `conn`'s connection type, which inside `with_connection!`
/// differs per backend and cannot be written out.
fn savepoint<'a, C, F>(_conn: &C, body: F) -> F
where
    F: for<'r> FnOnce(
        &'r mut C,
    ) -> scoped_futures::ScopedBoxFuture<'a, 'r, diesel::QueryResult<usize>>,
{
    body
}
