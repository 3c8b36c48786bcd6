//! Tests for the gaps cargo-mutants found (see Testing in README.md): each one fails on a
//! planted bug the rest of the suite let through.

use std::time::{Duration, Instant};

use botdb::{Backend, Error, MigrationLock};

use crate::per_backend;
use crate::support::{bot_tables, botdb, TestDb, TestResult, VERSIONS};

/// How long `other` waits for the migration lock `timeout`, which must time out.
async fn timed_out_after(
    other: &botdb::Database,
    timeout: Duration,
) -> Result<Duration, Box<dyn std::error::Error + Send + Sync>> {
    let start = Instant::now();
    match other.lock(timeout).await {
        Err(Error::LockTimeout { .. }) => Ok(start.elapsed()),
        Err(e) => Err(format!("waiting {timeout:?} for the lock failed otherwise: {e}").into()),
        Ok(_) => Err(format!("got the lock with {timeout:?} while it was held").into()),
    }
}

/// A lock timeout waits what it is given, not a second more (MySQL's whole-second
/// `GET_LOCK` wait is rounded up only when there is a fraction), and once the holder
/// releases the lock it is free at once for another session.
async fn lock_waits_its_timeout_and_is_free_after_release(t: TestDb) -> TestResult {
    let db = t.connect().await;
    let other = t.connect().await;
    let held = db.lock(Duration::from_secs(30)).await?;

    let took = timed_out_after(&other, Duration::from_secs(1)).await?;
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_millis(1800),
        "a 1 s lock timeout took {took:?}"
    );
    // A fraction of a second still waits (MySQL: rounded up to one whole second).
    let took = timed_out_after(&other, Duration::from_millis(400)).await?;
    assert!(
        took >= Duration::from_millis(380) && took < Duration::from_millis(1800),
        "a 0.4 s lock timeout took {took:?}"
    );
    assert!(MigrationLock::is_held(other.pool(), other.url()).await?);

    held.release().await?;
    // Released, not merely dropped: no other session sees it held, even right away.
    assert!(
        !MigrationLock::is_held(other.pool(), other.url()).await?,
        "the lock is still held after release() returned"
    );
    let start = Instant::now();
    let again = other.lock(Duration::from_secs(5)).await?;
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "the released lock took {:?} to take",
        start.elapsed()
    );
    again.release().await?;

    // Taking and waiting for the lock writes nothing.
    assert!(bot_tables(&db.introspect().await?).is_empty());
    assert_eq!(db.status().await?.applied().count(), 0);
    Ok(())
}

per_backend!(lock_waits_its_timeout_and_is_free_after_release);

/// `status` opens a SQLite database read-only: on a WAL database whose last writer left
/// committed changes in the `-wal` file, it neither checkpoints them into the database
/// file nor removes the `-wal` file (as the last read-write connection to close would).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_leaves_a_sqlite_wal_as_it_found_it() -> TestResult {
    let t = TestDb::create(Backend::Sqlite)
        .await
        .ok_or("no SQLite test database")?;
    let path = t.sqlite_path().ok_or("no SQLite path")?;
    let out = botdb()
        .args(["--database-url", &t.url, "migrate"])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The shell leaves its committed row in the WAL: no checkpoint, not even on close.
    let out = std::process::Command::new("sqlite3")
        .arg(&path)
        .arg(".dbconfig no_ckpt_on_close on")
        .arg("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;")
        .arg("INSERT INTO categories (id, category_name) VALUES (7, 'in the wal');")
        .output()
        .map_err(|e| format!("cannot run sqlite3: {e}"))?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    let files = || -> Result<(Vec<u8>, Vec<u8>), std::io::Error> {
        Ok((std::fs::read(&path)?, std::fs::read(&wal)?))
    };
    let before = files()?;
    assert!(!before.1.is_empty(), "the WAL holds the row");

    let out = botdb()
        .args(["--database-url", &t.url, "status"])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.matches("\napplied ").count(),
        VERSIONS.len(),
        "{stdout}"
    );
    assert!(
        files().is_ok_and(|after| after == before),
        "status changed {} or its -wal file",
        path.display()
    );

    // Nothing was lost: the row is still there for the next reader.
    let db = t.connect().await;
    assert_eq!(
        crate::support::count(&db, "SELECT COUNT(*) AS n FROM categories WHERE id = 7").await?,
        1
    );
    Ok(())
}

