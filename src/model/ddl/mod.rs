//! A [`Diff`] written as SQL, one file per dialect: the ALTER forms PostgreSQL and MySQL
//! have, and on SQLite the table rebuild for anything beyond ADD/DROP COLUMN. Every
//! identifier goes through [`identifier`]; the only SQL taken as written is a `--fill`,
//! which the migration's author typed for their own migration.

mod mysql;
mod postgres;
mod sqlite;

use crate::backend::Backend;
use crate::error::Result;
use crate::sql::literal::{identifier, literal, Literal};

use super::diff::{Diff, DEFAULT_FILL};
use super::{Column, Default, Schema};

/// The SQL that applies `diff`, which takes `old` to `new`, in `dialect`. Statements end
/// with `;` and are separated by blank lines; a step that loses data is preceded by a
/// `-- destructive: …` comment.
pub fn render(dialect: Backend, diff: &Diff, old: &Schema, new: &Schema) -> Result<String> {
    let mut out = Sql::default();
    match dialect {
        Backend::Sqlite => sqlite::render(&mut out, diff, old, new)?,
        Backend::Postgres => postgres::render(&mut out, diff)?,
        Backend::Mysql => mysql::render(&mut out, diff)?,
    }
    Ok(out.text)
}

/// SQL text being built.
#[derive(Default)]
struct Sql {
    text: String,
    /// A comment was just written for the next statement: no blank line between them.
    glued: bool,
}

impl Sql {
    /// Adds one statement (the `;` is added here).
    fn statement(&mut self, sql: impl AsRef<str>) {
        if !self.text.is_empty() && !self.glued {
            self.text.push('\n');
        }
        self.glued = false;
        self.text.push_str(sql.as_ref());
        self.text.push_str(";\n");
    }

    /// Adds a `-- why` comment line before the next statement.
    fn comment(&mut self, why: impl AsRef<str>) {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str("-- ");
        self.text.push_str(why.as_ref());
        self.text.push('\n');
        self.glued = true;
    }

    /// Adds a `-- destructive: why` line before the next statement.
    fn destructive(&mut self, why: impl AsRef<str>) {
        self.comment(format!("destructive: {}", why.as_ref()));
    }
}

fn q(dialect: Backend, name: &str) -> Result<String> {
    identifier(dialect, name)
}

/// `"a", "b"`.
fn list(dialect: Backend, names: &[String]) -> Result<String> {
    Ok(names
        .iter()
        .map(|n| q(dialect, n))
        .collect::<Result<Vec<_>>>()?
        .join(", "))
}

/// A default as SQL: `now()` on PostgreSQL and `CURRENT_TIMESTAMP` elsewhere; booleans as
/// `TRUE`/`FALSE` on PostgreSQL and `1`/`0` on the two that store them as integers.
fn default_sql(dialect: Backend, default: &Default) -> Result<String> {
    Ok(match (default, dialect) {
        (Default::Now, Backend::Postgres) => "now()".to_string(),
        (Default::Now, _) => "CURRENT_TIMESTAMP".to_string(),
        (Default::Integer(n), _) => literal(dialect, &Literal::Int(*n))?,
        (Default::Text(s), _) => literal(dialect, &Literal::Str(s))?,
        (Default::Boolean(b), Backend::Postgres) => (if *b { "TRUE" } else { "FALSE" }).to_string(),
        (Default::Boolean(b), _) => (if *b { "1" } else { "0" }).to_string(),
    })
}

/// The SQL that fills `column`'s rows: the author's, or the declared default's.
fn fill_sql(dialect: Backend, column: &Column, fill: &str) -> Result<String> {
    match (&column.default, fill) {
        (Some(default), DEFAULT_FILL) => default_sql(dialect, default),
        _ => Ok(fill.to_string()),
    }
}

/// `CONSTRAINT name FOREIGN KEY (…) REFERENCES table (…) [ON DELETE …]`, as CREATE TABLE
/// and ALTER TABLE … ADD take it on PostgreSQL and MySQL.
fn foreign_key_sql(dialect: Backend, fk: &super::ForeignKey) -> Result<String> {
    Ok(format!(
        "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}){}",
        q(dialect, &fk.name)?,
        list(dialect, &fk.columns)?,
        q(dialect, &fk.references)?,
        list(dialect, &fk.referenced_columns)?,
        on_delete(fk)
    ))
}

/// Drops the tables `diff` drops, children first.
fn drop_tables(out: &mut Sql, dialect: Backend, diff: &Diff) -> Result<()> {
    for t in diff.dropped.iter().rev() {
        out.destructive(format!("drops table {} and every row in it", t.name));
        out.statement(format!("DROP TABLE {}", q(dialect, &t.name)?));
    }
    Ok(())
}

/// Adds the unique constraints and indexes `diff` adds to tables that stay: the same
/// ALTER TABLE and CREATE INDEX on PostgreSQL and MySQL.
fn add_uniques_and_indexes(out: &mut Sql, dialect: Backend, diff: &Diff) -> Result<()> {
    for t in &diff.altered {
        let table = q(dialect, &t.new.name)?;
        for u in &t.added_uniques {
            out.statement(format!(
                "ALTER TABLE {table} ADD CONSTRAINT {} UNIQUE ({})",
                q(dialect, &u.name)?,
                list(dialect, &u.columns)?
            ));
        }
        for i in &t.added_indexes {
            out.statement(format!(
                "CREATE INDEX {} ON {table} ({})",
                q(dialect, &i.name)?,
                list(dialect, &i.columns)?
            ));
        }
    }
    Ok(())
}

/// `ON DELETE CASCADE`, `ON DELETE SET NULL`, or nothing for NO ACTION (every backend's
/// default, and what their catalogues report when nothing was said).
fn on_delete(fk: &super::ForeignKey) -> String {
    match fk.on_delete {
        super::OnDelete::NoAction => String::new(),
        other => format!(" ON DELETE {}", super::diff::on_delete_words(other)),
    }
}
