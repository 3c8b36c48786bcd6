//! A migration whose metadata.toml says `run_in_transaction = false` (PostgreSQL's
//! CREATE INDEX CONCURRENTLY cannot run in one): migrate runs it on its own, between the
//! transactions of the migrations before and after it, and print-sql prints it so.

use botdb::Backend;

use crate::per_backend;
use crate::support::{
    add_migration, apply_with_client, copy_migrations, count, recorded_versions, run_botdb,
    tracked_as_applied, TestDb, TestResult, VERSIONS,
};

const OUTSIDE: &str = "2030-01-01-000000_index_outside_a_transaction";
const OUTSIDE_VERSION: &str = "20300101000000";
const AFTER: &str = "2030-01-02-000000_after_it";
const AFTER_VERSION: &str = "20300102000000";
const BROKEN: &str = "2030-01-03-000000_broken";

/// The up.sql and down.sql of the migration that must run outside a transaction.
fn index_sql(backend: Backend) -> (&'static str, &'static str) {
    match backend {
        Backend::Postgres => (
            "CREATE INDEX CONCURRENTLY ix_users_username ON users (username);\n",
            "DROP INDEX ix_users_username;\n",
        ),
        Backend::Mysql => (
            "CREATE INDEX ix_users_username ON users (username);\n",
            "DROP INDEX ix_users_username ON users;\n",
        ),
        Backend::Sqlite => (
            "CREATE INDEX ix_users_username ON users (username);\n",
            "DROP INDEX ix_users_username;\n",
        ),
    }
}

/// A copy of the backend's migrations plus the one that runs outside a transaction.
fn with_migration_outside(
    t: &TestDb,
) -> Result<std::path::PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    let dir = copy_migrations(t.backend, &t.scratch_dir())?;
    let (up, down) = index_sql(t.backend);
    add_migration(
        &dir,
        OUTSIDE,
        up,
        down,
        Some("run_in_transaction = false\n"),
    )?;
    Ok(dir)
}

/// For each migration the script records (by its INSERT into diesel's table), and for
/// the line `statement`: whether it is inside a BEGIN … COMMIT of the script.
fn transaction_map(script: &str, statement: &str) -> (Vec<(String, bool)>, Vec<bool>) {
    let mut open = false;
    let (mut recorded, mut statements) = (Vec::new(), Vec::new());
    for line in script.lines() {
        match line.trim() {
            "BEGIN;" => {
                assert!(!open, "nested BEGIN in:\n{script}");
                open = true;
            }
            "COMMIT;" => {
                assert!(open, "COMMIT without BEGIN in:\n{script}");
                open = false;
            }
            l => {
                if let Some(version) = l
                    .strip_prefix("INSERT INTO __diesel_schema_migrations (version) VALUES ('")
                    .and_then(|rest| rest.strip_suffix("');"))
                {
                    recorded.push((version.to_string(), open));
                }
                if l == statement.trim() {
                    statements.push(open);
                }
            }
        }
    }
    assert!(!open, "the script ends inside a transaction:\n{script}");
    (recorded, statements)
}

fn stdout_of(run: (Option<i32>, String, String)) -> String {
    let (code, stdout, stderr) = run;
    assert_eq!(code, Some(0), "{stderr}");
    stdout
}

per_backend!(migrations_outside_a_transaction);

