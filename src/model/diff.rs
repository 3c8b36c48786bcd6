//! The structural difference between two models: what `generate` has to do to take a
//! database from `old` to `new`. Pure data, no SQL: [`super::ddl`] renders it per dialect.

use std::collections::BTreeMap;

use super::{Column, ColumnType, ForeignKey, Index, Schema, Table, Unique};

/// What the author told `generate` beyond the two models.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Column renames, `table.old=new`: without one, a column that disappears and one that
    /// appears are a drop and an add.
    pub renames: Vec<Rename>,
    /// SQL that fills a NOT NULL column added to (or made NOT NULL in) a table that may
    /// hold rows, by `(table, column)`.
    pub fills: BTreeMap<(String, String), String>,
    /// Whether steps that lose data may be generated.
    pub allow_destructive: bool,
}

/// A column renamed in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    /// The table.
    pub table: String,
    /// The column's name in the old model.
    pub from: String,
    /// Its name in the new model.
    pub to: String,
}

/// Why a difference cannot be turned into a migration. Its text is what is wrong, then
/// `; ` and what to do ([`Refusal::hint`] alone).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("{}; {}", self.problem(), self.hint())]
pub enum Refusal {
    /// A NOT NULL column without a default is added to an existing table.
    MissingFill {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// A nullable column without a default becomes NOT NULL: its NULLs need a value.
    NullsNeedFill {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// Steps that lose data, without `--allow-destructive`.
    Destructive(Vec<String>),
    /// A `--rename` that does not match the two models.
    BadRename {
        /// The table.
        table: String,
        /// The old name.
        from: String,
        /// The new name.
        to: String,
        /// What does not fit.
        reason: String,
    },
    /// A `--fill` for a column that does not need one.
    UnusedFill {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// A change generate does not write (a primary key or an auto-numbered column).
    KeyChange {
        /// The table.
        table: String,
        /// What changed.
        what: String,
    },
    /// `updated_at` upkeep on a column with another name.
    UpdatedAtName {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
}

impl Refusal {
    /// What is wrong, without the advice.
    pub fn problem(&self) -> String {
        match self {
            Refusal::MissingFill { table, column } => format!("column {table}.{column} is added as NOT NULL without a default, so the rows already in {table} need a value"),
            Refusal::NullsNeedFill { table, column } => format!("column {table}.{column} is made NOT NULL without a default, so the rows where it holds NULL need a value"),
            Refusal::Destructive(steps) => format!("the migration would lose data ({})", steps.join("; ")),
            Refusal::BadRename { table, from, to, reason } => format!("--rename {table}.{from}={to} does not fit the models: {reason}"),
            Refusal::UnusedFill { table, column } => format!("--fill {table}.{column} names no column that is added or made NOT NULL"),
            Refusal::KeyChange { table, what } => format!("{table}: {what} cannot be generated, because the rows' keys and the foreign keys pointing at them would have to be rewritten"),
            Refusal::UpdatedAtName { table, column } => format!("{table}: only a column called updated_at can be kept current (the PostgreSQL trigger function botdb_set_updated_at sets NEW.updated_at), not {column}"),
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            Refusal::MissingFill { table, column } | Refusal::NullsNeedFill { table, column } => format!("declare a default in the model, or pass --fill {table}.{column}=SQL (e.g. --fill {table}.{column}=0)"),
            Refusal::Destructive(_) => "pass --allow-destructive if that is intended, or --rename TABLE.OLD=NEW if a column was renamed".to_string(),
            Refusal::BadRename { .. } => "name the table, a column of the old model and the column of the new model that replaces it".to_string(),
            Refusal::UnusedFill { .. } => "check the spelling".to_string(),
            Refusal::KeyChange { .. } => "write that step by hand with `botdb new NAME`, then record the model with `botdb generate --record-only`".to_string(),
            Refusal::UpdatedAtName { .. } => "call the column updated_at in the model, or stop keeping it current".to_string(),
        }
    }

    /// A stable snake_case name for the refusal (`--format json`'s `code`).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::MissingFill { .. } | Refusal::NullsNeedFill { .. } => "missing_fill",
            Refusal::Destructive(_) => "destructive",
            Refusal::BadRename { .. } => "bad_rename",
            Refusal::UnusedFill { .. } => "unused_fill",
            Refusal::KeyChange { .. } => "key_change",
            Refusal::UpdatedAtName { .. } => "updated_at_name",
        }
    }
}

/// Everything that changes, in the order the tables are declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// Tables only in the new model, in its order (parents first).
    pub created: Vec<Table>,
    /// Tables only in the old model, in its order.
    pub dropped: Vec<Table>,
    /// Tables in both that differ, in the new model's order.
    pub altered: Vec<TableDiff>,
}

/// How one table changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDiff {
    /// The table as it was.
    pub old: Table,
    /// The table as it will be.
    pub new: Table,
    /// Columns renamed, `(old name, new name)`.
    pub renamed: Vec<(String, String)>,
    /// Columns dropped.
    pub dropped_columns: Vec<Column>,
    /// Columns added, with the SQL that fills the rows already there (for a NOT NULL
    /// column without a default).
    pub added_columns: Vec<(Column, Option<String>)>,
    /// Columns whose type, nullability or default change.
    pub changed_columns: Vec<ColumnChange>,
    /// Unique constraints dropped (including changed ones, dropped and re-added).
    pub dropped_uniques: Vec<Unique>,
    /// Unique constraints added.
    pub added_uniques: Vec<Unique>,
    /// Indexes dropped.
    pub dropped_indexes: Vec<Index>,
    /// Indexes added.
    pub added_indexes: Vec<Index>,
    /// Foreign keys dropped (including changed ones, dropped and re-added).
    pub dropped_foreign_keys: Vec<ForeignKey>,
    /// Foreign keys added.
    pub added_foreign_keys: Vec<ForeignKey>,
}

