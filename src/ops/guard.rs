//! What a revert would destroy. The tables and columns a revert drops are found by doing
//! it on a scratch database (so rebuilds and renames are judged by their effect, not their
//! text); the live database then says how many rows or values sit in them.

use diesel_async::RunQueryDsl;

use crate::database::Database;
use crate::db::admin::Count;
use crate::db::with_connection;
use crate::error::{Doing, Error, Result};
use crate::migration::plan::{plan_down, RevertTarget, RunOptions};
use crate::migration::status::preflight;
use crate::ops::scratch::Scratch;
use crate::sql::literal::identifier;

/// Data a revert would delete.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Loss {
    /// The table.
    pub table: String,
    /// The column, when only a column is dropped.
    pub column: Option<String>,
    /// Rows in the table, or non-NULL values in the column.
    pub count: i64,
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = if self.count == 1 { "" } else { "s" };
        match &self.column {
            None => write!(f, "table {} ({} row{plural})", self.table, self.count),
            Some(c) => write!(
                f,
                "column {}.{} ({} value{plural})",
                self.table, c, self.count
            ),
        }
    }
}

impl Database {
    /// The data reverting to `target` would delete: dropped tables with rows, and dropped
    /// columns with non-NULL values. An error means it cannot be told (e.g. the account may
    /// not create the scratch database this needs).
    pub async fn revert_losses(&self, target: &RevertTarget) -> Result<Vec<Loss>> {
        // A dirty migration is not "applied": say so before counting what is.
        let (applied, tracked) = self.read_bookkeeping().await?;
        let applied: Vec<String> = applied.into_iter().map(|(v, _)| v).collect();
        preflight(&tracked, None, &applied, RunOptions::default())?;
        let reverted = plan_down(self.catalog()?, &applied, target)?;
        let Some(newest) = applied.iter().max() else {
            return Ok(Vec::new());
        };
        let keep = applied
            .iter()
            .filter(|v| !reverted.contains(v))
            .max()
            .cloned();

        let scratch = Scratch::like(self).await?;
        let schemas = async {
            scratch.db.apply_pending(Some(newest), &mut |_| {}).await?;
            let before = scratch.db.introspect().await?;
            let back = keep.map_or(RevertTarget::All, RevertTarget::To);
            scratch.db.revert(&back, &mut |_| {}).await?;
            Ok::<_, Error>((before, scratch.db.introspect().await?))
        }
        .await;
        scratch.remove().await?;
        let (before, after) = schemas?;

        let backend = self.backend();
        let mut dropped: Vec<(String, Option<String>, String)> = Vec::new();
        for table in &before.tables {
            let name = &table.name;
            match after.table(name) {
                None => dropped.push((
                    name.clone(),
                    None,
                    format!("SELECT COUNT(*) AS n FROM {}", identifier(backend, name)?),
                )),
                Some(remaining) => {
                    for column in table
                        .columns
                        .iter()
                        .filter(|c| !remaining.columns.iter().any(|r| r.name == c.name))
                    {
                        let sql = format!(
                            "SELECT COUNT({}) AS n FROM {}",
                            identifier(backend, &column.name)?,
                            identifier(backend, name)?
                        );
                        dropped.push((name.clone(), Some(column.name.clone()), sql));
                    }
                }
            }
        }
        let live = self.introspect().await?;
        let mut losses = Vec::new();
        for (table, column, sql) in dropped {
            let exists = live.table(&table).is_some_and(|t| {
                column
                    .as_ref()
                    .is_none_or(|c| t.columns.iter().any(|l| l.name == *c))
            });
            if !exists {
                continue;
            }
            let count = with_connection!(self.pool(), |conn| {
                diesel::sql_query(sql)
                    .get_result::<Count>(&mut conn)
                    .await
                    .map_err(|e| Error::query(Doing::CountLosses, e))?
                    .n
            });
            if count > 0 {
                losses.push(Loss {
                    table,
                    column,
                    count,
                });
            }
        }
        Ok(losses)
    }
}
