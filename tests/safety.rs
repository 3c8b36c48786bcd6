//! Safety under faults: waiting for a database that is still starting, and more.

use std::time::{Duration, Instant};

use botdb::Backend;

use crate::per_backend;
use crate::support::{botdb, recorded_versions, run_botdb, TestDb, TestResult, VERSIONS};

per_backend!(concurrent_migrations_run_each_step_once);

/// Eight processes, then eight library callers in one process, migrate the same fresh
/// database at once: all succeed, and each migration runs exactly once.
async fn concurrent_migrations_run_each_step_once(t: TestDb) -> TestResult {
    let reference = TestDb::create(t.backend)
        .await
        .ok_or("reference database")?;
    let reference = reference.connect().await;
    reference.migrate().await?;
    // Connecting creates a SQLite file; the processes below race on an empty database.
    let db = t.connect().await;

    let binary = assert_cmd::cargo::cargo_bin("botdb");
    let children = (0..8)
        .map(|_| {
            std::process::Command::new(&binary)
                .args(["--database-url", &t.url, "-v", "migrate"])
                .env_remove("DATABASE_URL")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut applied = 0;
    let mut waited = 0;
    for child in children {
        let out = child.wait_with_output()?;
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{}: {stderr}", t.backend);
        applied += stdout.lines().filter(|l| l.starts_with("applied ")).count();
        waited += usize::from(stderr.contains("got the migration lock after waiting"));
    }
    assert_eq!(applied, VERSIONS.len(), "each migration runs exactly once");
    assert!(waited > 0, "some processes must have waited for the lock");
    assert_eq!(recorded_versions(&db).await?, VERSIONS);
    assert_eq!(db.introspect().await?, reference.introspect().await?);

    let second = TestDb::create(t.backend).await.ok_or("database")?;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let url = second.url.clone();
        tasks.push(tokio::spawn(async move {
            let db = botdb::Database::connect(&url).await?;
            db.migrate().await.map(|report| report.applied.len())
        }));
    }
    let mut applied = 0;
    for task in tasks {
        applied += task.await??;
    }
    assert_eq!(applied, VERSIONS.len());
    let second = second.connect().await;
    assert_eq!(recorded_versions(&second).await?, VERSIONS);
    assert_eq!(second.introspect().await?, reference.introspect().await?);
    Ok(())
}

/// Listens on `port` only after `delay`, then forwards each connection to `upstream`,
/// like a database server that comes up late. Stops by itself after `lifetime`.
fn late_server(port: u16, upstream: String, delay: Duration, lifetime: Duration) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            tokio::time::sleep(delay).await;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .expect("bind the late port");
            let serve = async {
                loop {
                    let Ok((mut client, _)) = listener.accept().await else {
                        break;
                    };
                    let upstream = upstream.clone();
                    tokio::spawn(async move {
                        if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            };
            let _ = tokio::time::timeout(lifetime, serve).await;
        });
    });
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

per_backend!(postgres, mysql; wait_for_a_database_that_comes_up_late);

