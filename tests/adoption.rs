//! Taking over the Python bot's databases: at every Alembic revision, with rows, on
//! SQLite and PostgreSQL as the bot's models made them, and on MySQL as botdb's steps made
//! them and Alembic stamped them. Plus `stamp`, and refusals that change nothing.

use botdb::{Backend, Database};

use crate::per_backend;
use crate::python_bot::shape;
use crate::support::{
    bot_tables, botdb, check_content, count, execute, insert_batch, outcome, row_counts,
    tracked_as_applied, tracked_rows, TestDb, TestResult, VERSIONS,
};

/// The bot's Alembic revisions, oldest first, with how many botdb steps each one equals.
const REVISIONS: [(&str, usize); 5] = [
    ("47f559ec82bb", 0),
    ("2fda6446e69f", 1),
    ("1b95d36c8908", 2),
    ("1720ca777755", 3),
    ("5ca0f991801d", 4),
];

/// The DDL the Python bot's models gave at `steps` (the fixture is the last revision;
/// earlier ones lack the columns later revisions added), stamped at `revision`.
fn python_ddl(backend: Backend, steps: usize, revision: &str) -> String {
    let fixture = match backend {
        Backend::Postgres => include_str!("fixtures/postgres.sql"),
        _ => include_str!("fixtures/sqlite.sql"),
    };
    let mut ddl = fixture.to_string();
    if steps < 4 {
        ddl = ddl.replace("\tpayment_type VARCHAR NOT NULL, \n", "");
    }
    if steps < 3 {
        ddl = ddl
            .replace("\tpayment_id VARCHAR NOT NULL, \n", "")
            .replace(", \n\tUNIQUE (payment_id)\n", "\n");
    }
    if steps < 2 {
        ddl = ddl.replace("\thidden_content TEXT NOT NULL, \n", "");
    }
    if steps == 0 {
        let start = ddl.find("CREATE TABLE alembic_version").unwrap_or(0);
        ddl = ddl[start..].to_string();
    }
    ddl.replace("5ca0f991801d", revision)
}

/// A database at `revision` with rows, as the bot would have it.
async fn bot_database(
    t: &TestDb,
    revision: &str,
    steps: usize,
) -> Result<Database, Box<dyn std::error::Error + Send + Sync>> {
    let db = t.connect().await;
    if t.backend == Backend::Mysql {
        // The bot's models cannot create MySQL tables; botdb's steps, stamped by Alembic, can.
        if steps > 0 {
            db.migrate_with(Some(VERSIONS[steps - 1]), &mut |_| {})
                .await?;
        }
        // A real Alembic database has none of diesel's or botdb's bookkeeping.
        execute(&db, "DROP TABLE IF EXISTS __diesel_schema_migrations").await?;
        execute(&db, "DROP TABLE IF EXISTS __botdb_migrations").await?;
        execute(
            &db,
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
        )
        .await?;
        execute(
            &db,
            &format!("INSERT INTO alembic_version VALUES ('{revision}')"),
        )
        .await?;
    } else {
        execute(&db, &python_ddl(t.backend, steps, revision)).await?;
    }
    for batch in 1..=3 {
        if steps > 0 {
            insert_batch(&db, steps, batch).await?;
        }
    }
    Ok(db)
}

per_backend!(
    python_databases_are_adopted_at_every_revision,
    mismatched_or_unknown_revisions_change_nothing
);

