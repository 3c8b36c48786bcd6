//! SQLite's catalogue: sqlite_master and the table-valued pragmas.

use std::collections::BTreeMap;

use diesel::sql_types::{Integer, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;

use crate::db::sqlite::SqliteAsync;
use crate::error::{Doing, Result};
use crate::introspect::{
    sorted, split_list, user_tables, Column, ForeignKeyRow, Index, Introspect, Name, Schema, Table,
};

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

impl Introspect for SqliteAsync {
    async fn tables(&mut self) -> Result<Vec<String>> {
        let names: Vec<Name> = catalogue_rows!(self, Doing::ListTables, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'");
        Ok(sorted(names))
    }

    async fn schema(&mut self) -> Result<Schema> {
        let mut schema = Schema::default();
        for table in user_tables(self.tables().await?) {
            let columns: Vec<SqliteColumn> = catalogue_rows!(
                self,
                Doing::ReadColumns,
                "SELECT name, lower(type) AS data_type, \"notnull\" AS not_null, dflt_value, pk \
                 FROM pragma_table_info(?) ORDER BY cid",
                &table
            );
            // Primary-key indexes (origin 'pk') are implied by the columns' pk flag.
            let indexes: Vec<SqliteIndex> = catalogue_rows!(self, Doing::ReadIndexes, "SELECT il.name AS name, il.\"unique\" AS is_unique, \
                 (SELECT group_concat(name, ',') FROM (SELECT ii.name FROM pragma_index_info(il.name) ii ORDER BY ii.seqno)) AS columns \
                 FROM pragma_index_list(?) il WHERE il.origin <> 'pk'", &table);
            let foreign_keys: Vec<ForeignKeyRow> = catalogue_rows!(
                self,
                Doing::ReadForeignKeys,
                "SELECT group_concat(\"from\", ',') AS columns, \"table\" AS \"references\", \
                 group_concat(\"to\", ',') AS referenced_columns, on_delete \
                 FROM (SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq) GROUP BY id",
                &table
            );
            let triggers: Vec<Name> = catalogue_rows!(self, Doing::ReadTriggers, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? ORDER BY name", &table);
            let columns = columns.into_iter().map(Column::from).collect();
            let indexes = index_map(indexes);
            let table_rows = Table::from_rows(columns, indexes, foreign_keys, triggers);
            schema.tables.insert(table, table_rows);
        }
        Ok(schema)
    }
}

impl From<SqliteColumn> for Column {
    fn from(c: SqliteColumn) -> Self {
        Column {
            name: c.name,
            data_type: c.data_type,
            nullable: c.not_null == 0,
            default: c.dflt_value,
            primary_key: c.pk > 0,
            extra: String::new(),
        }
    }
}

fn index_map(rows: Vec<SqliteIndex>) -> BTreeMap<String, Index> {
    rows.into_iter()
        .map(|i| {
            let index = Index {
                columns: split_list(&i.columns),
                unique: i.is_unique != 0,
            };
            (i.name, index)
        })
        .collect()
}
