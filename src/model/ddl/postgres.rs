//! PostgreSQL: every change is an ALTER; constraints and indexes are dropped by name.

use crate::backend::Backend::Postgres as P;
use crate::error::Result;
use crate::model::diff::{ColumnChange, Diff, TableDiff};
use crate::model::{updated_at_trigger, Column, ColumnType, Table};

use super::{
    add_uniques_and_indexes, default_sql, drop_tables, fill_sql, foreign_key_sql, list, q, Sql,
};

fn type_sql(column: &Column) -> &'static str {
    match (column.ty, column.auto_increment) {
        (ColumnType::Integer, true) => "SERIAL",
        (ColumnType::BigInt, true) => "BIGSERIAL",
        (ColumnType::Integer, false) => "INTEGER",
        (ColumnType::BigInt, false) => "BIGINT",
        (ColumnType::Text, _) => "TEXT",
        (ColumnType::Varchar, _) => "VARCHAR",
        (ColumnType::Boolean, _) => "BOOLEAN",
        (ColumnType::Double, _) => "DOUBLE PRECISION",
        (ColumnType::Timestamp, _) => "TIMESTAMP WITHOUT TIME ZONE",
    }
}

/// The column's type without SERIAL (for ALTER ... TYPE).
fn plain_type_sql(column: &Column) -> &'static str {
    type_sql(&Column {
        auto_increment: false,
        ..column.clone()
    })
}

fn column_sql(column: &Column, nullable: bool) -> Result<String> {
    let mut sql = format!("{} {}", q(P, &column.name)?, type_sql(column));
    if let Some(default) = &column.default {
        sql.push_str(&format!(" DEFAULT {}", default_sql(P, default)?));
    }
    if !nullable {
        sql.push_str(" NOT NULL");
    }
    Ok(sql)
}

fn trigger(out: &mut Sql, table: &str) -> Result<()> {
    out.statement(format!(
        "CREATE TRIGGER {} BEFORE UPDATE ON {}\n    FOR EACH ROW EXECUTE FUNCTION botdb_set_updated_at()",
        q(P, &updated_at_trigger(table))?,
        q(P, table)?
    ));
    Ok(())
}

fn create_table(out: &mut Sql, t: &Table) -> Result<()> {
    let mut lines = Vec::new();
    for c in &t.columns {
        lines.push(column_sql(c, c.nullable)?);
    }
    if !t.primary_key.is_empty() {
        lines.push(format!("PRIMARY KEY ({})", list(P, &t.primary_key)?));
    }
    for u in &t.uniques {
        lines.push(format!(
            "CONSTRAINT {} UNIQUE ({})",
            q(P, &u.name)?,
            list(P, &u.columns)?
        ));
    }
    for fk in &t.foreign_keys {
        lines.push(foreign_key_sql(P, fk)?);
    }
    out.statement(format!(
        "CREATE TABLE {} (\n    {}\n)",
        q(P, &t.name)?,
        lines.join(",\n    ")
    ));
    for i in &t.indexes {
        out.statement(format!(
            "CREATE INDEX {} ON {} ({})",
            q(P, &i.name)?,
            q(P, &t.name)?,
            list(P, &i.columns)?
        ));
    }
    if t.updated_at.is_some() {
        trigger(out, &t.name)?;
    }
    Ok(())
}

