//! PostgreSQL's catalogue: information_schema and pg_catalog, in the current schema.

use std::collections::BTreeMap;

use diesel::sql_types::{Bool, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::{Doing, Result};
use crate::introspect::{
    sorted, split_list, user_tables, Column, ForeignKeyRow, Index, Introspect, Name, Schema, Table,
};

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

impl Introspect for AsyncPgConnection {
    async fn tables(&mut self) -> Result<Vec<String>> {
        let names: Vec<Name> = catalogue_rows!(
            self,
            Doing::ListTables,
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        );
        Ok(sorted(names))
    }

    async fn schema(&mut self) -> Result<Schema> {
        let mut schema = Schema::default();
        for table in user_tables(self.tables().await?) {
            let columns: Vec<PgColumn> = catalogue_rows!(self, Doing::ReadColumns, "SELECT c.column_name::text AS name, c.data_type::text AS data_type, \
                 c.is_nullable = 'YES' AS nullable, c.column_default::text AS default_value, \
                 EXISTS (SELECT 1 FROM information_schema.table_constraints tc \
                   JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name \
                   AND k.table_schema = tc.table_schema AND k.table_name = tc.table_name \
                   WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = c.table_schema \
                   AND tc.table_name = c.table_name AND k.column_name = c.column_name) AS primary_key \
                 FROM information_schema.columns c \
                 WHERE c.table_schema = current_schema() AND c.table_name = $1 ORDER BY c.ordinal_position", &table);
            let indexes: Vec<IndexRow> = catalogue_rows!(self, Doing::ReadIndexes, "SELECT i.relname::text AS name, ix.indisunique AS is_unique, \
                 array_to_string(ARRAY(SELECT a.attname::text FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum ORDER BY k.ord), ',') AS columns \
                 FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 WHERE n.nspname = current_schema() AND t.relname = $1 AND NOT ix.indisprimary", &table);
            let foreign_keys: Vec<ForeignKeyRow> = catalogue_rows!(self, Doing::ReadForeignKeys, "SELECT array_to_string(ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord), ',') AS columns, \
                 f.relname::text AS \"references\", \
                 array_to_string(ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.ord), ',') AS referenced_columns, \
                 CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SET NULL' \
                   WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END AS on_delete \
                 FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
                 JOIN pg_class f ON f.oid = c.confrelid \
                 WHERE c.contype = 'f' AND n.nspname = current_schema() AND t.relname = $1", &table);
            let triggers: Vec<Name> = catalogue_rows!(self, Doing::ReadTriggers, "SELECT tg.tgname::text AS name FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relname = $1 AND NOT tg.tgisinternal ORDER BY 1", &table);
            let columns = columns.into_iter().map(Column::from).collect();
            let indexes = server_indexes(indexes);
            let table_rows = Table::from_rows(columns, indexes, foreign_keys, triggers);
            schema.tables.insert(table, table_rows);
        }
        Ok(schema)
    }
}

#[derive(QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    is_unique: bool,
    #[diesel(sql_type = Text)]
    columns: String,
}

fn server_indexes(rows: Vec<IndexRow>) -> BTreeMap<String, Index> {
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

impl From<PgColumn> for Column {
    fn from(c: PgColumn) -> Self {
        Column {
            name: c.name,
            data_type: c.data_type.to_lowercase(),
            nullable: c.nullable,
            default: c.default_value,
            primary_key: c.primary_key,
            extra: String::new(),
        }
    }
}
