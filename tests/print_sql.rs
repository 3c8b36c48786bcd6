//! `botdb print-sql`: what it prints is what migrate and revert do, applied by the
//! database's own client; it never writes; offline and online agree; output is stable.

use std::process::Output;

use botdb::{Backend, RevertTarget, Source};

use crate::per_backend;
use crate::support::{
    add_migration, apply_with_client, botdb, copy_migrations, recorded_versions, run_botdb, TestDb,
    TestResult, VERSIONS,
};

per_backend!(
    scripts_do_what_migrate_and_revert_do,
    print_sql_never_writes
);

fn print_sql(url: &str, args: &[&str]) -> Result<String, String> {
    let out: Output = botdb()
        .args(["--database-url", url, "print-sql"])
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn scripts_do_what_migrate_and_revert_do(t: TestDb) -> TestResult {
    let reference = TestDb::create(t.backend).await.ok_or("second database")?;
    let by_botdb = reference.connect().await;
    by_botdb.migrate().await?;
    let by_hand = t.connect().await;

    // From empty: the script a DBA applies by hand gives what `botdb migrate` gives.
    let script = print_sql(&t.url, &[])?;
    assert_eq!(
        script,
        print_sql(&t.url, &["--offline"])?,
        "offline from empty must equal online"
    );
    apply_with_client(&t, &script)?;
    assert_eq!(by_hand.introspect().await?, by_botdb.introspect().await?);
    assert_eq!(recorded_versions(&by_hand).await?, VERSIONS);
    botdb()
        .args(["--database-url", &t.url, "status", "--check"])
        .assert()
        .code(0);
    let again = botdb()
        .args(["--database-url", &t.url, "migrate"])
        .output()?;
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("nothing to migrate"));
    assert!(print_sql(&t.url, &[])?.starts_with(&format!(
        "-- botdb print-sql ({}): nothing to migrate",
        t.backend
    )));

    // Revert scripts: the same state as `botdb revert`, for --steps, --to and --all.
    for (args, target) in [
        (vec!["--revert"], RevertTarget::Steps(1)),
        (
            vec!["--revert", "--to", "2024-12-20-215903"],
            RevertTarget::To(VERSIONS[2].into()),
        ),
        (vec!["--revert", "--all"], RevertTarget::All),
    ] {
        let script = print_sql(&t.url, &args)?;
        let at = recorded_versions(&by_hand)
            .await?
            .last()
            .cloned()
            .unwrap_or_default();
        let mut offline = args.clone();
        offline.extend(["--offline", "--from", at.as_str()]);
        assert_eq!(
            script,
            print_sql(&t.url, &offline)?,
            "offline {offline:?} must equal online"
        );
        apply_with_client(&t, &script)?;
        by_botdb.revert(&target, &mut |_| {}).await?;
        assert_eq!(
            by_hand.introspect().await?,
            by_botdb.introspect().await?,
            "after {args:?}"
        );
        assert_eq!(
            recorded_versions(&by_hand).await?,
            recorded_versions(&by_botdb).await?
        );
    }

    // Partial: from a middle version up, as `botdb migrate` would continue.
    by_hand.migrate_with(Some(VERSIONS[2]), &mut |_| {}).await?;
    by_botdb.migrate().await?;
    let script = print_sql(&t.url, &[])?;
    assert_eq!(
        script,
        print_sql(&t.url, &["--offline", "--from", VERSIONS[2]])?
    );
    assert!(
        script.contains(&format!(
            "migrate, 3 migrations; the database is at {}",
            VERSIONS[2]
        )),
        "{script}"
    );
    apply_with_client(&t, &script)?;
    assert_eq!(by_hand.introspect().await?, by_botdb.introspect().await?);
    assert_eq!(recorded_versions(&by_hand).await?, VERSIONS);
    Ok(())
}

per_backend!(print_sql_reads_the_migrations_dir);