/// One column's type, nullability or default changing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnChange {
    /// The column before (under its old name, if renamed).
    pub old: Column,
    /// The column after.
    pub new: Column,
    /// SQL for the rows holding NULL, when the column becomes NOT NULL and has a fill.
    pub fill: Option<String>,
}

impl ColumnChange {
    /// Whether values may not fit the new type.
    pub fn narrows(&self) -> bool {
        !widens(self.old.ty, self.new.ty)
    }
}

/// Whether every value of `from` is a value of `to`.
pub fn widens(from: ColumnType, to: ColumnType) -> bool {
    use ColumnType::*;
    from == to
        || matches!(
            (from, to),
            (Integer, BigInt) | (Integer, Double) | (Varchar, Text)
        )
}

impl TableDiff {
    /// Whether the table's `updated_at` upkeep changes.
    pub fn updated_at_changes(&self) -> bool {
        self.old.updated_at != self.new.updated_at
    }

    /// The old name of a column of the new table (itself unless renamed).
    pub fn old_name<'a>(&'a self, new_name: &'a str) -> &'a str {
        self.renamed
            .iter()
            .find(|(_, to)| to == new_name)
            .map_or(new_name, |(from, _)| from.as_str())
    }

    fn is_empty(&self) -> bool {
        self.renamed.is_empty()
            && self.dropped_columns.is_empty()
            && self.added_columns.is_empty()
            && self.changed_columns.is_empty()
            && self.dropped_uniques.is_empty()
            && self.added_uniques.is_empty()
            && self.dropped_indexes.is_empty()
            && self.added_indexes.is_empty()
            && self.dropped_foreign_keys.is_empty()
            && self.added_foreign_keys.is_empty()
            && !self.updated_at_changes()
    }
}

