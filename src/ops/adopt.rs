//! Taking over databases botdb did not create: `stamp` records migrations as applied
//! without running them, and adoption maps a Python bot database's Alembic revision onto
//! botdb's history, after checking that its schema really is what that revision says.

use diesel::sql_types::Text;
use diesel::{ExpressionMethods, QueryDsl, QueryableByName};
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use scoped_futures::ScopedFutureExt;

use crate::config::DatabaseUrl;
use crate::database::Database;
use crate::db::with_connection;
use crate::db::PoolOptions;
use crate::error::{Doing, Error, Result};
use crate::introspect::compare::{compare, Difference};
use crate::introspect::Introspect;
use crate::migration::bookkeeping::tables::__diesel_schema_migrations::dsl::{
    __diesel_schema_migrations, version,
};
use crate::migration::bookkeeping::{
    create_sql, forget_applied, record_applied, track, untrack, TrackState, BOOKKEEPING_TABLE,
};
use crate::migration::catalog::{MigrationId, Source};
use crate::migration::report::{Adoption, Stamped};
use crate::migration::status::State;
use crate::ops::alembic::{self, ALEMBIC_TABLE};
use crate::ops::scratch::schema_at;

/// The bot's tables, the ones adoption compares.
pub const BOT_TABLES: [&str; 4] = ["categories", "products", "purchases", "users"];

#[derive(QueryableByName)]
struct Revision {
    #[diesel(sql_type = Text)]
    version_num: String,
}

/// Whether `stamp` and `resolve` first compare the live schema with the one the
/// migrations produce at the version they are about to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemaCheck {
    /// Refuse, recording nothing, when the schema differs (the default).
    #[default]
    Compare,
    /// Record without looking: the caller knows the schema better than the history does.
    Skip,
}

impl Database {
    /// Makes the recorded migrations exactly those up to and including `to` (the newest
    /// when `None`), without running any SQL of theirs, like Alembic's `stamp`. With
    /// [`SchemaCheck::Compare`] it first checks that the schema is the one the migrations
    /// produce at that version (as adoption does), and refuses if not.
    pub async fn stamp(&self, to: Option<&str>, check: SchemaCheck) -> Result<Stamped> {
        self.locked(async {
            if check == SchemaCheck::Compare {
                let target = match to {
                    Some(v) => Some(self.catalog()?.find(v)?.id.clone()),
                    None => self.known_migrations()?.last().cloned(),
                };
                let name = target.as_ref().map_or("no migration", |m| m.name.as_str());
                self.expect_schema_at(
                    target.as_ref().map(|m| m.version.as_str()),
                    format!("stamp {name}"),
                )
                .await?;
            }
            self.stamp_unlocked(to).await
        })
        .await
    }

    /// Refuses with the differences when the live schema is not the one the migrations
    /// produce up to `at` (an empty one when `None`). `action` names what is refused.
    async fn expect_schema_at(&self, at: Option<&str>, action: String) -> Result<()> {
        let expected = match schema_at(self, at).await {
            Ok(schema) => schema,
            Err(e) => {
                return Err(Error::SchemaUnchecked {
                    action,
                    error: Box::new(e),
                })
            }
        };
        let actual = self.introspect().await?;
        // alembic_version is the Python bot's bookkeeping, which adoption keeps.
        let differences: Vec<String> = compare(&expected, &actual, None)
            .iter()
            .filter(|d| d.table != ALEMBIC_TABLE)
            .map(Difference::to_string)
            .collect();
        if differences.is_empty() {
            return Ok(());
        }
        Err(Error::SchemaMismatch {
            action,
            count: differences.len(),
            differences: differences.join("; "),
        })
    }

    async fn stamp_unlocked(&self, to: Option<&str>) -> Result<Stamped> {
        let known = self.known_migrations()?;
        let last = match to {
            Some(v) => self.catalog()?.find(v)?.id.version.clone(),
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
            conn.batch_execute(&create_sql())
                .await
                .map_err(|e| Error::query(Doing::CreateBookkeeping, e))?;
            let remove: Vec<&str> = remove.iter().map(|m| m.version.as_str()).collect();
            let remove = &remove;
            // All or nothing: a stamp that fails part-way records nothing.
            let work = transaction_body(&*conn, |conn| {
                async move {
                    use crate::migration::bookkeeping::tables::__botdb_migrations::dsl as botdb;
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
                .map_err(|e| Error::query(Doing::RecordStamped, e))?;
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
                    .map_err(|e| Error::query(Doing::ReadApplied, e))?;
                if recorded > 0 {
                    return Ok(None);
                }
            }
            let rows = diesel::sql_query("SELECT version_num FROM alembic_version")
                .load::<Revision>(&mut conn)
                .await
                .map_err(|e| Error::query(Doing::ReadAlembicVersion, e))?;
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
                    "the schema does not match that revision ({}: {})",
                    crate::error::plural(differences.len(), "difference"),
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
                "botdb already manages this database (it was adopted before); drop the table (`Database::adopt(true)`) once the Python bot no longer reads it",
            ));
        }
        let revision = with_connection!(self.pool(), |conn| {
            diesel::sql_query("SELECT version_num FROM alembic_version")
                .load::<Revision>(&mut conn)
                .await
                .map_err(|e| Error::query(Doing::ReadAlembicVersion, e))?
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
                .map_err(|e| Error::query(Doing::DropAlembicVersion, e))?;
        });
        Ok(())
    }

