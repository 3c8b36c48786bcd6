//! Reads the live schema from the database's own catalogue (sqlite_master and pragmas,
//! information_schema, pg_catalog), so schemas can be compared as data rather than as
//! the text of their DDL.
//!
//! Every query here is read-only and takes its table name as a bind parameter.

use std::collections::BTreeMap;

use diesel::sql_types::Text;
use diesel::QueryableByName;

use crate::db::lock_row::LOCK_TABLE;
use crate::error::{Doing, Error, Result};
use crate::migration::bookkeeping::{BOOKKEEPING_TABLE, BOTDB_TABLE};

/// Runs one catalogue query (with the table's name bound, when given) and loads its rows.
macro_rules! catalogue_rows {
    ($conn:expr, $doing:expr, $sql:expr) => {
        diesel::sql_query($sql)
            .load($conn)
            .await
            .map_err($crate::introspect::err($doing))?
    };
    ($conn:expr, $doing:expr, $sql:expr, $table:expr) => {
        diesel::sql_query($sql)
            .bind::<diesel::sql_types::Text, _>($table)
            .load($conn)
            .await
            .map_err($crate::introspect::err($doing))?
    };
}

pub mod compare;
pub mod mysql;
pub mod postgres;
pub mod sqlite;

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

impl Table {
    /// A table from what the catalogue queries returned for it.
    pub(crate) fn from_rows(
        columns: Vec<Column>,
        indexes: BTreeMap<String, Index>,
        foreign_keys: Vec<ForeignKeyRow>,
        triggers: Vec<Name>,
    ) -> Table {
        Table {
            columns,
            indexes,
            foreign_keys: foreign_key_list(foreign_keys),
            triggers: triggers.into_iter().map(|t| t.name).collect(),
        }
    }
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

/// A row holding one name.
#[derive(QueryableByName)]
pub(crate) struct Name {
    #[diesel(sql_type = Text)]
    pub(crate) name: String,
}

pub(crate) fn err(doing: Doing) -> impl Fn(diesel::result::Error) -> Error {
    move |e| Error::query(doing, e)
}

pub(crate) fn sorted(names: Vec<Name>) -> Vec<String> {
    let mut names: Vec<String> = names.into_iter().map(|n| n.name).collect();
    names.sort();
    names
}

/// The tables a [`Schema`] describes: all but diesel's and botdb's bookkeeping (and
/// botdb's lock row, on engines that need one).
pub(crate) fn user_tables(all: Vec<String>) -> impl Iterator<Item = String> {
    all.into_iter()
        .filter(|n| n != BOOKKEEPING_TABLE && n != BOTDB_TABLE && n != LOCK_TABLE)
}

pub(crate) fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A foreign key as every backend's catalogue query returns it.
#[derive(QueryableByName)]
pub(crate) struct ForeignKeyRow {
    #[diesel(sql_type = Text)]
    pub(crate) columns: String,
    #[diesel(sql_type = Text)]
    pub(crate) references: String,
    #[diesel(sql_type = Text)]
    pub(crate) referenced_columns: String,
    #[diesel(sql_type = Text)]
    pub(crate) on_delete: String,
}

pub(crate) fn foreign_key_list(rows: Vec<ForeignKeyRow>) -> Vec<ForeignKey> {
    sorted_fks(rows.into_iter().map(|f| ForeignKey {
        columns: split_list(&f.columns),
        references: f.references,
        referenced_columns: split_list(&f.referenced_columns),
        on_delete: f.on_delete.to_uppercase(),
    }))
}

fn sorted_fks(fks: impl Iterator<Item = ForeignKey>) -> Vec<ForeignKey> {
    let mut fks: Vec<ForeignKey> = fks.collect();
    fks.sort();
    fks
}
