//! Faults around the migration catalogue and what is built from it: print-sql scripts that
//! must stop at their first error, `print-sql -o` aimed at the database, migration folders
//! that cannot be told apart, and a hole in the recorded history.

use std::path::{Path, PathBuf};
use std::process::Output;

use botdb::{Backend, Database, Schema};

use crate::per_backend;
use crate::support::{
    add_migration, apply_with_client, botdb, copy_migrations, count, execute, recorded_versions,
    run_botdb, TestDb, TestResult, VERSIONS,
};

per_backend!(
    print_sql_scripts_stop_at_the_first_error,
    a_bad_migrations_dir_is_refused_up_front,
    check_reports_a_hole_in_the_history
);
per_backend!(sqlite; print_sql_output_never_overwrites_the_database);

const BROKEN: &str = "2030-01-01-000000_broken";
const AFTER: &str = "2030-01-02-000000_after_broken";
const HEAD: &str = "2026-11-25-100100";

/// The one `error:` line of a failed run, after checking it failed with exit code 2.
fn one_error(code: Option<i32>, stderr: &str, what: &str) -> String {
    assert_eq!(code, Some(2), "{what}: exit code; stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{what} panicked: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{what}: one error line expected: {stderr}");
    errors[0].to_string()
}

/// What a test compares before and after: the schema, diesel's versions, botdb's rows.
async fn state(
    db: &Database,
) -> Result<(Schema, Vec<String>, i64), Box<dyn std::error::Error + Send + Sync>> {
    Ok((
        db.introspect().await?,
        recorded_versions(db).await?,
        count(db, "SELECT COUNT(*) AS n FROM __botdb_migrations").await?,
    ))
}

/// `psql -f SCRIPT URL` as a DBA may type it, without `-v ON_ERROR_STOP=1`.
fn plain_psql(
    t: &TestDb,
    script: &str,
) -> Result<Output, Box<dyn std::error::Error + Send + Sync>> {
    let file = t.scratch_dir().join("plain.sql");
    std::fs::write(&file, script)?;
    Ok(std::process::Command::new("psql")
        .args(["-X", "-q", "-f"])
        .arg(&file)
        .arg(&t.direct_url)
        .env("PGOPTIONS", "-c client_min_messages=warning")
        .output()?)
}