impl Diff {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.dropped.is_empty() && self.altered.is_empty()
    }

    /// One line per decision, for the author to read: what is created, dropped, renamed,
    /// changed, and which steps lose data.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for t in &self.created {
            lines.push(format!("create table {}", t.name));
        }
        for t in &self.altered {
            let name = &t.new.name;
            for (from, to) in &t.renamed {
                lines.push(format!(
                    "rename column {name}.{from} to {to} (as told by --rename)"
                ));
            }
            for c in &t.dropped_columns {
                lines.push(format!("drop column {name}.{} (destructive)", c.name));
            }
            for (c, fill) in &t.added_columns {
                let how = match fill {
                    Some(sql) => format!(", existing rows get {sql}"),
                    None => String::new(),
                };
                lines.push(format!("add column {name}.{}{how}", c.name));
            }
            if !t.dropped_columns.is_empty() && !t.added_columns.is_empty() {
                let (gone, came) = (&t.dropped_columns[0].name, &t.added_columns[0].0.name);
                lines.push(format!(
                    "note: {name}.{gone} is dropped and {name}.{came} added, not renamed; if it is a rename, pass --rename {name}.{gone}={came}"
                ));
            }
            for c in &t.changed_columns {
                lines.push(format!(
                    "change column {name}.{}: {}{}",
                    c.new.name,
                    column_change_words(c),
                    if c.narrows() {
                        " (destructive: narrows the type)"
                    } else {
                        ""
                    }
                ));
            }
            for u in &t.dropped_uniques {
                lines.push(format!("drop unique constraint {name}.{}", u.name));
            }
            for u in &t.added_uniques {
                lines.push(format!("add unique constraint {name}.{}", u.name));
            }
            for i in &t.dropped_indexes {
                lines.push(format!("drop index {name}.{}", i.name));
            }
            for i in &t.added_indexes {
                lines.push(format!("add index {name}.{}", i.name));
            }
            for f in &t.dropped_foreign_keys {
                lines.push(format!("drop foreign key {name}.{}", f.name));
            }
            for f in &t.added_foreign_keys {
                lines.push(format!(
                    "add foreign key {name}.{} -> {} ON DELETE {}",
                    f.name,
                    f.references,
                    on_delete_words(f.on_delete)
                ));
            }
            if t.updated_at_changes() {
                lines.push(match &t.new.updated_at {
                    Some(c) => format!("keep {name}.{c} current on update"),
                    None => format!("stop keeping {name} updated_at current"),
                });
            }
        }
        for t in &self.dropped {
            lines.push(format!("drop table {} (destructive)", t.name));
        }
        lines
    }

    /// The steps that lose data.
    pub fn destructive_steps(&self) -> Vec<String> {
        let mut steps: Vec<String> = self
            .dropped
            .iter()
            .map(|t| format!("drop table {}", t.name))
            .collect();
        for t in &self.altered {
            for c in &t.dropped_columns {
                steps.push(format!("drop column {}.{}", t.new.name, c.name));
            }
            for c in t.changed_columns.iter().filter(|c| c.narrows()) {
                steps.push(format!(
                    "narrow {}.{} from {:?} to {:?}",
                    t.new.name, c.new.name, c.old.ty, c.new.ty
                ));
            }
        }
        steps
    }
}

fn column_change_words(c: &ColumnChange) -> String {
    let mut words = Vec::new();
    if c.old.ty != c.new.ty {
        words.push(format!("type {:?} -> {:?}", c.old.ty, c.new.ty));
    }
    if c.old.nullable != c.new.nullable {
        words.push(if c.new.nullable {
            "NULL allowed".to_string()
        } else {
            "NOT NULL".to_string()
        });
    }
    if c.old.default != c.new.default {
        words.push(format!(
            "default {:?} -> {:?}",
            c.old.default, c.new.default
        ));
    }
    words.join(", ")
}

/// `CASCADE`, `SET NULL` or `NO ACTION`.
pub fn on_delete_words(on_delete: super::OnDelete) -> &'static str {
    match on_delete {
        super::OnDelete::NoAction => "NO ACTION",
        super::OnDelete::Cascade => "CASCADE",
        super::OnDelete::SetNull => "SET NULL",
    }
}

/// Compares `old` with `new`. Refuses what cannot be generated safely: a missing fill, data
/// loss without `allow_destructive`, a rename or fill that fits nothing, a key change.
pub fn diff(old: &Schema, new: &Schema, options: &Options) -> Result<Diff, Refusal> {
    let (diff, used_fills) = compare(old, new, options, false)?;
    if let Some((table, column)) = options.fills.keys().find(|k| !used_fills.contains(k)) {
        return Err(Refusal::UnusedFill {
            table: table.clone(),
            column: column.clone(),
        });
    }
    let destructive = diff.destructive_steps();
    if !destructive.is_empty() && !options.allow_destructive {
        return Err(Refusal::Destructive(destructive));
    }
    Ok(diff)
}

/// The way back from [`diff`]'s `new` to `old`: the renames reversed, and a NOT NULL column
/// that comes back without a default filled with its type's zero (its values were lost
/// when it was dropped; down.sql restores the schema, not the data). A column made NOT NULL
/// again gets only its declared default as a fill, never a zero.
pub fn reverse(old: &Schema, new: &Schema, options: &Options) -> Result<Diff, Refusal> {
    let back = Options {
        renames: options
            .renames
            .iter()
            .map(|r| Rename {
                table: r.table.clone(),
                from: r.to.clone(),
                to: r.from.clone(),
            })
            .collect(),
        fills: BTreeMap::new(),
        allow_destructive: true,
    };
    compare(new, old, &back, true).map(|(diff, _)| diff)
}

