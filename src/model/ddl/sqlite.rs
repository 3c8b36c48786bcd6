//! SQLite: ADD COLUMN, DROP COLUMN, RENAME COLUMN and indexes directly; everything else
//! (a changed column, a constraint or foreign key added or dropped) rebuilds the table.
//!
//! The rebuild keeps foreign keys enforced. botdb runs a migration in a transaction with
//! `foreign_keys` ON, which cannot be switched off inside it, so the textbook "rename the
//! old table away, create the new one" breaks for a parent: renaming it rewrites its
//! children's REFERENCES to the old name, and dropping it while children reference it
//! deletes their rows (CASCADE) or fails. As in `2026-11-25-100000_cascade_deletes`, every
//! table that references a rebuilt one is rebuilt with it: the new tables are built side by
//! side as `<name>_new` (children pointing at the new parents), rows are copied parents
//! first, the old tables are dropped children first (nothing references them any more, so
//! no cascade fires), and the renames rewrite `REFERENCES <parent>_new` back to the parent.
//! Indexes and the `updated_at` triggers go with the old tables and are created again.
//!
//! What the model does not declare, generate cannot see: it writes SQL without a database.
//! A table outside the model that references a rebuilt table would lose its rows when the
//! old table is dropped (its ON DELETE CASCADE fires; SET NULL orphans them), and an index
//! or trigger added by hand to a rebuilt table would go with it. So a rebuild starts with a
//! guard that looks in the catalogue at run time and stops the migration, before anything
//! changes, when it finds either; the migration's transaction rolls back and the message
//! says what to do.

use std::collections::BTreeSet;

use crate::backend::Backend::Sqlite as S;
use crate::error::Result;
use crate::model::diff::{Diff, TableDiff};
use crate::model::{updated_at_trigger, Column, ColumnType, Default, Schema, Table};

use crate::sql::literal::{literal, Literal};

use super::{default_sql, fill_sql, list, on_delete, q, Sql};

fn type_sql(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer => "INTEGER",
        ColumnType::BigInt => "BIGINT",
        ColumnType::Text => "TEXT",
        ColumnType::Varchar => "VARCHAR",
        ColumnType::Boolean => "BOOLEAN",
        ColumnType::Double => "DOUBLE",
        ColumnType::Timestamp => "TIMESTAMP",
    }
}

fn column_sql(column: &Column) -> Result<String> {
    let mut sql = format!("{} {}", q(S, &column.name)?, type_sql(column.ty));
    if let Some(default) = &column.default {
        sql.push_str(&format!(" DEFAULT {}", default_sql(S, default)?));
    }
    if !column.nullable {
        sql.push_str(" NOT NULL");
    }
    Ok(sql)
}

/// `CREATE TABLE name (…)` for `t`, its foreign keys to a table in `renamed` pointing at
/// that table's `_new` twin.
fn create_sql(t: &Table, name: &str, renamed: &BTreeSet<String>) -> Result<String> {
    let mut lines = Vec::new();
    for c in &t.columns {
        lines.push(column_sql(c)?);
    }
    if !t.primary_key.is_empty() {
        lines.push(format!("PRIMARY KEY ({})", list(S, &t.primary_key)?));
    }
    for fk in &t.foreign_keys {
        let target = if renamed.contains(&fk.references) {
            format!("{}_new", fk.references)
        } else {
            fk.references.clone()
        };
        // Unnamed, like the history's: SQLite never drops a foreign key by name (only the
        // rebuild changes one), and its catalogue would not report the name anyway.
        lines.push(format!(
            "FOREIGN KEY ({}) REFERENCES {} ({}){}",
            list(S, &fk.columns)?,
            q(S, &target)?,
            list(S, &fk.referenced_columns)?,
            on_delete(fk)
        ));
    }
    for u in &t.uniques {
        lines.push(format!(
            "CONSTRAINT {} UNIQUE ({})",
            q(S, &u.name)?,
            list(S, &u.columns)?
        ));
    }
    Ok(format!(
        "CREATE TABLE {} (\n    {}\n)",
        q(S, name)?,
        lines.join(",\n    ")
    ))
}

fn indexes_and_trigger(out: &mut Sql, t: &Table) -> Result<()> {
    for i in &t.indexes {
        out.statement(format!(
            "CREATE INDEX {} ON {} ({})",
            q(S, &i.name)?,
            q(S, &t.name)?,
            list(S, &i.columns)?
        ));
    }
    if let Some(column) = &t.updated_at {
        trigger(out, t, column)?;
    }
    Ok(())
}

