//! PostgreSQL's catalogue: pg_catalog, in the current schema. (information_schema hides
//! constraints from a role that may only SELECT, and `check` must work for one.)

use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::{Doing, Result};
use crate::introspect::{
    mark_trigger_updates, sorted, Catalogue, ColumnRow, ForeignKeyRow, IndexRow, Introspect, Name,
    TriggerRow,
};

/// The tables (as `t`, in namespace `n`) the queries below read: the current schema's
/// base and partitioned tables.
macro_rules! current_tables {
    () => {
        "n.nspname = current_schema() AND t.relkind IN ('r', 'p')"
    };
}

/// The names of the attributes `$keys` (an int2 array) of relation `$rel`, in order.
macro_rules! column_list {
    ($keys:literal, $rel:literal) => {
        concat!(
            "array_to_string(ARRAY(SELECT a.attname::text FROM unnest(",
            $keys,
            ") WITH ORDINALITY AS k(attnum, ord) JOIN pg_attribute a ON a.attrelid = ",
            $rel,
            " AND a.attnum = k.attnum ORDER BY k.ord), ',')"
        )
    };
}

impl Introspect for AsyncPgConnection {
    async fn tables(&mut self) -> Result<Vec<String>> {
        let names: Vec<Name> = catalogue_rows!(
            self,
            Doing::ListTables,
            concat!(
                "SELECT t.relname::text AS name FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace WHERE ",
                current_tables!()
            )
        );
        Ok(sorted(names))
    }

    async fn catalogue(&mut self) -> Result<Catalogue> {
        let tables = self.tables().await?;
        let mut columns: Vec<ColumnRow> = catalogue_rows!(
            self,
            Doing::ReadColumns,
            concat!(
                "SELECT t.relname::text AS table_name, a.attname::text AS name, \
                 format_type(a.atttypid, a.atttypmod) AS data_type, \
                 NOT a.attnotnull AS nullable, pg_get_expr(d.adbin, d.adrelid) AS default_value, \
                 a.attidentity <> '' AS auto_increment, \
                 COALESCE(array_position(pk.conkey, a.attnum), 0)::int AS pk_position, false AS on_update \
                 FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 LEFT JOIN pg_constraint pk ON pk.conrelid = t.oid AND pk.contype = 'p' \
                 WHERE a.attnum > 0 AND NOT a.attisdropped AND ",
                current_tables!(),
                " ORDER BY t.relname, a.attnum"
            )
        );
        let index_rows: Vec<IndexRow> = catalogue_rows!(
            self,
            Doing::ReadIndexes,
            concat!(
                "SELECT t.relname::text AS table_name, i.relname::text AS name, ix.indisunique AS is_unique, ",
                column_list!("ix.indkey", "ix.indrelid"),
                " AS columns \
                 FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 WHERE NOT ix.indisprimary AND ",
                current_tables!()
            )
        );
        let fk_rows: Vec<ForeignKeyRow> = catalogue_rows!(
            self,
            Doing::ReadForeignKeys,
            concat!(
                "SELECT t.relname::text AS table_name, c.conname::text AS name, ",
                column_list!("c.conkey", "c.conrelid"),
                " AS columns, f.relname::text AS \"references\", ",
                column_list!("c.confkey", "c.confrelid"),
                " AS referenced_columns, \
                 CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SET NULL' \
                   WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END AS on_delete \
                 FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
                 JOIN pg_class f ON f.oid = c.confrelid \
                 WHERE c.contype = 'f' AND ",
                current_tables!()
            )
        );
        let triggers: Vec<TriggerRow> = catalogue_rows!(
            self,
            Doing::ReadTriggers,
            concat!(
                "SELECT t.relname::text AS table_name, tg.tgname::text AS name \
                 FROM pg_trigger tg JOIN pg_class t ON t.oid = tg.tgrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 WHERE NOT tg.tgisinternal AND ",
                current_tables!()
            )
        );
        for c in &mut columns {
            // A serial column's default draws from its sequence: the model says
            // auto-increment instead.
            if c.default_value
                .as_deref()
                .is_some_and(|d| d.starts_with("nextval("))
            {
                c.default_value = None;
                c.auto_increment = true;
            }
        }
        mark_trigger_updates(&mut columns, &triggers);
        Ok(Catalogue {
            tables,
            columns,
            indexes: index_rows,
            foreign_keys: fk_rows,
        })
    }
}
