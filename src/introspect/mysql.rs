//! MySQL/MariaDB's catalogue: information_schema, in the current database.

use std::collections::hash_map::{Entry, HashMap};

use diesel::sql_types::Text;
use diesel::QueryableByName;
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};

use crate::backend::Backend;
use crate::error::{Doing, Result};
use crate::introspect::{sorted, Catalogue, ColumnRow, ForeignKeyRow, IndexRow, Introspect, Name};
use crate::sql::identifier;

#[derive(QueryableByName)]
struct CreateTable {
    #[diesel(sql_type = Text, column_name = "Create Table")]
    create: String,
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

    async fn catalogue(&mut self) -> Result<Catalogue> {
        let tables = self.tables().await?;
        // MariaDB spells ON UPDATE `on update current_timestamp()`.
        let columns: Vec<ColumnRow> = catalogue_rows!(
            self,
            Doing::ReadColumns,
            "SELECT c.TABLE_NAME AS table_name, c.COLUMN_NAME AS name, LOWER(c.COLUMN_TYPE) AS data_type, \
             c.IS_NULLABLE = 'YES' AS nullable, c.COLUMN_DEFAULT AS default_value, \
             LOWER(c.EXTRA) LIKE '%auto_increment%' AS auto_increment, \
             CAST(COALESCE(s.SEQ_IN_INDEX, 0) AS SIGNED) AS pk_position, \
             LOWER(c.EXTRA) LIKE '%on update current_timestamp%' AS on_update \
             FROM information_schema.COLUMNS c LEFT JOIN information_schema.STATISTICS s \
             ON s.TABLE_SCHEMA = c.TABLE_SCHEMA AND s.TABLE_NAME = c.TABLE_NAME \
             AND s.COLUMN_NAME = c.COLUMN_NAME AND s.INDEX_NAME = 'PRIMARY' \
             WHERE c.TABLE_SCHEMA = DATABASE() ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION"
        );
        let index_rows: Vec<IndexRow> = catalogue_rows!(
            self,
            Doing::ReadIndexes,
            "SELECT TABLE_NAME AS table_name, INDEX_NAME AS name, MAX(NON_UNIQUE) = 0 AS is_unique, \
             GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ',') AS columns \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY' \
             GROUP BY TABLE_NAME, INDEX_NAME"
        );
        // MariaDB hides REFERENTIAL_CONSTRAINTS from a role that may only SELECT, but
        // not KEY_COLUMN_USAGE: the ON DELETE rule is then empty here, and comes from
        // SHOW CREATE TABLE.
        let mut fk_rows: Vec<ForeignKeyRow> = catalogue_rows!(
            self,
            Doing::ReadForeignKeys,
            "SELECT k.TABLE_NAME AS table_name, k.CONSTRAINT_NAME AS name, \
             GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ',') AS columns, \
             MAX(k.REFERENCED_TABLE_NAME) AS `references`, \
             GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ',') AS referenced_columns, \
             COALESCE(MAX(r.DELETE_RULE), '') AS on_delete \
             FROM information_schema.KEY_COLUMN_USAGE k LEFT JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
             ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME \
             WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL \
             GROUP BY k.TABLE_NAME, k.CONSTRAINT_NAME"
        );
        let mut creates: HashMap<String, String> = HashMap::new();
        for f in fk_rows.iter_mut().filter(|f| f.on_delete.is_empty()) {
            let create = match creates.entry(f.table_name.clone()) {
                Entry::Occupied(read) => read.into_mut(),
                Entry::Vacant(entry) => {
                    let sql = format!(
                        "SHOW CREATE TABLE {}",
                        identifier(Backend::Mysql, &f.table_name)?
                    );
                    let rows: Vec<CreateTable> = catalogue_rows!(self, Doing::ReadForeignKeys, sql);
                    entry.insert(
                        rows.into_iter()
                            .next()
                            .map(|r| r.create)
                            .unwrap_or_default(),
                    )
                }
            };
            f.on_delete = on_delete_in_create(create, &f.name);
        }
        Ok(Catalogue {
            tables,
            columns,
            indexes: index_rows,
            foreign_keys: fk_rows,
        })
    }
}

/// The ON DELETE rule of constraint `name` in SHOW CREATE TABLE's text, which writes one
/// constraint per line and leaves the rule out when it is RESTRICT.
fn on_delete_in_create(create: &str, name: &str) -> String {
    let head = format!("CONSTRAINT `{}` FOREIGN KEY", name.replace('`', "``"));
    let Some(line) = create.lines().find(|l| l.trim_start().starts_with(&head)) else {
        return "RESTRICT".to_string();
    };
    let Some((_, rule)) = line.split_once(" ON DELETE ") else {
        return "RESTRICT".to_string();
    };
    [
        "SET NULL",
        "SET DEFAULT",
        "NO ACTION",
        "CASCADE",
        "RESTRICT",
    ]
    .into_iter()
    .find(|r| rule.starts_with(r))
    .unwrap_or("RESTRICT")
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::on_delete_in_create;

    #[test]
    fn on_delete_from_show_create_table() {
        let create = "CREATE TABLE `c` (\n  `id` int(11) NOT NULL,\n  KEY `c_fk` (`p_id`),\n  \
                      CONSTRAINT `c_fk` FOREIGN KEY (`p_id`) REFERENCES `p` (`id`) ON DELETE CASCADE,\n  \
                      CONSTRAINT `c_fk2` FOREIGN KEY (`q_id`) REFERENCES `q` (`id`) ON DELETE SET NULL ON UPDATE CASCADE,\n  \
                      CONSTRAINT `c_fk3` FOREIGN KEY (`r_id`) REFERENCES `r` (`id`) ON UPDATE CASCADE\n)";
        assert_eq!(on_delete_in_create(create, "c_fk"), "CASCADE");
        assert_eq!(on_delete_in_create(create, "c_fk2"), "SET NULL");
        assert_eq!(on_delete_in_create(create, "c_fk3"), "RESTRICT");
    }
}