/// With --migrations-dir, print-sql prints that folder's migrations: an extra one is in
/// the script (header, checksum, text, bookkeeping), and without the folder it is not.
async fn print_sql_reads_the_migrations_dir(t: TestDb) -> TestResult {
    let dir = copy_migrations(t.backend, &t.scratch_dir())?;
    let dialect = t.backend.name();
    let offline = |dir: Option<&std::path::Path>, extra: &[&str]| -> Result<String, String> {
        let mut args = vec!["--offline", "--dialect", dialect];
        args.extend_from_slice(extra);
        match dir {
            Some(dir) => {
                let (code, stdout, stderr) =
                    run_botdb(&t.url, dir, &[&["print-sql"], &args[..]].concat());
                if code == Some(0) {
                    Ok(stdout)
                } else {
                    Err(stderr)
                }
            }
            None => print_sql(&t.url, &args),
        }
    };
    let embedded = offline(None, &[])?;
    assert_eq!(
        offline(Some(&dir), &[])?,
        embedded,
        "a copy of the embedded migrations prints the same"
    );

    let up = "-- extra: a table for tests\nCREATE TABLE extra_things (id INTEGER PRIMARY KEY);\n";
    let down = "DROP TABLE extra_things;\n";
    add_migration(&dir, EXTRA, up, down, None)?;
    let header = format!(
        "-- {EXTRA}\n-- version 20300101000000, up.sql sha256 {}\n",
        botdb::checksum::sha256_hex(up)
    );
    let record = "INSERT INTO __diesel_schema_migrations (version) VALUES ('20300101000000');";
    let with = offline(Some(&dir), &[])?;
    assert!(with.contains("migrate, 7 migrations"), "{with}");
    for text in [header.as_str(), up.trim_end(), record] {
        assert!(with.contains(text), "{text} in:\n{with}");
        assert!(!embedded.contains(text), "{text} not without the folder");
    }
    assert!(!embedded.contains("extra_things") && !embedded.contains("20300101000000"));
    assert!(
        with.find(&header) > with.find("-- 2026-11-25-100100_maintain_updated_at\n"),
        "the extra migration comes last"
    );

    // Online, on a database at the embedded head: only the extra one is pending.
    let db = t.connect().await;
    db.migrate().await?;
    assert!(print_sql(&t.url, &[])?.contains("nothing to migrate"));
    let (code, script, stderr) = run_botdb(&t.url, &dir, &["print-sql"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        script.contains(&format!(
            "migrate, 1 migration; the database is at {}",
            VERSIONS[5]
        )),
        "{script}"
    );
    assert!(
        script.contains(&header) && script.contains(up.trim_end()),
        "{script}"
    );
    assert_eq!(
        script
            .matches("INSERT INTO __diesel_schema_migrations")
            .count(),
        1
    );
    apply_with_client(&t, &script)?;
    assert!(db.introspect().await?.has_table("extra_things"));
    let mut versions: Vec<String> = VERSIONS.iter().map(|v| v.to_string()).collect();
    versions.push("20300101000000".into());
    assert_eq!(recorded_versions(&db).await?, versions);
    let (code, _, stderr) = run_botdb(&t.url, &dir, &["status", "--check"]);
    assert_eq!(code, Some(0), "applied by hand, checksum and all: {stderr}");

    // Reverting it needs its down.sql, which only the folder has.
    let (code, script, stderr) = run_botdb(&t.url, &dir, &["print-sql", "--revert"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        script.contains(&format!(
            "-- {EXTRA}\n-- version 20300101000000, down.sql sha256 {}\n",
            botdb::checksum::sha256_hex(down)
        )) && script.contains(down.trim_end()),
        "{script}"
    );
    let e = print_sql(&t.url, &["--revert"]).expect_err("no down.sql without the folder");
    assert!(
        e.contains("cannot revert 20300101000000") && e.contains("--migrations-dir"),
        "{e}"
    );
    Ok(())
}

const EXTRA: &str = "2030-01-01-000000_extra_things";

/// print-sql reads, never writes: not even the bookkeeping table that diesel's harness
/// would create, and not a byte of a SQLite file.
async fn print_sql_never_writes(t: TestDb) -> TestResult {
    let db = t.connect().await;
    let hash = || {
        t.sqlite_path()
            .map(|p| std::fs::read(p).map(|b| botdb::checksum::digest(&b)))
    };
    let before = hash().transpose()?;
    for (args, says) in [
        (
            &[][..],
            "migrate, 6 migrations; the database is at no migration applied",
        ),
        (
            &["--to", "2024-12-20-144707"],
            "migrate, 2 migrations; the database is at no migration applied",
        ),
        (
            &["--revert", "--all"],
            "nothing to revert; the database is at no migration applied",
        ),
    ] {
        let script = print_sql(&t.url, args)?;
        assert!(
            script.starts_with(&format!("-- botdb print-sql ({}): {says}", t.backend)),
            "{args:?}: {script}"
        );
    }
    assert!(db.introspect().await?.tables.is_empty());
    let tables = botdb::with_connection!(db.pool(), |conn| {
        use botdb::Introspect;
        conn.tables().await?
    });
    assert!(tables.is_empty(), "print-sql created {tables:?}");
    assert_eq!(hash().transpose()?, before);

    db.migrate_with(Some(VERSIONS[1]), &mut |_| {}).await?;
    let (schema, versions, before) = (
        db.introspect().await?,
        recorded_versions(&db).await?,
        hash().transpose()?,
    );
    for (args, says) in [
        (&[][..], "migrate, 4 migrations"),
        (&["--revert", "--all"], "revert, 2 migrations"),
    ] {
        let script = print_sql(&t.url, args)?;
        assert!(
            script.starts_with(&format!(
                "-- botdb print-sql ({}): {says}; the database is at {}\n",
                t.backend, VERSIONS[1]
            )),
            "{args:?}: {script}"
        );
    }
    assert_eq!(
        (db.introspect().await?, recorded_versions(&db).await?),
        (schema, versions)
    );
    assert_eq!(hash().transpose()?, before);
    Ok(())
}

per_backend!(postgres, mysql; works_for_a_read_only_user);

/// A DBA's reviewing account may only read: print-sql works with it, before and after the
/// bookkeeping table exists.
async fn works_for_a_read_only_user(t: TestDb) -> TestResult {
    if t.backend == Backend::Postgres {
        t.admin(&format!(
            "ALTER DATABASE {} SET default_transaction_read_only = on",
            t.name()
        ))
        .await;
        let script = print_sql(&t.url, &[])?;
        assert!(script.contains("migrate, 6 migrations"), "{script}");
        let refused = botdb()
            .args(["--database-url", &t.url, "migrate"])
            .output()?;
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("read-only transaction"),
            "the account is really read-only"
        );
        return Ok(());
    }
    t.connect()
        .await
        .migrate_with(Some(VERSIONS[1]), &mut |_| {})
        .await?;
    let user = format!("ro_{}", t.name().len() + std::process::id() as usize);
    t.admin(&format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'ro-pass'"))
        .await;
    t.admin(&format!("GRANT SELECT ON {}.* TO '{user}'@'%'", t.name()))
        .await;
    let mut url = url::Url::parse(&t.url)?;
    url.set_username(&user).map_err(|()| "username")?;
    url.set_password(Some("ro-pass")).map_err(|()| "password")?;
    let script = print_sql(url.as_str(), &[]);
    let status = botdb()
        .args(["--database-url", url.as_str(), "status"])
        .output()?;
    t.admin(&format!("DROP USER '{user}'@'%'")).await;
    assert!(script?.contains("migrate, 4 migrations"));
    assert!(status.status.success());
    Ok(())
}

#[test]
fn a_missing_sqlite_file_is_not_created() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("never.db");
    let script = print_sql(&db.display().to_string(), &[])?;
    assert!(
        script.contains("migrate, 6 migrations; the database is at no migration applied"),
        "{script}"
    );
    assert!(!db.exists());
    Ok(())
}

#[test]
fn output_is_deterministic_and_can_go_to_a_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("deploy.sql");
    let args = ["--offline", "--dialect", "postgres", "-o"];
    botdb()
        .args(["print-sql"])
        .args(args)
        .arg(&file)
        .assert()
        .success()
        .stdout("");
    let first = std::fs::read_to_string(&file)?;
    let second = print_sql("postgres://ignored@nowhere/x", &["--offline"])?;
    assert_eq!(first, second);
    Ok(())
}

