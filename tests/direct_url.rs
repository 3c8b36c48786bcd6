//! `--direct-url` / `DIRECT_URL` (Prisma's `directUrl`): the bot's URL goes through
//! PgBouncer in transaction mode (`?pgbouncer=true`); the commands that change the schema
//! connect to the server itself when given its URL, so a `run_in_transaction = false`
//! migration, refused through the pooler alone, runs.

use std::path::Path;

use botdb::Backend;

use crate::support::{
    add_migration, botdb, copy_migrations, count, outcome, pooled_url, recorded_versions, TestDb,
    TestResult, VERSIONS,
};

const OUTSIDE: &str = "2030-01-01-000000_index_outside_a_transaction";
const OUTSIDE_VERSION: &str = "20300101000000";
const INDEX: &str = "SELECT COUNT(*) AS n FROM pg_indexes WHERE indexname = 'ix_users_username'";
const ADVISORY_LOCKS: &str = "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' \
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";

/// Runs botdb on `dir`'s migrations with the pooled `url` and `extra` environment.
fn run(
    url: &str,
    dir: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> (Option<i32>, String, String) {
    let mut cmd = botdb();
    cmd.args(["--database-url", url, "--migrations-dir"])
        .arg(dir)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    outcome(&cmd.output().expect("run botdb"))
}

async fn with_index_migration(
) -> Result<(TestDb, std::path::PathBuf), Box<dyn std::error::Error + Send + Sync>> {
    let db = TestDb::create(Backend::Postgres)
        .await
        .expect("test database");
    let dir = copy_migrations(Backend::Postgres, &db.scratch_dir())?;
    add_migration(
        &dir,
        OUTSIDE,
        "CREATE INDEX CONCURRENTLY ix_users_username ON users (username);\n",
        "DROP INDEX ix_users_username;\n",
        Some("run_in_transaction = false\n"),
    )?;
    Ok((db, dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_pgbouncer), ignore = "set TEST_PGBOUNCER_URL to run it")]
async fn a_migration_outside_a_transaction_runs_through_the_direct_url() -> TestResult {
    let (db, dir) = with_index_migration().await?;
    let pooled = pooled_url(&db);
    let direct = db.connect().await;

    // Through the pooler alone: refused before anything runs, naming the way out.
    let (code, out, err) = run(&pooled, &dir, &[], &["migrate"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains(&format!(
            "migration {OUTSIDE} must run outside a transaction"
        )),
        "{err}"
    );
    assert!(err.contains("DIRECT_URL or --direct-url"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(recorded_versions(&direct).await?.is_empty());
    assert_eq!(count(&direct, INDEX).await?, 0);

    // With --direct-url: migrate runs every migration on the server itself.
    let (code, out, err) = run(&pooled, &dir, &[], &["--direct-url", &db.url, "migrate"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("migrate: 7 migrations"), "{out}");
    let mut all = VERSIONS.to_vec();
    all.push(OUTSIDE_VERSION);
    assert_eq!(recorded_versions(&direct).await?, all);
    assert_eq!(count(&direct, INDEX).await?, 1);

    // DIRECT_URL from the environment does the same for revert and migrate.
    let (code, out, err) = run(
        &pooled,
        &dir,
        &[("DIRECT_URL", &db.url)],
        &["revert", "--yes"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(recorded_versions(&direct).await?, VERSIONS);
    assert_eq!(count(&direct, INDEX).await?, 0);
    let (code, out, err) = run(&pooled, &dir, &[("DIRECT_URL", &db.url)], &["migrate"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(recorded_versions(&direct).await?, all);
    assert_eq!(count(&direct, ADVISORY_LOCKS).await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_pgbouncer), ignore = "set TEST_PGBOUNCER_URL to run it")]
async fn only_commands_that_change_the_schema_use_the_direct_url() -> TestResult {
    let (db, dir) = with_index_migration().await?;
    let pooled = pooled_url(&db);
    let direct = db.connect().await;
    // Nothing listens on port 1: a command that used this URL would fail to connect.
    let nowhere = "postgres://postgres:s3cret@127.0.0.1:1/nowhere";
    let env = [("DIRECT_URL", nowhere)];
    let (code, out, err) = run(&pooled, &dir, &env, &["migrate", "--connect-timeout", "2"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("127.0.0.1:1/nowhere"),
        "migrate connected there: {err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
    assert!(recorded_versions(&direct).await?.is_empty());

    // The bot's kind of work stays on the pooled URL: status reads, seed writes rows.
    let (code, out, err) = run(&pooled, &dir, &[], &["--direct-url", &db.url, "migrate"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, err) = run(&pooled, &dir, &env, &["status"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("7 applied, 0 pending"), "{out}");
    let (code, out, err) = run(&pooled, &dir, &env, &["seed"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(count(&direct, "SELECT COUNT(*) AS n FROM users").await?, 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_pgbouncer), ignore = "set TEST_PGBOUNCER_URL to run it")]
async fn a_direct_url_through_the_pooler_or_to_another_backend_is_refused() -> TestResult {
    let (db, dir) = with_index_migration().await?;
    let pooled = pooled_url(&db);
    let direct = db.connect().await;
    let through_pooler = pooled.replace("postgres@", "postgres:s3cret@");
    for (given, expected) in [
        (through_pooler.as_str(), "remove ?pgbouncer=true"),
        (
            "sqlite://shop.sqlite3",
            "names a sqlite database but the database URL",
        ),
    ] {
        let (code, out, err) = run(&pooled, &dir, &[("DIRECT_URL", given)], &["migrate"]);
        assert_eq!(code, Some(2), "{out}{err}");
        assert!(
            err.contains("DIRECT_URL") && err.contains(expected),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(!dir.join("shop.sqlite3").exists() && !Path::new("shop.sqlite3").exists());
    }
    assert!(recorded_versions(&direct).await?.is_empty());
    Ok(())
}
