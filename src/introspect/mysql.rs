//! MySQL/MariaDB's catalogue: information_schema, in the current database.

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};

use crate::error::{Doing, Result};
use crate::introspect::{
    column_default, column_type, foreign_keys, indexes, settle, sorted, split_list, user_tables,
    ForeignKeyRow, IndexRow, Introspect, Name, Schema,
};
use crate::model::{Column, Table};

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
        for name in user_tables(self.tables().await?) {
            let columns: Vec<MysqlColumn> = catalogue_rows!(self, Doing::ReadColumns, "SELECT COLUMN_NAME AS name, LOWER(COLUMN_TYPE) AS data_type, IS_NULLABLE AS is_nullable, \
                 COLUMN_DEFAULT AS default_value, LOWER(EXTRA) AS extra \
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
                 ORDER BY ORDINAL_POSITION", &name);
            // The primary key comes first, as the index named PRIMARY.
            let index_rows: Vec<MysqlIndex> = catalogue_rows!(self, Doing::ReadIndexes, "SELECT INDEX_NAME AS name, CAST(MAX(NON_UNIQUE) AS SIGNED) AS non_unique, \
                 GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ',') AS columns \
                 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
                 GROUP BY INDEX_NAME ORDER BY INDEX_NAME <> 'PRIMARY', INDEX_NAME", &name);
            let fk_rows: Vec<ForeignKeyRow> = catalogue_rows!(self, Doing::ReadForeignKeys, "SELECT k.CONSTRAINT_NAME AS name, \
                 GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ',') AS columns, \
                 MAX(k.REFERENCED_TABLE_NAME) AS `references`, \
                 GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ',') AS referenced_columns, \
                 MAX(r.DELETE_RULE) AS on_delete \
                 FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
                 ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME \
                 WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL \
                 GROUP BY k.CONSTRAINT_NAME", &name);

            let mut table = Table::new(&name);
            for c in &columns {
                let ty = column_type(&name, &c.name, &c.data_type)?;
                table.columns.push(Column {
                    name: c.name.clone(),
                    ty,
                    nullable: c.is_nullable == "YES",
                    default: column_default(&name, &c.name, ty, c.default_value.as_deref())?,
                    auto_increment: c.extra.contains("auto_increment"),
                });
                // MariaDB spells it `on update current_timestamp()`.
                if c.extra.contains("on update current_timestamp") {
                    table.updated_at = Some(c.name.clone());
                }
            }
            let mut rows = Vec::new();
            for i in index_rows {
                if i.name == "PRIMARY" {
                    table.primary_key = split_list(&i.columns);
                } else {
                    rows.push(IndexRow {
                        name: i.name,
                        is_unique: i.non_unique == 0,
                        columns: i.columns,
                    });
                }
            }
            indexes(&mut table, rows);
            foreign_keys(&mut table, fk_rows)?;
            settle(&mut table);
            schema.tables.push(table);
        }
        Ok(schema)
    }
}
