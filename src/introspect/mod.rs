//! Reads the live schema from the database's own catalogue (sqlite_master and pragmas,
//! information_schema, pg_catalog) and lifts it to the declared model's type
//! ([`crate::model::Schema`]), so the live database, the migrations and the model are
//! compared as the same data.
//!
//! Every query here is read-only and reads all tables at once, one query per kind of
//! object, so the cost of a read does not grow with the number of tables.

use std::collections::HashMap;

use diesel::sql_types::{Bool, Integer, Nullable, Text};
use diesel::QueryableByName;

use crate::db::lock_row::LOCK_TABLE;
use crate::error::{Doing, Error, Result};
use crate::migration::bookkeeping::{BOOKKEEPING_TABLE, BOTDB_TABLE};
pub use crate::model::Schema;
use crate::model::{
    updated_at_trigger, Column, ColumnType, Default, ForeignKey, Index, OnDelete, Table, Unique,
};

/// Runs one catalogue query and loads its rows.
macro_rules! catalogue_rows {
    ($conn:expr, $doing:expr, $sql:expr) => {
        diesel::sql_query($sql)
            .load($conn)
            .await
            .map_err($crate::introspect::err($doing))?
    };
}

pub mod compare;
pub mod mysql;
pub mod postgres;
pub mod sqlite;

/// A backend whose catalogue botdb can read.
pub trait Introspect: Send {
    /// Every base table, diesel's bookkeeping table included, sorted.
    fn tables(&mut self) -> impl std::future::Future<Output = Result<Vec<String>>> + Send;
    /// The whole catalogue, read with one query per kind (columns, indexes, foreign
    /// keys, …) for all tables at once.
    fn catalogue(&mut self) -> impl std::future::Future<Output = Result<Catalogue>> + Send;
    /// The whole schema, lifted to the model: tables sorted by name, the bookkeeping
    /// tables left out.
    fn schema(&mut self) -> impl std::future::Future<Output = Result<Schema>> + Send {
        async move { self.catalogue().await?.schema() }
    }
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
pub fn user_tables(all: Vec<String>) -> impl Iterator<Item = String> {
    all.into_iter()
        .filter(|n| n != BOOKKEEPING_TABLE && n != BOTDB_TABLE && n != LOCK_TABLE)
}

pub(crate) fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A column as every backend's catalogue query gives it, in its table's order.
#[derive(QueryableByName)]
pub(crate) struct ColumnRow {
    #[diesel(sql_type = Text)]
    pub(crate) table_name: String,
    #[diesel(sql_type = Text)]
    pub(crate) name: String,
    #[diesel(sql_type = Text)]
    pub(crate) data_type: String,
    #[diesel(sql_type = Bool)]
    pub(crate) nullable: bool,
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) default_value: Option<String>,
    #[diesel(sql_type = Bool)]
    pub(crate) auto_increment: bool,
    /// 1-based position in the primary key; 0 outside it.
    #[diesel(sql_type = Integer)]
    pub(crate) pk_position: i32,
    /// Set to the current time on every update (MySQL's ON UPDATE, or botdb's trigger).
    #[diesel(sql_type = Bool)]
    pub(crate) on_update: bool,
}

/// An index or unique constraint (not the primary key) as every backend's catalogue
/// query gives it.
#[derive(QueryableByName)]
pub(crate) struct IndexRow {
    #[diesel(sql_type = Text)]
    pub(crate) table_name: String,
    #[diesel(sql_type = Text)]
    pub(crate) name: String,
    #[diesel(sql_type = Bool)]
    pub(crate) is_unique: bool,
    #[diesel(sql_type = Text)]
    pub(crate) columns: String,
}

/// A foreign key as every backend's catalogue query gives it.
#[derive(QueryableByName)]
pub(crate) struct ForeignKeyRow {
    #[diesel(sql_type = Text)]
    pub(crate) table_name: String,
    #[diesel(sql_type = Text)]
    pub(crate) name: String,
    #[diesel(sql_type = Text)]
    pub(crate) columns: String,
    #[diesel(sql_type = Text)]
    pub(crate) references: String,
    #[diesel(sql_type = Text)]
    pub(crate) referenced_columns: String,
    #[diesel(sql_type = Text)]
    pub(crate) on_delete: String,
}

/// A trigger and the table it is on.
#[derive(QueryableByName)]
pub(crate) struct TriggerRow {
    #[diesel(sql_type = Text)]
    pub(crate) table_name: String,
    #[diesel(sql_type = Text)]
    pub(crate) name: String,
}

/// The catalogue of a whole database as read, before it is lifted to the model: reading
/// it cannot fail on a type the model has no word for, lifting it ([`Catalogue::schema`])
/// can.
pub struct Catalogue {
    /// Every base table, diesel's and botdb's bookkeeping included, sorted.
    pub tables: Vec<String>,
    pub(crate) columns: Vec<ColumnRow>,
    pub(crate) indexes: Vec<IndexRow>,
    pub(crate) foreign_keys: Vec<ForeignKeyRow>,
}

