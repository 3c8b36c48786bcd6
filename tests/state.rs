//! State and hints: stamp and resolve check the schema first, repair accepts an edited
//! migration once, status explains an Alembic database, and the hints and refusals a
//! newcomer meets say the right thing.

use botdb::Backend;

use crate::per_backend;
use crate::support::{
    botdb, copy_migrations, execute, insert_batch, recorded_versions, required_server_url,
    run_botdb, run_url, tracked_rows, with_database, TestDb, TestResult, VERSIONS,
};

/// The one `error:` line of a failed run (exit 2), checked to be the only one.
fn error_line(code: Option<i32>, stderr: &str) -> String {
    assert_eq!(code, Some(2), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "one error line expected: {stderr}");
    errors[0].to_string()
}

/// The state of both bookkeeping tables, to show that a refusal recorded nothing.
async fn bookkeeping(
    db: &botdb::Database,
) -> Result<(Vec<String>, Vec<String>), Box<dyn std::error::Error + Send + Sync>> {
    let tracked = tracked_rows(db)
        .await?
        .into_iter()
        .map(|r| format!("{} {} {}", r.version, r.state, r.checksum))
        .collect();
    Ok((recorded_versions(db).await?, tracked))
}

per_backend!(sqlite, postgres; stamp_checks_the_schema_unless_forced);

async fn stamp_checks_the_schema_unless_forced(t: TestDb) -> TestResult {
    let db = t.connect().await;
    db.migrate_with(Some(VERSIONS[3]), &mut |_| {}).await?;
    insert_batch(&db, 4, 1).await?;
    let before = bookkeeping(&db).await?;

    // The schema has payment_id and payment_type, which VERSIONS[1] does not.
    let (code, stdout, stderr) = run_url(&t.url, &["stamp", VERSIONS[1]]);
    let line = error_line(code, &stderr);
    assert!(
        line.starts_with(
            "error: refusing to stamp 2024-12-20-144707_add_hidden_content: the schema is not what the migrations produce there (3 differences: "
        ) && line.contains("purchases: column payment_id not expected")
            && line.ends_with("nothing was recorded: bring the schema there, name the version it really is at, or pass --force to record it anyway"),
        "{line}"
    );
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(
        bookkeeping(&db).await?,
        before,
        "a refused stamp records nothing"
    );
    // --head is the newest migration, whose triggers and cascades are not there either.
    let (code, _, stderr) = run_url(&t.url, &["stamp", "--head"]);
    assert!(error_line(code, &stderr)
        .contains("refusing to stamp 2026-11-25-100100_maintain_updated_at"));
    assert_eq!(bookkeeping(&db).await?, before);

    // The version the schema really is at is accepted.
    let (code, stdout, stderr) = run_url(&t.url, &["stamp", VERSIONS[3]]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("stamp: 0 recorded, 0 removed"), "{stdout}");

    // --force records what it is told.
    let (code, stdout, stderr) = run_url(&t.url, &["stamp", "--force", VERSIONS[1]]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("stamp: 0 recorded, 2 removed"), "{stdout}");
    assert_eq!(recorded_versions(&db).await?, VERSIONS[..2]);
    Ok(())
}

per_backend!(sqlite, postgres; resolve_checks_the_schema_unless_forced);

