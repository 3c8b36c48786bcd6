//! Bad input: each is one line on stderr naming what failed and what to do, exit code 2,
//! no panic, and never the password.

use assert_cmd::Command;

use crate::per_backend;
use crate::support::{botdb, required_server_url, with_database, TestDb, TestResult};
use botdb::Backend;

const PASSWORD: &str = "s3cr3t-Pa55";

/// Runs botdb with `args` (at -vv, so logs are checked too) and returns its stderr,
/// after checking the shape every failure must have.
fn fails(mut cmd: Command, args: &[&str]) -> String {
    let out = cmd.arg("-vv").args(args).output().expect("run botdb");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?}: exit code; stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert!(
        !stderr.contains(PASSWORD) && !stdout.contains(PASSWORD),
        "{args:?} leaked the password: {stderr}"
    );
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(
        errors.len(),
        1,
        "{args:?}: exactly one error line expected: {stderr}"
    );
    errors[0].to_string()
}

fn with_url(url: &str, args: &[&str]) -> String {
    let mut full = vec!["--database-url", url];
    full.extend_from_slice(args);
    fails(botdb(), &full)
}

#[test]
fn bad_urls() {
    let e = with_url(&format!("oracle://bot:{PASSWORD}@db/shop"), &["migrate"]);
    assert!(
        e.contains("unsupported database URL scheme `oracle`") && e.contains("use sqlite://"),
        "{e}"
    );
    let e = with_url(
        &format!("postgres://bot:{PASSWORD}@db:99999/shop"),
        &["status"],
    );
    assert!(
        e.contains("invalid database URL") && e.contains("postgres://bot:***@db:99999/shop"),
        "{e}"
    );
    let e = with_url(&format!("mysql://bot:{PASSWORD}@db"), &["migrate"]);
    assert!(e.contains("names no database"), "{e}");
}

#[test]
fn unreachable_server() {
    let e = with_url(
        &format!("postgres://bot:{PASSWORD}@127.0.0.1:1/shop"),
        &["migrate"],
    );
    assert!(
        e.contains("cannot connect to postgres://bot:***@127.0.0.1:1/shop"),
        "{e}"
    );
    assert!(e.contains("check that the server is running"), "{e}");
    let e = with_url(
        &format!("mysql://bot:{PASSWORD}@127.0.0.1:1/shop"),
        &["status"],
    );
    assert!(
        e.contains("cannot connect to mysql://bot:***@127.0.0.1:1/shop"),
        "{e}"
    );
}

#[test]
fn unwritable_sqlite_path() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("a-file");
    std::fs::write(&file, "")?;
    let e = with_url(
        &format!("sqlite://{}/db.sqlite3", file.display()),
        &["migrate"],
    );
    assert!(
        e.contains("cannot create the folder") && e.contains("check the path"),
        "{e}"
    );
    Ok(())
}

#[test]
fn bad_versions_and_steps() -> TestResult {
    let dir = tempfile::tempdir()?;
    let url = dir.path().join("x.db").display().to_string();
    let e = with_url(&url, &["migrate", "--to", "2099-01-01-000000"]);
    assert!(
        e.contains("unknown migration `2099-01-01-000000`") && e.contains("botdb status"),
        "{e}"
    );
    botdb()
        .args([
            "--database-url",
            &url,
            "migrate",
            "--to",
            "2024-12-20-144707",
        ])
        .assert()
        .success();
    let e = with_url(&url, &["revert", "--steps", "0"]);
    assert!(
        e.ends_with("a revert of 0 steps does nothing; pass --steps 1 or more"),
        "{e}"
    );
    let e = with_url(&url, &["revert", "--steps", "3"]);
    assert!(
        e.contains("cannot revert 3 migrations: the database has 2 migrations applied; use --all"),
        "{e}"
    );
    let e = with_url(&url, &["revert", "--to", "2024-12-26-132844"]);
    assert!(e.contains("is not applied"), "{e}");
    let e = fails(
        botdb(),
        &["--database-url", &url, "revert", "--steps", "1", "--all"],
    );
    assert!(e.contains("cannot be used with"), "{e}");
    Ok(())
}

