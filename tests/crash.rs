//! A migrate process that dies in the middle of a long data migration: killed with
//! SIGKILL (no chance to clean up) or stopped with SIGTERM. On PostgreSQL and SQLite the
//! whole run is one transaction, so the database is either exactly as before or exactly
//! as after, never in between, and the next migrate finishes the job.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use botdb::{Backend, Database};
use diesel::sql_types::BigInt;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;

use crate::per_backend;
use crate::support::{count, execute, recorded_versions, TestDb, TestResult, VERSIONS};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The extra migration: rewrites every purchase.
const SLOW: &str = "2030-01-01-000000_slow_fill";
const SLOW_VERSION: &str = "20300101000000";
const SLOW_UP: &str = "-- Rewrites every purchase: a long data migration.\n\
                       UPDATE purchases SET payment_type = payment_type || '-x';\n";
const SLOW_DOWN: &str = "UPDATE purchases \
                         SET payment_type = substr(payment_type, 1, length(payment_type) - 2) \
                         WHERE payment_type LIKE '%-x';\n";
/// What identifies the slow migration's statement in `pg_stat_activity`.
const SLOW_STATEMENT: &str = "SET payment_type = payment_type || '-x'";

/// How long any one wait may take.
const LIMIT: Duration = Duration::from_secs(60);

/// Purchases to fill in. On a loaded 2-core test machine PostgreSQL inserts or rewrites
/// only ~25,000-70,000 of these rows a second (four indexes, two foreign keys, the
/// updated_at trigger), and a killed client's backend finishes its statement before it
/// rolls back, so a million rows would cost 15-30 s per pass, several passes per test;
/// 150,000 keep the slow migration at a few seconds. SQLite (rollback journal, the
/// default botdb keeps) takes the full million: ~8 s to fill and ~6 s to rewrite.
fn rows(backend: Backend) -> i64 {
    match backend {
        Backend::Postgres => 150_000,
        _ => 1_000_000,
    }
}

// SQLite and PostgreSQL only: MySQL commits DDL as it goes, so an interrupted run there
// leaves the database dirty (see tests/safety.rs).
per_backend!(
    sqlite, postgres;
    killed_with_sigkill_mid_migration,
    stopped_with_sigterm_mid_migration
);

/// A summary of every purchase's content that changes when any row does (updated_at
/// aside, which the trigger stamps), computed the same way on every backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
struct Purchases {
    #[diesel(sql_type = BigInt)]
    rows: i64,
    #[diesel(sql_type = BigInt)]
    ids: i64,
    #[diesel(sql_type = BigInt)]
    prices: i64,
    #[diesel(sql_type = BigInt)]
    refs: i64,
    #[diesel(sql_type = BigInt)]
    payment_ids: i64,
    /// Total length of payment_type.
    #[diesel(sql_type = BigInt)]
    type_length: i64,
    /// Sum of id × length(payment_type): which rows are longer, not just how many.
    #[diesel(sql_type = BigInt)]
    type_by_id: i64,
    /// Rows whose payment_type is as filled in.
    #[diesel(sql_type = BigInt)]
    untouched: i64,
    /// Rows whose payment_type was rewritten exactly once.
    #[diesel(sql_type = BigInt)]
    rewritten_once: i64,
}

impl Purchases {
    async fn of(db: &Database) -> Result<Purchases, Error> {
        const SQL: &str = "SELECT \
             COUNT(*) AS rows, \
             CAST(COALESCE(SUM(id), 0) AS BIGINT) AS ids, \
             CAST(COALESCE(SUM(price), 0) AS BIGINT) AS prices, \
             CAST(COALESCE(SUM(user_id * 1000 + product_id), 0) AS BIGINT) AS refs, \
             CAST(COALESCE(SUM(LENGTH(payment_id)), 0) AS BIGINT) AS payment_ids, \
             CAST(COALESCE(SUM(LENGTH(payment_type)), 0) AS BIGINT) AS type_length, \
             CAST(COALESCE(SUM(id * LENGTH(payment_type)), 0) AS BIGINT) AS type_by_id, \
             CAST(COALESCE(SUM(CASE WHEN payment_type IN ('card', 'crypto', 'stars') \
                  THEN 1 ELSE 0 END), 0) AS BIGINT) AS untouched, \
             CAST(COALESCE(SUM(CASE WHEN payment_type IN ('card-x', 'crypto-x', 'stars-x') \
                  THEN 1 ELSE 0 END), 0) AS BIGINT) AS rewritten_once \
             FROM purchases";
        botdb::with_connection!(db.pool(), |conn| {
            Ok(diesel::sql_query(SQL)
                .get_result::<Purchases>(&mut conn)
                .await?)
        })
    }