/// After an UPDATE that did not set the column itself, stamp it; the `IS NOT
/// CURRENT_TIMESTAMP` guard stops a re-fire under `PRAGMA recursive_triggers`.
fn trigger(out: &mut Sql, t: &Table, column: &str) -> Result<()> {
    let col = q(S, column)?;
    let key = t
        .primary_key
        .iter()
        .map(|k| Ok(format!("{k} = NEW.{k}", k = q(S, k)?)))
        .collect::<Result<Vec<_>>>()?
        .join(" AND ");
    // A table without a primary key still has its rowid.
    let key = if key.is_empty() {
        "rowid = NEW.rowid".to_string()
    } else {
        key
    };
    out.statement(format!(
        "CREATE TRIGGER {} AFTER UPDATE ON {table}\nFOR EACH ROW WHEN NEW.{col} IS OLD.{col}\nBEGIN\n    UPDATE {table} SET {col} = CURRENT_TIMESTAMP\n    WHERE {key} AND {col} IS NOT CURRENT_TIMESTAMP;\nEND",
        q(S, &updated_at_trigger(&t.name))?,
        table = q(S, &t.name)?,
    ));
    Ok(())
}

/// Whether ALTER TABLE cannot make the change.
fn needs_rebuild(t: &TableDiff) -> bool {
    let in_constraint = |c: &Column| {
        t.old.primary_key.contains(&c.name)
            || t.old.uniques.iter().any(|u| u.columns.contains(&c.name))
            || t.old
                .foreign_keys
                .iter()
                .any(|f| f.columns.contains(&c.name))
    };
    // ADD COLUMN takes no NOT NULL without a constant default, and no CURRENT_TIMESTAMP;
    // and it appends, so a column declared before existing ones needs the rebuild.
    let is_added = |name: &str| t.added_columns.iter().any(|(a, _)| a.name == name);
    let addable = |(c, fill): &(Column, Option<String>)| {
        let after = t.new.columns.iter().skip_while(|x| x.name != c.name);
        fill.is_none()
            && c.default != Some(Default::Now)
            && (c.nullable || c.default.is_some())
            && after.into_iter().all(|x| is_added(&x.name))
    };
    !t.changed_columns.is_empty()
        || !t.dropped_uniques.is_empty()
        || !t.added_uniques.is_empty()
        || !t.dropped_foreign_keys.is_empty()
        || !t.added_foreign_keys.is_empty()
        || !t.added_columns.iter().all(addable)
        || t.dropped_columns.iter().any(in_constraint)
}