#[test]
fn snapshots_per_dialect() -> TestResult {
    for dialect in ["sqlite", "postgres", "mysql"] {
        let up = print_sql("unused.db", &["--offline", "--dialect", dialect])?;
        insta::assert_snapshot!(format!("{dialect}_migrate_from_empty"), up);
        let down = print_sql(
            "unused.db",
            &[
                "--offline",
                "--dialect",
                dialect,
                "--revert",
                "--steps",
                "2",
            ],
        )?;
        insta::assert_snapshot!(format!("{dialect}_revert_two"), down);
    }
    let none = print_sql("unused.db", &["--offline", "--from", "2026-11-25-100100"])?;
    insta::assert_snapshot!("sqlite_nothing_pending", none);
    Ok(())
}

#[test]
fn transactions_are_split_as_migrate_splits_them() -> TestResult {
    let one = print_sql("unused.db", &["--offline", "--dialect", "postgres"])?;
    assert_eq!(
        one.matches("\nBEGIN;\n").count(),
        1,
        "one transaction for the run"
    );
    let each = print_sql(
        "unused.db",
        &[
            "--offline",
            "--dialect",
            "postgres",
            "--transaction-per-migration",
        ],
    )?;
    assert_eq!(each.matches("\nBEGIN;\n").count(), 6, "one per migration");
    assert_eq!(each.matches("\nCOMMIT;\n").count(), 6);
    let mysql = print_sql("unused.db", &["--offline", "--dialect", "mysql"])?;
    assert_eq!(
        mysql.matches("'running');").count(),
        6,
        "MySQL records each migration as running first"
    );
    Ok(())
}