    /// The same purchases after the slow migration rewrote each of them once.
    fn migrated(self) -> Purchases {
        Purchases {
            type_length: self.type_length + 2 * self.rows,
            type_by_id: self.type_by_id + 2 * self.ids,
            untouched: 0,
            rewritten_once: self.rows,
            ..self
        }
    }
}

/// A fully migrated database with `rows(backend)` purchases, and a copy of the backend's
/// migrations plus the slow one.
struct Setup {
    db: Database,
    dir: PathBuf,
    before: Purchases,
    schema: botdb::Schema,
}

async fn setup(t: &TestDb) -> Result<Setup, Error> {
    let db = t.connect().await;
    db.migrate().await?;
    let n = rows(t.backend);
    let series = |limit: i64| match t.backend {
        Backend::Postgres => format!("generate_series(1, {limit}) AS s(g)"),
        _ => format!(
            "(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {limit}) \
             SELECT g FROM s) AS s"
        ),
    };
    let start = Instant::now();
    execute(
        &db,
        &format!(
            "INSERT INTO users (telegram_id, username) SELECT 5000 + g, 'user ' || g FROM {};\n\
             INSERT INTO categories (category_name) VALUES ('Games');\n\
             INSERT INTO products (name, description, price, category_id, hidden_content) \
             SELECT 'Product ' || g, 'About ' || g, 100 * g, 1, 'Secret ' || g FROM {};\n\
             INSERT INTO purchases (user_id, product_id, price, payment_id, payment_type) \
             SELECT 1 + g % 100, 1 + g % 10, g % 997, 'pay-' || g, \
                    CASE g % 3 WHEN 0 THEN 'card' WHEN 1 THEN 'crypto' ELSE 'stars' END \
             FROM {};",
            series(100),
            series(10),
            series(n)
        ),
    )
    .await?;
    eprintln!(
        "{}: filled {n} purchases in {:.1} s",
        t.backend,
        start.elapsed().as_secs_f64()
    );
    let before = Purchases::of(&db).await?;
    assert_eq!(before.rows, n);
    assert_eq!(before.untouched, n, "{before:?}");
    assert_eq!(before.ids, n * (n + 1) / 2, "ids 1..=n: {before:?}");

    let dir = crate::support::copy_migrations(t.backend, &t.scratch_dir())?;
    let slow = dir.join(SLOW);
    std::fs::create_dir_all(&slow)?;
    std::fs::write(slow.join("up.sql"), SLOW_UP)?;
    std::fs::write(slow.join("down.sql"), SLOW_DOWN)?;
    let schema = db.introspect().await?;
    assert_eq!(recorded_versions(&db).await?, VERSIONS);
    Ok(Setup {
        db,
        dir,
        before,
        schema,
    })
}

/// `botdb migrate` as a child process of our own, so it can be killed.
fn spawn_migrate(t: &TestDb, dir: &Path) -> Result<Child, Error> {
    Ok(Command::new(assert_cmd::cargo::cargo_bin("botdb"))
        .args(["--database-url", &t.url, "--migrations-dir"])
        .arg(dir)
        // The SQLite backup (VACUUM INTO plus a digest of the 120 MB file) would add ~6 s
        // per run in a debug build; it is not what these tests are about.
        .args(["migrate", "--no-backup"])
        .env_remove("DATABASE_URL")
        .env_remove("DB_URL")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?)
}

/// Runs `botdb migrate` to the end (at most LIMIT).
async fn run_migrate(t: &TestDb, dir: &Path) -> Result<(Output, Duration), Error> {
    let start = Instant::now();
    let mut child = spawn_migrate(t, dir)?;
    wait_exit(&mut child, LIMIT).await?;
    Ok((child.wait_with_output()?, start.elapsed()))
}

/// Waits up to `limit` for the child to exit; kills it and fails after that.
async fn wait_exit(child: &mut Child, limit: Duration) -> Result<ExitStatus, Error> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("botdb did not exit within {} s", limit.as_secs()).into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn journal(t: &TestDb) -> Result<PathBuf, Error> {
    let path = t.sqlite_path().ok_or("no sqlite path")?;
    Ok(PathBuf::from(format!("{}-journal", path.display())))
}

