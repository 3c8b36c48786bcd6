//! Keeping a schema honest and a local database one command away: check, verify, setup,
//! reset and seed.

use botdb::Backend;

use crate::per_backend;
use crate::support::{botdb, execute, row_counts, server_url, with_database, TestDb, TestResult};

per_backend!(
    check_reports_each_kind_of_drift,
    verify_passes_and_catches_a_broken_down,
    setup_reset_and_seed
);

fn check(url: &str) -> (Option<i32>, String) {
    let out = botdb()
        .args(["--database-url", url, "check"])
        .output()
        .expect("run botdb");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

async fn check_reports_each_kind_of_drift(t: TestDb) -> TestResult {
    let db = t.connect().await;
    db.migrate().await?;
    let (code, out) = check(&t.url);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "no drift: 0 differences at 20261125100100\n")
    );

    let drift: &[&str] = match t.backend {
        Backend::Sqlite => &[
            "ALTER TABLE users ADD COLUMN nickname VARCHAR(20)",
            "DROP INDEX ix_products_category_id",
            // SQLite changes nullability and foreign keys only by rebuilding the table.
            "CREATE TABLE purchases_new (user_id INTEGER NOT NULL, product_id INTEGER NOT NULL, price INTEGER, \
             id INTEGER NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL, \
             updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL, payment_id VARCHAR NOT NULL, \
             payment_type VARCHAR NOT NULL, PRIMARY KEY (id), \
             FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE CASCADE, \
             CONSTRAINT uq_purchases_payment_id UNIQUE (payment_id))",
            "DROP TABLE purchases",
            "ALTER TABLE purchases_new RENAME TO purchases",
            "CREATE INDEX ix_purchases_user_id ON purchases (user_id)",
            "CREATE INDEX ix_purchases_product_id ON purchases (product_id)",
            "CREATE TRIGGER trg_purchases_updated_at AFTER UPDATE ON purchases FOR EACH ROW \
             WHEN NEW.updated_at IS OLD.updated_at BEGIN UPDATE purchases SET updated_at = CURRENT_TIMESTAMP \
             WHERE id = NEW.id AND updated_at IS NOT CURRENT_TIMESTAMP; END",
        ],
        Backend::Postgres => &[
            "ALTER TABLE users ADD COLUMN nickname VARCHAR(20)",
            "DROP INDEX ix_products_category_id",
            "ALTER TABLE purchases ALTER COLUMN price DROP NOT NULL",
            "ALTER TABLE purchases DROP CONSTRAINT purchases_user_id_fkey",
        ],
        // InnoDB will not drop an index a foreign key uses, so MySQL's index drift is an extra one.
        Backend::Mysql => &[
            "ALTER TABLE users ADD COLUMN nickname VARCHAR(20)",
            "CREATE INDEX ix_extra ON products (price)",
            "ALTER TABLE purchases MODIFY price INT NULL",
            "ALTER TABLE purchases DROP FOREIGN KEY purchases_user_id_fkey",
        ],
    };
    for sql in drift {
        execute(&db, sql).await?;
    }
    let (code, out) = check(&t.url);
    assert_eq!(code, Some(1), "{out}");
    let index_line = match t.backend {
        Backend::Mysql => "drift    products: index on (price) not expected",
        _ => "drift    products: index on (category_id) missing",
    };
    for line in [
        "drift    users: column nickname not expected",
        index_line,
        "drift    purchases: column price: NOT NULL expected, found NULL",
        "drift    purchases: foreign key (user_id) -> users(id) ON DELETE CASCADE missing",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "missing `{line}` in:\n{out}"
        );
    }
    let json = botdb()
        .args(["--database-url", &t.url, "check", "--json"])
        .output()?;
    assert_eq!(json.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&json.stdout)?;
    assert_eq!(json["drift"], true);
    assert!(json["report"]["differences"]
        .as_array()
        .is_some_and(|a| a.len() >= 4));
    Ok(())
}

async fn verify_passes_and_catches_a_broken_down(t: TestDb) -> TestResult {
    let out = botdb()
        .args(["--database-url", &t.url, "verify"])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("verify: 6 migrations go up, down and up again cleanly"),
        "{stdout}"
    );
    // verify works on a scratch database: the one the URL names stays untouched.
    assert!(t.connect().await.introspect().await?.tables.is_empty());

    // A down.sql that leaves something behind.
    let dir = crate::support::copy_migrations(t.backend, &t.scratch_dir())?;
    let broken = dir.join("2024-12-20-144707_add_hidden_content/down.sql");
    let text = std::fs::read_to_string(&broken)? + "\nCREATE TABLE leftover (id INTEGER);\n";
    std::fs::write(&broken, text)?;
    let out = botdb()
        .args([
            "--database-url",
            &t.url,
            "--migrations-dir",
            &dir.display().to_string(),
            "verify",
        ])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("failed   after reverting 2024-12-20-144707_add_hidden_content: leftover: table not expected"),
        "{stdout}"
    );
    Ok(())
}