/// The zero of a type, as a fill for rows whose value is gone.
pub fn zero_fill(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer | ColumnType::BigInt | ColumnType::Boolean => "0",
        ColumnType::Double => "0.0",
        ColumnType::Text | ColumnType::Varchar => "''",
        ColumnType::Timestamp => "CURRENT_TIMESTAMP",
    }
}

type Used = Vec<(String, String)>;

fn compare(
    old: &Schema,
    new: &Schema,
    options: &Options,
    reverse: bool,
) -> Result<(Diff, Used), Refusal> {
    for t in &new.tables {
        if let Some(column) = t.updated_at.as_ref().filter(|c| *c != "updated_at") {
            return Err(Refusal::UpdatedAtName {
                table: t.name.clone(),
                column: column.clone(),
            });
        }
    }
    for r in &options.renames {
        check_rename(old, new, r)?;
    }
    let mut used = Vec::new();
    let mut diff = Diff {
        created: new
            .tables
            .iter()
            .filter(|t| old.table(&t.name).is_none())
            .cloned()
            .collect(),
        dropped: old
            .tables
            .iter()
            .filter(|t| new.table(&t.name).is_none())
            .cloned()
            .collect(),
        altered: Vec::new(),
    };
    for new_table in &new.tables {
        let Some(old_table) = old.table(&new_table.name) else {
            continue;
        };
        let t = compare_table(old_table, new_table, options, reverse, &mut used)?;
        if !t.is_empty() {
            diff.altered.push(t);
        }
    }
    Ok((diff, used))
}

fn check_rename(old: &Schema, new: &Schema, r: &Rename) -> Result<(), Refusal> {
    let bad = |reason: String| Refusal::BadRename {
        table: r.table.clone(),
        from: r.from.clone(),
        to: r.to.clone(),
        reason,
    };
    let (Some(o), Some(n)) = (old.table(&r.table), new.table(&r.table)) else {
        return Err(bad(format!("table {} is not in both models", r.table)));
    };
    if o.column(&r.from).is_none() {
        return Err(bad(format!("the old {} has no column {}", r.table, r.from)));
    }
    if n.column(&r.to).is_none() {
        return Err(bad(format!("the new {} has no column {}", r.table, r.to)));
    }
    if n.column(&r.from).is_some() || o.column(&r.to).is_some() {
        return Err(bad("both names are columns of both models".to_string()));
    }
    Ok(())
}