fn change_column(out: &mut Sql, table: &str, c: &ColumnChange) -> Result<()> {
    let alter = format!(
        "ALTER TABLE {} ALTER COLUMN {}",
        q(P, table)?,
        q(P, &c.new.name)?
    );
    if c.old.ty != c.new.ty {
        // The old default may not convert to the new type: it is set again below.
        if c.old.default.is_some() {
            out.statement(format!("{alter} DROP DEFAULT"));
        }
        if c.narrows() {
            out.destructive(format!(
                "{table}.{} narrows from {:?} to {:?}; values that do not fit make it fail",
                c.new.name, c.old.ty, c.new.ty
            ));
        }
        let ty = plain_type_sql(&c.new);
        out.statement(format!(
            "{alter} TYPE {ty} USING {}::{ty}",
            q(P, &c.new.name)?
        ));
    }
    if c.old.default != c.new.default || (c.old.ty != c.new.ty && c.old.default.is_some()) {
        match &c.new.default {
            Some(d) => out.statement(format!("{alter} SET DEFAULT {}", default_sql(P, d)?)),
            None if c.old.ty == c.new.ty => out.statement(format!("{alter} DROP DEFAULT")),
            None => {}
        }
    }
    if c.old.nullable && !c.new.nullable {
        if let Some(fill) = &c.fill {
            out.statement(format!(
                "UPDATE {} SET {col} = {} WHERE {col} IS NULL",
                q(P, table)?,
                fill_sql(P, &c.new, fill)?,
                col = q(P, &c.new.name)?
            ));
        }
        out.statement(format!("{alter} SET NOT NULL"));
    } else if !c.old.nullable && c.new.nullable {
        out.statement(format!("{alter} DROP NOT NULL"));
    }
    Ok(())
}

fn alter_columns(out: &mut Sql, t: &TableDiff) -> Result<()> {
    let table = q(P, &t.new.name)?;
    for (from, to) in &t.renamed {
        out.statement(format!(
            "ALTER TABLE {table} RENAME COLUMN {} TO {}",
            q(P, from)?,
            q(P, to)?
        ));
    }
    for c in &t.dropped_columns {
        out.destructive(format!("drops {}.{} and its values", t.new.name, c.name));
        out.statement(format!(
            "ALTER TABLE {table} DROP COLUMN {}",
            q(P, &c.name)?
        ));
    }
    for (c, fill) in &t.added_columns {
        match fill {
            None => out.statement(format!(
                "ALTER TABLE {table} ADD COLUMN {}",
                column_sql(c, c.nullable)?
            )),
            Some(fill) => {
                out.statement(format!(
                    "ALTER TABLE {table} ADD COLUMN {}",
                    column_sql(c, true)?
                ));
                out.statement(format!(
                    "UPDATE {table} SET {} = {}",
                    q(P, &c.name)?,
                    fill_sql(P, c, fill)?
                ));
                out.statement(format!(
                    "ALTER TABLE {table} ALTER COLUMN {} SET NOT NULL",
                    q(P, &c.name)?
                ));
            }
        }
    }
    for c in &t.changed_columns {
        change_column(out, &t.new.name, c)?;
    }
    Ok(())
}

pub(super) fn render(out: &mut Sql, diff: &Diff) -> Result<()> {
    for t in &diff.altered {
        for fk in &t.dropped_foreign_keys {
            out.statement(format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                q(P, &t.new.name)?,
                q(P, &fk.name)?
            ));
        }
    }
    for t in &diff.altered {
        for u in &t.dropped_uniques {
            out.statement(format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                q(P, &t.new.name)?,
                q(P, &u.name)?
            ));
        }
        for i in &t.dropped_indexes {
            out.statement(format!("DROP INDEX {}", q(P, &i.name)?));
        }
    }
    drop_tables(out, P, diff)?;
    for t in &diff.created {
        create_table(out, t)?;
    }
    for t in &diff.altered {
        alter_columns(out, t)?;
    }
    add_uniques_and_indexes(out, P, diff)?;
    for t in &diff.altered {
        for fk in &t.added_foreign_keys {
            out.statement(format!(
                "ALTER TABLE {} ADD {}",
                q(P, &t.new.name)?,
                foreign_key_sql(P, fk)?
            ));
        }
        if t.updated_at_changes() {
            match t.new.updated_at {
                Some(_) => trigger(out, &t.new.name)?,
                None => out.statement(format!(
                    "DROP TRIGGER {} ON {}",
                    q(P, &updated_at_trigger(&t.new.name))?,
                    q(P, &t.new.name)?
                )),
            }
        }
    }
    Ok(())
}