async fn setup_reset_and_seed(t: TestDb) -> TestResult {
    // setup creates a database that does not exist yet.
    let url = match t.backend {
        Backend::Sqlite => format!(
            "sqlite://{}/nested/dir/shop.sqlite3",
            t.scratch_dir().display()
        ),
        backend => with_database(
            &server_url(backend).ok_or("server")?,
            &format!("{}_setup", t.name()),
        ),
    };
    let out = botdb().args(["--database-url", &url, "setup"]).output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result = async {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.starts_with("created  ") && stdout.contains("migrate: 6 migrations"),
            "{stdout}"
        );
        let again = botdb().args(["--database-url", &url, "setup"]).output()?;
        assert!(String::from_utf8_lossy(&again.stdout).starts_with("exists   "));
        assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to migrate"));

        // seed twice gives the same data.
        botdb()
            .args(["--database-url", &url, "seed"])
            .assert()
            .success();
        let db = botdb::Database::connect(&url).await?;
        let first = (row_counts(&db).await?, db.introspect().await?);
        let out = botdb().args(["--database-url", &url, "seed"]).output()?;
        assert!(String::from_utf8_lossy(&out.stdout)
            .contains("inserted 0 categories, 0 products, 0 users, 0 purchases"));
        assert_eq!((row_counts(&db).await?, db.introspect().await?), first);
        assert_eq!(first.0, vec![3, 4, 3, 2]);

        // reset refuses without --yes and leaves the data; with it, the rows are gone.
        let out = botdb().args(["--database-url", &url, "reset"]).output()?;
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("without --yes"));
        assert_eq!(row_counts(&db).await?, first.0);
        drop(db);
        botdb()
            .args(["--database-url", &url, "reset", "--yes"])
            .assert()
            .success();
        let db = botdb::Database::connect(&url).await?;
        assert_eq!(row_counts(&db).await?, vec![0, 0, 0, 0]);
        assert_eq!(db.status().await?.pending().count(), 0);
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    }
    .await;
    if t.backend != Backend::Sqlite {
        let db = botdb::DatabaseUrl::parse(&url)?;
        botdb::db::admin::drop_database(&db).await?;
    }
    result
}

#[test]
fn reset_refuses_a_remote_server_without_force_remote() {
    let out = botdb()
        .args([
            "--database-url",
            "postgres://bot:s3cr3t@db.example.invalid/shop",
            "reset",
            "--yes",
        ])
        .output()
        .expect("run botdb");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("not on this machine") && stderr.contains("--force-remote"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cr3t"));
}

#[test]
fn seed_refuses_an_unmigrated_database() -> TestResult {
    let dir = tempfile::tempdir()?;
    let url = dir.path().join("x.db").display().to_string();
    let out = botdb().args(["--database-url", &url, "seed"]).output()?;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `botdb migrate` first"));
    Ok(())
}

/// MySQL over its Unix socket (`?socket=`): the socket, not the host and port, decides
/// where botdb connects, and such a server counts as local for `reset`. The socket is the
/// one the server reports (`@@socket`); one it reports but this machine does not have
/// fails the test (run the tests on the server's machine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_mysql), ignore = "set TEST_MYSQL_URL to run it")]
async fn mysql_over_its_unix_socket() -> TestResult {
    #[derive(diesel::QueryableByName)]
    struct Socket {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        socket: Option<String>,
    }
    let t = TestDb::create(Backend::Mysql).await.ok_or("mysql")?;
    let db = t.connect().await;
    let socket = botdb::with_connection!(db.pool(), |conn| {
        use diesel_async::RunQueryDsl;
        diesel::sql_query("SELECT @@socket AS socket")
            .get_result::<Socket>(&mut conn)
            .await?
            .socket
    })
    .filter(|s| !s.is_empty())
    .ok_or(
        "the server reports no Unix socket (@@socket is empty): configure one to run this test",
    )?;
    if !std::path::Path::new(&socket).exists() {
        return Err(format!(
            "the server reports its Unix socket at {socket} (@@socket), but this machine has no such file: run the tests on the server's machine"
        )
        .into());
    }
    let mut url = url::Url::parse(&t.url)?;
    // Nothing listens on port 1: only the socket can answer.
    url.set_port(Some(1)).map_err(|()| "port")?;
    url.query_pairs_mut().append_pair("socket", &socket);
    let out = botdb()
        .args(["--database-url", url.as_str(), "migrate"])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("migrate: 6 migrations"), "{stdout}");
    assert_eq!(
        crate::support::recorded_versions(&db).await?,
        crate::support::VERSIONS
    );

    // A host that is not this machine, but the socket is: reset is allowed.
    url.set_host(Some("db.example.invalid"))?;
    let out = botdb()
        .args(["--database-url", url.as_str(), "reset"])
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");
    assert!(!stderr.contains("--force-remote"), "{stderr}");
    Ok(())
}
