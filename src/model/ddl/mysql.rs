//! MySQL/MariaDB: ALTER TABLE; a changed column is restated whole with MODIFY, and
//! `updated_at` is kept by `ON UPDATE CURRENT_TIMESTAMP` in its definition.

use crate::backend::Backend::Mysql as M;
use crate::error::Result;
use crate::model::diff::{Diff, TableDiff};
use crate::model::{Column, ColumnType, Default, ForeignKey, Table};

use super::{
    add_uniques_and_indexes, default_sql, drop_tables, fill_sql, foreign_key_sql, list, q, Sql,
};

fn type_sql(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer => "INT",
        ColumnType::BigInt => "BIGINT",
        ColumnType::Text => "TEXT",
        ColumnType::Varchar => "VARCHAR(255)",
        ColumnType::Boolean => "BOOLEAN",
        ColumnType::Double => "DOUBLE",
        ColumnType::Timestamp => "DATETIME",
    }
}

/// The whole definition of `column` of `table`, as CREATE, ADD and MODIFY take it.
fn column_sql(table: &Table, column: &Column, nullable: bool) -> Result<String> {
    let mut sql = format!("{} {}", q(M, &column.name)?, type_sql(column.ty));
    sql.push_str(if nullable { " NULL" } else { " NOT NULL" });
    if column.auto_increment {
        sql.push_str(" AUTO_INCREMENT");
    }
    if let Some(default) = &column.default {
        let value = default_sql(M, default)?;
        // MySQL 8 takes a default on a TEXT column only as an expression in parentheses
        // (MariaDB takes both forms).
        if column.ty == ColumnType::Text && matches!(default, Default::Text(_)) {
            sql.push_str(&format!(" DEFAULT ({value})"));
        } else {
            sql.push_str(&format!(" DEFAULT {value}"));
        }
    }
    if table.updated_at.as_deref() == Some(column.name.as_str()) {
        sql.push_str(" ON UPDATE CURRENT_TIMESTAMP");
    }
    Ok(sql)
}

fn create_table(out: &mut Sql, t: &Table) -> Result<()> {
    let mut lines = Vec::new();
    for c in &t.columns {
        lines.push(column_sql(t, c, c.nullable)?);
    }
    if !t.primary_key.is_empty() {
        lines.push(format!("PRIMARY KEY ({})", list(M, &t.primary_key)?));
    }
    for u in &t.uniques {
        lines.push(format!(
            "CONSTRAINT {} UNIQUE ({})",
            q(M, &u.name)?,
            list(M, &u.columns)?
        ));
    }
    // Declared here, InnoDB uses these indexes for the foreign keys instead of making its
    // own named after each constraint.
    for i in &t.indexes {
        lines.push(format!(
            "INDEX {} ({})",
            q(M, &i.name)?,
            list(M, &i.columns)?
        ));
    }
    for fk in &t.foreign_keys {
        lines.push(foreign_key_sql(M, fk)?);
    }
    out.statement(format!(
        "CREATE TABLE {} (\n    {}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        q(M, &t.name)?,
        lines.join(",\n    ")
    ));
    Ok(())
}