async fn python_databases_are_adopted_at_every_revision(t: TestDb) -> TestResult {
    let fresh = TestDb::create(t.backend).await.ok_or("second database")?;
    let fresh = fresh.connect().await;
    fresh.migrate().await?;
    let expected_shape = shape(&fresh.introspect().await?);
    drop(t);
    for (revision, steps) in REVISIONS {
        let t = TestDb::create(fresh.backend()).await.ok_or("database")?;
        let db = bot_database(&t, revision, steps).await?;
        let rows = row_counts(&db).await?;

        // Behind the head of the history, like `alembic check`: not up to date, not compared.
        let out = botdb().args(["--database-url", &t.url, "check"]).output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{revision}: {stdout}");
        let pending = VERSIONS.len() - steps;
        assert_eq!(
            stdout.lines().last(),
            Some(
                format!(
                    "not up to date: {pending} pending migrations at {}; run `botdb migrate`, then `botdb check`",
                    if steps == 0 { "no migration applied" } else { VERSIONS[steps - 1] }
                )
                .as_str()
            ),
            "{revision}"
        );
        let out = botdb()
            .args(["--database-url", &t.url, "migrate"])
            .output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{revision}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!(
                "adopted Alembic revision {revision}: {steps} migrations recorded"
            )),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("migrate: {} migrations", VERSIONS.len() - steps)),
            "{stdout}"
        );

        // No row lost, the fills right, the Python bot's expectations intact, Alembic's table kept.
        let after = row_counts(&db).await?;
        assert_eq!(
            after,
            rows.iter().map(|&n| n.max(0)).collect::<Vec<_>>(),
            "{revision}"
        );
        if steps > 0 && steps < 3 {
            let legacy = count(
                &db,
                "SELECT COUNT(*) AS n FROM purchases WHERE payment_id = CONCAT('legacy-', id)",
            )
            .await?;
            assert_eq!(legacy, 3, "{revision}");
        }
        if steps == 1 {
            assert_eq!(
                count(
                    &db,
                    "SELECT COUNT(*) AS n FROM products WHERE hidden_content = ''"
                )
                .await?,
                3
            );
        }
        if steps > 0 {
            // Not only as many rows: the same rows, each value as the bot wrote it, and
            // the new columns holding their fills.
            check_content(&db, &[steps; 3]).await?;
        }
        assert_eq!(shape(&db.introspect().await?), expected_shape, "{revision}");
        // The adopted and the applied migrations all have their checksums recorded.
        for m in botdb::migration::embedded::embedded_sql(t.backend) {
            let version = m.name[..17].replace('-', "");
            assert_eq!(
                tracked_as_applied(&db, &version, m.up).await?,
                1,
                "{revision}: {}",
                m.name
            );
        }
        assert_eq!(
            count(&db, "SELECT COUNT(*) AS n FROM __botdb_migrations").await?,
            VERSIONS.len() as i64,
            "{revision}: one row per version"
        );
        assert_eq!(
            count(
                &db,
                &format!(
                    "SELECT COUNT(*) AS n FROM alembic_version WHERE version_num = '{revision}'"
                )
            )
            .await?,
            1
        );
        botdb()
            .args(["--database-url", &t.url, "check"])
            .assert()
            .code(0);
        botdb()
            .args(["--database-url", &t.url, "status", "--check"])
            .assert()
            .code(0);
    }
    Ok(())
}

