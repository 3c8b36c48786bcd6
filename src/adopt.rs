//! Taking over databases botdb did not create: `stamp` records migrations as applied
//! without running them, and adoption maps a Python bot database's Alembic revision onto
//! botdb's history, after checking that its schema really is what that revision says.

use diesel::sql_types::Text;
use diesel::{ExpressionMethods, QueryDsl, QueryableByName};
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use scoped_futures::ScopedFutureExt;

use crate::admin::Scratch;
use crate::drift::{self, Difference};
use crate::error::{Error, Result};
use crate::introspect::Introspect;
use crate::migrate::bookkeeping::__diesel_schema_migrations::dsl::{
    __diesel_schema_migrations, version,
};
use crate::migrate::{self, MigrationId, BOOKKEEPING_TABLE};
use crate::{alembic, with_connection, Database};

/// Alembic's version table.
pub const ALEMBIC_TABLE: &str = "alembic_version";

/// The bot's tables, the ones adoption compares.
pub const BOT_TABLES: [&str; 4] = ["categories", "products", "purchases", "users"];

/// What a stamp changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stamped {
    /// Versions recorded as applied.
    pub recorded: Vec<MigrationId>,
    /// Versions removed from the record (they were after the stamped version).
    pub removed: Vec<MigrationId>,
}

/// What an adoption did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Adoption {
    /// The Alembic revision the database was at.
    pub revision: String,
    /// The migrations recorded as applied.
    pub stamped: Vec<MigrationId>,
    /// Whether `alembic_version` was dropped.
    pub dropped_alembic_version: bool,
}

#[derive(QueryableByName)]
struct Revision {
    #[diesel(sql_type = Text)]
    version_num: String,
}

impl Database {
    /// Makes the recorded migrations exactly those up to and including `to` (the newest
    /// when `None`), without running any SQL of theirs, like Alembic's `stamp`.
    pub async fn stamp(&self, to: Option<&str>) -> Result<Stamped> {
        self.locked(self.stamp_unlocked(to)).await
    }

    async fn stamp_unlocked(&self, to: Option<&str>) -> Result<Stamped> {
        let known = self.known_migrations()?;
        let last = match to {
            Some(v) => migrate::find_version(&known, v)?.version.clone(),
            None => match known.last() {
                Some(m) => m.version.clone(),
                None => return Ok(Stamped::default()),
            },
        };
        let status = self.status().await?;
        if let Some(dirty @ Error::Dirty { .. }) = status.problem() {
            return Err(dirty);
        }
        let applied: Vec<String> = status.applied().map(|e| e.version.clone()).collect();
        let recorded: Vec<MigrationId> = known
            .iter()
            .filter(|m| m.version <= last && !applied.contains(&m.version))
            .cloned()
            .collect();
        let removed: Vec<MigrationId> = known
            .iter()
            .filter(|m| m.version > last && applied.contains(&m.version))
            .cloned()
            .collect();
        let (add, remove) = (&recorded, &removed);
        with_connection!(self.pool(), |conn| {
            let create = format!(
                "{}\n{}",
                diesel::migration::CREATE_MIGRATIONS_TABLE,
                crate::run::CREATE_BOTDB_TABLE
            );
            conn.batch_execute(&create)
                .await
                .map_err(|e| Error::query("creating the bookkeeping tables", e))?;
            let remove: Vec<&str> = remove.iter().map(|m| m.version.as_str()).collect();
            let remove = &remove;
            // All or nothing: a stamp that fails part-way records nothing.
            let work = transaction_body(&*conn, |conn| {
                async move {
                    use crate::migrate::bookkeeping::__botdb_migrations::dsl as botdb;
                    // One row at a time: diesel's SQLite backend has no multi-row insert.
                    for m in add {
                        diesel::insert_into(__diesel_schema_migrations)
                            .values(version.eq(&m.version))
                            .execute(&mut *conn)
                            .await?;
                    }
                    diesel::delete(__diesel_schema_migrations.filter(version.eq_any(remove)))
                        .execute(&mut *conn)
                        .await?;
                    diesel::delete(botdb::__botdb_migrations.filter(botdb::version.eq_any(remove)))
                        .execute(conn)
                        .await?;
                    Ok(())
                }
                .scope_boxed()
            });
            (*conn)
                .transaction(work)
                .await
                .map_err(|e| Error::query("recording the stamped migrations", e))?;
        });
        Ok(Stamped { recorded, removed })
    }

