//! Comparing two schemas as data. Column order never counts, and constraint names are
//! compared apart ([`compare_names`]), only where both sides know them (see
//! [`crate::model::Unique::is_named`]). How much else counts is the [`Strictness`]: the
//! declared model is compared in full, while databases the Python bot created are compared
//! by their shape, since they differ from botdb's in VARCHAR against TEXT and in how
//! `updated_at` is kept, and are still the same schema.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Column, ColumnType, Default, Schema, Table};

/// One difference between the expected schema and the live one, as a readable line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Difference {
    /// The table it concerns.
    pub table: String,
    /// What differs, e.g. `column nickname: not expected`.
    pub detail: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.table, self.detail)
    }
}

/// How much of a schema a comparison looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Tables, columns, type families (VARCHAR = TEXT), nullability, whether a column has
    /// a default, primary-key membership, unique constraints and indexes by their columns,
    /// foreign keys with ON DELETE. What a database the Python bot made must match.
    Shape,
    /// All the model says but names: exact types, default values, auto-increment, the
    /// primary key, and `updated_at` upkeep.
    Model,
}

/// The name a column type goes by in messages.
pub fn type_name(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer => "integer",
        ColumnType::BigInt => "bigint",
        ColumnType::Text => "text",
        ColumnType::Varchar => "varchar",
        ColumnType::Boolean => "boolean",
        ColumnType::Double => "double",
        ColumnType::Timestamp => "timestamp",
    }
}

/// A type's family: VARCHAR and TEXT hold the same text.
fn family(ty: ColumnType) -> ColumnType {
    match ty {
        ColumnType::Varchar => ColumnType::Text,
        other => other,
    }
}

fn describe_default(d: Option<&Default>) -> String {
    match d {
        None => "no default".into(),
        Some(Default::Now) => "default now".into(),
        Some(Default::Integer(i)) => format!("default {i}"),
        Some(Default::Boolean(b)) => format!("default {b}"),
        Some(Default::Text(t)) => format!("default '{}'", t.replace('\'', "''")),
    }
}

/// The shape differences between `expected` and `actual`, limited to `tables` when given.
pub fn compare(expected: &Schema, actual: &Schema, tables: Option<&[&str]>) -> Vec<Difference> {
    compare_with(expected, actual, tables, Strictness::Shape)
}

/// The differences between `expected` and `actual` at `strictness`, limited to `tables`
/// when given, sorted by table.
pub fn compare_with(
    expected: &Schema,
    actual: &Schema,
    tables: Option<&[&str]>,
    strictness: Strictness,
) -> Vec<Difference> {
    let wanted = |name: &str| tables.is_none_or(|t| t.contains(&name));
    let mut out = Vec::new();
    let names: BTreeSet<&str> = expected
        .table_names()
        .into_iter()
        .chain(actual.table_names())
        .collect();
    for name in names.into_iter().filter(|n| wanted(n)) {
        let diff = |detail: String| Difference {
            table: name.to_string(),
            detail,
        };
        match (expected.table(name), actual.table(name)) {
            (Some(_), None) => out.push(diff("table missing".into())),
            (None, Some(_)) => out.push(diff("table not expected".into())),
            (Some(e), Some(a)) => out.extend(compare_table(e, a, strictness).into_iter().map(diff)),
            (None, None) => {}
        }
    }
    out
}