/// The tables to rebuild: those ALTER cannot change, and every existing table that
/// references one of them, transitively.
fn rebuild_set(diff: &Diff, old: &Schema, new: &Schema) -> BTreeSet<String> {
    let mut set: BTreeSet<String> = diff
        .altered
        .iter()
        .filter(|t| needs_rebuild(t))
        .map(|t| t.new.name.clone())
        .collect();
    loop {
        let before = set.len();
        for t in &new.tables {
            let Some(was) = old.table(&t.name) else {
                continue;
            };
            let references_set = t
                .foreign_keys
                .iter()
                .chain(&was.foreign_keys)
                .any(|f| set.contains(&f.references));
            if references_set {
                set.insert(t.name.clone());
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

fn rebuild(
    out: &mut Sql,
    diff: &Diff,
    old: &Schema,
    new: &Schema,
    set: &BTreeSet<String>,
) -> Result<()> {
    let tables: Vec<&Table> = new
        .tables
        .iter()
        .filter(|t| set.contains(&t.name))
        .collect();
    for t in &tables {
        let change = diff.altered.iter().find(|d| d.new.name == t.name);
        let Some(was) = old.table(&t.name) else {
            continue;
        };
        let new_name = format!("{}_new", t.name);
        out.statement(create_sql(t, &new_name, set)?);
        let (mut into, mut from) = (Vec::new(), Vec::new());
        for c in &t.columns {
            let source = change.map_or(c.name.as_str(), |d| d.old_name(&c.name));
            let fill = change.and_then(|d| {
                d.changed_columns
                    .iter()
                    .find(|x| x.new.name == c.name)
                    .and_then(|x| x.fill.clone())
                    .or_else(|| {
                        d.added_columns
                            .iter()
                            .find(|(a, _)| a.name == c.name)
                            .and_then(|(_, f)| f.clone())
                    })
            });
            let expr = match (was.column(source), fill) {
                (Some(_), Some(fill)) => {
                    format!("COALESCE({}, {})", q(S, source)?, fill_sql(S, c, &fill)?)
                }
                (Some(_), None) => q(S, source)?,
                (None, Some(fill)) => format!("({})", fill_sql(S, c, &fill)?),
                // A new column without a fill takes its default (or NULL).
                (None, None) => continue,
            };
            into.push(q(S, &c.name)?);
            from.push(expr);
        }
        if let Some(d) = change {
            for c in &d.dropped_columns {
                out.destructive(format!(
                    "drops {}.{} and its values (not copied)",
                    t.name, c.name
                ));
            }
        }
        out.statement(format!(
            "INSERT INTO {} ({})\nSELECT {}\nFROM {}",
            q(S, &new_name)?,
            into.join(", "),
            from.join(", "),
            q(S, &t.name)?
        ));
    }
    for t in tables.iter().rev() {
        out.statement(format!("DROP TABLE {}", q(S, &t.name)?));
    }
    for t in &tables {
        out.statement(format!(
            "ALTER TABLE {} RENAME TO {}",
            q(S, &format!("{}_new", t.name))?,
            q(S, &t.name)?
        ));
    }
    for t in &tables {
        indexes_and_trigger(out, t)?;
    }
    Ok(())
}

fn alter_in_place(out: &mut Sql, t: &TableDiff) -> Result<()> {
    let table = q(S, &t.new.name)?;
    // The old trigger goes first: SQLite refuses to drop a column a trigger still names.
    if t.updated_at_changes() && t.old.updated_at.is_some() {
        out.statement(format!(
            "DROP TRIGGER {}",
            q(S, &updated_at_trigger(&t.old.name))?
        ));
    }
    for i in &t.dropped_indexes {
        out.statement(format!("DROP INDEX {}", q(S, &i.name)?));
    }
    for (from, to) in &t.renamed {
        out.statement(format!(
            "ALTER TABLE {table} RENAME COLUMN {} TO {}",
            q(S, from)?,
            q(S, to)?
        ));
    }
    for c in &t.dropped_columns {
        out.destructive(format!("drops {}.{} and its values", t.new.name, c.name));
        out.statement(format!(
            "ALTER TABLE {table} DROP COLUMN {}",
            q(S, &c.name)?
        ));
    }
    for (c, _) in &t.added_columns {
        out.statement(format!("ALTER TABLE {table} ADD COLUMN {}", column_sql(c)?));
    }
    for i in &t.added_indexes {
        out.statement(format!(
            "CREATE INDEX {} ON {table} ({})",
            q(S, &i.name)?,
            list(S, &i.columns)?
        ));
    }
    if t.updated_at_changes() {
        if let Some(column) = &t.new.updated_at {
            trigger(out, &t.new, column)?;
        }
    }
    Ok(())
}

/// `'a', 'b'`: names as SQL strings, for the catalogue queries of [`guard`].
/// Lowercased as the catalogue is compared, with `lower()`, which folds ASCII letters only
/// (as SQLite's names ignore case only there).
fn strings<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<String> {
    Ok(names
        .into_iter()
        .map(|n| literal(S, &Literal::Str(&n.to_ascii_lowercase())))
        .collect::<Result<Vec<_>>>()?
        .join(", "))
}

/// Stops the migration, before it changes anything, when a table neither rebuilt nor
/// dropped here (outside the model, or with a foreign key added by hand) references a
/// table in `set`, or a table in `set` has an index or trigger `old` does not
/// declare: the rebuild would delete those rows or lose that index. RAISE works only in a
/// trigger, so a temporary table's triggers raise when the catalogue query inserts a row.
fn guard(out: &mut Sql, old: &Schema, new: &Schema, set: &BTreeSet<String>) -> Result<()> {
    let rebuilt = set.iter().map(String::as_str).collect::<Vec<_>>();
    let words = match rebuilt.as_slice() {
        [one] => one.to_string(),
        many => format!("one of {}", many.join(", ")),
    };
    // Tables whose references to a rebuilt table are taken care of: those rebuilt too
    // (every table the model says references one is), and those this migration drops. Any
    // other reference, from a table outside the model or one added by hand to a table in
    // it, is the guard's business.
    let handled: BTreeSet<&str> = old
        .tables
        .iter()
        .filter(|t| set.contains(&t.name) || new.table(&t.name).is_none())
        .map(|t| t.name.as_str())
        .collect();
    let mut known: Vec<String> = Vec::new();
    for t in old.tables.iter().filter(|t| set.contains(&t.name)) {
        known.extend(t.indexes.iter().map(|i| i.name.clone()));
        known.extend(t.uniques.iter().map(|u| u.name.clone()));
        if t.updated_at.is_some() {
            known.push(updated_at_trigger(&t.name));
        }
    }
    let guard = q(S, "botdb_rebuild_guard")?;
    let problem = q(S, "problem")?;
    let stop = |kind: &str, message: String| -> Result<String> {
        Ok(format!(
            "CREATE TEMP TRIGGER {} BEFORE INSERT ON {guard}\nFOR EACH ROW WHEN NEW.{problem} = {}\nBEGIN\n    SELECT RAISE(ABORT, {});\nEND",
            q(S, &format!("botdb_rebuild_guard_{kind}"))?,
            literal(S, &Literal::Str(kind))?,
            literal(S, &Literal::Str(&message))?,
        ))
    };
    out.comment("Guard: stop here, changing nothing, if the rebuild below would delete rows of a table outside the model that references a rebuilt table, or lose an index or trigger added by hand to one.");
    out.statement(format!(
        "CREATE TEMP TABLE {guard} ({problem} TEXT NOT NULL)"
    ));
    out.statement(stop(
        "reference",
        format!("a table outside the declared model, or a foreign key added by hand, references {words}, which this migration rebuilds on SQLite: dropping the old table would delete or orphan its rows, so nothing was changed; declare that table or foreign key in the model and generate again, or drop the foreign key before migrating (botdb check names what is outside the model)"),
    )?);
    out.statement(stop(
        "extra",
        format!("{words} has an index or trigger that is not in the declared model, and this migration rebuilds it on SQLite, which would lose it, so nothing was changed; declare the index in the model and generate again, or drop it before migrating and create it again after"),
    )?);
    out.statement(format!(
        "INSERT INTO {guard} ({problem})\nSELECT 'reference' FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS f\nWHERE m.type = 'table' AND lower(f.\"table\") IN ({}) AND lower(m.name) NOT IN ({})\nUNION ALL\nSELECT 'extra' FROM sqlite_master\nWHERE type IN ('index', 'trigger') AND lower(tbl_name) IN ({}) AND name NOT LIKE 'sqlite_autoindex_%' AND lower(name) NOT IN ({})",
        strings(rebuilt.iter().copied())?,
        strings(handled.iter().copied())?,
        strings(rebuilt.iter().copied())?,
        if known.is_empty() { "''".to_string() } else { strings(known.iter().map(String::as_str))? },
    ));
    out.statement(format!("DROP TABLE {guard}"));
    Ok(())
}

pub(super) fn render(out: &mut Sql, diff: &Diff, old: &Schema, new: &Schema) -> Result<()> {
    let set = rebuild_set(diff, old, new);
    if !set.is_empty() {
        guard(out, old, new, &set)?;
    }
    // A dropped table that an existing table references goes last, once the rebuild has
    // removed that reference; any other goes first, before a rebuild drops its parent.
    let referenced = |t: &Table| {
        old.tables
            .iter()
            .filter(|o| new.table(&o.name).is_some())
            .any(|o| o.foreign_keys.iter().any(|f| f.references == t.name))
    };
    let drop = |out: &mut Sql, t: &Table| -> Result<()> {
        out.destructive(format!("drops table {} and every row in it", t.name));
        out.statement(format!("DROP TABLE {}", q(S, &t.name)?));
        Ok(())
    };
    for t in diff.dropped.iter().rev().filter(|t| !referenced(t)) {
        drop(out, t)?;
    }
    for t in &diff.created {
        out.statement(create_sql(t, &t.name, &BTreeSet::new())?);
        indexes_and_trigger(out, t)?;
    }
    for t in diff.altered.iter().filter(|t| !set.contains(&t.new.name)) {
        alter_in_place(out, t)?;
    }
    rebuild(out, diff, old, new, &set)?;
    for t in diff.dropped.iter().rev().filter(|t| referenced(t)) {
        drop(out, t)?;
    }
    Ok(())
}
