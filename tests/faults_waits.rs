//! Waits and half-done work: the migration lock not freed in time, a table another
//! session holds, a revert that fails part-way, a migration another process is running
//! (not dirty) or left unfinished (dirty), and Ctrl-C while MySQL waits on a table.

use std::time::{Duration, Instant};

use botdb::Backend;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::{
    AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection,
};

use crate::per_backend;
use crate::support::{
    add_migration, botdb, copy_migrations, count, execute, insert_batch, recorded_versions,
    row_counts, TestDb, TestResult, VERSIONS,
};

/// `botdb --database-url URL [--migrations-dir DIR] ARGS…`, killed after `limit`:
/// exit code, stdout, stderr and how long it took.
fn timed(
    url: &str,
    dir: Option<&std::path::Path>,
    args: &[&str],
    limit: Duration,
) -> (Option<i32>, String, String, Duration) {
    let mut cmd = botdb();
    cmd.args(["--database-url", url]);
    if let Some(dir) = dir {
        cmd.arg("--migrations-dir").arg(dir);
    }
    let start = Instant::now();
    let out = cmd.args(args).timeout(limit).output().expect("run botdb");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        start.elapsed(),
    )
}

fn run(url: &str, dir: Option<&std::path::Path>, args: &[&str]) -> (Option<i32>, String, String) {
    let (code, stdout, stderr, _) = timed(url, dir, args, Duration::from_secs(120));
    (code, stdout, stderr)
}

/// The one `error:` line of stderr (failing when there is none or more than one).
fn error_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "exactly one error line: {stderr}");
    lines[0].to_string()
}

#[derive(QueryableByName, Debug, PartialEq, Eq)]
struct TrackRow {
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Nullable<Text>)]
    detail: Option<String>,
}

/// botdb's tracking row for `version`: (state, detail).
async fn tracking(
    db: &botdb::Database,
    version: &str,
) -> Result<Option<(String, Option<String>)>, Box<dyn std::error::Error + Send + Sync>> {
    let sql = format!("SELECT state, detail FROM __botdb_migrations WHERE version = '{version}'");
    botdb::with_connection!(db.pool(), |conn| {
        let rows = diesel::sql_query(sql).load::<TrackRow>(&mut conn).await?;
        Ok(rows.into_iter().next().map(|r| (r.state, r.detail)))
    })
}

const DIRTY_HINT: &str = "check the schema by hand, then run `botdb resolve 20300101000000 --applied` or `botdb resolve 20300101000000 --reverted`";

/// The whole line `migrate` refuses a dirty database with, for a recorded `detail`.
fn dirty_line(detail: &str) -> String {
    format!(
        "error: the database is dirty: migration 20300101000000 did not finish ({detail}); {DIRTY_HINT}"
    )
}

per_backend!(
    lock_timeout_fires_in_about_the_time_given,
    a_revert_that_fails_part_way,
    reverting_a_dirty_only_migration_says_dirty,
    status_tells_running_from_dirty
);

/// Another session holds the migration lock: `--lock-timeout 1` gives up after about a
/// second, with one clear line, and nothing is applied.
async fn lock_timeout_fires_in_about_the_time_given(t: TestDb) -> TestResult {
    let db = t.connect().await;
    let held = db.lock(Duration::from_secs(5)).await?;
    let (code, stdout, stderr, took) = timed(
        &t.url,
        None,
        &["--lock-timeout", "1", "migrate"],
        Duration::from_secs(60),
    );
    held.release().await?;
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    let line = error_line(&stderr);
    assert!(
        line.starts_with("error: timed out after 1 s waiting for the migration lock on ")
            && line.ends_with(
                ": another botdb is migrating it; wait for it to finish, or raise --lock-timeout"
            ),
        "{line}"
    );
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(10),
        "--lock-timeout 1 took {took:?}"
    );
    assert!(stdout.is_empty(), "{stdout}");
    assert!(recorded_versions(&db).await?.is_empty());
    assert!(
        crate::support::bot_tables(&db.introspect().await?).is_empty(),
        "nothing applied"
    );
    // Freed, the same command goes through.
    let (code, _, stderr) = run(&t.url, None, &["--lock-timeout", "1", "migrate"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(recorded_versions(&db).await?, VERSIONS);
    Ok(())
}

/// A migration whose down.sql fails at its second statement, after dropping a table.
fn with_extra_migration(
    t: &TestDb,
) -> Result<std::path::PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    let dir = copy_migrations(t.backend, &t.scratch_dir())?;
    add_migration(
        &dir,
        "2030-01-01-000000_extra",
        "CREATE TABLE extra_a (id INTEGER PRIMARY KEY);\nCREATE TABLE extra_b (id INTEGER PRIMARY KEY);\n",
        "DROP TABLE extra_b;\nSELEKT nonsense;\nDROP TABLE extra_a;\n",
        None,
    )?;
    Ok(dir)
}