fn compare_table(expected: &Table, actual: &Table, strictness: Strictness) -> Vec<String> {
    let model = strictness == Strictness::Model;
    let mut out = Vec::new();
    fn columns(t: &Table) -> BTreeMap<&str, &Column> {
        t.columns.iter().map(|c| (c.name.as_str(), c)).collect()
    }
    let (exp, act) = (columns(expected), columns(actual));
    let in_key = |t: &Table, name: &str| t.primary_key.iter().any(|k| k == name);
    for (name, e) in &exp {
        let Some(a) = act.get(name) else {
            out.push(format!("column {name} missing"));
            continue;
        };
        let same_type = if model {
            e.ty == a.ty
        } else {
            family(e.ty) == family(a.ty)
        };
        if !same_type {
            out.push(format!(
                "column {name}: type {} expected, found {}",
                type_name(e.ty),
                type_name(a.ty)
            ));
        }
        if e.nullable != a.nullable {
            let word = |n: bool| if n { "NULL" } else { "NOT NULL" };
            out.push(format!(
                "column {name}: {} expected, found {}",
                word(e.nullable),
                word(a.nullable)
            ));
        }
        let (e_key, a_key) = (in_key(expected, name), in_key(actual, name));
        if model {
            if e.default != a.default {
                out.push(format!(
                    "column {name}: {} expected, found {}",
                    describe_default(e.default.as_ref()),
                    describe_default(a.default.as_ref())
                ));
            }
            if e.auto_increment != a.auto_increment {
                out.push(format!(
                    "column {name}: {} expected",
                    if e.auto_increment {
                        "auto-increment"
                    } else {
                        "no auto-increment"
                    }
                ));
            }
        } else if !e_key && e.default.is_some() != a.default.is_some() {
            // A key's default is its sequence or auto-increment, spelled differently everywhere.
            let has = |d: bool| if d { "a default" } else { "no default" };
            out.push(format!(
                "column {name}: {} expected, found {}",
                has(e.default.is_some()),
                has(a.default.is_some())
            ));
        }
        if e_key != a_key {
            out.push(format!(
                "column {name}: primary key {} expected",
                if e_key { "membership" } else { "absence" }
            ));
        }
    }
    for name in act.keys().filter(|n| !exp.contains_key(**n)) {
        out.push(format!("column {name} not expected"));
    }
    if model
        && expected.primary_key != actual.primary_key
        && out.iter().all(|l| !l.contains("primary key"))
    {
        out.push(format!(
            "primary key ({}) expected, found ({})",
            expected.primary_key.join(", "),
            actual.primary_key.join(", ")
        ));
    }

    let uniques = |t: &Table| -> Vec<(Vec<String>, String)> {
        t.uniques
            .iter()
            .map(|u| (u.columns.clone(), u.name.clone()))
            .collect()
    };
    let indexes = |t: &Table| -> Vec<(Vec<String>, String)> {
        t.indexes
            .iter()
            .map(|i| (i.columns.clone(), i.name.clone()))
            .collect()
    };
    for (what, e, a) in [
        ("unique constraint", uniques(expected), uniques(actual)),
        ("index", indexes(expected), indexes(actual)),
    ] {
        out.extend(matched(e, a, |cols| {
            format!("{what} on ({})", cols.join(", "))
        }));
    }

    type FkKey = (Vec<String>, String, Vec<String>, crate::model::OnDelete);
    let fks = |t: &Table| -> Vec<(FkKey, String)> {
        t.foreign_keys
            .iter()
            .map(|f| {
                (
                    (
                        f.columns.clone(),
                        f.references.clone(),
                        f.referenced_columns.clone(),
                        f.on_delete,
                    ),
                    f.name.clone(),
                )
            })
            .collect()
    };
    out.extend(matched(
        fks(expected),
        fks(actual),
        |(cols, table, refs, action)| {
            format!(
                "foreign key ({}) -> {table}({}) ON DELETE {}",
                cols.join(", "),
                refs.join(", "),
                match action {
                    crate::model::OnDelete::NoAction => "NO ACTION",
                    crate::model::OnDelete::Cascade => "CASCADE",
                    crate::model::OnDelete::SetNull => "SET NULL",
                }
            )
        },
    ));

    if model && expected.updated_at != actual.updated_at {
        let upkeep = |c: &Option<String>| match c {
            Some(c) => format!("{c} kept at the last update"),
            None => "no updated_at upkeep".to_string(),
        };
        out.push(format!(
            "{} expected, found {}",
            upkeep(&expected.updated_at),
            upkeep(&actual.updated_at)
        ));
    }
    out
}

/// Matches constraints by what they do (`key`): those on one side only.
fn matched<K: Ord + Clone>(
    expected: Vec<(K, String)>,
    actual: Vec<(K, String)>,
    describe: impl Fn(&K) -> String,
) -> Vec<String> {
    let keys = |v: &[(K, String)]| -> BTreeMap<K, String> { v.iter().cloned().collect() };
    let (e, a) = (keys(&expected), keys(&actual));
    let mut out = Vec::new();
    for key in e.keys().filter(|k| !a.contains_key(*k)) {
        out.push(format!("{} missing", describe(key)));
    }
    for key in a.keys().filter(|k| !e.contains_key(*k)) {
        out.push(format!("{} not expected", describe(key)));
    }
    out
}

