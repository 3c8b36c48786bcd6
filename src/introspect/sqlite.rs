//! SQLite's catalogue: sqlite_master and the table-valued pragmas. The pragmas do not
//! report constraint names, so those are read from the `CREATE TABLE` text kept in
//! sqlite_master; a constraint written without `CONSTRAINT name` has none.

use diesel::sql_types::{Nullable, Text};
use diesel::{QueryableByName, SqliteConnection};
use diesel_async::RunQueryDsl;

use crate::db::sqlite::SqliteAsync;
use crate::error::{Doing, Result};
use crate::introspect::{
    err, mark_trigger_updates, sorted, split_list, Catalogue, ColumnRow, ForeignKeyRow, IndexRow,
    Introspect, Name, TriggerRow,
};

/// A table and the `CREATE TABLE` text SQLite keeps for it.
#[derive(QueryableByName)]
struct TableRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    sql: Option<String>,
}

/// The rows of sqlite_master (as `m`) the queries below read: every table but SQLite's own.
macro_rules! user_tables_sql {
    () => {
        "m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    };
}

impl Introspect for SqliteAsync {
    async fn tables(&mut self) -> Result<Vec<String>> {
        let names: Vec<Name> = catalogue_rows!(
            self,
            Doing::ListTables,
            concat!(
                "SELECT m.name AS name FROM sqlite_master m WHERE ",
                user_tables_sql!()
            )
        );
        Ok(sorted(names))
    }

    /// The queries run one after the other in one blocking task on the connection's
    /// thread: through the async wrapper each would be a task of its own, which costs
    /// more than the query.
    async fn catalogue(&mut self) -> Result<Catalogue> {
        self.spawn_blocking(|conn| Ok(catalogue_on(conn)))
            .await
            .map_err(err(Doing::ReadColumns))?
    }
}

fn catalogue_on(conn: &mut SqliteConnection) -> Result<Catalogue> {
    // The sync driver's `load`, named in full: diesel-async's is in scope too.
    use diesel::RunQueryDsl as SyncQuery;
    fn rows<T>(conn: &mut SqliteConnection, doing: Doing, sql: &'static str) -> Result<Vec<T>>
    where
        T: QueryableByName<diesel::sqlite::Sqlite> + 'static,
    {
        SyncQuery::load(diesel::sql_query(sql), conn).map_err(err(doing))
    }
    let tables: Vec<TableRow> = rows(
        conn,
        Doing::ListTables,
        concat!(
            "SELECT m.name AS name, m.sql AS sql FROM sqlite_master m WHERE ",
            user_tables_sql!()
        ),
    )?;
    // SQLite numbers a lone INTEGER primary key's rows itself (it is the rowid's alias):
    // that is marked below.
    let mut columns: Vec<ColumnRow> = rows(
        conn,
        Doing::ReadColumns,
        concat!(
            "SELECT m.name AS table_name, p.name AS name, p.type AS data_type, \
             p.\"notnull\" = 0 AS nullable, p.dflt_value AS default_value, \
             0 AS auto_increment, p.pk AS pk_position, 0 AS on_update \
             FROM sqlite_master m, pragma_table_info(m.name) p WHERE ",
            user_tables_sql!(),
            " ORDER BY m.name, p.cid"
        ),
    )?;
    // Primary-key indexes (origin 'pk') are implied by the columns' pk flag. An automatic
    // index (origin 'u') backs a UNIQUE constraint: it is named after that constraint
    // below, from the CREATE TABLE text, so its own name is left empty here.
    let mut index_rows: Vec<IndexRow> = rows(
        conn,
        Doing::ReadIndexes,
        concat!(
            "SELECT m.name AS table_name, CASE il.origin WHEN 'u' THEN '' ELSE il.name END AS name, \
             il.\"unique\" AS is_unique, \
             (SELECT group_concat(name, ',') FROM (SELECT ii.name FROM pragma_index_info(il.name) ii ORDER BY ii.seqno)) AS columns \
             FROM sqlite_master m, pragma_index_list(m.name) il WHERE ",
            user_tables_sql!(),
            " AND il.origin <> 'pk'"
        ),
    )?;
    // The pragma gives no constraint names either: those too come from the CREATE text.
    let mut fk_rows: Vec<ForeignKeyRow> = rows(
        conn,
        Doing::ReadForeignKeys,
        concat!(
            "SELECT table_name, '' AS name, group_concat(\"from\", ',') AS columns, \
             \"table\" AS \"references\", group_concat(\"to\", ',') AS referenced_columns, on_delete \
             FROM (SELECT m.name AS table_name, f.* \
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE ",
            user_tables_sql!(),
            " ORDER BY m.name, f.id, f.seq) GROUP BY table_name, id"
        ),
    )?;
    let triggers: Vec<TriggerRow> = rows(
        conn,
        Doing::ReadTriggers,
        "SELECT tbl_name AS table_name, name FROM sqlite_master WHERE type = 'trigger'",
    )?;

    let mut keys: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for c in columns.iter().filter(|c| c.pk_position > 0) {
        *keys.entry(c.table_name.as_str()).or_default() += 1;
    }
    let rowid_aliases: Vec<bool> = columns
        .iter()
        .map(|c| {
            c.pk_position > 0
                && keys.get(c.table_name.as_str()) == Some(&1)
                && c.data_type.eq_ignore_ascii_case("integer")
        })
        .collect();
    for (c, rowid) in columns.iter_mut().zip(rowid_aliases) {
        if rowid {
            c.auto_increment = true;
            c.nullable = false;
        }
    }
    mark_trigger_updates(&mut columns, &triggers);

    let named: std::collections::HashMap<&str, Named> = tables
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                named_constraints(t.sql.as_deref().unwrap_or_default()),
            )
        })
        .collect();
    let name_of = |table: &str, kind: Kind, columns: &str| {
        named
            .get(table)
            .map(|n| n.name_of(kind, &split_list(columns)))
            .unwrap_or_default()
    };
    for i in index_rows.iter_mut().filter(|i| i.name.is_empty()) {
        i.name = name_of(&i.table_name, Kind::Unique, &i.columns);
    }
    for f in &mut fk_rows {
        f.name = name_of(&f.table_name, Kind::ForeignKey, &f.columns);
    }
    let mut names: Vec<String> = tables.into_iter().map(|t| t.name).collect();
    names.sort();
    Ok(Catalogue {
        tables: names,
        columns,
        indexes: index_rows,
        foreign_keys: fk_rows,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unique,
    ForeignKey,
}

/// The `CONSTRAINT name UNIQUE (...)` and `CONSTRAINT name FOREIGN KEY (...)` clauses of
/// a `CREATE TABLE` statement.
#[derive(Debug, Default, PartialEq, Eq)]
struct Named(Vec<(Kind, String, Vec<String>)>);

impl Named {
    /// The name of the constraint of this kind on exactly these columns; empty if it was
    /// declared without one.
    fn name_of(&self, kind: Kind, columns: &[String]) -> String {
        self.0
            .iter()
            .find(|(k, _, c)| *k == kind && c.as_slice() == columns)
            .map(|(_, n, _)| n.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A bare word (a keyword or an identifier).
    Word(String),
    /// A quoted identifier, unquoted.
    Quoted(String),
    Punct(char),
}

impl Token {
    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    fn identifier(&self) -> Option<String> {
        match self {
            Token::Word(w) | Token::Quoted(w) => Some(w.clone()),
            Token::Punct(_) => None,
        }
    }
}

/// Splits SQL into words, quoted identifiers (`"x"`, `` `x` ``, `[x]`) and punctuation,
/// skipping string literals and comments.
fn tokens(sql: &str) -> Vec<Token> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if matches!(c, '"' | '`' | '[' | '\'') {
            let close = if c == '[' { ']' } else { c };
            let mut text = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == close {
                    // A doubled quote is the quote itself.
                    if close != ']' && chars.get(i + 1) == Some(&close) {
                        text.push(close);
                        i += 2;
                        continue;
                    }
                    break;
                }
                text.push(chars[i]);
                i += 1;
            }
            i += 1;
            if c != '\'' {
                out.push(Token::Quoted(text));
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

fn named_constraints(sql: &str) -> Named {
    let tokens = tokens(sql);
    let mut named = Named::default();
    let mut i = 0;
    while i < tokens.len() {
        if !tokens[i].is_keyword("CONSTRAINT") {
            i += 1;
            continue;
        }
        let Some(name) = tokens.get(i + 1).and_then(Token::identifier) else {
            break;
        };
        let mut at = i + 2;
        let kind = match tokens.get(at) {
            Some(t) if t.is_keyword("UNIQUE") => Kind::Unique,
            Some(t)
                if t.is_keyword("FOREIGN")
                    && tokens.get(at + 1).is_some_and(|k| k.is_keyword("KEY")) =>
            {
                at += 1;
                Kind::ForeignKey
            }
            _ => {
                i = at;
                continue;
            }
        };
        at += 1;
        if tokens.get(at) == Some(&Token::Punct('(')) {
            let mut columns = Vec::new();
            at += 1;
            while let Some(t) = tokens.get(at) {
                match t {
                    Token::Punct(')') => break,
                    Token::Punct(_) => {}
                    t => columns.extend(t.identifier()),
                }
                at += 1;
            }
            named.0.push((kind, name, columns));
        }
        i = at;
    }
    named
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_names_from_the_create_statement() {
        let sql = "CREATE TABLE \"purchases\" (\n  user_id INTEGER NOT NULL, -- CONSTRAINT fake UNIQUE (x)\n  note TEXT DEFAULT 'CONSTRAINT no UNIQUE (note)',\n  \
                   CONSTRAINT uq_purchases_payment_id UNIQUE (payment_id),\n  \
                   CONSTRAINT \"fk user\" FOREIGN KEY (user_id, [shop]) REFERENCES users (id),\n  \
                   FOREIGN KEY (product_id) REFERENCES products (id),\n  UNIQUE (a, b)\n)";
        let named = named_constraints(sql);
        assert_eq!(
            named,
            Named(vec![
                (
                    Kind::Unique,
                    "uq_purchases_payment_id".into(),
                    vec!["payment_id".into()]
                ),
                (
                    Kind::ForeignKey,
                    "fk user".into(),
                    vec!["user_id".into(), "shop".into()]
                ),
            ])
        );
        assert_eq!(named.name_of(Kind::Unique, &["a".into(), "b".into()]), "");
        assert_eq!(named.name_of(Kind::ForeignKey, &["product_id".into()]), "");
    }
}