/// Bad flags are refused with one error naming the problem, and nothing is written: not
/// the database, not a missing one, not the --output file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_print_sql_flags() -> TestResult {
    let t = TestDb::create(Backend::Sqlite).await.ok_or("sqlite")?;
    let db = t.connect().await;
    db.migrate_with(Some(VERSIONS[1]), &mut |_| {}).await?;
    let path = t.sqlite_path().ok_or("sqlite path")?;
    let before = (
        botdb::checksum::digest(&std::fs::read(&path)?),
        db.introspect().await?,
        recorded_versions(&db).await?,
    );
    let dir = tempfile::tempdir()?;
    let missing = dir.path().join("missing.db");
    let output = dir.path().join("deploy.sql");
    for (args, error) in [
        (
            &["--offline", "--from", "2099-01-01-000000"][..],
            "error: unknown migration `2099-01-01-000000`; `botdb status` lists the known versions",
        ),
        (
            &["--steps", "1"],
            "error: the following required arguments were not provided:",
        ),
        (
            &["--from", "2024-12-20-105908"],
            "error: the following required arguments were not provided:",
        ),
        (
            &["--offline", "--revert", "--steps", "0"],
            "error: --steps must be at least 1",
        ),
        (
            &["--revert", "--to", "2099-01-01-000000"],
            "error: unknown migration `2099-01-01-000000`; `botdb status` lists the known versions",
        ),
    ] {
        for url in [t.url.clone(), missing.display().to_string()] {
            let out = botdb()
                .args(["--database-url", &url, "print-sql", "-o"])
                .arg(&output)
                .args(args)
                .output()?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            let first = stderr
                .lines()
                .find(|l| l.starts_with("error"))
                .unwrap_or_default();
            assert_eq!(first, error, "{args:?} on {url}: {stderr}");
            assert_eq!(
                stderr.lines().filter(|l| l.starts_with("error")).count(),
                1,
                "{stderr}"
            );
            assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
        }
        let written: Vec<_> = std::fs::read_dir(dir.path())?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        assert!(
            written.is_empty(),
            "{args:?} wrote {written:?} (the missing database, --output, a lock)"
        );
        assert_eq!(
            (
                botdb::checksum::digest(&std::fs::read(&path)?),
                db.introspect().await?,
                recorded_versions(&db).await?,
            ),
            before,
            "{args:?} changed the database"
        );
    }
    Ok(())
}

/// The include_str! table print-sql reads is exactly what embed_migrations! embeds, and
/// its text is the files' text.
#[test]
fn embedded_sql_matches_embedded_migrations() -> TestResult {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        let embedded: Vec<String> = botdb::known_migrations(&Source::Embedded, backend)?
            .into_iter()
            .map(|m| m.name)
            .collect();
        let table: Vec<&str> = botdb::migration::embedded::embedded_sql(backend)
            .iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(table, embedded, "{backend}");
        for m in botdb::migration::embedded::embedded_sql(backend) {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(backend.name())
                .join(m.name);
            assert_eq!(m.up, std::fs::read_to_string(dir.join("up.sql"))?);
            assert_eq!(
                m.down.map(str::to_string),
                Some(std::fs::read_to_string(dir.join("down.sql"))?)
            );
        }
    }
    Ok(())
}