impl Catalogue {
    /// The schema, lifted to the model: tables sorted by name, the bookkeeping tables
    /// left out.
    pub fn schema(self) -> Result<Schema> {
        let mut columns = by_table(self.columns, |c| &c.table_name);
        let mut index_rows = by_table(self.indexes, |i| &i.table_name);
        let mut fk_rows = by_table(self.foreign_keys, |f| &f.table_name);
        let mut schema = Schema::default();
        for name in user_tables(self.tables) {
            let mut table = Table::new(&name);
            let mut key: Vec<(i32, String)> = Vec::new();
            for c in columns.remove(&name).unwrap_or_default() {
                let ty = column_type(&name, &c.name, &c.data_type)?;
                let default = column_default(&name, &c.name, ty, c.default_value.as_deref())?;
                if c.pk_position > 0 {
                    key.push((c.pk_position, c.name.clone()));
                }
                if c.on_update {
                    table.updated_at = Some(c.name.clone());
                }
                table.columns.push(Column {
                    name: c.name,
                    ty,
                    nullable: c.nullable,
                    default,
                    auto_increment: c.auto_increment,
                });
            }
            key.sort();
            table.primary_key = key.into_iter().map(|(_, c)| c).collect();
            indexes(&mut table, index_rows.remove(&name).unwrap_or_default());
            foreign_keys(&mut table, fk_rows.remove(&name).unwrap_or_default())?;
            settle(&mut table);
            schema.tables.push(table);
        }
        Ok(schema)
    }
}

/// Rows grouped by their table, each group in the order read.
fn by_table<T>(rows: Vec<T>, table: fn(&T) -> &String) -> HashMap<String, Vec<T>> {
    let mut grouped: HashMap<String, Vec<T>> = HashMap::new();
    for row in rows {
        grouped.entry(table(&row).clone()).or_default().push(row);
    }
    grouped
}

/// The logical type of a declared SQL type, in any backend's words (`character varying`,
/// `int(11)`, `datetime`, `tinyint(1)`). Narrower integers and floats lift to the model's
/// wider type.
pub fn column_type(table: &str, column: &str, declared: &str) -> Result<ColumnType> {
    let t = declared.trim().to_ascii_lowercase();
    if t == "tinyint(1)" {
        return Ok(ColumnType::Boolean);
    }
    let base = t.split(['(', ' ']).next().unwrap_or("");
    Ok(match base {
        "bigint" | "int8" | "bigserial" => ColumnType::BigInt,
        "int" | "integer" | "int4" | "smallint" | "int2" | "serial" | "mediumint" | "tinyint" => {
            ColumnType::Integer
        }
        "text" | "longtext" | "mediumtext" | "tinytext" => ColumnType::Text,
        "varchar" | "character" if t.starts_with("character varying") || base == "varchar" => {
            ColumnType::Varchar
        }
        "timestamp" | "datetime" => ColumnType::Timestamp,
        "boolean" | "bool" => ColumnType::Boolean,
        "double" | "real" | "float" | "float8" | "float4" => ColumnType::Double,
        _ => return Err(unmodelled(table, column, format!("type {declared}"))),
    })
}

/// The model's default for a default expression as a catalogue shows it: `now()`,
/// `CURRENT_TIMESTAMP`, `current_timestamp()`, `'x'::character varying`, `'x'`, `0`,
/// `true`. MariaDB reports "no default" of a nullable column as the text `NULL`.
pub fn column_default(
    table: &str,
    column: &str,
    ty: ColumnType,
    expr: Option<&str>,
) -> Result<Option<Default>> {
    let Some(expr) = expr.map(str::trim) else {
        return Ok(None);
    };
    let lower = expr.to_ascii_lowercase();
    if lower == "null" || lower.starts_with("null::") {
        return Ok(None);
    }
    if matches!(
        lower.as_str(),
        "now()" | "current_timestamp" | "current_timestamp()" | "localtimestamp"
    ) {
        return Ok(Some(Default::Now));
    }
    let value = strip_cast(expr);
    let quoted = value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'');
    let text = if quoted {
        value[1..value.len() - 1].replace("''", "'")
    } else {
        value.trim_matches(['(', ')']).to_string()
    };
    let lifted = match ty {
        ColumnType::Integer | ColumnType::BigInt => text.parse().ok().map(Default::Integer),
        ColumnType::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "t" => Some(Default::Boolean(true)),
            "false" | "0" | "f" => Some(Default::Boolean(false)),
            _ => None,
        },
        // MySQL 8 reports a string default without its quotes.
        ColumnType::Text | ColumnType::Varchar => Some(Default::Text(text)),
        ColumnType::Double | ColumnType::Timestamp => None,
    };
    lifted
        .map(Some)
        .ok_or_else(|| unmodelled(table, column, format!("default {expr}")))
}