/// Only passwords are scrubbed from a driver's message: the URL's other query values
/// (`sslmode=disable`, `connect_timeout=10`) stay readable, and so does every `10` in it.
#[test]
fn scrub_removes_passwords_and_nothing_else() -> TestResult {
    let url = botdb::DatabaseUrl::parse(
        "postgres://bot:s3cret@db.example:5433/shop?sslmode=disable&connect_timeout=10&password=hunter2",
    )?;
    assert_eq!(
        url.scrub("sslmode=disable connect_timeout=10 port 5433 s3cret hunter2"),
        "sslmode=disable connect_timeout=10 port 5433 *** ***"
    );
    Ok(())
}

/// The bot's migrations and one more, 2030-01-01-000000_deferred, that breaks a deferred
/// foreign key: the violation shows only when its transaction commits.
fn with_a_deferred_violation(
    t: &TestDb,
) -> Result<std::path::PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    let dir = crate::support::copy_migrations(t.backend, &t.scratch_dir())?;
    crate::support::add_migration(
        &dir,
        "2030-01-01-000000_deferred",
        "CREATE TABLE extra_p (id INTEGER PRIMARY KEY);\n\
         CREATE TABLE extra_c (p INTEGER REFERENCES extra_p (id) DEFERRABLE INITIALLY DEFERRED);\n\
         INSERT INTO extra_c (p) VALUES (1);\n",
        "DROP TABLE extra_c;\nDROP TABLE extra_p;\n",
        None,
    )?;
    Ok(dir)
}

/// A run whose COMMIT itself fails (a deferred foreign key checked only then): the error
/// names the migration being committed and says the whole run, the migrations before it
/// included, was rolled back; and it was.
async fn a_refused_commit_rolls_back_the_whole_run(t: TestDb) -> TestResult {
    let dir = with_a_deferred_violation(&t)?;
    let db = t.connect().await;
    let (code, stdout, stderr) = crate::support::run_botdb(&t.url, &dir, &["migrate"]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with("error: committing of migration 2030-01-01-000000_deferred failed: "),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "the whole run was rolled back, including the {} migrations before it, so the database is as it was before",
            VERSIONS.len()
        )),
        "{stderr}"
    );
    assert!(bot_tables(&db.introspect().await?).is_empty());
    assert!(!db.introspect().await?.has_table("extra_p"));
    assert_eq!(db.status().await?.applied().count(), 0);
    Ok(())
}

/// With a transaction per migration, a deferred constraint is checked at that migration's
/// own commit: the error names it, the migrations before it stay applied, and the one
/// after it does not run. Through a transaction-mode pooler the run is one outer
/// transaction, so botdb checks at the end of each migration's savepoint (the pooled pass).
async fn a_deferred_violation_names_its_own_migration(t: TestDb) -> TestResult {
    let dir = with_a_deferred_violation(&t)?;
    crate::support::add_migration(
        &dir,
        "2030-01-01-000001_after",
        "CREATE TABLE extra_after (id INTEGER PRIMARY KEY);\n",
        "DROP TABLE extra_after;\n",
        None,
    )?;
    let db = t.connect().await;
    let (code, stdout, stderr) =
        crate::support::run_botdb(&t.url, &dir, &["migrate", "--transaction-per-migration"]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with("error: committing of migration 2030-01-01-000000_deferred failed: "),
        "{stderr}"
    );
    let schema = db.introspect().await?;
    assert!(!schema.has_table("extra_p") && !schema.has_table("extra_after"));
    assert_eq!(db.status().await?.applied().count(), VERSIONS.len());
    Ok(())
}

per_backend!(sqlite, postgres;
    a_refused_commit_rolls_back_the_whole_run,
    a_deferred_violation_names_its_own_migration
);

