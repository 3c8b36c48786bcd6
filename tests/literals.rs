//! Literal rendering, checked by the real databases: any string rendered as a literal and
//! selected back equals the original.

use botdb::sql::{literal, Literal};
use botdb::Database;
use diesel::sql_types::Text;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
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

async fn select(
    db: &Database,
    literal: &str,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let query = format!("SELECT {literal} AS s");
    botdb::with_connection!(db.pool(), |conn| {
        Ok(diesel::sql_query(query)
            .get_result::<Selected>(&mut conn)
            .await?
            .s)
    })
}

async fn literals_read_back_unchanged(t: TestDb) -> TestResult {
    let db = t.connect().await;
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
                .block_on(select(&db, &rendered))
                .map_err(|e| TestCaseError::fail(format!("{rendered}: {e}")))?;
            prop_assert_eq!(back, s);
            Ok(())
        })
    });
    outcome.map_err(|e| format!("{}: {e}", t.backend))?;
    Ok(())
}