async fn mismatched_or_unknown_revisions_change_nothing(t: TestDb) -> TestResult {
    // The schema is at the last revision, but alembic_version claims an earlier one.
    let db = bot_database(&t, "1b95d36c8908", 4).await?;
    let (schema, rows) = (db.introspect().await?, row_counts(&db).await?);
    for command in [&["migrate"][..], &["adopt"]] {
        let out = botdb()
            .args(["--database-url", &t.url])
            .args(command)
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("revision 1b95d36c8908") && stderr.contains("does not match"),
            "{stderr}"
        );
        assert!(
            stderr.contains("purchases: column payment_id not expected"),
            "{stderr}"
        );
        assert!(stderr.contains("nothing was changed"), "{stderr}");
    }
    assert_eq!(
        (db.introspect().await?, row_counts(&db).await?),
        (schema.clone(), rows.clone())
    );
    assert_eq!(bot_tables(&schema).len(), 4);
    let tables = botdb::with_connection!(db.pool(), |conn| {
        use botdb::Introspect;
        conn.tables().await?
    });
    assert!(
        !tables.iter().any(|t| t == "__diesel_schema_migrations"),
        "{tables:?}"
    );

    execute(
        &db,
        "UPDATE alembic_version SET version_num = 'deadbeef0000'",
    )
    .await?;
    let out = botdb()
        .args(["--database-url", &t.url, "migrate"])
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("not one of the bot's revisions"),
        "{stderr}"
    );
    assert_eq!(db.introspect().await?, schema);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_can_drop_alembic_version_and_stamp_moves_the_record() -> TestResult {
    let t = TestDb::create(Backend::Sqlite).await.ok_or("sqlite")?;
    let db = bot_database(&t, "5ca0f991801d", 4).await?;
    let out = botdb()
        .args(["--database-url", &t.url, "adopt", "--drop-alembic-version"])
        .output()?;
    assert!(String::from_utf8_lossy(&out.stdout).contains("alembic_version dropped"));
    assert!(!db.introspect().await?.has_table("alembic_version"));
    let status = db.status().await?;
    assert_eq!(status.applied().count(), 4);

    let out = botdb()
        .args(["--database-url", &t.url, "stamp", "2024-12-20-144707"])
        .output()?;
    assert!(String::from_utf8_lossy(&out.stdout).contains("stamp: 0 recorded, 2 removed"));
    assert_eq!(db.status().await?.applied().count(), 2);
    let out = botdb()
        .args(["--database-url", &t.url, "stamp", "--head"])
        .output()?;
    assert!(String::from_utf8_lossy(&out.stdout).contains("stamp: 4 recorded, 0 removed"));
    assert_eq!(db.status().await?.pending().count(), 0);
    // Stamping ran no SQL: the schema is still the bot's, without botdb's last two steps.
    assert!(db
        .introspect()
        .await?
        .table("users")
        .expect("table")
        .updated_at
        .is_none());

    // An unknown version is refused with one line, and nothing is recorded or removed.
    let path = t.sqlite_path().ok_or("sqlite path")?;
    let before = (
        botdb::checksum::digest(&std::fs::read(&path)?),
        db.status().await?,
        tracked_rows(&db).await?,
    );
    let out = botdb()
        .args(["--database-url", &t.url, "stamp", "2099-01-01-000000"])
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "error: unknown migration `2099-01-01-000000`; `botdb status` lists the known versions\n"
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        (
            botdb::checksum::digest(&std::fs::read(&path)?),
            db.status().await?,
            tracked_rows(&db).await?,
        ),
        before,
        "a refused stamp changes nothing"
    );
    Ok(())
}

/// `migrate` adopts and keeps alembic_version for the Python bot; once nothing reads it,
/// `adopt --drop-alembic-version` removes it, and changes nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alembic_version_can_be_dropped_after_migrate_adopted() -> TestResult {
    let t = TestDb::create(Backend::Sqlite).await.ok_or("sqlite")?;
    let db = bot_database(&t, "5ca0f991801d", 4).await?;
    botdb()
        .args(["--database-url", &t.url, "migrate"])
        .assert()
        .success();
    let adopt = |args: &[&str]| -> Result<(Option<i32>, String, String), std::io::Error> {
        let out = botdb()
            .args(["--database-url", &t.url, "adopt"])
            .args(args)
            .output()?;
        Ok(outcome(&out))
    };
    let before = (
        crate::support::recorded_versions(&db).await?,
        crate::support::row_counts(&db).await?,
    );
    assert_eq!(before.0, VERSIONS);
    assert!(db.introspect().await?.has_table("alembic_version"));

    let (code, _, stderr) = adopt(&[])?;
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("nothing to adopt: botdb already manages this database")
            && stderr.contains("--drop-alembic-version"),
        "{stderr}"
    );
    assert!(db.introspect().await?.has_table("alembic_version"));

    let (code, stdout, stderr) = adopt(&["--drop-alembic-version"])?;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("adopted Alembic revision 5ca0f991801d: 0 migrations recorded as applied, alembic_version dropped"),
        "{stdout}"
    );
    assert!(!db.introspect().await?.has_table("alembic_version"));
    let after = (
        crate::support::recorded_versions(&db).await?,
        crate::support::row_counts(&db).await?,
    );
    assert_eq!(after, before, "only the table went");

    let (code, _, stderr) = adopt(&["--drop-alembic-version"])?;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("nothing to adopt: there is no alembic_version table"),
        "{stderr}"
    );
    Ok(())
}
