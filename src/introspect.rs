//! Reads the live schema from the database's own catalogue (sqlite_master and pragmas,
//! information_schema, pg_catalog), so schemas can be compared as data rather than as
//! the text of their DDL.
//!
//! Every query here is read-only and takes its table name as a bind parameter.

use std::collections::BTreeMap;

use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncMysqlConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::SqliteAsync;
use crate::error::{Error, Result};
use crate::migrate::BOOKKEEPING_TABLE;

/// The tables of a database, by name. The bookkeeping tables (diesel's and botdb's) are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Schema {
    /// Every table, by name.
    pub tables: BTreeMap<String, Table>,
}

/// One table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Table {
    /// Columns in their physical order.
    pub columns: Vec<Column>,
    /// Indexes by name, unique constraints included.
    pub indexes: BTreeMap<String, Index>,
    /// Foreign keys, sorted by their columns.
    pub foreign_keys: Vec<ForeignKey>,
    /// Trigger names.
    pub triggers: Vec<String>,
}

/// One column as the database reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// The declared type, lower-cased, in the database's own words.
    pub data_type: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// The default expression, as the catalogue shows it.
    pub default: Option<String>,
    /// Part of the primary key.
    pub primary_key: bool,
    /// Backend-specific extras (MySQL's `auto_increment`, `on update current_timestamp`).
    pub extra: String,
}

/// An index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Index {
    /// Indexed columns in order.
    pub columns: Vec<String>,
    /// Whether it enforces uniqueness.
    pub unique: bool,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ForeignKey {
    /// The referencing columns.
    pub columns: Vec<String>,
    /// The referenced table.
    pub references: String,
    /// The referenced columns.
    pub referenced_columns: Vec<String>,
    /// The ON DELETE action, upper-case (`NO ACTION`, `CASCADE`, ...).
    pub on_delete: String,
}

impl Schema {
    /// The names of the tables.
    pub fn table_names(&self) -> Vec<&str> {
        self.tables.keys().map(String::as_str).collect()
    }

    /// A column of a table, if both exist.
    pub fn column(&self, table: &str, column: &str) -> Option<&Column> {
        self.tables
            .get(table)?
            .columns
            .iter()
            .find(|c| c.name == column)
    }
}

/// A backend whose catalogue botdb can read.
pub trait Introspect {
    /// Every base table, diesel's bookkeeping table included, sorted.
    fn tables(&mut self) -> impl std::future::Future<Output = Result<Vec<String>>> + Send;
    /// The whole schema.
    fn schema(&mut self) -> impl std::future::Future<Output = Result<Schema>> + Send;
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn err(what: &'static str) -> impl Fn(diesel::result::Error) -> Error {
    move |e| Error::query(what, e)
}

fn sorted(names: Vec<Name>) -> Vec<String> {
    let mut names: Vec<String> = names.into_iter().map(|n| n.name).collect();
    names.sort();
    names
}

/// The tables a [`Schema`] describes: all but diesel's and botdb's bookkeeping.
pub(crate) fn user_tables(all: Vec<String>) -> impl Iterator<Item = String> {
    all.into_iter()
        .filter(|n| n != BOOKKEEPING_TABLE && n != crate::run::BOTDB_TABLE)
}

fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------- SQLite

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Integer)]
    not_null: i32,
    #[diesel(sql_type = Nullable<Text>)]
    dflt_value: Option<String>,
    #[diesel(sql_type = Integer)]
    pk: i32,
}

#[derive(QueryableByName)]
struct SqliteIndex {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Integer)]
    is_unique: i32,
    #[diesel(sql_type = Text)]
    columns: String,
}

#[derive(QueryableByName)]
struct SqliteForeignKey {
    #[diesel(sql_type = Text)]
    columns: String,
    #[diesel(sql_type = Text)]
    references: String,
    #[diesel(sql_type = Text)]
    referenced_columns: String,
    #[diesel(sql_type = Text)]
    on_delete: String,
}

