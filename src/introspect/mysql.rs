//! MySQL/MariaDB's catalogue: information_schema, in the current database.

use std::collections::BTreeMap;

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};

use crate::error::{Doing, Result};
use crate::introspect::{
    sorted, split_list, user_tables, Column, ForeignKeyRow, Index, Introspect, Name, Schema, Table,
};

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
        let names: Vec<Name> = catalogue_rows!(
            self,
            Doing::ListTables,
            "SELECT TABLE_NAME AS name FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'"
        );
        Ok(sorted(names))
    }

    async fn schema(&mut self) -> Result<Schema> {
        let mut schema = Schema::default();
        for table in user_tables(self.tables().await?) {
            let columns: Vec<MysqlColumn> = catalogue_rows!(self, Doing::ReadColumns, "SELECT COLUMN_NAME AS name, LOWER(COLUMN_TYPE) AS data_type, IS_NULLABLE AS is_nullable, \
                 COLUMN_DEFAULT AS default_value, COLUMN_KEY AS column_key, LOWER(EXTRA) AS extra \
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
                 ORDER BY ORDINAL_POSITION", &table);
            let indexes: Vec<MysqlIndex> = catalogue_rows!(self, Doing::ReadIndexes, "SELECT INDEX_NAME AS name, CAST(MAX(NON_UNIQUE) AS SIGNED) AS non_unique, \
                 GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ',') AS columns \
                 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
                 AND INDEX_NAME <> 'PRIMARY' GROUP BY INDEX_NAME", &table);
            let foreign_keys: Vec<ForeignKeyRow> = catalogue_rows!(self, Doing::ReadForeignKeys, "SELECT GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ',') AS columns, \
                 MAX(k.REFERENCED_TABLE_NAME) AS `references`, \
                 GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ',') AS referenced_columns, \
                 MAX(r.DELETE_RULE) AS on_delete \
                 FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
                 ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME \
                 WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL \
                 GROUP BY k.CONSTRAINT_NAME", &table);
            let triggers: Vec<Name> = catalogue_rows!(self, Doing::ReadTriggers, "SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS \
                 WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ? ORDER BY TRIGGER_NAME", &table);
            let columns = columns.into_iter().map(Column::from).collect();
            let indexes = index_map(indexes);
            let table_rows = Table::from_rows(columns, indexes, foreign_keys, triggers);
            schema.tables.insert(table, table_rows);
        }
        Ok(schema)
    }
}

impl From<MysqlColumn> for Column {
    fn from(c: MysqlColumn) -> Self {
        Column {
            name: c.name,
            data_type: c.data_type,
            nullable: c.is_nullable == "YES",
            default: c.default_value,
            primary_key: c.column_key == "PRI",
            extra: c.extra,
        }
    }
}

fn index_map(rows: Vec<MysqlIndex>) -> BTreeMap<String, Index> {
    rows.into_iter()
        .map(|i| {
            let index = Index {
                columns: split_list(&i.columns),
                unique: i.non_unique == 0,
            };
            (i.name, index)
        })
        .collect()
}