/// `'x'::character varying` without its cast.
fn strip_cast(expr: &str) -> &str {
    match expr.rfind("::") {
        Some(at) if !expr[at..].contains('\'') => &expr[..at],
        _ => expr,
    }
}

fn unmodelled(table: &str, column: &str, what: String) -> Error {
    Error::Unmodelled {
        table: table.to_string(),
        column: column.to_string(),
        what,
    }
}

/// ON DELETE as a catalogue spells it. RESTRICT and NO ACTION both refuse the delete
/// (MariaDB reports a foreign key declared without an action as RESTRICT).
pub fn on_delete(table: &str, action: &str) -> Result<OnDelete> {
    match action.to_ascii_uppercase().as_str() {
        "NO ACTION" | "RESTRICT" => Ok(OnDelete::NoAction),
        "CASCADE" => Ok(OnDelete::Cascade),
        "SET NULL" => Ok(OnDelete::SetNull),
        other => Err(unmodelled(
            table,
            "(foreign key)",
            format!("ON DELETE {other}"),
        )),
    }
}

/// Marks the `updated_at` column of each table that has botdb's trigger for it (the
/// engines without MySQL's ON UPDATE).
pub(crate) fn mark_trigger_updates(columns: &mut [ColumnRow], triggers: &[TriggerRow]) {
    for c in columns.iter_mut().filter(|c| c.name == "updated_at") {
        let wanted = updated_at_trigger(&c.table_name);
        if triggers
            .iter()
            .any(|t| t.table_name == c.table_name && t.name == wanted)
        {
            c.on_update = true;
        }
    }
}

/// Splits index rows into unique constraints and plain indexes.
pub(crate) fn indexes(table: &mut Table, rows: Vec<IndexRow>) {
    for row in rows {
        let columns = split_list(&row.columns);
        if row.is_unique {
            table.uniques.push(Unique {
                name: row.name,
                columns,
            });
        } else {
            table.indexes.push(Index {
                name: row.name,
                columns,
            });
        }
    }
}

pub(crate) fn foreign_keys(table: &mut Table, rows: Vec<ForeignKeyRow>) -> Result<()> {
    for row in rows {
        table.foreign_keys.push(ForeignKey {
            name: row.name,
            columns: split_list(&row.columns),
            references: row.references,
            referenced_columns: split_list(&row.referenced_columns),
            on_delete: on_delete(&table.name, &row.on_delete)?,
        });
    }
    Ok(())
}

/// Puts what the catalogue returned in no particular order into a stable one, so two
/// reads of the same schema are equal.
pub(crate) fn settle(table: &mut Table) {
    table.uniques.sort();
    table.indexes.sort();
    table.foreign_keys.sort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_in_every_dialect() {
        let ty = |d: &str| column_type("t", "c", d).ok();
        assert_eq!(ty("character varying"), Some(ColumnType::Varchar));
        assert_eq!(ty("varchar(255)"), Some(ColumnType::Varchar));
        assert_eq!(
            ty("timestamp without time zone"),
            Some(ColumnType::Timestamp)
        );
        assert_eq!(ty("int(11)"), Some(ColumnType::Integer));
        assert_eq!(ty("BIGINT"), Some(ColumnType::BigInt));
        assert_eq!(ty("tinyint(1)"), Some(ColumnType::Boolean));
        assert_eq!(ty("double precision"), Some(ColumnType::Double));
        assert_eq!(ty("character(3)"), None);
        assert_eq!(ty("numeric(10,2)"), None);
    }

    #[test]
    fn defaults_in_every_dialect() {
        let d = |ty, e: &str| column_default("t", "c", ty, Some(e)).ok().flatten();
        assert_eq!(d(ColumnType::Timestamp, "now()"), Some(Default::Now));
        assert_eq!(
            d(ColumnType::Timestamp, "current_timestamp()"),
            Some(Default::Now)
        );
        assert_eq!(
            d(ColumnType::Timestamp, "CURRENT_TIMESTAMP"),
            Some(Default::Now)
        );
        assert_eq!(
            d(ColumnType::Varchar, "'it''s'::character varying"),
            Some(Default::Text("it's".into()))
        );
        assert_eq!(d(ColumnType::Integer, "0"), Some(Default::Integer(0)));
        assert_eq!(
            d(ColumnType::Integer, "'-3'::integer"),
            Some(Default::Integer(-3))
        );
        assert_eq!(d(ColumnType::Boolean, "true"), Some(Default::Boolean(true)));
        assert_eq!(d(ColumnType::Boolean, "0"), Some(Default::Boolean(false)));
        assert_eq!(d(ColumnType::Varchar, "NULL"), None);
        assert!(column_default("t", "c", ColumnType::Timestamp, Some("'2020-01-01'")).is_err());
    }
}