impl Introspect for SqliteAsync {
    async fn tables(&mut self) -> Result<Vec<String>> {
        let names = diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )
        .load::<Name>(self)
        .await
        .map_err(err("listing tables"))?;
        Ok(sorted(names))
    }

    async fn schema(&mut self) -> Result<Schema> {
        let mut schema = Schema::default();
        for table in user_tables(self.tables().await?) {
            let columns = diesel::sql_query(
                "SELECT name, lower(type) AS data_type, \"notnull\" AS not_null, dflt_value, pk \
                 FROM pragma_table_info(?) ORDER BY cid",
            )
            .bind::<Text, _>(&table)
            .load::<SqliteColumn>(self)
            .await
            .map_err(err("reading columns"))?;
            // Primary-key indexes (origin 'pk') are implied by the columns' pk flag.
            let indexes = diesel::sql_query(
                "SELECT il.name AS name, il.\"unique\" AS is_unique, \
                 (SELECT group_concat(name, ',') FROM (SELECT ii.name FROM pragma_index_info(il.name) ii ORDER BY ii.seqno)) AS columns \
                 FROM pragma_index_list(?) il WHERE il.origin <> 'pk'",
            )
            .bind::<Text, _>(&table)
            .load::<SqliteIndex>(self)
            .await
            .map_err(err("reading indexes"))?;
            let foreign_keys = diesel::sql_query(
                "SELECT group_concat(\"from\", ',') AS columns, \"table\" AS \"references\", \
                 group_concat(\"to\", ',') AS referenced_columns, on_delete \
                 FROM (SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq) GROUP BY id",
            )
            .bind::<Text, _>(&table)
            .load::<SqliteForeignKey>(self)
            .await
            .map_err(err("reading foreign keys"))?;
            let triggers = diesel::sql_query(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? ORDER BY name",
            )
            .bind::<Text, _>(&table)
            .load::<Name>(self)
            .await
            .map_err(err("reading triggers"))?;
            schema.tables.insert(
                table,
                Table {
                    columns: columns
                        .into_iter()
                        .map(|c| Column {
                            name: c.name,
                            data_type: c.data_type,
                            nullable: c.not_null == 0,
                            default: c.dflt_value,
                            primary_key: c.pk > 0,
                            extra: String::new(),
                        })
                        .collect(),
                    indexes: indexes
                        .into_iter()
                        .map(|i| {
                            let index = Index {
                                columns: split_list(&i.columns),
                                unique: i.is_unique != 0,
                            };
                            (i.name, index)
                        })
                        .collect(),
                    foreign_keys: sorted_fks(foreign_keys.into_iter().map(|f| ForeignKey {
                        columns: split_list(&f.columns),
                        references: f.references,
                        referenced_columns: split_list(&f.referenced_columns),
                        on_delete: f.on_delete.to_uppercase(),
                    })),
                    triggers: triggers.into_iter().map(|t| t.name).collect(),
                },
            );
        }
        Ok(schema)
    }
}

fn sorted_fks(fks: impl Iterator<Item = ForeignKey>) -> Vec<ForeignKey> {
    let mut fks: Vec<ForeignKey> = fks.collect();
    fks.sort();
    fks
}

// ---------------------------------------------------------------- PostgreSQL

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Bool)]
    nullable: bool,
    #[diesel(sql_type = Nullable<Text>)]
    default_value: Option<String>,
    #[diesel(sql_type = Bool)]
    primary_key: bool,
}

#[derive(QueryableByName)]
struct ServerIndex {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    is_unique: bool,
    #[diesel(sql_type = Text)]
    columns: String,
}

#[derive(QueryableByName)]
struct ServerForeignKey {
    #[diesel(sql_type = Text)]
    columns: String,
    #[diesel(sql_type = Text)]
    references: String,
    #[diesel(sql_type = Text)]
    referenced_columns: String,
    #[diesel(sql_type = Text)]
    on_delete: String,
}

impl Introspect for AsyncPgConnection {
    async fn tables(&mut self) -> Result<Vec<String>> {
        let names = diesel::sql_query(
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
        .load::<Name>(self)
        .await
        .map_err(err("listing tables"))?;
        Ok(sorted(names))
    }

    async fn schema(&mut self) -> Result<Schema> {
        let mut schema = Schema::default();
        for table in user_tables(self.tables().await?) {
            let columns = diesel::sql_query(
                "SELECT c.column_name::text AS name, c.data_type::text AS data_type, \
                 c.is_nullable = 'YES' AS nullable, c.column_default::text AS default_value, \
                 EXISTS (SELECT 1 FROM information_schema.table_constraints tc \
                   JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name \
                   AND k.table_schema = tc.table_schema AND k.table_name = tc.table_name \
                   WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = c.table_schema \
                   AND tc.table_name = c.table_name AND k.column_name = c.column_name) AS primary_key \
                 FROM information_schema.columns c \
                 WHERE c.table_schema = current_schema() AND c.table_name = $1 ORDER BY c.ordinal_position",
            )
            .bind::<Text, _>(&table)
            .load::<PgColumn>(self)
            .await
            .map_err(err("reading columns"))?;
            let indexes = diesel::sql_query(
                "SELECT i.relname::text AS name, ix.indisunique AS is_unique, \
                 array_to_string(ARRAY(SELECT a.attname::text FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum ORDER BY k.ord), ',') AS columns \
                 FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 WHERE n.nspname = current_schema() AND t.relname = $1 AND NOT ix.indisprimary",
            )
            .bind::<Text, _>(&table)
            .load::<ServerIndex>(self)
            .await
            .map_err(err("reading indexes"))?;
            let foreign_keys = diesel::sql_query(
                "SELECT array_to_string(ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord), ',') AS columns, \
                 f.relname::text AS \"references\", \
                 array_to_string(ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.ord), ',') AS referenced_columns, \
                 CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SET NULL' \
                   WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END AS on_delete \
                 FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
                 JOIN pg_class f ON f.oid = c.confrelid \
                 WHERE c.contype = 'f' AND n.nspname = current_schema() AND t.relname = $1",
            )
            .bind::<Text, _>(&table)
            .load::<ServerForeignKey>(self)
            .await
            .map_err(err("reading foreign keys"))?;
            let triggers = diesel::sql_query(
                "SELECT tg.tgname::text AS name FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relname = $1 AND NOT tg.tgisinternal ORDER BY 1",
            )
            .bind::<Text, _>(&table)
            .load::<Name>(self)
            .await
            .map_err(err("reading triggers"))?;
            schema.tables.insert(
                table,
                Table {
                    columns: columns
                        .into_iter()
                        .map(|c| Column {
                            name: c.name,
                            data_type: c.data_type.to_lowercase(),
                            nullable: c.nullable,
                            default: c.default_value,
                            primary_key: c.primary_key,
                            extra: String::new(),
                        })
                        .collect(),
                    indexes: server_indexes(indexes),
                    foreign_keys: server_fks(foreign_keys),
                    triggers: triggers.into_iter().map(|t| t.name).collect(),
                },
            );
        }
        Ok(schema)
    }
}

fn server_indexes(rows: Vec<ServerIndex>) -> BTreeMap<String, Index> {
    rows.into_iter()
        .map(|i| {
            let index = Index {
                columns: split_list(&i.columns),
                unique: i.is_unique,
            };
            (i.name, index)
        })
        .collect()
}

fn server_fks(rows: Vec<ServerForeignKey>) -> Vec<ForeignKey> {
    sorted_fks(rows.into_iter().map(|f| ForeignKey {
        columns: split_list(&f.columns),
        references: f.references,
        referenced_columns: split_list(&f.referenced_columns),
        on_delete: f.on_delete.to_uppercase(),
    }))
}

// ---------------------------------------------------------------- MySQL / MariaDB

#[derive(QueryableByName)]
struct MysqlColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
    #[diesel(sql_type = Nullable<Text>)]
    default_value: Option<String>,
    #[diesel(sql_type = Text)]
    column_key: String,
    #[diesel(sql_type = Text)]
    extra: String,
}