fn alter_columns(out: &mut Sql, t: &TableDiff) -> Result<()> {
    let table = q(M, &t.new.name)?;
    for (from, to) in &t.renamed {
        out.statement(format!(
            "ALTER TABLE {table} RENAME COLUMN {} TO {}",
            q(M, from)?,
            q(M, to)?
        ));
    }
    for c in &t.dropped_columns {
        out.destructive(format!("drops {}.{} and its values", t.new.name, c.name));
        out.statement(format!(
            "ALTER TABLE {table} DROP COLUMN {}",
            q(M, &c.name)?
        ));
    }
    for (c, fill) in &t.added_columns {
        // In its declared place, so that a revert puts a dropped column back where it was.
        let place = match t.new.columns.iter().take_while(|x| x.name != c.name).last() {
            Some(before) => format!(" AFTER {}", q(M, &before.name)?),
            None => " FIRST".to_string(),
        };
        match fill {
            None => out.statement(format!(
                "ALTER TABLE {table} ADD COLUMN {}{place}",
                column_sql(&t.new, c, c.nullable)?
            )),
            Some(fill) => {
                out.statement(format!(
                    "ALTER TABLE {table} ADD COLUMN {}{place}",
                    column_sql(&t.new, c, true)?
                ));
                out.statement(format!(
                    "UPDATE {table} SET {} = {}",
                    q(M, &c.name)?,
                    fill_sql(M, c, fill)?
                ));
                out.statement(format!(
                    "ALTER TABLE {table} MODIFY {}",
                    column_sql(&t.new, c, false)?
                ));
            }
        }
    }
    let mut modified = Vec::new();
    for c in &t.changed_columns {
        if c.old.nullable && !c.new.nullable {
            if let Some(fill) = &c.fill {
                out.statement(format!(
                    "UPDATE {table} SET {col} = {} WHERE {col} IS NULL",
                    fill_sql(M, &c.new, fill)?,
                    col = q(M, &c.new.name)?
                ));
            }
        }
        if c.narrows() {
            out.destructive(format!(
                "{}.{} narrows from {:?} to {:?}; values that do not fit make it fail",
                t.new.name, c.new.name, c.old.ty, c.new.ty
            ));
        }
        out.statement(format!(
            "ALTER TABLE {table} MODIFY {}",
            column_sql(&t.new, &c.new, c.new.nullable)?
        ));
        modified.push(c.new.name.clone());
    }
    // `ON UPDATE CURRENT_TIMESTAMP` lives in the column's definition.
    if t.updated_at_changes() {
        for name in [&t.old.updated_at, &t.new.updated_at].into_iter().flatten() {
            if let Some(c) = t.new.column(name).filter(|_| !modified.contains(name)) {
                out.statement(format!(
                    "ALTER TABLE {table} MODIFY {}",
                    column_sql(&t.new, c, c.nullable)?
                ));
                modified.push(name.clone());
            }
        }
    }
    Ok(())
}

/// The foreign keys `t` drops, and those it keeps over the columns of an index it drops:
/// InnoDB refuses to drop an index a foreign key uses (error 1553), so those are dropped
/// before it and added back once the new indexes exist.
fn foreign_keys_to_drop(t: &TableDiff) -> Vec<&ForeignKey> {
    let dropped_index_columns: Vec<&Vec<String>> = t
        .dropped_indexes
        .iter()
        .map(|i| &i.columns)
        .chain(t.dropped_uniques.iter().map(|u| &u.columns))
        .collect();
    let kept_over_dropped_index = t.new.foreign_keys.iter().filter(|fk| {
        !t.added_foreign_keys.contains(fk)
            && dropped_index_columns
                .iter()
                .any(|columns| columns.starts_with(&fk.columns))
    });
    t.dropped_foreign_keys
        .iter()
        .chain(kept_over_dropped_index)
        .collect()
}

/// The foreign keys `t` adds, and those [`foreign_keys_to_drop`] dropped to let an index go.
fn foreign_keys_to_add(t: &TableDiff) -> Vec<&ForeignKey> {
    let readded = foreign_keys_to_drop(t)
        .into_iter()
        .filter(|fk| t.new.foreign_keys.contains(fk) && !t.added_foreign_keys.contains(fk));
    t.added_foreign_keys.iter().chain(readded).collect()
}

pub(super) fn render(out: &mut Sql, diff: &Diff) -> Result<()> {
    // A foreign key cannot be dropped and re-added under its name in one ALTER TABLE
    // (InnoDB's errno 121), so drops and adds are separate statements.
    for t in &diff.altered {
        for fk in foreign_keys_to_drop(t) {
            out.statement(format!(
                "ALTER TABLE {} DROP FOREIGN KEY {}",
                q(M, &t.new.name)?,
                q(M, &fk.name)?
            ));
        }
    }
    for t in &diff.altered {
        for name in t
            .dropped_uniques
            .iter()
            .map(|u| &u.name)
            .chain(t.dropped_indexes.iter().map(|i| &i.name))
        {
            out.statement(format!(
                "ALTER TABLE {} DROP INDEX {}",
                q(M, &t.new.name)?,
                q(M, name)?
            ));
        }
    }
    drop_tables(out, M, diff)?;
    for t in &diff.created {
        create_table(out, t)?;
    }
    for t in &diff.altered {
        alter_columns(out, t)?;
    }
    add_uniques_and_indexes(out, M, diff)?;
    for t in &diff.altered {
        for fk in foreign_keys_to_add(t) {
            out.statement(format!(
                "ALTER TABLE {} ADD {}",
                q(M, &t.new.name)?,
                foreign_key_sql(M, fk)?
            ));
        }
    }
    Ok(())
}