/// A revert that fails part-way: PostgreSQL and SQLite roll it back (schema, bookkeeping
/// and rows as they were); MySQL, whose DDL commits, ends dirty with the SQL error recorded,
/// and `status` (with or without `--check`) exits 2.
async fn a_revert_that_fails_part_way(t: TestDb) -> TestResult {
    let dir = with_extra_migration(&t)?;
    let db = t.connect().await;
    let (code, _, stderr) = run(&t.url, Some(&dir), &["migrate"]);
    assert_eq!(code, Some(0), "{stderr}");
    insert_batch(&db, 6, 1).await?;
    execute(
        &db,
        "INSERT INTO extra_a (id) VALUES (1); INSERT INTO extra_b (id) VALUES (2)",
    )
    .await?;
    let before = (
        db.introspect().await?,
        recorded_versions(&db).await?,
        row_counts(&db).await?,
        tracking(&db, "20300101000000").await?,
    );
    assert_eq!(before.3.as_ref().map(|t| t.0.as_str()), Some("applied"));

    let (code, stdout, stderr) = run(&t.url, Some(&dir), &["revert", "--yes"]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(!stdout.contains("reverted "), "{stdout}");
    let line = error_line(&stderr);
    let prefix = "error: reverting of migration 2030-01-01-000000_extra failed: ";
    assert!(line.starts_with(prefix), "{line}");
    assert!(
        line.to_lowercase().contains("selekt"),
        "the database's message: {line}"
    );

    if t.backend != Backend::Mysql {
        assert!(
            line.ends_with("; its transaction was rolled back, so the migration is still applied: fix down.sql and run again"),
            "{line}"
        );
        let after = (
            db.introspect().await?,
            recorded_versions(&db).await?,
            row_counts(&db).await?,
            tracking(&db, "20300101000000").await?,
        );
        assert_eq!(after, before, "the database must be exactly as it was");
        assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM extra_b").await?, 1);
        let (code, stdout, stderr) = run(&t.url, Some(&dir), &["status", "--check"]);
        assert_eq!(code, Some(0), "{stdout}{stderr}");
        assert!(
            stdout.contains("applied  2030-01-01-000000_extra"),
            "{stdout}"
        );
        return Ok(());
    }

    let outcome = "; MySQL commits DDL implicitly, so part of down.sql may have taken effect; botdb marked the database dirty: check the schema by hand, then run `botdb resolve 20300101000000 --applied` or `--reverted`";
    assert!(line.ends_with(outcome), "{line}");
    let message = &line[prefix.len()..line.len() - outcome.len()];
    let detail = format!("reverting failed: {message}");
    assert_eq!(
        tracking(&db, "20300101000000").await?,
        Some(("dirty".to_string(), Some(detail.clone()))),
        "the SQL error is recorded"
    );
    // extra_b was dropped before the failing statement; extra_a and the version remain.
    let tables = db.introspect().await?;
    assert!(!tables.has_table("extra_b") && tables.has_table("extra_a"));
    assert_eq!(
        row_counts(&db).await?,
        before.2,
        "the bot's rows are intact"
    );

    for args in [&["status"][..], &["status", "--check"]] {
        let (code, stdout, stderr) = run(&t.url, Some(&dir), args);
        assert_eq!(code, Some(2), "{args:?}: {stdout}{stderr}");
        assert!(
            stdout.contains("dirty    2030-01-01-000000_extra (did not finish: `botdb resolve`)"),
            "{stdout}"
        );
    }
    for args in [&["migrate"][..], &["revert", "--yes"]] {
        let (code, _, stderr) = run(&t.url, Some(&dir), args);
        assert_eq!(code, Some(2), "{args:?}");
        assert_eq!(error_line(&stderr), dirty_line(&detail), "{args:?}");
    }
    Ok(())
}

/// A database whose only migration did not finish: `revert --yes` says it is dirty (not
/// "only 0 are applied"), and changes nothing. MySQL gets there by a failing migration;
/// on PostgreSQL and SQLite, a `running` row with no process behind it is what a killed
/// `run_in_transaction = false` migration leaves.
async fn reverting_a_dirty_only_migration_says_dirty(t: TestDb) -> TestResult {
    let dir = t.scratch_dir().join("only");
    add_migration(
        &dir,
        "2030-01-01-000000_only",
        "CREATE TABLE only_a (id INTEGER PRIMARY KEY);\nSELEKT nonsense;\n",
        "DROP TABLE only_a;\n",
        None,
    )?;
    let db = t.connect().await;
    let (code, _, stderr) = run(&t.url, Some(&dir), &["migrate"]);
    assert_eq!(code, Some(2), "{stderr}");
    let detail = if t.backend == Backend::Mysql {
        let (_, detail) = tracking(&db, "20300101000000").await?.ok_or("tracked")?;
        detail.ok_or("a recorded reason")?
    } else {
        execute(
            &db,
            "INSERT INTO __botdb_migrations (version, checksum, state) VALUES ('20300101000000', 'x', 'running')",
        )
        .await?;
        "it was interrupted while running".to_string()
    };
    let schema = db.introspect().await?;

    let (code, stdout, stderr) = run(&t.url, Some(&dir), &["revert", "--yes"]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert_eq!(error_line(&stderr), dirty_line(&detail));
    let (code, stdout, stderr) = run(&t.url, Some(&dir), &["revert", "--all", "--yes"]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert_eq!(error_line(&stderr), dirty_line(&detail));
    assert_eq!(db.introspect().await?, schema);
    assert!(tracking(&db, "20300101000000").await?.is_some());
    Ok(())
}

/// A `running` migration while its owner holds the migration lock is being applied by
/// another process: status says so and exits 0 (`--check`: 1, not yet applied). Once no
/// process holds the lock, the same row is dirty: status exits 2 and says `botdb resolve`.
async fn status_tells_running_from_dirty(t: TestDb) -> TestResult {
    let dir = t.scratch_dir().join("one");
    add_migration(
        &dir,
        "2030-01-01-000000_one",
        "CREATE TABLE one_a (id INTEGER PRIMARY KEY);\n",
        "DROP TABLE one_a;\n",
        None,
    )?;
    let db = t.connect().await;
    execute(&db, &botdb::migration::bookkeeping::create_sql()).await?;
    execute(
        &db,
        "INSERT INTO __botdb_migrations (version, checksum, state) VALUES ('20300101000000', 'x', 'running')",
    )
    .await?;

    let held = db.lock(Duration::from_secs(5)).await?;
    let (code, stdout, stderr) = run(&t.url, Some(&dir), &["status"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("running  2030-01-01-000000_one (being applied by another process)"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("0 applied, 0 pending, 1 being applied by another process\n"),
        "{stdout}"
    );
    assert!(
        !stderr.contains("error") && !stderr.contains("resolve"),
        "{stderr}"
    );
    let (code, _, _) = run(&t.url, Some(&dir), &["status", "--check"]);
    assert_eq!(code, Some(1), "not applied yet: a deploy gate waits");
    let (code, stdout, _) = run(&t.url, Some(&dir), &["status", "--json"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("\"state\": \"running\""), "{stdout}");
    held.release().await?;

    let (code, stdout, stderr) = run(&t.url, Some(&dir), &["status"]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        stdout.contains("dirty    2030-01-01-000000_one (did not finish: `botdb resolve`)"),
        "{stdout}"
    );
    assert!(stderr.contains("the database is dirty"), "{stderr}");
    Ok(())
}

/// PostgreSQL: an idle transaction holding ACCESS SHARE on purchases. `migrate
/// --lock-timeout 2` gives up in about that time instead of waiting for ever, names the
/// table and the session holding it, and leaves nothing applied; once the session ends,
/// migrate goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_postgres), ignore = "set TEST_POSTGRES_URL to run it")]
async fn postgres_busy_table_bounded_and_named() -> TestResult {
    let Some(t) = TestDb::create(Backend::Postgres).await else {
        return Ok(());
    };
    let db = t.connect().await;
    db.migrate_with(Some(VERSIONS[2]), &mut |_| {}).await?;
    insert_batch(&db, 3, 1).await?;
    let before = (
        db.introspect().await?,
        recorded_versions(&db).await?,
        row_counts(&db).await?,
    );

    let mut holder = AsyncPgConnection::establish(&t.direct_url).await?;
    holder
        .batch_execute(
            "SET application_name = 'faults_waits_holder'; BEGIN; SELECT COUNT(*) FROM purchases;",
        )
        .await?;
    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = BigInt)]
        pid: i64,
    }
    let pid = diesel::sql_query("SELECT pg_backend_pid()::bigint AS pid")
        .get_result::<Pid>(&mut holder)
        .await?
        .pid;

    let (code, stdout, stderr, took) = timed(
        &t.url,
        None,
        &["--lock-timeout", "2", "migrate"],
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "took {took:?}"
    );
    let line = error_line(&stderr);
    for part in [
        "error: applying of migration 2024-12-26-132844_upd_table_purchases failed at statement 1 (line 5: ALTER TABLE purchases ADD COLUMN payment_type",
        "canceling statement due to lock timeout (botdb waited 2 s; held by table purchases by ",
        &format!("pid {pid} (application_name 'faults_waits_holder', idle in transaction since "),
        "holds AccessShareLock)",
        "; its transaction was rolled back, so the database is as it was before: another session holds a lock on a table the migration needs: let it finish (or end it), then run again; --lock-timeout sets how long botdb waits",
    ] {
        assert!(line.contains(part), "{part:?} in {line}");
    }
    let after = (
        db.introspect().await?,
        recorded_versions(&db).await?,
        row_counts(&db).await?,
    );
    assert_eq!(after, before, "nothing applied");

    holder.batch_execute("COMMIT").await?;
    let (code, _, stderr) = run(&t.url, None, &["--lock-timeout", "2", "migrate"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(recorded_versions(&db).await?, VERSIONS);
    Ok(())
}

/// MariaDB: the migration's own failure is recorded as the dirty reason, and every
/// command that refuses the database quotes it in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_mysql), ignore = "set TEST_MYSQL_URL to run it")]
async fn mysql_dirty_detail_is_the_sql_error() -> TestResult {
    let Some(t) = TestDb::create(Backend::Mysql).await else {
        return Ok(());
    };
    let dir = copy_migrations(t.backend, &t.scratch_dir())?;
    add_migration(
        &dir,
        "2030-01-01-000000_broken",
        "CREATE TABLE fine (id INTEGER PRIMARY KEY);\nSELEKT nonsense;\n",
        "DROP TABLE fine;\n",
        None,
    )?;
    let db = t.connect().await;
    let (code, _, stderr) = run(&t.url, Some(&dir), &["migrate"]);
    assert_eq!(code, Some(2), "{stderr}");
    let line = error_line(&stderr);
    let prefix = "error: applying of migration 2030-01-01-000000_broken failed: ";
    let outcome = "; MySQL commits DDL implicitly, so statements before the failing one may have taken effect; botdb marked the database dirty: check the schema by hand, then run `botdb resolve 20300101000000 --applied` or `--reverted`";
    assert!(
        line.starts_with(prefix) && line.ends_with(outcome),
        "{line}"
    );
    let message = &line[prefix.len()..line.len() - outcome.len()];
    assert!(message.contains("SELEKT"), "{message}");
    assert_eq!(
        tracking(&db, "20300101000000").await?,
        Some(("dirty".to_string(), Some(message.to_string())))
    );
    for args in [&["migrate"][..], &["revert", "--yes"], &["redo", "--yes"]] {
        let (code, _, stderr) = run(&t.url, Some(&dir), args);
        assert_eq!(code, Some(2), "{args:?}");
        assert_eq!(error_line(&stderr), dirty_line(message), "{args:?}");
    }
    for args in [&["status"][..], &["status", "--check"]] {
        let (code, stdout, _) = run(&t.url, Some(&dir), args);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(
            stdout.contains("dirty    2030-01-01-000000_broken"),
            "{stdout}"
        );
    }
    Ok(())
}

/// The MariaDB server's id for a connection.
async fn connection_id(
    conn: &mut AsyncMysqlConnection,
) -> Result<i64, Box<dyn std::error::Error + Send + Sync>> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    Ok(
        diesel::sql_query("SELECT CAST(CONNECTION_ID() AS SIGNED) AS id")
            .get_result::<Id>(conn)
            .await?
            .id,
    )
}

/// Whether purchases has a payment_type column.
async fn has_payment_type(
    db: &botdb::Database,
) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    Ok(db
        .introspect()
        .await?
        .table("purchases")
        .is_some_and(|t| t.columns.iter().any(|c| c.name == "payment_type")))
}

/// MariaDB, a session holding `LOCK TABLES purchases WRITE`:
/// - `migrate --lock-timeout 2` gives up in about that time (lock_wait_timeout), naming
///   the other sessions, and marks the migration dirty with the server's message;
/// - while a migrate waits, `status` says the migration is being applied by another
///   process (exit 0), not dirty;
/// - Ctrl-C then stops the statement on the server before botdb exits, so the ALTER does
///   not take effect behind botdb's back once the table is unlocked, and the migration is
///   recorded dirty with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_mysql), ignore = "set TEST_MYSQL_URL to run it")]
async fn mysql_locked_table_bounded_and_interrupt_stops_the_statement() -> TestResult {
    let Some(t) = TestDb::create(Backend::Mysql).await else {
        return Ok(());
    };
    let db = t.connect().await;
    db.migrate_with(Some(VERSIONS[2]), &mut |_| {}).await?;
    insert_batch(&db, 3, 1).await?;
    let rows = row_counts(&db).await?;
    let mut holder = AsyncMysqlConnection::establish(&t.url).await?;
    let holder_id = connection_id(&mut holder).await?;
    holder.batch_execute("LOCK TABLES purchases WRITE").await?;

    let (code, stdout, stderr, took) = timed(
        &t.url,
        None,
        &["--lock-timeout", "2", "migrate"],
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "took {took:?}"
    );
    let line = error_line(&stderr);
    for part in [
        "error: applying of migration 2024-12-26-132844_upd_table_purchases failed: Lock wait timeout exceeded",
        "(botdb waited 2 s; other sessions on this database: ",
        &format!("pid {holder_id} (user "),
        "botdb marked the database dirty",
    ] {
        assert!(line.contains(part), "{part:?} in {line}");
    }
    let (_, detail) = tracking(&db, "20241226132844").await?.ok_or("tracked")?;
    assert!(
        detail
            .as_deref()
            .is_some_and(|d| d.starts_with("Lock wait timeout exceeded")),
        "{detail:?}"
    );
    assert!(!has_payment_type(&db).await?);
    // Nothing of it ran: say so, and wait again, for longer.
    let (code, _, stderr) = run(
        &t.url,
        None,
        &["resolve", "2024-12-26-132844", "--reverted"],
    );
    assert_eq!(code, Some(0), "{stderr}");

    let binary = assert_cmd::cargo::cargo_bin("botdb");
    let mut child = std::process::Command::new(&binary)
        .args(["--database-url", &t.url, "--lock-timeout", "60", "migrate"])
        .env_remove("DATABASE_URL")
        .env_remove("DB_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let waiting_since = Instant::now();
    let status_line = loop {
        let (code, stdout, stderr) = run(&t.url, None, &["status"]);
        if stdout.contains("running  2024-12-26-132844") {
            assert_eq!(code, Some(0), "{stdout}{stderr}");
            break stdout;
        }
        if waiting_since.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            return Err(format!("status never said running: {code:?} {stdout}{stderr}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        status_line.contains(
            "running  2024-12-26-132844_upd_table_purchases (being applied by another process)"
        ),
        "{status_line}"
    );
    let (code, _, _) = run(&t.url, None, &["status", "--check"]);
    assert_eq!(code, Some(1), "being applied: not done yet");

    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    assert!(kill.success());
    let signalled = Instant::now();
    let out = loop {
        if child.try_wait()?.is_some() {
            break child.wait_with_output()?;
        }
        if signalled.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            return Err("botdb did not exit after Ctrl-C".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "{:?}",
        signalled.elapsed()
    );
    let line = error_line(&stderr);
    for part in [
        "error: interrupted by Ctrl-C: botdb stopped the statement the server was running (",
        ") and waited for it to end: applying of migration 2024-12-26-132844_upd_table_purchases failed: Query execution was interrupted",
        "botdb marked the database dirty",
    ] {
        assert!(line.contains(part), "{part:?} in {line}");
    }

    // Unlocked, the table must not change behind botdb's back.
    holder.batch_execute("UNLOCK TABLES").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !has_payment_type(&db).await?,
        "the stopped ALTER took effect"
    );
    assert_eq!(row_counts(&db).await?, rows);
    assert_eq!(recorded_versions(&db).await?, VERSIONS[..3]);
    assert_eq!(
        tracking(&db, "20241226132844").await?,
        Some((
            "dirty".to_string(),
            Some("Query execution was interrupted".to_string())
        ))
    );
    let (code, stdout, _) = run(&t.url, None, &["status"]);
    assert_eq!(code, Some(2));
    assert!(
        stdout.contains("dirty    2024-12-26-132844_upd_table_purchases"),
        "{stdout}"
    );
    Ok(())
}