    /// How the bot's tables differ from what botdb's migrations up to `to` create.
    async fn differences_from_step(&self, to: Option<&str>) -> Result<Vec<Difference>> {
        let expected = schema_at(self, to).await?;
        let actual = self.introspect().await?;
        Ok(compare(&expected, &actual, Some(&BOT_TABLES)))
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
    ///
    /// With [`SchemaCheck::Compare`] it first checks that the schema really is the one the
    /// migrations produce with it applied (`Applied`) or with the one before it applied
    /// (`Reverted`), and refuses if not.
    pub async fn resolve(
        &self,
        wanted: &str,
        resolution: Resolution,
        check: SchemaCheck,
    ) -> Result<MigrationId> {
        self.locked(async {
            let migration = self.catalog()?.find(wanted)?;
            let id = migration.id.clone();
            let (_, tracked) = self.ensure_bookkeeping().await?;
            if !tracked
                .iter()
                .any(|t| t.version == id.version && t.state != TrackState::Applied)
            {
                return Err(Error::NotDirty(id.name));
            }
            if check == SchemaCheck::Compare {
                let (at, action) = match resolution {
                    Resolution::Applied => (
                        Some(id.version.clone()),
                        format!("resolve {} as applied", id.name),
                    ),
                    Resolution::Reverted => (
                        self.known_migrations()?
                            .into_iter()
                            .rfind(|m| m.version < id.version)
                            .map(|m| m.version),
                        format!("resolve {} as reverted", id.name),
                    ),
                };
                self.expect_schema_at(at.as_deref(), action).await?;
            }
            let backend = self.backend();
            let forget = forget_applied(backend, &id.version)?;
            let sql = match resolution {
                Resolution::Applied => format!(
                    "{forget}\n{}\n{}",
                    record_applied(backend, &id.version)?,
                    track(
                        backend,
                        &id.version,
                        &migration.checksum,
                        TrackState::Applied
                    )?
                ),
                Resolution::Reverted => format!("{forget}\n{}", untrack(backend, &id.version)?),
            };
            with_connection!(self.pool(), |conn| {
                conn.batch_execute(&sql)
                    .await
                    .map_err(|e| Error::query(Doing::RecordResolution, e))?;
            });
            Ok(id)
        })
        .await
    }
}

impl Database {
    /// Accepts a deliberate edit of an applied migration's up.sql once, like Flyway's
    /// `repair`: records the migration's current checksum, so status and migrate no longer
    /// report it as changed. Refuses a migration that is not applied or not changed.
    pub async fn repair(&self, wanted: &str) -> Result<MigrationId> {
        self.locked(async {
            let migration = self.catalog()?.find(wanted)?;
            let id = migration.id.clone();
            let status = self.status().await?;
            let entry = status.migrations.iter().find(|e| e.version == id.version);
            match entry {
                Some(e) if e.state == State::Applied && e.changed => {}
                Some(e) if e.state == State::Applied => return Err(Error::NotChanged(id.name)),
                _ => return Err(Error::RepairNotApplied(id.name)),
            }
            let sql = track(
                self.backend(),
                &id.version,
                &migration.checksum,
                TrackState::Applied,
            )?;
            with_connection!(self.pool(), |conn| {
                let work = transaction_body(&*conn, |conn| {
                    async move { conn.batch_execute(&sql).await }.scope_boxed()
                });
                (*conn)
                    .transaction(work)
                    .await
                    .map_err(|e| Error::query(Doing::RecordChecksums, e))?;
            });
            tracing::debug!(migration = %id, "recorded the edited up.sql's checksum");
            Ok(id)
        })
        .await
    }
}

/// What `migrate` would do with a database the Python bot's Alembic managed, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlembicState {
    /// The revision in `alembic_version`, e.g. `5ca0f991801d`.
    pub revision: String,
    /// Whether it is one of the bot's revisions botdb can adopt.
    pub known: bool,
    /// The botdb migration whose schema that revision has (`None`: none yet, or unknown).
    pub migration: Option<String>,
    /// The migrations `migrate` records as applied without running them (after checking
    /// the schema).
    pub adopt: usize,
    /// The migrations it then applies.
    pub apply: usize,
}

/// The Alembic revision of the database at `url` and what `migrate` would do with it;
/// `None` when it is not an Alembic database botdb has yet to adopt. Never writes:
/// SQLite is opened read-only, and a missing file is not created.
pub async fn read_alembic(
    url: &DatabaseUrl,
    options: &PoolOptions,
    source: &Source,
) -> Result<Option<AlembicState>> {
    if url.sqlite_path().is_some_and(|p| !p.exists()) {
        return Ok(None);
    }
    let options = PoolOptions {
        read_only: true,
        ..options.clone()
    };
    let db = Database::connect_with(url.clone(), &options)
        .await?
        .with_source(source.clone());
    let Some(revision) = db.alembic_revision().await? else {
        return Ok(None);
    };
    let known = db.known_migrations()?;
    let step = alembic::revision(&revision);
    let adopt = match step.and_then(|s| s.version) {
        Some(v) => known.iter().filter(|m| m.version.as_str() <= v).count(),
        None => 0,
    };
    let migration = step
        .and_then(|s| s.version)
        .and_then(|v| known.iter().find(|m| m.version == v))
        .map(|m| m.name.clone());
    Ok(Some(AlembicState {
        revision,
        known: step.is_some(),
        migration,
        adopt,
        apply: if step.is_some() {
            known.len() - adopt
        } else {
            0
        },
    }))
}