#[test]
fn bad_migrations_dir() -> TestResult {
    let dir = tempfile::tempdir()?;
    let url = dir.path().join("x.db").display().to_string();
    let missing = dir.path().join("nowhere");
    let e = with_url(
        &url,
        &[
            "--migrations-dir",
            &missing.display().to_string(),
            "migrate",
        ],
    );
    assert!(e.contains("cannot read migrations from"), "{e}");
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(bad.join("nounderscore"))?;
    let e = with_url(
        &url,
        &["--migrations-dir", &bad.display().to_string(), "migrate"],
    );
    assert!(e.contains("is not named <version>_<name>"), "{e}");
    let no_down = dir.path().join("nodown");
    std::fs::create_dir_all(no_down.join("2030-01-01-000000_x"))?;
    std::fs::write(no_down.join("2030-01-01-000000_x/up.sql"), "SELECT 1;")?;
    let e = with_url(
        &url,
        &[
            "--migrations-dir",
            &no_down.display().to_string(),
            "migrate",
        ],
    );
    assert!(e.contains("has no down.sql"), "{e}");
    Ok(())
}

per_backend!(failing_migration_is_reported_and_rolled_back);

/// A migration that fails names itself and the database's message, and leaves the
/// database as it was on the transactional backends.
async fn failing_migration_is_reported_and_rolled_back(t: TestDb) -> TestResult {
    let backend = t.backend;
    let dir = t.scratch_dir().join("migrations");
    let m = dir.join("2030-01-01-000000_broken");
    std::fs::create_dir_all(&m)?;
    std::fs::write(
        m.join("up.sql"),
        "CREATE TABLE fine (id INTEGER PRIMARY KEY);\nSELEKT nonsense;\n",
    )?;
    std::fs::write(m.join("down.sql"), "DROP TABLE fine;")?;
    let e = with_url(
        &t.url,
        &["--migrations-dir", &dir.display().to_string(), "migrate"],
    );
    assert!(
        e.contains("applying of migration 2030-01-01-000000_broken failed"),
        "{e}"
    );
    assert!(
        e.to_lowercase().contains("selekt"),
        "the database's message: {e}"
    );
    let tables = t.connect().await.introspect().await?;
    if backend == Backend::Mysql {
        assert!(e.contains("check the schema by hand"), "{e}");
    } else {
        assert!(e.contains("rolled back"), "{e}");
        assert!(
            tables.tables.is_empty(),
            "{backend}: {:?}",
            tables.table_names()
        );
    }
    Ok(())
}

per_backend!(postgres, mysql; missing_database_is_named);

async fn missing_database_is_named(t: TestDb) -> TestResult {
    let backend = t.backend;
    let server = required_server_url(backend);
    let mut missing = url::Url::parse(&with_database(&server, "botdb_no_such_database_x9"))?;
    missing
        .set_password(Some(PASSWORD))
        .map_err(|()| "cannot set password")?;
    let e = with_url(missing.as_str(), &["migrate"]);
    assert!(
        e.contains("create the database with `botdb setup`")
            || e.contains("check the user name and password"),
        "{e}"
    );
    if backend == Backend::Postgres {
        assert!(e.contains("does not exist"), "{e}");
    }
    Ok(())
}

// PostgreSQL here trusts local connections, so only MariaDB can refuse a password.
per_backend!(mysql; a_wrong_password_is_refused);

async fn a_wrong_password_is_refused(t: TestDb) -> TestResult {
    let mut wrong = url::Url::parse(&t.url)?;
    wrong
        .set_password(Some(PASSWORD))
        .map_err(|()| "cannot set password")?;
    let e = with_url(wrong.as_str(), &["migrate"]);
    assert!(
        e.contains("Access denied") && e.contains("check the user name and password"),
        "{e}"
    );
    Ok(())
}

/// MariaDB answers a missing database only to a user it lets in: with the right
/// credentials the error must say to create the database, not to check the password.
#[test]
#[cfg_attr(not(botdb_test_mysql), ignore = "set TEST_MYSQL_URL to run it")]
fn mysql_missing_database_with_the_right_credentials() -> TestResult {
    let server = required_server_url(Backend::Mysql);
    let url = with_database(&server, "botdb_no_such_database_x9");
    let redacted = url::Url::parse(&url)?;
    for command in ["migrate", "status", "print-sql"] {
        let e = with_url(&url, &[command]);
        assert!(
            e.contains(&format!(
                "cannot connect to {}",
                redacted.as_str().trim_end_matches('/')
            )),
            "{command}: {e}"
        );
        assert!(
            e.contains("Unknown database 'botdb_no_such_database_x9'"),
            "{command}: the server's own message: {e}"
        );
        assert!(
            e.ends_with(
                "create the database with `botdb setup` (or CREATE DATABASE), or fix its name in the URL"
            ),
            "{command}: {e}"
        );
        assert!(!e.contains("password"), "{command}: {e}");
    }
    Ok(())
}