async fn migrations_outside_a_transaction(t: TestDb) -> TestResult {
    let dir = with_migration_outside(&t)?;
    let (up, _) = index_sql(t.backend);
    add_migration(
        &dir,
        AFTER,
        "CREATE TABLE after_it (id INTEGER PRIMARY KEY);\n",
        "DROP TABLE after_it;\n",
        None,
    )?;
    let db = t.connect().await;
    db.migrate_with(Some(VERSIONS[2]), &mut |_| {}).await?;

    // print-sql, online and offline: the same script, the migration outside any BEGIN.
    let online = stdout_of(run_botdb(&t.url, &dir, &["print-sql"]));
    let offline = stdout_of(run_botdb(
        &t.url,
        &dir,
        &[
            "print-sql",
            "--offline",
            "--dialect",
            t.backend.name(),
            "--from",
            VERSIONS[2],
        ],
    ));
    assert_eq!(online, offline, "offline must equal online");
    assert!(online.contains("migrate, 5 migrations"), "{online}");
    assert_eq!(
        online
            .matches("-- run_in_transaction = false: not wrapped in a transaction")
            .count(),
        1,
        "{online}"
    );
    let (recorded, statement) = transaction_map(&online, up);
    let expected: Vec<(String, bool)> = VERSIONS[3..]
        .iter()
        .map(|v| (v.to_string(), true))
        .chain([
            (OUTSIDE_VERSION.to_string(), false),
            (AFTER_VERSION.to_string(), true),
        ])
        .collect();
    assert_eq!(recorded, expected, "{online}");
    assert_eq!(statement, [false], "{online}");
    // PostgreSQL and SQLite: one transaction before it and one after; MySQL: one each.
    let transactions = if t.backend == Backend::Mysql { 4 } else { 2 };
    assert_eq!(
        online.matches("\nBEGIN;\n").count(),
        transactions,
        "{online}"
    );
    assert_eq!(
        online.matches("\nCOMMIT;\n").count(),
        transactions,
        "{online}"
    );
    let each = stdout_of(run_botdb(
        &t.url,
        &dir,
        &["print-sql", "--transaction-per-migration"],
    ));
    let (recorded, statement) = transaction_map(&each, up);
    assert_eq!(recorded, expected, "{each}");
    assert_eq!(statement, [false], "{each}");
    assert_eq!(each.matches("\nBEGIN;\n").count(), 4, "{each}");

    // A DBA applies the script with the database's client (psql refuses CREATE INDEX
    // CONCURRENTLY inside a transaction) and gets what migrate gives.
    let by_hand = TestDb::create(t.backend).await.ok_or("second database")?;
    let by_hand_db = by_hand.connect().await;
    by_hand_db
        .migrate_with(Some(VERSIONS[2]), &mut |_| {})
        .await?;
    apply_with_client(&by_hand, &online)?;

    let stdout = stdout_of(run_botdb(&t.url, &dir, &["migrate"]));
    assert!(
        stdout.contains(&format!("applied  {OUTSIDE} ("))
            && stdout.contains(&format!("applied  {AFTER} ("))
            && stdout.contains("migrate: 5 migrations"),
        "{stdout}"
    );
    let mut versions: Vec<String> = VERSIONS.iter().map(|v| v.to_string()).collect();
    versions.extend([OUTSIDE_VERSION.to_string(), AFTER_VERSION.to_string()]);
    for db in [&db, &by_hand_db] {
        assert_eq!(recorded_versions(db).await?, versions);
        assert_eq!(tracked_as_applied(db, OUTSIDE_VERSION, up).await?, 1);
        assert_eq!(
            count(
                db,
                "SELECT COUNT(*) AS n FROM __botdb_migrations WHERE state = 'applied'"
            )
            .await?,
            8
        );
        let schema = db.introspect().await?;
        assert_eq!(
            schema
                .table("users")
                .expect("table")
                .indexes
                .iter()
                .find(|i| i.name == "ix_users_username")
                .map(|i| i.columns.clone()),
            Some(vec!["username".to_string()])
        );
        assert!(schema.has_table("after_it"));
    }
    assert_eq!(db.introspect().await?, by_hand_db.introspect().await?);
    if t.backend == Backend::Postgres {
        let valid = "SELECT COUNT(*) AS n FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                     WHERE c.relname = 'ix_users_username' AND i.indisvalid";
        assert_eq!(count(&db, valid).await?, 1, "the concurrent index is valid");
    }
    let (code, _, stderr) = run_botdb(&t.url, &dir, &["status", "--check"]);
    assert_eq!(code, Some(0), "{stderr}");

    // A migration failing after it: only the transaction after it is rolled back (on
    // MySQL each migration stands alone); the one outside a transaction, and those before
    // it, stay applied.
    add_migration(
        &dir,
        BROKEN,
        "CREATE TABLE half (id INTEGER PRIMARY KEY);\nSELEKT nonsense;\n",
        "DROP TABLE half;\n",
        None,
    )?;
    let third = TestDb::create(t.backend).await.ok_or("third database")?;
    third
        .connect()
        .await
        .migrate_with(Some(VERSIONS[2]), &mut |_| {})
        .await?;
    if t.backend == Backend::Sqlite {
        // By default the SQLite backup taken before the run is put back: nothing stays.
        let (code, _, stderr) = run_botdb(&third.url, &dir, &["migrate"]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains("restored the database from the backup"),
            "{stderr}"
        );
        // A new connection: the restore put a new file in place.
        let restored = third.connect().await;
        assert_eq!(recorded_versions(&restored).await?, VERSIONS[..3]);
    }
    let (code, stdout, stderr) = run_botdb(&third.url, &dir, &["migrate", "--no-backup"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("applying of migration {BROKEN} failed")),
        "{stderr}"
    );
    let third_db = third.connect().await;
    let schema = third_db.introspect().await?;
    assert!(schema
        .table("users")
        .expect("table")
        .indexes
        .iter()
        .any(|i| i.name == "ix_users_username"));
    let applied: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("applied  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    if t.backend == Backend::Mysql {
        assert_eq!(recorded_versions(&third_db).await?, versions);
        assert_eq!(applied.len(), 5, "{stdout}");
        assert!(stderr.contains("marked the database dirty"), "{stderr}");
    } else {
        assert_eq!(recorded_versions(&third_db).await?, versions[..7]);
        assert_eq!(
            applied.last().copied(),
            Some(OUTSIDE),
            "what stays applied is reported as applied: {stdout}"
        );
        assert_eq!(applied.len(), 4, "{stdout}");
        assert!(!schema.has_table("after_it"));
        assert!(!schema.has_table("half"));
        assert_eq!(tracked_as_applied(&third_db, OUTSIDE_VERSION, up).await?, 1);
        assert_eq!(
            count(
                &third_db,
                &format!(
                    "SELECT COUNT(*) AS n FROM __botdb_migrations WHERE version = '{AFTER_VERSION}'"
                )
            )
            .await?,
            0
        );
    }
    Ok(())
}

