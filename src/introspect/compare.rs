//! Comparing two schemas by what matters to the bot, not by how they were written:
//! tables, columns (type family, nullability, whether a default exists), primary keys,
//! unique constraints and indexes by their columns, and foreign keys with their ON DELETE
//! action. Column order and constraint names are ignored, because databases the Python
//! bot created differ from botdb's in both and are still the same schema.

use std::collections::{BTreeMap, BTreeSet};

use crate::introspect::{Column, Schema, Table};

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

/// A type's family: the name a column's declared type goes by on any backend.
pub fn type_family(declared: &str) -> String {
    let t = declared.to_lowercase();
    let base = t.split(['(', ' ']).next().unwrap_or("");
    match base {
        "bigint" | "int8" | "bigserial" => "bigint",
        "int" | "integer" | "int4" | "smallint" | "int2" | "serial" | "mediumint" | "tinyint" => {
            "integer"
        }
        "text" | "varchar" | "character" | "char" | "longtext" | "mediumtext" | "tinytext"
        | "string" => "text",
        "timestamp" | "datetime" => "timestamp",
        "boolean" | "bool" => "boolean",
        "real" | "double" | "float" | "numeric" | "decimal" => "number",
        _ => base,
    }
    .to_string()
}

/// MariaDB reports a foreign key declared without an action as RESTRICT; both refuse the delete.
fn on_delete(action: &str) -> &str {
    match action {
        "RESTRICT" | "NO ACTION" => "NO ACTION",
        other => other,
    }
}

/// The differences between `expected` and `actual`, limited to `tables` when given.
pub fn compare(expected: &Schema, actual: &Schema, tables: Option<&[&str]>) -> Vec<Difference> {
    let wanted = |name: &str| tables.is_none_or(|t| t.contains(&name));
    let mut out = Vec::new();
    let names: BTreeSet<&String> = expected.tables.keys().chain(actual.tables.keys()).collect();
    for name in names.into_iter().filter(|n| wanted(n)) {
        let diff = |detail: String| Difference {
            table: name.clone(),
            detail,
        };
        match (expected.tables.get(name), actual.tables.get(name)) {
            (Some(_), None) => out.push(diff("table missing".into())),
            (None, Some(_)) => out.push(diff("table not expected".into())),
            (Some(e), Some(a)) => out.extend(compare_table(e, a).into_iter().map(diff)),
            (None, None) => {}
        }
    }
    out
}