/// A print-sql script whose second-to-last migration fails, applied with the database's
/// own client as its header says, stops there: nothing of it or after it is applied or
/// recorded (on MySQL it is left marked running, i.e. dirty, as `migrate` leaves it).
async fn print_sql_scripts_stop_at_the_first_error(t: TestDb) -> TestResult {
    let mysql = t.backend == Backend::Mysql;
    let dir = copy_migrations(t.backend, &t.scratch_dir())?;
    // MySQL commits each DDL statement, so there the failure comes first, and the
    // migration leaves nothing behind on any backend.
    let up = if mysql {
        "SELEKT nonsense;\nCREATE TABLE broken_first (id INTEGER PRIMARY KEY);\n"
    } else {
        "CREATE TABLE broken_first (id INTEGER PRIMARY KEY);\nSELEKT nonsense;\n"
    };
    add_migration(&dir, BROKEN, up, "DROP TABLE broken_first;\n", None)?;
    add_migration(
        &dir,
        AFTER,
        "CREATE TABLE after_broken (id INTEGER PRIMARY KEY);\n",
        "DROP TABLE after_broken;\n",
        None,
    )?;
    let (code, _, stderr) = run_botdb(&t.url, &dir, &["migrate", "--to", HEAD]);
    assert_eq!(code, Some(0), "{stderr}");
    let db = t.connect().await;
    let before = state(&db).await?;
    assert_eq!(before.1, VERSIONS);

    let variants: &[&[&str]] = if mysql {
        &[&[]]
    } else {
        &[&[], &["--transaction-per-migration"]]
    };
    for extra in variants {
        let (code, script, stderr) = run_botdb(&t.url, &dir, &[&["print-sql"], *extra].concat());
        assert_eq!(code, Some(0), "{stderr}");
        assert!(
            script.contains(BROKEN) && script.contains(AFTER),
            "{script}"
        );

        let applied = apply_with_client(&t, &script);
        assert!(
            applied.is_err(),
            "{extra:?}: the client must report the failure"
        );
        let after = state(&db).await?;
        assert_eq!(after.0, before.0, "{extra:?}: the schema must be unchanged");
        assert_eq!(after.1, VERSIONS, "{extra:?}: diesel must not record it");
        if mysql {
            let running = count(
                &db,
                "SELECT COUNT(*) AS n FROM __botdb_migrations \
                 WHERE version = '20300101000000' AND state = 'running'",
            )
            .await?;
            assert_eq!(running, 1, "the failed migration is left dirty");
            assert_eq!(after.2, before.2 + 1, "and nothing else is tracked");
        } else {
            assert_eq!(after.2, before.2, "{extra:?}: botdb must not track it");
        }

        if t.backend == Backend::Postgres {
            // A DBA who leaves out `-v ON_ERROR_STOP=1` gets the same: the script sets it.
            let out = plain_psql(&t, &script)?;
            assert_eq!(
                out.status.code(),
                Some(3),
                "{extra:?}: psql must stop at the error: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(state(&db).await?, before, "{extra:?}: plain psql");
        }
    }

    // The gate sees the failure: pending (or, on MySQL, dirty).
    let (code, stdout, stderr) = run_botdb(&t.url, &dir, &["status", "--check"]);
    assert_eq!(code, Some(if mysql { 2 } else { 1 }), "{stdout}{stderr}");
    assert!(stdout.contains(&format!("pending  {AFTER}")), "{stdout}");
    Ok(())
}

/// Folders that cannot be told apart, a folder without a version, and an empty folder
/// are refused before anything is read from or written to the database, naming them.
async fn a_bad_migrations_dir_is_refused_up_front(t: TestDb) -> TestResult {
    let db = t.connect().await;
    db.migrate().await?;
    let before = state(&db).await?;
    let file_before = t.sqlite_path().map(std::fs::read).transpose()?;

    let root = t.scratch_dir();
    let duplicates = copy_migrations(t.backend, &root.join("duplicates"))?;
    for name in ["2030-01-01-000000_a", "2030-01-01-000000_b"] {
        add_migration(
            &duplicates,
            name,
            "CREATE TABLE dup_a (id INTEGER PRIMARY KEY);\n",
            "DROP TABLE dup_a;\n",
            None,
        )?;
    }
    let unversioned = copy_migrations(t.backend, &root.join("unversioned"))?;
    add_migration(
        &unversioned,
        "foo_bar",
        "CREATE TABLE foo_bar (id INTEGER PRIMARY KEY);\n",
        "DROP TABLE foo_bar;\n",
        None,
    )?;
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty)?;

    let cases: [(&Path, Vec<String>); 3] = [
        (
            &duplicates,
            vec![
                "2030-01-01-000000_a".into(),
                "2030-01-01-000000_b".into(),
                "20300101000000".into(),
            ],
        ),
        (&unversioned, vec!["`foo_bar`".into(), "version".into()]),
        (
            &empty,
            vec![format!(
                "cannot read migrations from {}: the folder holds no migrations",
                empty.display()
            )],
        ),
    ];
    for (dir, wanted) in &cases {
        for args in [
            &["status"][..],
            &["status", "--check"],
            &["print-sql"],
            &["print-sql", "--offline"],
            &["migrate"],
            &["revert", "--yes"],
            &["check"],
        ] {
            let (code, _, stderr) = run_botdb(&t.url, dir, args);
            let what = format!("{args:?} with {}", dir.display());
            let error = one_error(code, &stderr, &what);
            for w in wanted {
                assert!(
                    error.contains(w.as_str()),
                    "{what}: `{w}` missing in {error}"
                );
            }
            assert_eq!(state(&db).await?, before, "{what} changed the database");
        }
    }
    if let (Some(path), Some(bytes)) = (t.sqlite_path(), file_before) {
        assert!(std::fs::read(path)? == bytes, "the SQLite file changed");
    }
    Ok(())
}

/// A version row deleted in the middle of the history: `check` reports the migration
/// that is not recorded although later ones are, and fails as `status --check` does.
async fn check_reports_a_hole_in_the_history(t: TestDb) -> TestResult {
    let db = t.connect().await;
    db.migrate().await?;
    execute(
        &db,
        "DELETE FROM __diesel_schema_migrations WHERE version = '20261125100000'",
    )
    .await?;
    let before = state(&db).await?;

    let out = botdb().args(["--database-url", &t.url, "check"]).output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let hole: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("2026-11-25-100000_cascade_deletes"))
        .collect();
    assert_eq!(hole.len(), 1, "one line names the hole: {stdout}");
    assert!(hole[0].contains("not recorded as applied"), "{}", hole[0]);
    assert!(!stdout.contains("no drift"), "{stdout}");

    let out = botdb()
        .args(["--database-url", &t.url, "check", "--json"])
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(json["drift"], true, "{json}");
    assert_eq!(
        json["report"]["unrecorded"][0]["name"], "2026-11-25-100000_cascade_deletes",
        "{json}"
    );

    botdb()
        .args(["--database-url", &t.url, "status", "--check"])
        .assert()
        .code(1);
    assert_eq!(state(&db).await?, before, "check must not write");

    // Recorded again, the history is whole and check passes.
    execute(
        &db,
        "INSERT INTO __diesel_schema_migrations (version) VALUES ('20261125100000')",
    )
    .await?;
    botdb()
        .args(["--database-url", &t.url, "check"])
        .assert()
        .code(0);
    Ok(())
}

