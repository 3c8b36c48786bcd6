//! SQLite's catalogue: sqlite_master and the table-valued pragmas. The pragmas do not
//! report constraint names, so those are read from the `CREATE TABLE` text kept in
//! sqlite_master; a constraint written without `CONSTRAINT name` has none.

use diesel::sql_types::{Integer, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;

use crate::db::sqlite::SqliteAsync;
use crate::error::{Doing, Result};
use crate::introspect::{
    column_default, column_type, foreign_keys, indexes, settle, sorted, split_list,
    updated_at_from_triggers, user_tables, ForeignKeyRow, IndexRow, Introspect, Name, Schema,
};
use crate::model::{Column, Table};

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Integer)]
    not_null: i32,
    #[diesel(sql_type = Nullable<Text>)]
    dflt_value: Option<String>,
    #[diesel(sql_type = Integer)]
    pk: i32,
}

#[derive(QueryableByName)]
struct SqliteIndex {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Integer)]
    is_unique: i32,
    #[diesel(sql_type = Text)]
    origin: String,
    #[diesel(sql_type = Text)]
    columns: String,
}

#[derive(QueryableByName)]
struct SqliteForeignKey {
    #[diesel(sql_type = Text)]
    columns: String,
    #[diesel(sql_type = Text)]
    references: String,
    #[diesel(sql_type = Text)]
    referenced_columns: String,
    #[diesel(sql_type = Text)]
    on_delete: String,
}

#[derive(QueryableByName)]
struct Sql {
    #[diesel(sql_type = Nullable<Text>)]
    sql: Option<String>,
}

impl Introspect for SqliteAsync {
    async fn tables(&mut self) -> Result<Vec<String>> {
        let names: Vec<Name> = catalogue_rows!(self, Doing::ListTables, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'");
        Ok(sorted(names))
    }

    async fn schema(&mut self) -> Result<Schema> {
        let mut schema = Schema::default();
        for name in user_tables(self.tables().await?) {
            let columns: Vec<SqliteColumn> = catalogue_rows!(
                self,
                Doing::ReadColumns,
                "SELECT name, type AS data_type, \"notnull\" AS not_null, dflt_value, pk \
                 FROM pragma_table_info(?) ORDER BY cid",
                &name
            );
            let sql: Vec<Sql> = catalogue_rows!(
                self,
                Doing::ReadColumns,
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                &name
            );
            let text = sql
                .into_iter()
                .next()
                .and_then(|s| s.sql)
                .unwrap_or_default();
            let named = named_constraints(&text);
            // Primary-key indexes (origin 'pk') are implied by the columns' pk flag.
            let index_rows: Vec<SqliteIndex> = catalogue_rows!(self, Doing::ReadIndexes, "SELECT il.name AS name, il.\"unique\" AS is_unique, il.origin AS origin, \
                 (SELECT group_concat(name, ',') FROM (SELECT ii.name FROM pragma_index_info(il.name) ii ORDER BY ii.seqno)) AS columns \
                 FROM pragma_index_list(?) il WHERE il.origin <> 'pk'", &name);
            let fk_rows: Vec<SqliteForeignKey> = catalogue_rows!(
                self,
                Doing::ReadForeignKeys,
                "SELECT group_concat(\"from\", ',') AS columns, \"table\" AS \"references\", \
                 group_concat(\"to\", ',') AS referenced_columns, on_delete \
                 FROM (SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq) GROUP BY id",
                &name
            );
            let triggers: Vec<Name> = catalogue_rows!(self, Doing::ReadTriggers, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? ORDER BY name", &name);

            let mut table = Table::new(&name);
            let mut key: Vec<(i32, String)> = columns
                .iter()
                .filter(|c| c.pk > 0)
                .map(|c| (c.pk, c.name.clone()))
                .collect();
            key.sort();
            for c in &columns {
                let ty = column_type(&name, &c.name, &c.data_type)?;
                // Only a lone `INTEGER` primary key is the rowid's alias, numbered on insert.
                let rowid =
                    key.len() == 1 && c.pk > 0 && c.data_type.eq_ignore_ascii_case("integer");
                table.columns.push(Column {
                    name: c.name.clone(),
                    ty,
                    nullable: c.not_null == 0 && !rowid,
                    default: column_default(&name, &c.name, ty, c.dflt_value.as_deref())?,
                    auto_increment: rowid,
                });
            }
            table.primary_key = key.into_iter().map(|(_, c)| c).collect();
            indexes(
                &mut table,
                index_rows
                    .into_iter()
                    .map(|i| {
                        let cols = split_list(&i.columns);
                        // An automatic index backs a UNIQUE constraint: name it after that.
                        let name = if i.origin == "u" {
                            named.name_of(Kind::Unique, &cols)
                        } else {
                            i.name
                        };
                        IndexRow {
                            name,
                            is_unique: i.is_unique != 0,
                            columns: i.columns,
                        }
                    })
                    .collect(),
            );
            foreign_keys(
                &mut table,
                fk_rows
                    .into_iter()
                    .map(|f| ForeignKeyRow {
                        name: named.name_of(Kind::ForeignKey, &split_list(&f.columns)),
                        columns: f.columns,
                        references: f.references,
                        referenced_columns: f.referenced_columns,
                        on_delete: f.on_delete,
                    })
                    .collect(),
            )?;
            table.updated_at = updated_at_from_triggers(&table, &triggers);
            settle(&mut table);
            schema.tables.push(table);
        }
        Ok(schema)
    }
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
