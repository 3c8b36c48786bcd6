//! PostgreSQL's catalogue: pg_catalog, in the current schema. (information_schema hides
//! constraints from a role that may only SELECT, and `check` must work for one.)

use diesel::sql_types::{Bool, Integer, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::{Doing, Result};
use crate::introspect::{
    column_default, column_type, foreign_keys, indexes, settle, sorted, updated_at_from_triggers,
    user_tables, ForeignKeyRow, IndexRow, Introspect, Name, Schema,
};
use crate::model::{Column, Table};

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
    identity: bool,
    /// 1-based position in the primary key; 0 outside it.
    #[diesel(sql_type = Integer)]
    pk_position: i32,
}

#[derive(QueryableByName)]
struct PgIndex {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    is_unique: bool,
    #[diesel(sql_type = Text)]
    columns: String,
}

impl Introspect for AsyncPgConnection {
    async fn tables(&mut self) -> Result<Vec<String>> {
        let names: Vec<Name> = catalogue_rows!(
            self,
            Doing::ListTables,
            "SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
        );
        Ok(sorted(names))
    }

    async fn schema(&mut self) -> Result<Schema> {
        let mut schema = Schema::default();
        for name in user_tables(self.tables().await?) {
            let columns: Vec<PgColumn> = catalogue_rows!(self, Doing::ReadColumns, "SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS data_type, \
                 NOT a.attnotnull AS nullable, pg_get_expr(d.adbin, d.adrelid) AS default_value, \
                 a.attidentity <> '' AS identity, COALESCE(array_position(pk.conkey, a.attnum), 0)::int AS pk_position \
                 FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 LEFT JOIN pg_constraint pk ON pk.conrelid = t.oid AND pk.contype = 'p' \
                 WHERE n.nspname = current_schema() AND t.relname = $1 AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum", &name);
            let index_rows: Vec<PgIndex> = catalogue_rows!(self, Doing::ReadIndexes, "SELECT i.relname::text AS name, ix.indisunique AS is_unique, \
                 array_to_string(ARRAY(SELECT a.attname::text FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum ORDER BY k.ord), ',') AS columns \
                 FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 WHERE n.nspname = current_schema() AND t.relname = $1 AND NOT ix.indisprimary", &name);
            let fk_rows: Vec<ForeignKeyRow> = catalogue_rows!(self, Doing::ReadForeignKeys, "SELECT c.conname::text AS name, \
                 array_to_string(ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord), ',') AS columns, \
                 f.relname::text AS \"references\", \
                 array_to_string(ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.ord), ',') AS referenced_columns, \
                 CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SET NULL' \
                   WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END AS on_delete \
                 FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
                 JOIN pg_class f ON f.oid = c.confrelid \
                 WHERE c.contype = 'f' AND n.nspname = current_schema() AND t.relname = $1", &name);
            let triggers: Vec<Name> = catalogue_rows!(self, Doing::ReadTriggers, "SELECT tg.tgname::text AS name FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relname = $1 AND NOT tg.tgisinternal ORDER BY 1", &name);

            let mut table = Table::new(&name);
            let mut key: Vec<(i32, String)> = Vec::new();
            for c in &columns {
                let ty = column_type(&name, &c.name, &c.data_type)?;
                let serial = c
                    .default_value
                    .as_deref()
                    .is_some_and(|d| d.starts_with("nextval("));
                let default = if serial {
                    None
                } else {
                    column_default(&name, &c.name, ty, c.default_value.as_deref())?
                };
                if c.pk_position > 0 {
                    key.push((c.pk_position, c.name.clone()));
                }
                table.columns.push(Column {
                    name: c.name.clone(),
                    ty,
                    nullable: c.nullable,
                    default,
                    auto_increment: serial || c.identity,
                });
            }
            key.sort();
            table.primary_key = key.into_iter().map(|(_, c)| c).collect();
            indexes(
                &mut table,
                index_rows
                    .into_iter()
                    .map(|i| IndexRow {
                        name: i.name,
                        is_unique: i.is_unique,
                        columns: i.columns,
                    })
                    .collect(),
            );
            foreign_keys(&mut table, fk_rows)?;
            table.updated_at = updated_at_from_triggers(&table, &triggers);
            settle(&mut table);
            schema.tables.push(table);
        }
        Ok(schema)
    }
}