#[derive(QueryableByName)]
struct MysqlIndex {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    non_unique: i64,
    #[diesel(sql_type = Text)]
    columns: String,
}

impl Introspect for AsyncMysqlConnection {
    async fn tables(&mut self) -> Result<Vec<String>> {
        let names = diesel::sql_query(
            "SELECT TABLE_NAME AS name FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'",
        )
        .load::<Name>(self)
        .await
        .map_err(err("listing tables"))?;
        Ok(sorted(names))
    }

    async fn schema(&mut self) -> Result<Schema> {
        let mut schema = Schema::default();
        for table in user_tables(self.tables().await?) {
            let columns = diesel::sql_query(
                "SELECT COLUMN_NAME AS name, LOWER(COLUMN_TYPE) AS data_type, IS_NULLABLE AS is_nullable, \
                 COLUMN_DEFAULT AS default_value, COLUMN_KEY AS column_key, LOWER(EXTRA) AS extra \
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
                 ORDER BY ORDINAL_POSITION",
            )
            .bind::<Text, _>(&table)
            .load::<MysqlColumn>(self)
            .await
            .map_err(err("reading columns"))?;
            let indexes = diesel::sql_query(
                "SELECT INDEX_NAME AS name, CAST(MAX(NON_UNIQUE) AS SIGNED) AS non_unique, \
                 GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ',') AS columns \
                 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
                 AND INDEX_NAME <> 'PRIMARY' GROUP BY INDEX_NAME",
            )
            .bind::<Text, _>(&table)
            .load::<MysqlIndex>(self)
            .await
            .map_err(err("reading indexes"))?;
            let foreign_keys = diesel::sql_query(
                "SELECT GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ',') AS columns, \
                 MAX(k.REFERENCED_TABLE_NAME) AS `references`, \
                 GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ',') AS referenced_columns, \
                 MAX(r.DELETE_RULE) AS on_delete \
                 FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
                 ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME \
                 WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL \
                 GROUP BY k.CONSTRAINT_NAME",
            )
            .bind::<Text, _>(&table)
            .load::<ServerForeignKey>(self)
            .await
            .map_err(err("reading foreign keys"))?;
            let triggers = diesel::sql_query(
                "SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS \
                 WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ? ORDER BY TRIGGER_NAME",
            )
            .bind::<Text, _>(&table)
            .load::<Name>(self)
            .await
            .map_err(err("reading triggers"))?;
            schema.tables.insert(
                table,
                Table {
                    columns: columns
                        .into_iter()
                        .map(|c| Column {
                            name: c.name,
                            data_type: c.data_type,
                            nullable: c.is_nullable == "YES",
                            default: c.default_value,
                            primary_key: c.column_key == "PRI",
                            extra: c.extra,
                        })
                        .collect(),
                    indexes: indexes
                        .into_iter()
                        .map(|i| {
                            let index = Index {
                                columns: split_list(&i.columns),
                                unique: i.non_unique == 0,
                            };
                            (i.name, index)
                        })
                        .collect(),
                    foreign_keys: server_fks(foreign_keys),
                    triggers: triggers.into_iter().map(|t| t.name).collect(),
                },
            );
        }
        Ok(schema)
    }
}