/// Other sessions on this PostgreSQL database that are running the slow statement.
async fn slow_statements_running(db: &Database) -> Result<i64, Error> {
    count(
        db,
        &format!(
            "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%{}%'",
            SLOW_STATEMENT.replace('\'', "''")
        ),
    )
    .await
}

/// Waits until the child is inside the slow migration's UPDATE, well under way: on
/// PostgreSQL the statement is running; on SQLite the rollback journal (which exists
/// only inside a write transaction) already holds several MiB of original pages.
/// Fails if the child exits first: then the migration is too short to interrupt.
async fn wait_mid_migration(t: &TestDb, db: &Database, child: &mut Child) -> TestResult {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Err(format!(
                "botdb exited ({status}) before it could be interrupted: the slow migration is too short on this machine (raise rows())"
            )
            .into());
        }
        let inside = match t.backend {
            Backend::Postgres => slow_statements_running(db).await? > 0,
            _ => std::fs::metadata(journal(t)?).is_ok_and(|m| m.len() > 4 << 20),
        };
        if inside {
            eprintln!(
                "{}: the slow migration is under way {:.1} s after spawning",
                t.backend,
                start.elapsed().as_secs_f64()
            );
            // Let it get a little further into the table.
            tokio::time::sleep(Duration::from_millis(100)).await;
            if child.try_wait()?.is_some() {
                return Err("botdb finished before it could be interrupted: the slow migration is too short on this machine (raise rows())".into());
            }
            return Ok(());
        }
        if start.elapsed() > LIMIT {
            return Err(format!(
                "the slow migration did not start within {} s",
                LIMIT.as_secs()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// On PostgreSQL, waits until no other session on the database is still working: a dead
/// client's backend finishes its statement before it notices the client is gone,
/// and only then rolls back (or, had COMMIT already been sent, commits).
async fn wait_orphans_gone(t: &TestDb, db: &Database) -> TestResult {
    if t.backend != Backend::Postgres {
        return Ok(());
    }
    let start = Instant::now();
    loop {
        let busy = count(
            db,
            "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'",
        )
        .await?;
        if busy == 0 {
            eprintln!(
                "{}: the interrupted client's session ended {:.1} s later",
                t.backend,
                start.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        if start.elapsed() > LIMIT {
            return Err(format!(
                "the interrupted client's session still works after {} s",
                LIMIT.as_secs()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// botdb's own record of the slow migration: (rows in state `applied`, rows in any other state).
async fn slow_tracked(db: &Database) -> Result<(i64, i64), Error> {
    let applied = count(
        db,
        &format!(
            "SELECT COUNT(*) AS n FROM __botdb_migrations WHERE version = '{SLOW_VERSION}' AND state = 'applied'"
        ),
    )
    .await?;
    let other = count(
        db,
        "SELECT COUNT(*) AS n FROM __botdb_migrations WHERE state <> 'applied'",
    )
    .await?;
    Ok((applied, other))
}

fn with_slow() -> Vec<String> {
    VERSIONS
        .iter()
        .map(|v| v.to_string())
        .chain([SLOW_VERSION.to_string()])
        .collect()
}

/// Asserts the database is exactly as before the slow migration.
async fn assert_old(s: &Setup, what: &str) -> TestResult {
    assert_eq!(recorded_versions(&s.db).await?, VERSIONS, "{what}");
    assert_eq!(slow_tracked(&s.db).await?, (0, 0), "{what}");
    assert_eq!(Purchases::of(&s.db).await?, s.before, "{what}");
    assert_eq!(s.db.introspect().await?, s.schema, "{what}");
    Ok(())
}

/// Asserts the database is exactly as after the slow migration: every row rewritten once.
async fn assert_new(s: &Setup, what: &str) -> TestResult {
    assert_eq!(recorded_versions(&s.db).await?, with_slow(), "{what}");
    assert_eq!(slow_tracked(&s.db).await?, (1, 0), "{what}");
    assert_eq!(Purchases::of(&s.db).await?, s.before.migrated(), "{what}");
    assert_eq!(s.db.introspect().await?, s.schema, "{what}");
    Ok(())
}

/// Migrates again after the interruption: exit 0 at once (no stale lock), and the
/// database ends at the new version with every row rewritten exactly once.
async fn assert_rerun_completes(t: &TestDb, s: &Setup, expect_applied: bool) -> TestResult {
    let (out, took) = run_migrate(t, &s.dir).await?;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    eprintln!(
        "{}: the next migrate took {:.1} s",
        t.backend,
        took.as_secs_f64()
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        !stderr.contains("holds the migration lock"),
        "the dead process's lock must be gone: {stderr}"
    );
    let line = format!("applied  {SLOW} (");
    if expect_applied {
        assert!(stdout.contains(&line), "{stdout}");
        assert_eq!(stdout.matches("applied  ").count(), 1, "{stdout}");
    } else {
        assert!(stdout.starts_with("nothing to migrate"), "{stdout}");
    }
    assert_new(s, "after the next migrate").await
}

/// SIGKILL in the middle of the slow migration. The database is then at the old version
/// with the old data, or at the new version with every row rewritten once, nothing in
/// between; which one is decided by whether COMMIT happened, and the test knows:
/// - SQLite: a rollback journal left behind means the transaction never committed (a
///   commit deletes it), so old; no journal means it committed, so new.
/// - PostgreSQL: if the killed client's backend was still running the UPDATE after the
///   client died, COMMIT cannot have been sent, so old.
/// - botdb prints `applied <slow>` only after COMMIT: if it did, new.
///
/// The next migrate then completes the job.
async fn killed_with_sigkill_mid_migration(t: TestDb) -> TestResult {
    let s = setup(&t).await?;
    let mut child = spawn_migrate(&t, &s.dir)?;
    wait_mid_migration(&t, &s.db, &mut child).await?;
    child.kill()?;
    let status = wait_exit(&mut child, LIMIT).await?;
    let out = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(status.signal(), Some(9), "killed, not finished: {stdout}");

    let reported = stdout.contains(&format!("applied  {SLOW} ("));
    let (must_be_old, must_be_new) = match t.backend {
        Backend::Postgres => {
            let still_updating = slow_statements_running(&s.db).await? > 0;
            wait_orphans_gone(&t, &s.db).await?;
            (still_updating, reported)
        }
        _ => {
            let hot = journal(&t)?.exists();
            (hot, reported || !hot)
        }
    };
    assert!(!(must_be_old && must_be_new), "contradiction: {stdout}");

    let old = recorded_versions(&s.db).await? == VERSIONS;
    eprintln!(
        "{}: after SIGKILL the database is at the {} version (old {must_be_old}, new {must_be_new} from the evidence)",
        t.backend,
        if old { "old" } else { "new" }
    );
    if old {
        assert!(!must_be_new, "committed, yet the old version is recorded");
        assert_old(&s, "after SIGKILL, at the old version").await?;
    } else {
        assert!(
            !must_be_old,
            "never committed, yet the new version is recorded"
        );
        assert_new(&s, "after SIGKILL, at the new version").await?;
    }
    if t.backend == Backend::Sqlite {
        assert!(
            !journal(&t)?.exists(),
            "reading the database rolled the hot journal back"
        );
    }
    assert_rerun_completes(&t, &s, old).await
}

/// SIGTERM in the middle of the slow migration: botdb exits 130 at once, says so, and
/// the open transaction is rolled back, so the database is exactly as before. The next
/// migrate is not blocked by anything the stopped process left behind.
async fn stopped_with_sigterm_mid_migration(t: TestDb) -> TestResult {
    let s = setup(&t).await?;
    let mut child = spawn_migrate(&t, &s.dir)?;
    wait_mid_migration(&t, &s.db, &mut child).await?;
    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    assert!(kill.success(), "kill -TERM: {kill}");
    let status = wait_exit(&mut child, LIMIT).await?;
    let exited_after = signalled.elapsed();
    let out = child.wait_with_output()?;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    eprintln!(
        "{}: botdb exited {:.2} s after SIGTERM",
        t.backend,
        exited_after.as_secs_f64()
    );
    assert_eq!(status.code(), Some(130), "{stdout}{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert!(
        !stdout.contains("applied  "),
        "nothing may be reported applied: {stdout}"
    );
    wait_orphans_gone(&t, &s.db).await?;
    assert_old(&s, "after SIGTERM").await?;
    assert!(
        exited_after < Duration::from_secs(3),
        "botdb must exit at once on SIGTERM, not once the running statement is done (took {:.1} s)",
        exited_after.as_secs_f64()
    );

    assert_rerun_completes(&t, &s, true).await
}
