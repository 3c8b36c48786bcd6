//! The declared model: the one source of the bot's schema.
//!
//! A [`Schema`] is plain data: tables with logical column types, keys, unique constraints,
//! indexes, foreign keys, and how `updated_at` is kept current. The bot's own schema is
//! declared in [`bot`]. Everything else flows from it: `src/schema.rs` is printed from it,
//! `check` compares the live database with it, and `generate` writes the migration that
//! takes the history to it.
//!
//! It sits at the bottom of the crate with `schema.rs` and `models.rs`: it imports nothing
//! but `error` and `backend`.

pub mod bot;
pub mod ddl;
pub mod diff;
pub mod schema_rs;
pub mod snapshot;

/// The name of the trigger botdb's migrations create to keep a table's `updated_at`
/// (SQLite and PostgreSQL; MySQL uses ON UPDATE).
pub fn updated_at_trigger(table: &str) -> String {
    format!("trg_{table}_updated_at")
}

use serde::{Deserialize, Serialize};

/// A whole schema: tables in declaration order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// Every table, in the order they are declared (parents before children).
    pub tables: Vec<Table>,
}

/// One table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// A one-line description (the doc comment in `schema.rs`).
    pub doc: Option<String>,
    /// Columns in their physical order.
    pub columns: Vec<Column>,
    /// The primary key's columns.
    pub primary_key: Vec<String>,
    /// Unique constraints.
    pub uniques: Vec<Unique>,
    /// Plain (non-unique) indexes.
    pub indexes: Vec<Index>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
    /// The column the database keeps at the time of the row's last update, if any
    /// (a trigger on SQLite and PostgreSQL, `ON UPDATE CURRENT_TIMESTAMP` on MySQL).
    pub updated_at: Option<String>,
}

/// A column's logical type: what it holds, whichever backend stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ColumnType {
    /// A 32-bit integer.
    Integer,
    /// A 64-bit integer.
    BigInt,
    /// Text of any length.
    Text,
    /// Short text (VARCHAR; 255 characters on MySQL).
    Varchar,
    /// A boolean.
    Boolean,
    /// A 64-bit float.
    Double,
    /// A date and time without a time zone.
    Timestamp,
}

/// A column's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Default {
    /// The time of the insert (`CURRENT_TIMESTAMP`, `now()`).
    Now,
    /// An integer.
    Integer(i64),
    /// A string.
    Text(String),
    /// A boolean.
    Boolean(bool),
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its logical type.
    pub ty: ColumnType,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// Its default, if any.
    pub default: Option<Default>,
    /// Numbered by the database on insert (SERIAL, AUTO_INCREMENT, SQLite's rowid alias).
    pub auto_increment: bool,
}

/// A named unique constraint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Unique {
    /// The constraint's name, e.g. `uq_purchases_payment_id`. Empty when it was read from
    /// a database that keeps no name for it (SQLite's `UNIQUE (telegram_id)` without
    /// `CONSTRAINT name`): see [`Unique::is_named`].
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<String>,
}

/// A named, non-unique index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Index {
    /// The index's name, e.g. `ix_purchases_user_id`.
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<String>,
}

/// What deleting a referenced row does to the rows that reference it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OnDelete {
    /// The delete is refused while rows reference it (`NO ACTION`, `RESTRICT`).
    NoAction,
    /// The referencing rows are deleted too.
    Cascade,
    /// The referencing columns are set to NULL.
    SetNull,
}

/// A named foreign key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ForeignKey {
    /// The constraint's name, e.g. `purchases_user_id_fkey`. Empty when it was read from
    /// a database that keeps no name for it (SQLite's `FOREIGN KEY` without `CONSTRAINT
    /// name`): see [`ForeignKey::is_named`].
    pub name: String,
    /// The referencing columns.
    pub columns: Vec<String>,
    /// The referenced table.
    pub references: String,
    /// The referenced columns.
    pub referenced_columns: Vec<String>,
    /// The ON DELETE action.
    pub on_delete: OnDelete,
}

impl Schema {
    /// A table by name.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// A table by name, to change it.
    pub fn table_mut(&mut self, name: &str) -> Option<&mut Table> {
        self.tables.iter_mut().find(|t| t.name == name)
    }
}

impl Table {
    /// An empty table called `name`, to fill with the builder methods below.
    pub fn new(name: &str) -> Table {
        Table {
            name: name.to_string(),
            doc: None,
            columns: Vec::new(),
            primary_key: Vec::new(),
            uniques: Vec::new(),
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
            updated_at: None,
        }
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Sets the one-line description.
    pub fn doc(mut self, doc: &str) -> Table {
        self.doc = Some(doc.to_string());
        self
    }

    /// Adds a column.
    pub fn column_def(mut self, column: Column) -> Table {
        self.columns.push(column);
        self
    }

    /// Sets the primary key.
    pub fn primary_key(mut self, columns: &[&str]) -> Table {
        self.primary_key = strings(columns);
        self
    }

    /// Adds a named unique constraint.
    pub fn unique(mut self, name: &str, columns: &[&str]) -> Table {
        self.uniques.push(Unique {
            name: name.to_string(),
            columns: strings(columns),
        });
        self
    }

    /// Adds a named index.
    pub fn index(mut self, name: &str, columns: &[&str]) -> Table {
        self.indexes.push(Index {
            name: name.to_string(),
            columns: strings(columns),
        });
        self
    }

    /// Adds a named single-column foreign key to `references(id)`.
    pub fn foreign_key(
        mut self,
        name: &str,
        column: &str,
        references: &str,
        on_delete: OnDelete,
    ) -> Table {
        self.foreign_keys.push(ForeignKey {
            name: name.to_string(),
            columns: vec![column.to_string()],
            references: references.to_string(),
            referenced_columns: vec!["id".to_string()],
            on_delete,
        });
        self
    }

    /// Says which column the database keeps at the time of the last update.
    pub fn maintain_updated_at(mut self, column: &str) -> Table {
        self.updated_at = Some(column.to_string());
        self
    }
}

impl Column {
    /// A NOT NULL column without a default.
    pub fn new(name: &str, ty: ColumnType) -> Column {
        Column {
            name: name.to_string(),
            ty,
            nullable: false,
            default: None,
            auto_increment: false,
        }
    }

    /// Allows NULL.
    pub fn nullable(mut self) -> Column {
        self.nullable = true;
        self
    }

    /// Sets the default.
    pub fn default(mut self, default: Default) -> Column {
        self.default = Some(default);
        self
    }

    /// Numbered by the database on insert.
    pub fn auto_increment(mut self) -> Column {
        self.auto_increment = true;
        self
    }
}

impl Unique {
    /// Whether the name is known. An unnamed constraint matches a named one on the same
    /// columns: the database could not have said what it is called.
    pub fn is_named(&self) -> bool {
        !self.name.is_empty()
    }
}

impl ForeignKey {
    /// Whether the name is known (see [`Unique::is_named`]).
    pub fn is_named(&self) -> bool {
        !self.name.is_empty()
    }
}

impl Schema {
    /// The names of the tables, in order.
    pub fn table_names(&self) -> Vec<&str> {
        self.tables.iter().map(|t| t.name.as_str()).collect()
    }

    /// Whether a table called `name` exists.
    pub fn has_table(&self, name: &str) -> bool {
        self.table(name).is_some()
    }

    /// A column of a table, if both exist.
    pub fn column(&self, table: &str, column: &str) -> Option<&Column> {
        self.table(table)?.column(column)
    }
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}
