//! Literal rendering, checked by the real databases: any string rendered as a literal and
//! selected back equals the original.

use botdb::sql::{literal, Literal};
use botdb::{Backend, Database};
use diesel::sql_types::Text;
use diesel::QueryableByName;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::per_backend;
use crate::support::{TestDb, TestResult};

per_backend!(literals_read_back_unchanged);

#[derive(QueryableByName)]
struct Selected {
    #[diesel(sql_type = Text)]
    s: String,
}

/// Writes the literal the way a printed script does (plain SQL text, no prepared
/// statement) and reads the stored value back with a query that contains no literal.
/// (mysql_async rewrites `:name` inside prepared statement text, so `SELECT '<literal>'`
/// would test the driver rather than the literal.)
async fn round_trip(
    db: &Database,
    literal: &str,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let column = match db.backend() {
        Backend::Mysql => "s TEXT CHARACTER SET utf8mb4 NOT NULL",
        _ => "s TEXT NOT NULL",
    };
    let write =
        format!("CREATE TEMPORARY TABLE lit ({column}); INSERT INTO lit (s) VALUES ({literal});");
    botdb::with_connection!(db.pool(), |conn| {
        conn.batch_execute(&write).await?;
        let stored = diesel::sql_query("SELECT s FROM lit")
            .get_result::<Selected>(&mut conn)
            .await;
        conn.batch_execute("DROP TABLE lit").await?;
        Ok(stored?.s)
    })
}

async fn literals_read_back_unchanged(t: TestDb) -> TestResult {
    let db = t.connect().await;
    // Cases that broke something once, or look like they might.
    for s in [
        "\\':a",
        "'; DROP TABLE lit; --",
        "\\",
        "''",
        ":name ?",
        "\\'\\\"",
        "a\nb\r\tc",
        "🚀 ünï",
    ] {
        let rendered = literal(t.backend, &Literal::Str(s))?;
        assert_eq!(
            round_trip(&db, &rendered).await?,
            s,
            "{}: {rendered}",
            t.backend
        );
    }
    let handle = tokio::runtime::Handle::current();
    // Random text, and text made mostly of the characters quoting has to get right.
    let strings = prop_oneof!["[^\\x00]{0,48}", "[\\\\'\"`%_;\\n\\r\\t ab]{0,24}"];
    let mut runner = TestRunner::new(Config {
        cases: 200,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = tokio::task::block_in_place(|| {
        runner.run(&strings, |s| {
            let rendered = literal(t.backend, &Literal::Str(&s))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back = handle
                .block_on(round_trip(&db, &rendered))
                .map_err(|e| TestCaseError::fail(format!("{rendered}: {e}")))?;
            prop_assert_eq!(back, s);
            Ok(())
        })
    });
    outcome.map_err(|e| format!("{}: {e}", t.backend))?;
    Ok(())
}