fn compare_table(
    old: &Table,
    new: &Table,
    options: &Options,
    reverse: bool,
    used: &mut Used,
) -> Result<TableDiff, Refusal> {
    let name = &new.name;
    let renamed: Vec<(String, String)> = options
        .renames
        .iter()
        .filter(|r| &r.table == name)
        .map(|r| (r.from.clone(), r.to.clone()))
        .collect();
    let old_name_of = |n: &str| -> String {
        renamed
            .iter()
            .find(|(_, to)| to == n)
            .map_or(n.to_string(), |(from, _)| from.clone())
    };
    let new_name_of = |o: &str| -> String {
        renamed
            .iter()
            .find(|(from, _)| from == o)
            .map_or(o.to_string(), |(_, to)| to.clone())
    };
    let renamed_old_pk: Vec<String> = old.primary_key.iter().map(|c| new_name_of(c)).collect();
    if renamed_old_pk != new.primary_key {
        return Err(Refusal::KeyChange {
            table: name.clone(),
            what: format!(
                "the primary key ({} -> {})",
                old.primary_key.join(", "),
                new.primary_key.join(", ")
            ),
        });
    }
    // The author's --fill first; in reverse, a column's zero.
    let mut fill_for = |column: &Column| -> Option<String> {
        let key = (name.clone(), column.name.clone());
        if let Some(sql) = options.fills.get(&key) {
            used.push(key);
            return Some(sql.clone());
        }
        None
    };
    let zero = |column: &Column| reverse.then(|| zero_fill(column.ty).to_string());

    let dropped_columns: Vec<Column> = old
        .columns
        .iter()
        .filter(|c| new.column(&new_name_of(&c.name)).is_none())
        .cloned()
        .collect();
    let mut added_columns = Vec::new();
    let mut changed_columns = Vec::new();
    for column in &new.columns {
        let Some(before) = old.column(&old_name_of(&column.name)) else {
            let fill = if column.nullable || column.default.is_some() {
                None
            } else {
                match fill_for(column).or_else(|| zero(column)) {
                    Some(sql) => Some(sql),
                    None => {
                        return Err(Refusal::MissingFill {
                            table: name.clone(),
                            column: column.name.clone(),
                        })
                    }
                }
            };
            added_columns.push((column.clone(), fill));
            continue;
        };
        if before.auto_increment != column.auto_increment {
            return Err(Refusal::KeyChange {
                table: name.clone(),
                what: format!("numbering of {} on insert (auto_increment)", column.name),
            });
        }
        if before.ty != column.ty
            || before.nullable != column.nullable
            || before.default != column.default
        {
            let fill = if before.nullable && !column.nullable {
                let fill = fill_for(column)
                    .or_else(|| column.default.as_ref().map(|_| DEFAULT_FILL.to_string()));
                // Never the type's zero: the NULLs are values someone stored. In reverse
                // (down.sql putting NOT NULL back) a NULL stored since makes the revert
                // fail with the database's own error, which is the honest outcome.
                if fill.is_none() && !reverse {
                    return Err(Refusal::NullsNeedFill {
                        table: name.clone(),
                        column: column.name.clone(),
                    });
                }
                fill
            } else {
                None
            };
            changed_columns.push(ColumnChange {
                old: before.clone(),
                new: column.clone(),
                fill,
            });
        }
    }

    let renamed_cols =
        |cols: &[String]| -> Vec<String> { cols.iter().map(|c| new_name_of(c)).collect() };
    // A constraint over a renamed column is the same constraint: the database renames the
    // column inside it.
    let same_unique =
        |o: &Unique, n: &Unique| o.name == n.name && renamed_cols(&o.columns) == n.columns;
    let same_index =
        |o: &Index, n: &Index| o.name == n.name && renamed_cols(&o.columns) == n.columns;
    let same_fk = |o: &ForeignKey, n: &ForeignKey| {
        o.name == n.name
            && renamed_cols(&o.columns) == n.columns
            && o.references == n.references
            && o.referenced_columns == n.referenced_columns
            && o.on_delete == n.on_delete
    };
    Ok(TableDiff {
        dropped_uniques: missing(&old.uniques, &new.uniques, same_unique),
        added_uniques: missing(&new.uniques, &old.uniques, |n, o| same_unique(o, n)),
        dropped_indexes: missing(&old.indexes, &new.indexes, same_index),
        added_indexes: missing(&new.indexes, &old.indexes, |n, o| same_index(o, n)),
        dropped_foreign_keys: missing(&old.foreign_keys, &new.foreign_keys, same_fk),
        added_foreign_keys: missing(&new.foreign_keys, &old.foreign_keys, |n, o| same_fk(o, n)),
        old: old.clone(),
        new: new.clone(),
        renamed,
        dropped_columns,
        added_columns,
        changed_columns,
    })
}

/// The fill that stands for "the column's declared default" when a column becomes NOT
/// NULL: the renderer writes the default's SQL in its place.
pub const DEFAULT_FILL: &str = "DEFAULT";