/// Constraints and indexes present on both sides under different names, where both
/// sides know the name. Kept apart from [`compare_with`]: a database the Python bot made
/// has the same constraints under its own names (`purchases_payment_id_key`), which is
/// worth saying but is not drift.
pub fn compare_names(
    expected: &Schema,
    actual: &Schema,
    tables: Option<&[&str]>,
) -> Vec<Difference> {
    let mut out = Vec::new();
    for e in &expected.tables {
        if tables.is_some_and(|t| !t.contains(&e.name.as_str())) {
            continue;
        }
        let Some(a) = actual.table(&e.name) else {
            continue;
        };
        let mut pairs: Vec<(String, &str, &str)> = Vec::new();
        for u in &e.uniques {
            if let Some(f) = a.uniques.iter().find(|f| f.columns == u.columns) {
                let what = format!("unique constraint on ({})", u.columns.join(", "));
                pairs.push((what, &u.name, &f.name));
            }
        }
        for i in &e.indexes {
            if let Some(f) = a.indexes.iter().find(|f| f.columns == i.columns) {
                pairs.push((
                    format!("index on ({})", i.columns.join(", ")),
                    &i.name,
                    &f.name,
                ));
            }
        }
        for k in &e.foreign_keys {
            let same = |f: &&crate::model::ForeignKey| {
                f.columns == k.columns
                    && f.references == k.references
                    && f.referenced_columns == k.referenced_columns
            };
            if let Some(f) = a.foreign_keys.iter().find(same) {
                let what = format!("foreign key ({})", k.columns.join(", "));
                pairs.push((what, &k.name, &f.name));
            }
        }
        for (what, wanted, found) in pairs {
            if !wanted.is_empty() && !found.is_empty() && wanted != found {
                out.push(Difference {
                    table: e.name.clone(),
                    detail: format!("{what}: named {wanted} expected, found {found}"),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ForeignKey, OnDelete, Unique};

    fn schema(table: Table) -> Schema {
        Schema {
            tables: vec![table],
        }
    }

    fn users() -> Table {
        Table::new("users")
            .column_def(Column::new("id", ColumnType::Integer).auto_increment())
            .column_def(Column::new("telegram_id", ColumnType::BigInt))
            .column_def(Column::new("username", ColumnType::Varchar).nullable())
            .primary_key(&["id"])
            .unique("users_telegram_id_key", &["telegram_id"])
    }

    #[test]
    fn same_shape_under_other_names_and_order() {
        let mut other = users();
        other.columns.reverse();
        other.columns[0].ty = ColumnType::Text;
        other.uniques[0].name = "sqlite_autoindex_users_1".into();
        other.columns[2].auto_increment = false;
        assert_eq!(
            compare(&schema(users()), &schema(other.clone()), None),
            vec![]
        );
        let lines: Vec<String> = compare_with(
            &schema(users()),
            &schema(other.clone()),
            None,
            Strictness::Model,
        )
        .iter()
        .map(|d| d.to_string())
        .collect();
        assert_eq!(
            lines,
            [
                "users: column id: auto-increment expected",
                "users: column username: type varchar expected, found text",
            ]
        );
        assert_eq!(
            compare_names(&schema(users()), &schema(other), None)[0].to_string(),
            "users: unique constraint on (telegram_id): named users_telegram_id_key expected, found sqlite_autoindex_users_1"
        );
    }

    #[test]
    fn an_unknown_name_matches_any() {
        let mut live = users();
        live.uniques[0].name = String::new();
        assert!(!live.uniques[0].is_named());
        assert_eq!(compare_names(&schema(users()), &schema(live), None), vec![]);
    }

    #[test]
    fn reports_each_kind_of_drift() {
        let mut live = users();
        live.columns
            .push(Column::new("nickname", ColumnType::Varchar).nullable());
        live.columns[1].nullable = true;
        live.uniques.clear();
        live.foreign_keys.push(ForeignKey {
            name: "fk".into(),
            columns: vec!["id".into()],
            references: "x".into(),
            referenced_columns: vec!["id".into()],
            on_delete: OnDelete::NoAction,
        });
        live.updated_at = Some("username".into());
        let lines = |s| -> Vec<String> {
            compare_with(&schema(users()), &schema(live.clone()), None, s)
                .iter()
                .map(|d| d.to_string())
                .collect()
        };
        let shape = [
            "users: column telegram_id: NOT NULL expected, found NULL",
            "users: column nickname not expected",
            "users: unique constraint on (telegram_id) missing",
            "users: foreign key (id) -> x(id) ON DELETE NO ACTION not expected",
        ];
        assert_eq!(lines(Strictness::Shape), shape);
        let mut model: Vec<&str> = shape.to_vec();
        model.push("users: no updated_at upkeep expected, found username kept at the last update");
        assert_eq!(lines(Strictness::Model), model);
    }

    #[test]
    fn defaults_count_in_the_model() {
        let mut live = users();
        live.columns[2].default = Some(Default::Text("anon".into()));
        assert_eq!(
            compare_with(
                &schema(users()),
                &schema(live.clone()),
                None,
                Strictness::Model
            )[0]
            .to_string(),
            "users: column username: no default expected, found default 'anon'"
        );
        live.uniques.push(Unique {
            name: "u2".into(),
            columns: vec!["username".into()],
        });
        assert_eq!(
            compare(&schema(users()), &schema(live), None)
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>(),
            [
                "users: column username: no default expected, found a default",
                "users: unique constraint on (username) not expected"
            ]
        );
    }
}
