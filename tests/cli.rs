//! The built `botdb` binary end to end: output, exit codes, configuration sources.

use assert_cmd::Command;
use predicates::prelude::*;

use crate::per_backend;
use crate::support::{botdb, TestDb, TestResult, VERSIONS};

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run botdb");
    assert!(
        out.status.success(),
        "botdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

per_backend!(cli_end_to_end);

async fn cli_end_to_end(t: TestDb) -> TestResult {
    let url = t.url.clone();
    let run = move |args: &[&str]| {
        let mut cmd = botdb();
        cmd.arg("--database-url").arg(&url).args(args);
        cmd
    };

    run(&["status", "--check"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("0 applied, 6 pending"));

    let out = stdout_of(&mut run(&["migrate", "--to", "2024-12-20-215903"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[0].starts_with("applied  2024-12-20-105908_initial_revision ("),
        "{out}"
    );
    assert!(
        lines[2].starts_with("applied  2024-12-20-215903_add_column_pay_id ("),
        "{out}"
    );
    assert!(lines[3].starts_with("migrate: 3 migrations in "), "{out}");
    assert!(
        lines[3].ends_with("is at 2024-12-20-215903_add_column_pay_id"),
        "{out}"
    );

    let out = stdout_of(&mut run(&["migrate"]));
    assert_eq!(out.lines().count(), 4, "{out}");
    let out = stdout_of(&mut run(&["migrate"]));
    assert!(out.starts_with("nothing to migrate: "), "{out}");

    run(&["status", "--check"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("6 applied, 0 pending"));
    let json: serde_json::Value =
        serde_json::from_str(&stdout_of(&mut run(&["status", "--json"])))?;
    assert_eq!(json["applied"], 6);
    assert_eq!(json["migrations"][5]["version"], VERSIONS[5]);
    assert_eq!(json["migrations"][5]["state"], "applied");

    let out = stdout_of(&mut run(&["revert"]));
    assert!(
        out.starts_with("reverted 2026-11-25-100100_maintain_updated_at ("),
        "{out}"
    );
    run(&["status", "--check"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "pending  2026-11-25-100100_maintain_updated_at",
        ));

    let out = stdout_of(&mut run(&["redo", "--steps", "2"]));
    let actions: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(
        actions,
        ["reverted", "reverted", "applied", "applied", "redo:"],
        "{out}"
    );

    let out = stdout_of(&mut run(&["revert", "--to", "20241220144707"]));
    assert_eq!(out.lines().count(), 4, "{out}");
    let out = stdout_of(&mut run(&["revert", "--all"]));
    assert!(out.contains("has no migrations applied"), "{out}");
    run(&["status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 applied, 6 pending"));
    Ok(())
}

#[test]
fn default_database_is_created_under_data() -> TestResult {
    let dir = tempfile::tempdir()?;
    botdb()
        .current_dir(dir.path())
        .arg("status")
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "sqlite://{}",
            dir.path().join("data/botdb.sqlite3").display()
        )));
    assert!(
        !dir.path().join("data").exists(),
        "status must not create the database"
    );
    let out = stdout_of(botdb().current_dir(dir.path()).arg("migrate"));
    assert!(out.contains("migrate: 6 migrations"), "{out}");
    assert!(dir.path().join("data/botdb.sqlite3").is_file());
    botdb()
        .current_dir(dir.path())
        .args(["status", "--check"])
        .assert()
        .code(0);
    Ok(())
}

#[test]
fn url_sources_in_order() -> TestResult {
    let dir = tempfile::tempdir()?;
    // The bot's own variable, in SQLAlchemy form, from .env.
    std::fs::write(
        dir.path().join(".env"),
        "DB_URL=sqlite+aiosqlite:///from_dotenv.db\n",
    )?;
    stdout_of(botdb().current_dir(dir.path()).arg("migrate"));
    assert!(dir.path().join("from_dotenv.db").is_file());
    // The real environment wins over .env, DATABASE_URL over DB_URL, the flag over both.
    stdout_of(
        botdb()
            .current_dir(dir.path())
            .env("DB_URL", "sqlite:from_env.db")
            .arg("migrate"),
    );
    assert!(dir.path().join("from_env.db").is_file());
    stdout_of(
        botdb()
            .current_dir(dir.path())
            .env("DB_URL", "sqlite:ignored.db")
            .env("DATABASE_URL", "sqlite://database_url.db")
            .arg("migrate"),
    );
    assert!(dir.path().join("database_url.db").is_file());
    assert!(!dir.path().join("ignored.db").exists());
    stdout_of(
        botdb()
            .current_dir(dir.path())
            .env("DATABASE_URL", "sqlite://ignored.db")
            .args(["--database-url", "flag.db", "migrate"]),
    );
    assert!(dir.path().join("flag.db").is_file());
    assert!(!dir.path().join("ignored.db").exists());
    Ok(())
}

#[test]
fn migrations_dir_replaces_the_embedded_ones() -> TestResult {
    let dir = tempfile::tempdir()?;
    let migrations = dir.path().join("migrations");
    for name in ["2030-01-01-000000_first", "2030-01-02-000000_second"] {
        let m = migrations.join(name);
        std::fs::create_dir_all(&m)?;
        let table = name.rsplit('_').next().unwrap_or(name);
        std::fs::write(
            m.join("up.sql"),
            format!("CREATE TABLE t_{table} (id INTEGER PRIMARY KEY);"),
        )?;
        std::fs::write(m.join("down.sql"), format!("DROP TABLE t_{table};"))?;
    }
    let db = dir.path().join("x.db");
    let out = stdout_of(
        botdb()
            .arg("--database-url")
            .arg(&db)
            .arg("--migrations-dir")
            .arg(&migrations)
            .arg("migrate"),
    );
    assert!(
        out.contains("applied  2030-01-01-000000_first") && out.contains("migrate: 2 migrations"),
        "{out}"
    );
    // The embedded history does not know these versions.
    botdb()
        .arg("--database-url")
        .arg(&db)
        .arg("status")
        .assert()
        .success()
        .stdout(predicate::str::contains("unknown  20300101000000"));
    Ok(())
}

#[test]
fn help_reads_well() {
    botdb()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("migrate").and(predicate::str::contains("Exit codes")));
    for command in [
        "migrate",
        "revert",
        "redo",
        "status",
        "print-sql",
        "stamp",
        "adopt",
        "check",
        "verify",
        "setup",
        "reset",
        "seed",
        "resolve",
        "repair",
    ] {
        botdb()
            .args([command, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("--database-url"));
    }
}