fn missing<T: Clone>(from: &[T], other: &[T], same: impl Fn(&T, &T) -> bool) -> Vec<T> {
    from.iter()
        .filter(|a| !other.iter().any(|b| same(a, b)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{bot, Default as D, OnDelete};

    fn with_column(column: Column) -> Schema {
        let mut s = bot::schema();
        if let Some(t) = s.table_mut("users") {
            t.columns.push(column);
        }
        s
    }

    #[test]
    fn the_bot_model_against_itself_is_empty() {
        let d = diff(&bot::schema(), &bot::schema(), &Options::default());
        assert_eq!(d.map(|d| d.is_empty()), Ok(true));
    }

    #[test]
    fn a_not_null_column_needs_a_fill_or_a_default() {
        let new = with_column(Column::new("email", ColumnType::Varchar));
        assert_eq!(
            diff(&bot::schema(), &new, &Options::default()),
            Err(Refusal::MissingFill {
                table: "users".into(),
                column: "email".into()
            })
        );
        let mut options = Options::default();
        options
            .fills
            .insert(("users".into(), "email".into()), "'none'".into());
        let d = diff(&bot::schema(), &new, &options).map(|d| d.altered[0].added_columns.clone());
        assert_eq!(
            d,
            Ok(vec![(
                new.tables[0].columns[7].clone(),
                Some("'none'".into())
            )])
        );
        let defaulted =
            with_column(Column::new("email", ColumnType::Varchar).default(D::Text("x".into())));
        assert!(diff(&bot::schema(), &defaulted, &Options::default()).is_ok());
    }

    #[test]
    fn making_a_column_not_null_needs_a_fill_or_a_default_but_not_in_reverse() {
        let mut nullable = bot::schema();
        if let Some(t) = nullable.table_mut("users") {
            t.columns
                .push(Column::new("email", ColumnType::Varchar).nullable());
        }
        let not_null = with_column(Column::new("email", ColumnType::Varchar));
        let refused = diff(&nullable, &not_null, &Options::default());
        assert_eq!(
            refused,
            Err(Refusal::NullsNeedFill {
                table: "users".into(),
                column: "email".into()
            })
        );
        assert_eq!(refused.map_err(|r| r.code()), Err("missing_fill"));
        // down.sql of a step that allowed NULL puts NOT NULL back without inventing values.
        let back = reverse(&not_null, &nullable, &Options::default())
            .map(|d| d.altered[0].changed_columns[0].fill.clone());
        assert_eq!(back, Ok(None));
        let defaulted =
            with_column(Column::new("email", ColumnType::Varchar).default(D::Text("x".into())));
        let filled = diff(&nullable, &defaulted, &Options::default())
            .map(|d| d.altered[0].changed_columns[0].fill.clone());
        assert_eq!(filled, Ok(Some(DEFAULT_FILL.to_string())));
    }

    #[test]
    fn dropping_needs_allow_destructive_and_reverse_refills_with_zero() {
        let old = with_column(Column::new("email", ColumnType::Varchar));
        let refused = diff(&old, &bot::schema(), &Options::default());
        assert_eq!(
            refused,
            Err(Refusal::Destructive(vec!["drop column users.email".into()]))
        );
        let options = Options {
            allow_destructive: true,
            ..Options::default()
        };
        assert!(diff(&old, &bot::schema(), &options).is_ok());
        let back = reverse(&old, &bot::schema(), &options)
            .map(|d| d.altered[0].added_columns[0].1.clone());
        assert_eq!(back, Ok(Some("''".into())));
    }

    #[test]
    fn a_rename_is_only_a_rename_when_told() {
        let mut new = bot::schema();
        if let Some(t) = new.table_mut("users") {
            t.columns[1].name = "handle".into();
        }
        let told = Options {
            renames: vec![Rename {
                table: "users".into(),
                from: "username".into(),
                to: "handle".into(),
            }],
            ..Options::default()
        };
        let d = diff(&bot::schema(), &new, &told).map(|d| d.altered[0].clone());
        assert_eq!(
            d.as_ref().map(|t| t.renamed.clone()),
            Ok(vec![("username".into(), "handle".into())])
        );
        assert_eq!(
            d.map(|t| t.dropped_columns.len() + t.added_columns.len()),
            Ok(0)
        );
        assert!(matches!(
            diff(&bot::schema(), &new, &Options::default()),
            Err(Refusal::Destructive(_))
        ));
    }

    #[test]
    fn a_changed_on_delete_is_a_dropped_and_an_added_foreign_key() {
        let mut new = bot::schema();
        if let Some(t) = new.table_mut("products") {
            t.foreign_keys[0].on_delete = OnDelete::NoAction;
        }
        let d = diff(&bot::schema(), &new, &Options::default()).map(|d| d.altered[0].clone());
        assert_eq!(d.as_ref().map(|t| t.dropped_foreign_keys.len()), Ok(1));
        assert_eq!(
            d.map(|t| t.added_foreign_keys[0].on_delete),
            Ok(OnDelete::NoAction)
        );
    }

    #[test]
    fn widening_is_not_destructive_and_narrowing_is() {
        assert!(widens(ColumnType::Integer, ColumnType::BigInt));
        assert!(widens(ColumnType::Varchar, ColumnType::Text));
        assert!(!widens(ColumnType::BigInt, ColumnType::Integer));
        assert!(!widens(ColumnType::Text, ColumnType::Integer));
    }
}
