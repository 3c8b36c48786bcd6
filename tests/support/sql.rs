//! SQL run on a test database, and what diesel's and botdb's bookkeeping record.

use botdb::{Database, Schema};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};

use super::BOT_TABLES;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Runs SQL text on the database.
pub async fn execute(
    db: &Database,
    sql: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    botdb::with_connection!(db.pool(), |conn| {
        conn.batch_execute(sql).await?;
        Ok(())
    })
}

/// A single integer from a query whose one column is named `n`.
pub async fn count(
    db: &Database,
    sql: &str,
) -> Result<i64, Box<dyn std::error::Error + Send + Sync>> {
    botdb::with_connection!(db.pool(), |conn| {
        let row = diesel::sql_query(sql)
            .get_result::<Count>(&mut conn)
            .await?;
        Ok(row.n)
    })
}

/// Row counts of the bot's tables that exist, in BOT_TABLES order (-1 for a missing table).
pub async fn row_counts(
    db: &Database,
) -> Result<Vec<i64>, Box<dyn std::error::Error + Send + Sync>> {
    let schema = db.introspect().await?;
    let mut counts = Vec::new();
    for table in BOT_TABLES {
        counts.push(if schema.has_table(table) {
            count(db, &format!("SELECT COUNT(*) AS n FROM {table}")).await?
        } else {
            -1
        });
    }
    Ok(counts)
}

/// The bot's tables present in a schema.
pub fn bot_tables(schema: &Schema) -> Vec<&str> {
    schema
        .table_names()
        .into_iter()
        .filter(|t| BOT_TABLES.contains(t))
        .collect()
}

/// The versions recorded in diesel's bookkeeping table.
pub async fn recorded_versions(
    db: &Database,
) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    Ok(db
        .status()
        .await?
        .applied()
        .map(|e| e.version.clone())
        .collect())
}

/// How many rows of botdb's table record `version` as applied with `up`'s checksum.
pub async fn tracked_as_applied(
    db: &Database,
    version: &str,
    up: &str,
) -> Result<i64, Box<dyn std::error::Error + Send + Sync>> {
    count(
        db,
        &format!(
            "SELECT COUNT(*) AS n FROM __botdb_migrations \
             WHERE version = '{version}' AND state = 'applied' AND checksum = '{}'",
            botdb::checksum::sha256_hex(up)
        ),
    )
    .await
}

/// One row of botdb's `__botdb_migrations`: version, checksum, state, detail.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct TrackedRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub version: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub checksum: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub state: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub detail: Option<String>,
}

/// Every row of botdb's bookkeeping table by version (none when the table does not exist).
pub async fn tracked_rows(
    db: &Database,
) -> Result<Vec<TrackedRow>, Box<dyn std::error::Error + Send + Sync>> {
    botdb::with_connection!(db.pool(), |conn| {
        use botdb::Introspect;
        if !conn
            .tables()
            .await?
            .iter()
            .any(|t| t == "__botdb_migrations")
        {
            return Ok(Vec::new());
        }
        Ok(diesel::sql_query(
            "SELECT version, checksum, state, detail FROM __botdb_migrations ORDER BY version",
        )
        .load::<TrackedRow>(&mut conn)
        .await?)
    })
}