    /// The Alembic revision of a database Alembic managed and botdb does not yet: it has
    /// `alembic_version` and no (or an empty) diesel bookkeeping table.
    pub async fn alembic_revision(&self) -> Result<Option<String>> {
        with_connection!(self.pool(), |conn| {
            let tables = conn.tables().await?;
            if !tables.iter().any(|t| t == ALEMBIC_TABLE) {
                return Ok(None);
            }
            if tables.iter().any(|t| t == BOOKKEEPING_TABLE) {
                let recorded: i64 = __diesel_schema_migrations
                    .count()
                    .get_result(&mut conn)
                    .await
                    .map_err(|e| Error::query("reading __diesel_schema_migrations", e))?;
                if recorded > 0 {
                    return Ok(None);
                }
            }
            let rows = diesel::sql_query("SELECT version_num FROM alembic_version")
                .load::<Revision>(&mut conn)
                .await
                .map_err(|e| Error::query("reading alembic_version", e))?;
            match rows.as_slice() {
                [one] => Ok(Some(one.version_num.clone())),
                [] => Err(Error::Adoption {
                    revision: String::new(),
                    reason: "alembic_version is empty".into(),
                }),
                _ => Err(Error::Adoption {
                    revision: rows
                        .iter()
                        .map(|r| r.version_num.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    reason: "alembic_version has several heads; botdb's history has one".into(),
                }),
            }
        })
    }

    /// Takes over a database the Python bot's Alembic managed: maps its revision onto
    /// botdb's history, checks that the schema really is that step's, and records the
    /// matching migrations as applied. Nothing else changes (unless `drop_alembic_version`).
    pub async fn adopt(&self, drop_alembic_version: bool) -> Result<Adoption> {
        self.locked(self.adopt_unlocked(drop_alembic_version)).await
    }

    /// [`Database::adopt`], for a caller that already holds the migration lock.
    pub(crate) async fn adopt_unlocked(&self, drop_alembic_version: bool) -> Result<Adoption> {
        let Some(revision) = self.alembic_revision().await? else {
            return self
                .drop_leftover_alembic_version(drop_alembic_version)
                .await;
        };
        let step = alembic::revision(&revision).ok_or_else(|| Error::Adoption {
            revision: revision.clone(),
            reason: format!(
                "it is not one of the bot's revisions ({})",
                alembic::REVISIONS
                    .iter()
                    .map(|r| r.revision)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        let differences = self.differences_from_step(step.version).await?;
        if !differences.is_empty() {
            return Err(Error::Adoption {
                revision,
                reason: format!(
                    "the schema does not match that revision ({} differences: {})",
                    differences.len(),
                    differences
                        .iter()
                        .map(Difference::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            });
        }
        let stamped = match step.version {
            Some(v) => self.stamp_unlocked(Some(v)).await?.recorded,
            None => Vec::new(),
        };
        if drop_alembic_version {
            self.drop_alembic_version().await?;
        }
        tracing::info!(%revision, stamped = stamped.len(), "adopted an Alembic database");
        Ok(Adoption {
            revision,
            stamped,
            dropped_alembic_version: drop_alembic_version,
        })
    }

    /// `adopt --drop-alembic-version` on a database botdb already manages (e.g. adopted by
    /// `migrate`, which keeps the table): only the table is left to drop.
    async fn drop_leftover_alembic_version(&self, drop: bool) -> Result<Adoption> {
        let no_table = |reason: &str| Error::NothingToAdopt(reason.into());
        let tables = with_connection!(self.pool(), |conn| conn.tables().await?);
        if !tables.iter().any(|t| t == ALEMBIC_TABLE) {
            return Err(no_table(
                "there is no alembic_version table; `botdb migrate` sets up a new database",
            ));
        }
        if !drop {
            return Err(no_table(
                "botdb already manages this database (it was adopted before); pass --drop-alembic-version to drop the table once the Python bot no longer reads it",
            ));
        }
        let revision = with_connection!(self.pool(), |conn| {
            diesel::sql_query("SELECT version_num FROM alembic_version")
                .load::<Revision>(&mut conn)
                .await
                .map_err(|e| Error::query("reading alembic_version", e))?
        })
        .into_iter()
        .map(|r| r.version_num)
        .collect::<Vec<_>>()
        .join(",");
        self.drop_alembic_version().await?;
        tracing::info!(%revision, "dropped alembic_version from an adopted database");
        Ok(Adoption {
            revision,
            stamped: Vec::new(),
            dropped_alembic_version: true,
        })
    }

    async fn drop_alembic_version(&self) -> Result<()> {
        with_connection!(self.pool(), |conn| {
            conn.batch_execute("DROP TABLE alembic_version")
                .await
                .map_err(|e| Error::query("dropping alembic_version", e))?;
        });
        Ok(())
    }

    /// How the bot's tables differ from what botdb's migrations up to `to` create.
    async fn differences_from_step(&self, to: Option<&str>) -> Result<Vec<Difference>> {
        let scratch = Scratch::create(self.url(), &self.source).await?;
        let expected = match to {
            Some(v) => match scratch.db.apply_pending(Some(v), &mut |_| {}).await {
                Ok(_) => scratch.db.introspect().await,
                Err(e) => Err(e),
            },
            None => scratch.db.introspect().await,
        };
        scratch.remove().await?;
        let actual = self.introspect().await?;
        Ok(drift::compare(&expected?, &actual, Some(&BOT_TABLES)))
    }
}

/// Types a transaction's body for `conn`'s connection type: inside `with_connection!` the
/// type is different for each backend and cannot be written out.
fn transaction_body<'a, C, F>(_conn: &C, body: F) -> F
where
    F: for<'r> FnOnce(
        &'r mut C,
    ) -> scoped_futures::ScopedBoxFuture<'a, 'r, diesel::QueryResult<()>>,
{
    body
}

/// How an operator settled a dirty migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The schema now has everything the migration does: record it as applied.
    Applied,
    /// The schema has none of it: record it as not applied.
    Reverted,
}

impl Database {
    /// Clears a dirty migration (MySQL, after a failure part-way) once the operator has
    /// fixed the schema by hand, like golang-migrate's `force`.
    pub async fn resolve(&self, wanted: &str, resolution: Resolution) -> Result<MigrationId> {
        self.locked(async {
            let known = self.known_migrations()?;
            let id = migrate::find_version(&known, wanted)?.clone();
            let (_, tracked) = self.bookkeeping_rows().await?;
            if !tracked.iter().any(|t| t.version == id.version && t.state != "applied") {
                return Err(Error::NotDirty(id.name));
            }
            let backend = self.backend();
            let v = crate::sql::literal(backend, &crate::sql::Literal::Str(&id.version))?;
            let sql = match resolution {
                Resolution::Applied => {
                    let texts = crate::script::migration_texts(&self.source, backend)?;
                    let up = texts.iter().find(|t| t.id.version == id.version).map(|t| t.up.as_str()).unwrap_or("");
                    format!(
                        "DELETE FROM {BOOKKEEPING_TABLE} WHERE version = {v};\nINSERT INTO {BOOKKEEPING_TABLE} (version) VALUES ({v});\n{}",
                        crate::run::track(backend, &id.version, &crate::script::sha256_hex(up), "applied")?
                    )
                }
                Resolution::Reverted => format!(
                    "DELETE FROM {BOOKKEEPING_TABLE} WHERE version = {v};\n{}",
                    crate::run::untrack(backend, &id.version)?
                ),
            };
            with_connection!(self.pool(), |conn| {
                conn.batch_execute(&sql)
                    .await
                    .map_err(|e| Error::query("recording the resolution", e))?;
            });
            Ok(id)
        })
        .await
    }
}