/// A dirty migration made by hand (MySQL leaves one after a failure part-way): the schema
/// has all of VERSIONS[3], which is marked dirty.
async fn resolve_checks_the_schema_unless_forced(t: TestDb) -> TestResult {
    let db = t.connect().await;
    db.migrate_with(Some(VERSIONS[3]), &mut |_| {}).await?;
    insert_batch(&db, 4, 1).await?;
    let dirty = format!(
        "UPDATE __botdb_migrations SET state = 'dirty', detail = 'failed by hand' WHERE version = '{}'",
        VERSIONS[3]
    );
    execute(&db, &dirty).await?;
    let before = bookkeeping(&db).await?;

    let (code, _, stderr) = run_url(&t.url, &["resolve", VERSIONS[3], "--reverted"]);
    let line = error_line(code, &stderr);
    assert!(
        line.starts_with("error: refusing to resolve 2024-12-26-132844_upd_table_purchases as reverted: the schema is not what the migrations produce there (1 difference: purchases: column payment_type not expected)"),
        "{line}"
    );
    assert_eq!(
        bookkeeping(&db).await?,
        before,
        "a refused resolve records nothing"
    );

    let (code, stdout, stderr) = run_url(&t.url, &["resolve", VERSIONS[3], "--applied"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("recorded as applied"), "{stdout}");
    let states: Vec<String> = tracked_rows(&db)
        .await?
        .into_iter()
        .map(|r| r.state)
        .collect();
    assert!(states.iter().all(|s| s == "applied"), "{states:?}");

    execute(&db, &dirty).await?;
    let (code, _, stderr) = run_url(&t.url, &["resolve", VERSIONS[3], "--reverted", "--force"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(recorded_versions(&db).await?, VERSIONS[..3]);
    assert!(!tracked_rows(&db)
        .await?
        .iter()
        .any(|r| r.version == VERSIONS[3]));
    Ok(())
}

per_backend!(sqlite, postgres; repair_accepts_an_edited_migration_once);

async fn repair_accepts_an_edited_migration_once(t: TestDb) -> TestResult {
    let dir = copy_migrations(t.backend, &t.scratch_dir())?;
    let (code, _, stderr) = run_botdb(&t.url, &dir, &["migrate", "--to", VERSIONS[3]]);
    assert_eq!(code, Some(0), "{stderr}");
    let db = t.connect().await;
    insert_batch(&db, 4, 1).await?;

    let refused = run_botdb(&t.url, &dir, &["repair", VERSIONS[0]]);
    assert_eq!(
        error_line(refused.0, &refused.2),
        "error: migration 2024-12-20-105908_initial_revision is applied and its up.sql is unchanged, so there is nothing to repair; `botdb status` marks edited migrations as `changed`"
    );
    let refused = run_botdb(&t.url, &dir, &["repair", VERSIONS[4]]);
    assert_eq!(
        error_line(refused.0, &refused.2),
        "error: migration 2026-11-25-100000_cascade_deletes is not applied, so it has no recorded checksum to repair; `botdb migrate` applies it"
    );

    let up = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("initial_revision"))
        .ok_or("initial_revision")?
        .join("up.sql");
    let edited = format!("{}\n-- reviewed\n", std::fs::read_to_string(&up)?);
    std::fs::write(&up, &edited)?;

    let (code, stdout, stderr) = run_botdb(&t.url, &dir, &["status"]);
    assert!(
        stdout.contains("changed  2024-12-20-105908_initial_revision"),
        "{stdout}"
    );
    let line = error_line(code, &stderr);
    assert!(
        line.ends_with(
            "record it once with `botdb repair VERSION` or pass --allow-changed for this run"
        ),
        "{line}"
    );
    let (code, _, stderr) = run_botdb(&t.url, &dir, &["migrate"]);
    error_line(code, &stderr);

    let (code, stdout, stderr) = run_botdb(&t.url, &dir, &["repair", "2024-12-20-105908"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "repaired 2024-12-20-105908_initial_revision: recorded the checksum of its up.sql as it is now\n"
    );
    let recorded = tracked_rows(&db)
        .await?
        .into_iter()
        .find(|r| r.version == VERSIONS[0])
        .ok_or("tracked row")?;
    assert_eq!(recorded.checksum, botdb::checksum::sha256_hex(&edited));
    assert_eq!(recorded.state, "applied");

    // Accepted for good: status exits 0, migrate needs no --allow-changed.
    let (code, stdout, stderr) = run_botdb(&t.url, &dir, &["status"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(!stdout.contains("changed"), "{stdout}");
    let (code, _, stderr) = run_botdb(&t.url, &dir, &["migrate"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(recorded_versions(&db).await?, VERSIONS);
    Ok(())
}

/// An Alembic database at 5ca0f991801d as botdb's history left it, without diesel's or
/// botdb's bookkeeping.
async fn alembic_database(
    t: &TestDb,
) -> Result<botdb::Database, Box<dyn std::error::Error + Send + Sync>> {
    let db = t.connect().await;
    db.migrate_with(Some(VERSIONS[3]), &mut |_| {}).await?;
    insert_batch(&db, 4, 1).await?;
    execute(&db, "DROP TABLE __diesel_schema_migrations").await?;
    execute(&db, "DROP TABLE __botdb_migrations").await?;
    execute(
        &db,
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
    )
    .await?;
    execute(&db, "INSERT INTO alembic_version VALUES ('5ca0f991801d')").await?;
    Ok(db)
}

per_backend!(sqlite, postgres; status_explains_an_alembic_database);

async fn status_explains_an_alembic_database(t: TestDb) -> TestResult {
    let db = alembic_database(&t).await?;
    let schema = db.introspect().await?;

    let (code, stdout, stderr) = run_url(&t.url, &["status"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("0 applied, 6 pending\n"), "{stdout}");
    assert!(
        stdout.ends_with("alembic: the Python bot's Alembic left revision 5ca0f991801d (2024-12-26-132844_upd_table_purchases); `botdb migrate` will check the schema, adopt 4 migrations (record them as applied without running them) and apply 2\n"),
        "{stdout}"
    );
    let (code, stdout, stderr) = run_url(&t.url, &["status", "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout)?;
    assert_eq!(
        json["alembic"],
        serde_json::json!({
            "revision": "5ca0f991801d",
            "known": true,
            "migration": "2024-12-26-132844_upd_table_purchases",
            "adopt": 4,
            "apply": 2,
        })
    );
    assert_eq!(db.introspect().await?, schema, "status writes nothing");

    // What status announced is what migrate does.
    let (code, stdout, stderr) = run_url(&t.url, &["migrate"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("4 migrations recorded as applied"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("applied  ").count(), 2, "{stdout}");
    // Once adopted, status no longer speaks of Alembic.
    let (_, stdout, _) = run_url(&t.url, &["status", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout)?;
    assert!(json["alembic"].is_null(), "{stdout}");
    Ok(())
}

#[test]
fn seed_and_check_create_no_missing_sqlite_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let folder = dir.path().join("not-yet");
    let path = folder.join("shop.sqlite3");
    let url = format!("sqlite://{}", path.display());
    for command in ["seed", "check"] {
        let (code, _, stderr) = run_url(&url, &[command]);
        assert_eq!(
            error_line(code, &stderr),
            format!("error: {url} does not exist; create it with `botdb setup` (or `botdb migrate`), or fix the path in the URL; nothing was created")
        );
        assert!(!path.exists(), "{command} created {}", path.display());
        assert!(!folder.exists(), "{command} created {}", folder.display());
    }
    Ok(())
}

#[test]
fn redo_refuses_as_redo_and_reset_takes_y() -> TestResult {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("shop.sqlite3").display());
    for args in [&["migrate"][..], &["seed"]] {
        let (code, _, stderr) = run_url(&url, args);
        assert_eq!(code, Some(0), "{stderr}");
    }
    let (code, _, stderr) = run_url(&url, &["redo", "--steps", "3"]);
    assert_eq!(
        error_line(code, &stderr),
        "error: refusing to redo without --yes: it would delete column purchases.payment_type (3 values); nothing was changed"
    );
    let (code, _, stderr) = run_url(&url, &["revert", "--steps", "9"]);
    assert_eq!(
        error_line(code, &stderr),
        "error: cannot revert 9 migrations: the database has 6 migrations applied; use --all to revert everything"
    );
    let (code, stdout, stderr) = run_url(&url, &["reset", "-y"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("migrate: 6 migrations"), "{stdout}");
    Ok(())
}

#[test]
fn verify_reports_a_leftover_once() -> TestResult {
    let dir = tempfile::tempdir()?;
    let migrations = copy_migrations(Backend::Sqlite, dir.path())?;
    crate::support::add_migration(
        &migrations,
        "2030-01-01-000000_coupons",
        "CREATE TABLE IF NOT EXISTS coupons (id INTEGER PRIMARY KEY);",
        "SELECT 1;",
        None,
    )?;
    let url = format!("sqlite://{}", dir.path().join("shop.sqlite3").display());
    let (code, stdout, stderr) = run_botdb(&url, &migrations, &["verify"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stdout,
        "failed   after reverting 2030-01-01-000000_coupons: coupons: table not expected\nverify: 1 problem in 7 migrations (sqlite)\n"
    );
    Ok(())
}

#[test]
fn an_unencoded_slash_in_a_password_gets_the_percent_encoding_hint() {
    for url in [
        "postgres://bot:pa/ss@127.0.0.1:5432/shop",
        "mysql://bot:pa/ss@127.0.0.1:3306/shop",
    ] {
        let out = botdb()
            .args(["--database-url", url, "status"])
            .output()
            .expect("run botdb");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = error_line(out.status.code(), &stderr);
        assert!(line.contains("percent-encode `/`"), "{line}");
        assert!(line.contains("(%2F"), "{line}");
        assert!(
            !line.contains("pa/ss") && !line.contains("ss@"),
            "the password leaked: {line}"
        );
    }
}

#[test]
#[cfg_attr(not(botdb_test_postgres), ignore = "set TEST_POSTGRES_URL to run it")]
fn a_missing_postgres_role_is_not_a_missing_database() {
    let server = url::Url::parse(&required_server_url(Backend::Postgres)).expect("URL");
    let url = format!(
        "postgres://botdb_no_such_role_x9@{}:{}/postgres",
        server.host_str().unwrap_or("127.0.0.1"),
        server.port().unwrap_or(5432)
    );
    let (code, _, stderr) = run_url(&url, &["status"]);
    let line = error_line(code, &stderr);
    assert!(
        line.contains("role \"botdb_no_such_role_x9\" does not exist"),
        "{line}"
    );
    assert!(
        line.ends_with("the server has no user (role) of that name: fix the user name in the database URL, or create the role with its password (CREATE ROLE … LOGIN PASSWORD …)"),
        "{line}"
    );
    assert!(!line.contains("botdb setup"), "{line}");

    let missing = with_database(
        &required_server_url(Backend::Postgres),
        "botdb_no_such_database_x9",
    );
    let (code, _, stderr) = run_url(&missing, &["migrate"]);
    assert!(
        error_line(code, &stderr).ends_with("create the database with `botdb setup` (or CREATE DATABASE), or fix its name in the URL"),
        "{stderr}"
    );
}

#[test]
#[cfg_attr(not(botdb_test_mysql), ignore = "set TEST_MYSQL_URL to run it")]
fn an_unknown_mysql_user_is_told_to_check_the_credentials() {
    let server = url::Url::parse(&required_server_url(Backend::Mysql)).expect("URL");
    let url = format!(
        "mysql://botdb_no_such_user_x9:s3cr3t-Pa55@{}:{}/mysql",
        server.host_str().unwrap_or("127.0.0.1"),
        server.port().unwrap_or(3306)
    );
    let (code, _, stderr) = run_url(&url, &["status"]);
    let line = error_line(code, &stderr);
    assert!(
        line.contains("Access denied for user 'botdb_no_such_user_x9'"),
        "{line}"
    );
    assert!(
        line.ends_with("check the user name and password in the database URL (percent-encode special characters in the password), and that this user may log in from this host"),
        "{line}"
    );
    assert!(
        !line.contains("s3cr3t-Pa55") && !line.contains("botdb setup"),
        "{line}"
    );
}