/// `print-sql -o` given the database file, however spelled, or any SQLite database,
/// refuses and leaves it byte for byte as it was; a script file is written whole.
async fn print_sql_output_never_overwrites_the_database(t: TestDb) -> TestResult {
    let db = t.connect().await;
    db.migrate_with(Some(VERSIONS[3]), &mut |_| {}).await?;
    drop(db);
    let path = t.sqlite_path().ok_or("sqlite path")?;
    let bytes = std::fs::read(&path)?;
    let folder = path.parent().ok_or("folder")?.to_path_buf();
    let name = path.file_name().ok_or("name")?;
    let out_dir = t.scratch_dir();

    let link = out_dir.join("link.sqlite3");
    std::os::unix::fs::symlink(&path, &link)?;
    let hard = folder.join("hard.sqlite3");
    std::fs::hard_link(&path, &hard)?;
    let copy = out_dir.join("copy.db");
    std::fs::copy(&path, &copy)?;
    let spellings: [PathBuf; 5] = [
        path.clone(),
        folder.join(".").join(name),
        link.clone(),
        hard.clone(),
        copy.clone(),
    ];
    for target in &spellings {
        let target_text = target.display().to_string();
        for args in [
            &["print-sql", "-o", &target_text][..],
            &["print-sql", "--offline", "-o", &target_text],
            &[
                "print-sql",
                "--offline",
                "--dialect",
                "postgres",
                "-o",
                &target_text,
            ],
        ] {
            let out = botdb()
                .args(["--database-url", &t.url])
                .args(args)
                .output()?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            let error = one_error(out.status.code(), &stderr, &format!("{args:?}"));
            assert!(
                error.contains("refusing to write") && error.contains("nothing was written"),
                "{error}"
            );
            assert!(
                std::fs::read(&path)? == bytes,
                "{args:?}: the database changed"
            );
            assert!(
                std::fs::read(target)? == bytes,
                "{args:?}: the target changed"
            );
            assert!(
                std::fs::symlink_metadata(&link)?.file_type().is_symlink(),
                "the link stays a link"
            );
        }
    }

    // Nor its journal or lock file, whether they exist or not: nothing is created or replaced.
    for suffix in ["-journal", ".lock"] {
        let mut companion = path.clone().into_os_string();
        companion.push(suffix);
        let inode = |p: &std::ffi::OsStr| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(p).ok().map(|m| (m.ino(), m.len()))
        };
        let before = inode(&companion);
        let out = botdb()
            .args(["--database-url", &t.url, "print-sql", "-o"])
            .arg(&companion)
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let error = one_error(out.status.code(), &stderr, suffix);
        assert!(error.contains(&format!("the {suffix} file")), "{error}");
        assert_eq!(inode(&companion), before, "{suffix} was written");
    }

    // A script file, new or old, gets the whole script, through a symlink too, and
    // nothing is left beside it.
    let stdout = botdb()
        .args(["--database-url", &t.url, "print-sql"])
        .output()?
        .stdout;
    let script = out_dir.join("deploy.sql");
    let script_link = out_dir.join("deploy-link.sql");
    std::os::unix::fs::symlink(&script, &script_link)?;
    for target in [&script, &script, &script_link] {
        let out = botdb()
            .args(["--database-url", &t.url, "print-sql", "-o"])
            .arg(target)
            .output()?;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty());
        assert!(std::fs::read(&script)? == stdout, "{}", target.display());
        assert!(std::fs::symlink_metadata(&script_link)?
            .file_type()
            .is_symlink());
    }
    let mut left: Vec<String> = std::fs::read_dir(&out_dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    left.sort();
    assert_eq!(
        left,
        ["copy.db", "deploy-link.sql", "deploy.sql", "link.sqlite3"],
        "no temporary file is left"
    );
    assert!(std::fs::read(&path)? == bytes, "the database changed");
    Ok(())
}