fn compare_table(expected: &Table, actual: &Table) -> Vec<String> {
    let mut out = Vec::new();
    fn columns(t: &Table) -> BTreeMap<&str, &Column> {
        t.columns.iter().map(|c| (c.name.as_str(), c)).collect()
    }
    let (exp, act) = (columns(expected), columns(actual));
    for (name, e) in &exp {
        let Some(a) = act.get(name) else {
            out.push(format!("column {name} missing"));
            continue;
        };
        let (ef, af) = (type_family(&e.data_type), type_family(&a.data_type));
        if ef != af {
            out.push(format!(
                "column {name}: type {} expected, found {}",
                e.data_type, a.data_type
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
        // A primary key's default is its sequence or auto-increment, named differently everywhere.
        if !e.primary_key && e.default.is_some() != a.default.is_some() {
            let has = |d: bool| if d { "a default" } else { "no default" };
            out.push(format!(
                "column {name}: {} expected, found {}",
                has(e.default.is_some()),
                has(a.default.is_some())
            ));
        }
        if e.primary_key != a.primary_key {
            out.push(format!(
                "column {name}: primary key {} expected",
                if e.primary_key {
                    "membership"
                } else {
                    "absence"
                }
            ));
        }
    }
    for name in act.keys().filter(|n| !exp.contains_key(**n)) {
        out.push(format!("column {name} not expected"));
    }

    let index_sets = |t: &Table, unique: bool| -> BTreeSet<Vec<String>> {
        t.indexes
            .values()
            .filter(|i| i.unique == unique)
            .map(|i| i.columns.clone())
            .collect()
    };
    for (unique, what) in [(true, "unique constraint"), (false, "index")] {
        let (e, a) = (index_sets(expected, unique), index_sets(actual, unique));
        for cols in e.difference(&a) {
            out.push(format!("{what} on ({}) missing", cols.join(", ")));
        }
        for cols in a.difference(&e) {
            out.push(format!("{what} on ({}) not expected", cols.join(", ")));
        }
    }

    let fks = |t: &Table| -> BTreeSet<(Vec<String>, String, Vec<String>, String)> {
        t.foreign_keys
            .iter()
            .map(|f| {
                (
                    f.columns.clone(),
                    f.references.clone(),
                    f.referenced_columns.clone(),
                    on_delete(&f.on_delete).to_string(),
                )
            })
            .collect()
    };
    let (e, a) = (fks(expected), fks(actual));
    for (cols, table, refs, action) in e.difference(&a) {
        out.push(format!(
            "foreign key ({}) -> {table}({}) ON DELETE {action} missing",
            cols.join(", "),
            refs.join(", ")
        ));
    }
    for (cols, table, refs, action) in a.difference(&e) {
        out.push(format!(
            "foreign key ({}) -> {table}({}) ON DELETE {action} not expected",
            cols.join(", "),
            refs.join(", ")
        ));
    }
    out
}

/// Whether a diesel SQL type admits NULL, read off its type rather than written down again.
trait Nullability {
    const NULLABLE: bool;
}

impl Nullability for diesel::sql_types::is_nullable::IsNullable {
    const NULLABLE: bool = true;
}

impl Nullability for diesel::sql_types::is_nullable::NotNull {
    const NULLABLE: bool = false;
}

/// The columns of a `table!`'s `all_columns` tuple: (name, nullable).
trait ColumnList {
    fn columns() -> Vec<(&'static str, bool)>;
}

macro_rules! column_list {
    ($($c:ident),+) => {
        impl<$($c),+> ColumnList for ($($c,)+)
        where
            $($c: diesel::Column, <$c::SqlType as diesel::sql_types::SqlType>::IsNull: Nullability,)+
            $($c::SqlType: diesel::sql_types::SqlType,)+
        {
            fn columns() -> Vec<(&'static str, bool)> {
                vec![$(($c::NAME, <<$c::SqlType as diesel::sql_types::SqlType>::IsNull as Nullability>::NULLABLE)),+]
            }
        }
    };
}

column_list!(A, B, C, D);
column_list!(A, B, C, D, E, F, G);
column_list!(A, B, C, D, E, F, G, H);
column_list!(A, B, C, D, E, F, G, H, I);

fn model<T: diesel::Table>(name: &'static str) -> (&'static str, Vec<(&'static str, bool)>)
where
    T::AllColumns: ColumnList,
{
    (name, T::AllColumns::columns())
}

/// What `src/schema.rs` declares: each table's columns and whether they are nullable.
pub fn model_columns() -> Vec<(&'static str, Vec<(&'static str, bool)>)> {
    use crate::schema::{categories, products, purchases, users};
    vec![
        model::<categories::table>("categories"),
        model::<products::table>("products"),
        model::<purchases::table>("purchases"),
        model::<users::table>("users"),
    ]
}

/// How the live schema differs from `src/schema.rs`: missing tables and columns, columns
/// schema.rs does not know, and nullability.
pub fn compare_models(actual: &Schema) -> Vec<Difference> {
    let mut out = Vec::new();
    for (table, columns) in model_columns() {
        let diff = |detail: String| Difference {
            table: table.to_string(),
            detail,
        };
        let Some(live) = actual.tables.get(table) else {
            out.push(diff("table in src/schema.rs missing".into()));
            continue;
        };
        for (name, nullable) in &columns {
            match live.columns.iter().find(|c| c.name == *name) {
                None => out.push(diff(format!("column {name} in src/schema.rs missing"))),
                Some(c) if c.nullable != *nullable => out.push(diff(format!(
                    "column {name}: src/schema.rs says {}, the database {}",
                    if *nullable { "nullable" } else { "NOT NULL" },
                    if c.nullable { "nullable" } else { "NOT NULL" }
                ))),
                Some(_) => {}
            }
        }
        for c in live
            .columns
            .iter()
            .filter(|c| !columns.iter().any(|(n, _)| *n == c.name))
        {
            out.push(diff(format!("column {} not in src/schema.rs", c.name)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::introspect::{ForeignKey, Index};

    fn column(name: &str, data_type: &str, nullable: bool) -> Column {
        Column {
            name: name.into(),
            data_type: data_type.into(),
            nullable,
            default: None,
            primary_key: name == "id",
            extra: String::new(),
        }
    }

    fn schema(table: Table) -> Schema {
        let mut s = Schema::default();
        s.tables.insert("users".into(), table);
        s
    }

    fn users() -> Table {
        Table {
            columns: vec![
                column("id", "integer", false),
                column("telegram_id", "bigint", false),
            ],
            indexes: [(
                "users_telegram_id_key".to_string(),
                Index {
                    columns: vec!["telegram_id".into()],
                    unique: true,
                },
            )]
            .into(),
            foreign_keys: vec![],
            triggers: vec![],
        }
    }

    #[test]
    fn same_shape_under_other_names_and_order() {
        let mut other = users();
        other.columns.reverse();
        other.columns[0].data_type = "int8".into();
        other.indexes = [(
            "sqlite_autoindex_users_1".to_string(),
            Index {
                columns: vec!["telegram_id".into()],
                unique: true,
            },
        )]
        .into();
        assert_eq!(compare(&schema(users()), &schema(other), None), vec![]);
    }

    #[test]
    fn reports_each_kind_of_drift() {
        let mut live = users();
        live.columns.push(column("nickname", "varchar(255)", true));
        live.columns[1].nullable = true;
        live.indexes.clear();
        live.foreign_keys.push(ForeignKey {
            columns: vec!["id".into()],
            references: "x".into(),
            referenced_columns: vec!["id".into()],
            on_delete: "RESTRICT".into(),
        });
        let lines: Vec<String> = compare(&schema(users()), &schema(live), None)
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            lines,
            [
                "users: column telegram_id: NOT NULL expected, found NULL",
                "users: column nickname not expected",
                "users: unique constraint on (telegram_id) missing",
                "users: foreign key (id) -> x(id) ON DELETE NO ACTION not expected",
            ]
        );
    }

    #[test]
    fn families() {
        assert_eq!(type_family("character varying"), "text");
        assert_eq!(type_family("varchar(255)"), "text");
        assert_eq!(type_family("timestamp without time zone"), "timestamp");
        assert_eq!(type_family("int(11)"), "integer");
        assert_eq!(type_family("BIGINT"), "bigint");
    }
}