async fn wait_for_a_database_that_comes_up_late(t: TestDb) -> TestResult {
    let backend = t.backend;
    let real = url::Url::parse(&t.url)?;
    let upstream = format!(
        "{}:{}",
        real.host_str().unwrap_or("127.0.0.1"),
        real.port().unwrap_or(5432)
    );
    let port = free_port();
    let mut late = real.clone();
    late.set_port(Some(port)).map_err(|()| "port")?;
    late_server(
        port,
        upstream,
        Duration::from_secs(3),
        Duration::from_secs(60),
    );

    let start = Instant::now();
    let out = botdb()
        .args(["--database-url", late.as_str(), "--wait", "30", "migrate"])
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{backend}: {stderr}");
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "it cannot have connected before the server was up"
    );
    assert!(
        stderr.contains("waiting for") && stderr.contains("s left"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrate: 6 migrations"));
    Ok(())
}

#[test]
fn wait_gives_up_with_the_last_error() {
    let url = format!("postgres://bot:s3cr3t@127.0.0.1:{}/shop", free_port());
    let start = Instant::now();
    let out = botdb()
        .args(["--database-url", &url, "--wait", "2", "status"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(start.elapsed() >= Duration::from_secs(2));
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        error.contains("Connection refused") && error.contains("still failing after waiting 2 s"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cr3t"));
}

/// A copy of the backend's migrations in the test's scratch folder, to edit or extend.
fn copy_migrations(
    t: &TestDb,
) -> Result<std::path::PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    crate::support::copy_migrations(t.backend, &t.scratch_dir())
}

per_backend!(
    a_failed_run_leaves_the_database_as_it_was,
    edited_migrations_are_refused
);

/// Three pending migrations and a fourth that fails at its third statement: on PostgreSQL
/// and SQLite nothing of the run stays; on MySQL the database is marked dirty until an
/// operator resolves it.
async fn a_failed_run_leaves_the_database_as_it_was(t: TestDb) -> TestResult {
    let dir = copy_migrations(&t)?;
    let broken = dir.join("2030-01-01-000000_broken");
    std::fs::create_dir_all(&broken)?;
    std::fs::write(
        broken.join("up.sql"),
        "-- a migration that fails part-way\nCREATE TABLE fine (id INTEGER PRIMARY KEY);\nALTER TABLE users ADD COLUMN nickname VARCHAR(20);\n\nSELEKT nonsense;\n",
    )?;
    std::fs::write(
        broken.join("down.sql"),
        "ALTER TABLE users DROP COLUMN nickname;\nDROP TABLE fine;\n",
    )?;

    let db = t.connect().await;
    db.migrate_with(Some(crate::support::VERSIONS[2]), &mut |_| {})
        .await?;
    crate::support::insert_batch(&db, 3, 1).await?;
    let before = (
        db.introspect().await?,
        recorded_versions(&db).await?,
        crate::support::row_counts(&db).await?,
    );

    let (code, _, stderr) = run_botdb(&t.url, &dir, &["migrate"]);
    assert_eq!(code, Some(2), "{stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("applying of migration 2030-01-01-000000_broken failed"),
        "{error}"
    );
    assert!(
        error.to_lowercase().contains("selekt"),
        "the database's own message: {error}"
    );

    if t.backend == Backend::Mysql {
        assert!(
            error.contains("marked the database dirty")
                && error.contains("botdb resolve 20300101000000"),
            "{error}"
        );
        let (code, stdout, stderr) = run_botdb(&t.url, &dir, &["status"]);
        assert_eq!(code, Some(2));
        assert!(
            stdout.contains("dirty    2030-01-01-000000_broken"),
            "{stdout}"
        );
        assert!(stderr.contains("the database is dirty"), "{stderr}");
        for refused in [&["migrate"][..], &["revert"], &["redo"]] {
            let (code, _, stderr) = run_botdb(&t.url, &dir, refused);
            assert_eq!(code, Some(2), "{refused:?}");
            assert!(
                stderr.contains("the database is dirty: migration 20300101000000"),
                "{stderr}"
            );
        }
        // The operator undoes the part that ran, by hand, and says so.
        crate::support::execute(
            &db,
            "DROP TABLE fine; ALTER TABLE users DROP COLUMN nickname",
        )
        .await?;
        let (code, stdout, _) = run_botdb(
            &t.url,
            &dir,
            &["resolve", "2030-01-01-000000", "--reverted"],
        );
        assert_eq!(code, Some(0));
        assert!(stdout.contains("resolved 2030-01-01-000000_broken: recorded as not applied"));
        let (code, _, _) = run_botdb(
            &t.url,
            &dir,
            &["resolve", "2030-01-01-000000", "--reverted"],
        );
        assert_eq!(code, Some(2), "nothing left to resolve");
        assert_eq!(db.introspect().await?, db_schema_after_steps(&t, 6).await?);
        assert_eq!(recorded_versions(&db).await?, crate::support::VERSIONS);
        return Ok(());
    }

    assert!(
        error.contains("failed at statement 3 (line 5: SELEKT nonsense)"),
        "the failing statement and its line: {error}"
    );
    assert!(
        error.contains("the whole run was rolled back, including the 3 migrations before it"),
        "{error}"
    );
    let after = (
        db.introspect().await?,
        recorded_versions(&db).await?,
        crate::support::row_counts(&db).await?,
    );
    assert_eq!(after, before, "the database must be exactly as it was");

    // Diesel's behaviour on request: the good migrations stay, the broken one does not.
    let (code, stdout, _) = run_botdb(
        &t.url,
        &dir,
        &["migrate", "--transaction-per-migration", "--no-backup"],
    );
    assert_eq!(code, Some(2));
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("applied ")).count(),
        3,
        "{stdout}"
    );
    assert_eq!(recorded_versions(&db).await?, crate::support::VERSIONS);
    assert!(!db.introspect().await?.has_table("fine"));
    Ok(())
}

/// MySQL: when the only migration is dirty, revert and redo say so (not that nothing is
/// applied), and change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_mysql), ignore = "set TEST_MYSQL_URL to run it")]
async fn mysql_revert_of_an_only_dirty_migration_says_dirty() -> TestResult {
    let t = TestDb::create(Backend::Mysql).await.ok_or("mysql")?;
    let dir = t.scratch_dir().join("migrations");
    crate::support::add_migration(
        &dir,
        "2030-01-01-000000_broken",
        "CREATE TABLE fine (id INTEGER PRIMARY KEY);\nSELEKT nonsense;\n",
        "DROP TABLE fine;\n",
        None,
    )?;
    let (code, _, stderr) = run_botdb(&t.url, &dir, &["migrate"]);
    assert_eq!(code, Some(2), "{stderr}");
    let db = t.connect().await;
    let before = (
        db.introspect().await?,
        crate::support::tracked_rows(&db).await?,
        recorded_versions(&db).await?,
    );
    assert_eq!(before.1.len(), 1, "{:?}", before.1);
    assert_eq!(before.1[0].state, "dirty");
    for args in [&["revert", "--yes"][..], &["revert"], &["redo", "--yes"]] {
        let (code, stdout, stderr) = run_botdb(&t.url, &dir, args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(
            stderr.starts_with(
                "error: the database is dirty: migration 20300101000000 did not finish ("
            ) && stderr.contains("SELEKT")
                && stderr.contains("botdb resolve 20300101000000 --applied"),
            "{args:?}: {stderr}"
        );
        assert_eq!(
            (
                db.introspect().await?,
                crate::support::tracked_rows(&db).await?,
                recorded_versions(&db).await?,
            ),
            before,
            "{args:?} changed the database"
        );
    }
    Ok(())
}

/// MySQL: a migration that failed part-way, finished by hand, is resolved as applied:
/// botdb then records it with its checksum, status is clean and migrate goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_mysql), ignore = "set TEST_MYSQL_URL to run it")]
async fn mysql_dirty_migration_resolved_as_applied() -> TestResult {
    let t = TestDb::create(Backend::Mysql).await.ok_or("mysql")?;
    let dir = copy_migrations(&t)?;
    // The last statement has a typo (nick_name); the operator runs the right one by hand.
    let up = "CREATE TABLE fine (id INTEGER PRIMARY KEY);\n\
              ALTER TABLE users ADD COLUMN nickname VARCHAR(20);\n\
              CREATE INDEX ix_users_nickname ON users (nick_name);\n";
    crate::support::add_migration(
        &dir,
        "2030-01-01-000000_typo",
        up,
        "DROP INDEX ix_users_nickname ON users;\nALTER TABLE users DROP COLUMN nickname;\nDROP TABLE fine;\n",
        None,
    )?;
    crate::support::add_migration(
        &dir,
        "2030-01-02-000000_next",
        "CREATE TABLE next_one (id INTEGER PRIMARY KEY);\n",
        "DROP TABLE next_one;\n",
        None,
    )?;
    let db = t.connect().await;
    let (code, stdout, stderr) = run_botdb(&t.url, &dir, &["migrate"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("marked the database dirty"), "{stderr}");
    assert!(!stdout.contains("2030-01-02-000000_next"), "{stdout}");
    assert_eq!(recorded_versions(&db).await?, VERSIONS);

    // The wrong version is not dirty; the dirty one cannot be both.
    let (code, _, stderr) = run_botdb(&t.url, &dir, &["resolve", "2030-01-02-000000", "--applied"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("is not dirty"), "{stderr}");
    let (code, _, _) = run_botdb(
        &t.url,
        &dir,
        &["resolve", "2030-01-01-000000", "--applied", "--reverted"],
    );
    assert_eq!(code, Some(2));

    crate::support::execute(&db, "CREATE INDEX ix_users_nickname ON users (nickname)").await?;
    let (code, stdout, stderr) =
        run_botdb(&t.url, &dir, &["resolve", "20300101000000", "--applied"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains(
            "resolved 2030-01-01-000000_typo: recorded as applied; the database is no longer dirty"
        ),
        "{stdout}"
    );
    let mut expected: Vec<String> = VERSIONS.iter().map(|v| v.to_string()).collect();
    expected.push("20300101000000".into());
    assert_eq!(recorded_versions(&db).await?, expected);
    assert_eq!(
        crate::support::tracked_as_applied(&db, "20300101000000", up).await?,
        1,
        "recorded as applied, with the checksum of its up.sql"
    );
    let (code, _, _) = run_botdb(&t.url, &dir, &["resolve", "20300101000000", "--applied"]);
    assert_eq!(code, Some(2), "nothing left to resolve");

    let (code, stdout, stderr) = run_botdb(&t.url, &dir, &["status"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !stdout.contains("dirty") && !stderr.contains("dirty"),
        "{stdout}{stderr}"
    );
    assert!(
        stdout.contains("applied  2030-01-01-000000_typo"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pending  2030-01-02-000000_next"),
        "{stdout}"
    );

    let (code, stdout, stderr) = run_botdb(&t.url, &dir, &["migrate"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("applied  2030-01-02-000000_next")
            && stdout.contains("migrate: 1 migration"),
        "{stdout}"
    );
    expected.push("20300102000000".into());
    assert_eq!(recorded_versions(&db).await?, expected);
    let (code, _, _) = run_botdb(&t.url, &dir, &["status", "--check"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        crate::support::count(
            &db,
            "SELECT COUNT(*) AS n FROM __botdb_migrations WHERE state = 'applied'"
        )
        .await?,
        8
    );
    // Recorded as applied, it reverts like any other migration.
    let (code, _, stderr) = run_botdb(&t.url, &dir, &["revert", "--steps", "2", "--yes"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(db.introspect().await?, db_schema_after_steps(&t, 6).await?);
    assert_eq!(recorded_versions(&db).await?, VERSIONS);
    Ok(())
}

async fn db_schema_after_steps(
    t: &TestDb,
    steps: usize,
) -> Result<botdb::Schema, Box<dyn std::error::Error + Send + Sync>> {
    let reference = TestDb::create(t.backend).await.ok_or("reference")?;
    let reference = reference.connect().await;
    reference
        .migrate_with(Some(crate::support::VERSIONS[steps - 1]), &mut |_| {})
        .await?;
    Ok(reference.introspect().await?)
}

/// An up.sql edited after it ran is refused by migrate and shown by status; a database
/// migrated before botdb kept checksums (or by diesel_cli) is taken over without failing.
async fn edited_migrations_are_refused(t: TestDb) -> TestResult {
    let dir = copy_migrations(&t)?;
    let (code, _, stderr) = run_botdb(&t.url, &dir, &["migrate", "--to", "2024-12-20-215903"]);
    assert_eq!(code, Some(0), "{stderr}");
    let edited = dir.join("2024-12-20-144707_add_hidden_content/up.sql");
    let text = std::fs::read_to_string(&edited)?;
    std::fs::write(&edited, format!("{text}\n-- edited after it ran\n"))?;

    let (code, stdout, stderr) = run_botdb(&t.url, &dir, &["migrate"]);
    assert_eq!(code, Some(2), "{stdout}");
    assert!(
        stderr.contains("edited after they ran: 2024-12-20-144707_add_hidden_content"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "nothing ran: {stdout}");
    let (code, stdout, stderr) = run_botdb(&t.url, &dir, &["status"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stdout
            .contains("changed  2024-12-20-144707_add_hidden_content (up.sql edited after it ran)"),
        "{stdout}"
    );
    let (code, _, _) = run_botdb(&t.url, &dir, &["status", "--allow-changed"]);
    assert_eq!(code, Some(0));
    let (code, stdout, _) = run_botdb(&t.url, &dir, &["migrate", "--allow-changed"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("migrate: 3 migrations"), "{stdout}");

    // Without botdb's table (diesel_cli, or botdb before checksums), the next migrate
    // records the checksums instead of failing.
    std::fs::write(&edited, text)?;
    let db = t.connect().await;
    crate::support::execute(&db, "DROP TABLE __botdb_migrations").await?;
    let (code, stdout, stderr) = run_botdb(&t.url, &dir, &["migrate"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("nothing to migrate"), "{stdout}");
    let recorded = crate::support::count(
        &db,
        "SELECT COUNT(*) AS n FROM __botdb_migrations WHERE state = 'applied'",
    )
    .await?;
    assert_eq!(recorded, 6);
    std::fs::write(
        &edited,
        format!("-- edited\n{}", std::fs::read_to_string(&edited)?),
    )?;
    let (code, _, _) = run_botdb(&t.url, &dir, &["migrate"]);
    assert_eq!(
        code,
        Some(2),
        "the recorded checksums are checked from then on"
    );
    Ok(())
}

per_backend!(destructive_reverts_are_guarded);

/// A revert that drops data says what and how much, and does nothing without --yes when
/// nobody can be asked.
async fn destructive_reverts_are_guarded(t: TestDb) -> TestResult {
    let db = t.connect().await;
    db.migrate().await?;
    db.seed().await?;
    let before = (
        db.introspect().await?,
        recorded_versions(&db).await?,
        crate::support::row_counts(&db).await?,
    );
    let revert = |args: &[&str]| {
        let out = botdb()
            .args(["--database-url", &t.url, "revert"])
            .args(args)
            .write_stdin("")
            .output()
            .expect("run botdb");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, stderr, _) = revert(&["--to", "2024-12-20-105908"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    for loss in [
        "column products.hidden_content (4 values)",
        "column purchases.payment_id (3 values)",
        "column purchases.payment_type (3 values)",
        "nothing was changed",
    ] {
        assert!(stderr.contains(loss), "{loss} in {stderr}");
    }
    let (code, stderr, _) = revert(&["--all"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("table purchases (3 rows)") && stderr.contains("table users (2 rows)"),
        "{stderr}"
    );
    let after = (
        db.introspect().await?,
        recorded_versions(&db).await?,
        crate::support::row_counts(&db).await?,
    );
    assert_eq!(after, before, "a refused revert changes nothing");

    // Reverting what holds no data needs no confirmation; with --yes the rest goes too.
    let five: Vec<String> = VERSIONS[..5].iter().map(|v| v.to_string()).collect();
    let (code, stderr, stdout) = revert(&[]);
    assert_eq!(code, Some(0), "the last step drops no data: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("reverted 2026-11-25-100100_maintain_updated_at ("),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("revert: 1 migration in ")
            && lines[1].ends_with(" is at 2026-11-25-100000_cascade_deletes"),
        "{stdout}"
    );
    assert_eq!(
        (
            db.introspect().await?,
            recorded_versions(&db).await?,
            crate::support::row_counts(&db).await?,
        ),
        (
            db_schema_after_steps(&t, 5).await?,
            five.clone(),
            before.2.clone()
        ),
        "one step reverted, every row kept"
    );
    let tracked: Vec<(String, String)> = crate::support::tracked_rows(&db)
        .await?
        .into_iter()
        .map(|r| (r.version, r.state))
        .collect();
    assert_eq!(
        tracked,
        five.iter()
            .map(|v| (v.clone(), "applied".to_string()))
            .collect::<Vec<_>>(),
        "its bookkeeping row is gone, the others stay"
    );
    let (code, stderr, _) = revert(&["--all", "--yes"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("reverting deletes data: "), "{stderr}");
    assert!(crate::support::bot_tables(&db.introspect().await?).is_empty());
    Ok(())
}

per_backend!(redo_refuses_to_delete_data_without_yes);

/// `redo` reverts before it applies again, so it is guarded like `revert`: without --yes
/// and nobody to ask, a redo whose revert drops data does nothing at all.
async fn redo_refuses_to_delete_data_without_yes(t: TestDb) -> TestResult {
    let db = t.connect().await;
    db.migrate().await?;
    db.seed().await?;
    let secrets = "SELECT COUNT(*) AS n FROM products WHERE hidden_content <> ''";
    let state = || async {
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((
            db.introspect().await?,
            recorded_versions(&db).await?,
            crate::support::row_counts(&db).await?,
            crate::support::count(&db, secrets).await?,
            crate::support::count(&db, "SELECT COUNT(*) AS n FROM __botdb_migrations").await?,
        ))
    };
    let before = state().await?;
    assert_eq!(before.3, 4, "the seed's products have hidden content");
    let file = || {
        t.sqlite_path()
            .map(|p| std::fs::read(p).expect("read the file"))
    };
    let bytes = file();
    let redo = |args: &[&str]| {
        let out = botdb()
            .args(["--database-url", &t.url, "redo"])
            .args(args)
            // A "y" on a pipe is no answer: only a terminal can confirm.
            .write_stdin("y\n")
            .output()
            .expect("run botdb");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // Reverting 5 steps drops hidden_content, payment_id and payment_type; 6 drops tables.
    for steps in ["5", "6"] {
        let (code, stdout, stderr) = redo(&["--steps", steps]);
        assert_eq!(code, Some(2), "--steps {steps}: {stderr}");
        assert!(stdout.is_empty(), "nothing ran: {stdout}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains("refusing to revert without --yes: it would delete")
                && stderr.contains("nothing was changed"),
            "{stderr}"
        );
        let loss = if steps == "5" {
            "column products.hidden_content (4 values)"
        } else {
            "table purchases (3 rows)"
        };
        assert!(stderr.contains(loss), "{loss} in {stderr}");
        assert_eq!(state().await?, before, "a refused redo changes nothing");
        assert_eq!(file(), bytes, "not a byte of the SQLite file");
    }
    if let Some(path) = t.sqlite_path() {
        assert!(
            botdb::ops::backup::backups(&path)?.is_empty(),
            "no backup for a redo that does not run"
        );
    }

    // With --yes it goes ahead: every row stays, the dropped column's values are gone.
    let (code, stdout, stderr) = redo(&["--steps", "5", "--yes"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("reverting deletes data: "), "{stderr}");
    assert!(stdout.contains("redo: "), "{stdout}");
    let after = state().await?;
    assert_eq!(
        (&after.0, &after.1, &after.2),
        (&before.0, &before.1, &before.2)
    );
    assert_eq!(after.3, 0, "hidden_content was dropped and re-added empty");
    Ok(())
}

/// On a terminal the destructive revert asks; "n" (or anything but y/yes) cancels and
/// changes nothing, "y" goes ahead. `script` gives botdb a real pseudo-terminal.
#[test]
fn destructive_revert_asks_on_a_terminal() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("shop.db");
    let url = format!("sqlite://{}", path.display());
    botdb()
        .args(["--database-url", &url, "migrate"])
        .assert()
        .success();
    botdb()
        .args(["--database-url", &url, "seed"])
        .assert()
        .success();
    let bin = assert_cmd::cargo::cargo_bin("botdb");
    let on_terminal = |answer: &str| -> Result<(Option<i32>, String), std::io::Error> {
        // `script` runs the command line through a shell, so every part is quoted.
        let command = format!(
            "'{}' --database-url '{}' revert --all --no-backup",
            bin.display(),
            url
        );
        let out = std::process::Command::new("script")
            .args(["--quiet", "--return", "--command", &command, "/dev/null"])
            .env_remove("DATABASE_URL")
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .ok_or_else(|| std::io::Error::other("no stdin"))?
                    .write_all(answer.as_bytes())?;
                child.wait_with_output()
            })?;
        Ok((
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ))
    };
    let tables = || -> Result<String, std::io::Error> {
        let out = std::process::Command::new("sqlite3")
            .arg(&path)
            .arg("SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name)")
            .output()?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let before = (tables()?, std::fs::read(&path)?);

    let (code, screen) = on_terminal("n\n")?;
    assert_eq!(code, Some(2), "{screen}");
    assert!(screen.contains("reverting deletes data: "), "{screen}");
    assert!(screen.contains("table purchases (3 rows)"), "{screen}");
    assert!(
        screen.contains("Revert and delete this data? [y/N]"),
        "{screen}"
    );
    assert!(
        screen.contains("revert cancelled; nothing was changed"),
        "{screen}"
    );
    assert_eq!(
        (tables()?, std::fs::read(&path)?),
        before,
        "nothing changed"
    );

    let (code, screen) = on_terminal("y\n")?;
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        screen.contains("reverted 2024-12-20-105908_initial_revision"),
        "{screen}"
    );
    assert_eq!(
        tables()?,
        "__botdb_migrations __diesel_schema_migrations",
        "only the bookkeeping is left"
    );
    Ok(())
}

/// SQLite: each migrate that changes the schema is preceded by a backup next to the file;
/// only the newest few are kept; a run that fails after committing part of its work is
/// undone by putting the backup back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backups_are_kept_and_restored() -> TestResult {
    let t = TestDb::create(Backend::Sqlite).await.ok_or("sqlite")?;
    let path = t.sqlite_path().ok_or("path")?;
    let dir = copy_migrations(&t)?;
    for (i, version) in [
        "2024-12-20-105908",
        "2024-12-20-144707",
        "2024-12-20-215903",
    ]
    .iter()
    .enumerate()
    {
        let (code, _, stderr) = run_botdb(
            &t.url,
            &dir,
            &["migrate", "--to", version, "--keep-backups", "2"],
        );
        assert_eq!(code, Some(0), "{stderr}");
        let backups = botdb::ops::backup::backups(&path)?;
        // The first run starts from an empty file: nothing to back up.
        assert_eq!(backups.len(), i.min(2), "{backups:?}");
    }
    let (code, stdout, _) = run_botdb(&t.url, &dir, &["migrate", "--to", "2024-12-20-215903"]);
    assert!(code == Some(0) && stdout.starts_with("nothing to migrate"));
    assert_eq!(
        botdb::ops::backup::backups(&path)?.len(),
        2,
        "no backup when nothing changes"
    );

    let broken = dir.join("2030-01-01-000000_broken");
    std::fs::create_dir_all(&broken)?;
    std::fs::write(
        broken.join("up.sql"),
        "CREATE TABLE half (id INTEGER);\nSELEKT nonsense;\n",
    )?;
    std::fs::write(broken.join("down.sql"), "DROP TABLE half;\n")?;
    // Rows, so that a restore that lost or duplicated any would show.
    let state = || async {
        let db = t.connect().await;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((
            db.introspect().await?,
            recorded_versions(&db).await?,
            crate::support::row_counts(&db).await?,
        ))
    };
    {
        let db = t.connect().await;
        for batch in 1..=2 {
            crate::support::insert_batch(&db, 3, batch).await?;
        }
    }
    let before = state().await?;
    assert_eq!(before.2, [2, 2, 2, 4]);
    let (code, _, stderr) = run_botdb(&t.url, &dir, &["migrate", "--transaction-per-migration"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("botdb restored the database from the backup taken before the run"),
        "{stderr}"
    );
    // Restored in place (SQLite's online backup), so compared by content below.
    assert!(
        !botdb::ops::backup::backups(&path)?.is_empty(),
        "the backup is kept"
    );
    let after = state().await?;
    assert_eq!(after.1, crate::support::VERSIONS[..3], "back where it was");
    assert!(!after.0.has_table("half"), "the failed run's table is gone");
    assert_eq!(after, before, "schema, versions and rows as before the run");

    // --no-backup: no new file, and nothing to restore.
    let count = botdb::ops::backup::backups(&path)?.len();
    let (code, _, stderr) = run_botdb(
        &t.url,
        &dir,
        &["migrate", "--transaction-per-migration", "--no-backup"],
    );
    assert_eq!(code, Some(2));
    assert!(!stderr.contains("restored"), "{stderr}");
    assert_eq!(botdb::ops::backup::backups(&path)?.len(), count);
    Ok(())
}