/// A `run_in_transaction = false` migration that gives up waiting for a table another
/// session holds: besides "check the schema by hand", the error says the cause is the
/// lock (not the SQL), and nothing of it is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_postgres), ignore = "set TEST_POSTGRES_URL to run it")]
async fn a_no_transaction_migration_blocked_by_a_lock_says_so() -> TestResult {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let t = TestDb::create(Backend::Postgres)
        .await
        .ok_or("no PostgreSQL test database")?;
    let dir = crate::support::copy_migrations(t.backend, &t.scratch_dir())?;
    crate::support::add_migration(
        &dir,
        "2030-01-01-000000_outside",
        "ALTER TABLE purchases ADD COLUMN extra INTEGER;\n",
        "ALTER TABLE purchases DROP COLUMN extra;\n",
        Some("run_in_transaction = false\n"),
    )?;
    let db = t.connect().await;
    db.migrate().await?;
    let mut holder = AsyncPgConnection::establish(&t.direct_url).await?;
    holder
        .batch_execute("BEGIN; SELECT COUNT(*) FROM purchases;")
        .await?;

    let (code, stdout, stderr) =
        crate::support::run_botdb(&t.url, &dir, &["--lock-timeout", "1", "migrate"]);
    holder.batch_execute("COMMIT").await?;
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    for part in [
        "error: applying of migration 2030-01-01-000000_outside failed: ",
        "canceling statement due to lock timeout",
        "it ran outside a transaction (run_in_transaction = false), so statements before the failing one may have taken effect: check the schema by hand; another session holds a lock on a table the migration needs: let it finish (or end it), then run again; --lock-timeout sets how long botdb waits",
    ] {
        assert!(stderr.contains(part), "{part:?} in {stderr}");
    }
    assert_eq!(
        db.status().await?.applied().count(),
        VERSIONS.len(),
        "the blocked migration is not recorded"
    );
    let schema = db.introspect().await?;
    let purchases = schema.table("purchases").ok_or("purchases")?;
    assert!(!purchases.columns.iter().any(|c| c.name == "extra"));
    Ok(())
}

/// A backup botdb cannot prune (its `-journal` companion is a folder) is reported, not
/// skipped in silence; the run it followed stays applied and its own backup stays whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_that_cannot_be_pruned_is_reported() -> TestResult {
    let t = TestDb::create(Backend::Sqlite)
        .await
        .ok_or("no SQLite test database")?;
    let path = t.sqlite_path().ok_or("no SQLite path")?;
    let dir = crate::support::copy_migrations(Backend::Sqlite, &t.scratch_dir())?;
    let migrate = |to: &str| {
        crate::support::run_botdb(
            &t.url,
            &dir,
            &["migrate", "--to", to, "--keep-backups", "1"],
        )
    };
    let (code, _, stderr) = migrate("2024-12-20-144707");
    assert_eq!(code, Some(0), "{stderr}");
    let name = path
        .file_name()
        .ok_or("name")?
        .to_string_lossy()
        .into_owned();
    let broken = path.with_file_name(format!("{name}.20200101T000001.000000Z.bak"));
    std::fs::write(&broken, "")?;
    let journal = path.with_file_name(format!("{name}.20200101T000001.000000Z.bak-journal"));
    std::fs::create_dir(&journal)?;

    // The migration is committed, so the run succeeds and the failed pruning is a warning.
    let (code, stdout, stderr) = migrate("2024-12-20-215903");
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("applied  2024-12-20-215903_add_column_pay_id"),
        "{stdout}"
    );
    let warning = format!(
        "the run succeeded, but tidying its backups failed: cannot remove {}: Is a directory (os error 21); check the path and its permissions",
        journal.display()
    );
    assert!(stderr.contains(&warning), "{stderr}");
    assert!(journal.is_dir());
    let db = t.connect().await;
    assert_eq!(db.status().await?.applied().count(), 3);
    assert!(!botdb::ops::backup::backups(&path)?.is_empty());
    Ok(())
}