// PostgreSQL and SQLite; MySQL has no run-wide transaction.
per_backend!(sqlite, postgres; a_failure_after_it_is_reported_truthfully);

/// When a migration after one that ran outside a transaction fails, only the transaction
/// after it is rolled back: the error must not claim the whole run was.
async fn a_failure_after_it_is_reported_truthfully(t: TestDb) -> TestResult {
    let dir = with_migration_outside(&t)?;
    for (name, up, down) in [
        (
            AFTER,
            "CREATE TABLE after_it (id INTEGER PRIMARY KEY);\n",
            "DROP TABLE after_it;\n",
        ),
        (
            BROKEN,
            "CREATE TABLE half (id INTEGER PRIMARY KEY);\nSELEKT nonsense;\n",
            "DROP TABLE half;\n",
        ),
    ] {
        add_migration(&dir, name, up, down, None)?;
    }
    t.connect()
        .await
        .migrate_with(Some(VERSIONS[2]), &mut |_| {})
        .await?;
    let (code, _, stderr) = run_botdb(&t.url, &dir, &["migrate", "--no-backup"]);
    assert_eq!(code, Some(2), "{stderr}");
    let db = t.connect().await;
    assert_eq!(
        recorded_versions(&db).await?.len(),
        7,
        "4 of the run stay applied"
    );
    assert!(
        stderr.contains("rolled back"),
        "the transaction of the last two was: {stderr}"
    );
    assert!(
        !stderr.contains("the whole run was rolled back"),
        "4 migrations of the run stay applied: {stderr}"
    );
    assert!(!stderr.contains(" 1 migrations "), "{stderr}");
    Ok(())
}
