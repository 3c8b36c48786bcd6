//! The three backends, and every fact botdb knows about each: the one file to read (and
//! extend) for "what is special about MySQL?".

use std::fmt;

/// The three database backends botdb supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// SQLite, the embedded default.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
}

impl Backend {
    /// Every backend, in the order botdb lists them.
    pub const ALL: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::Mysql];

    /// The name used in folders (`migrations/<name>`) and output.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }

    /// The backend a URL scheme names (without any SQLAlchemy `+driver` suffix), and the
    /// scheme the driver is given.
    pub fn from_scheme(scheme: &str) -> Option<(Backend, &'static str)> {
        match scheme {
            "sqlite" | "sqlite3" => Some((Backend::Sqlite, "sqlite")),
            "postgres" | "postgresql" => Some((Backend::Postgres, "postgres")),
            "mysql" | "mariadb" => Some((Backend::Mysql, "mysql")),
            _ => None,
        }
    }

    /// Whether DDL is transactional: a failed migration's transaction undoes its
    /// `CREATE`/`ALTER` too. MySQL/MariaDB commit DDL implicitly, so botdb runs each
    /// migration on its own there and tracks it as `running` until it finishes.
    pub fn transactional_ddl(self) -> bool {
        match self {
            Backend::Sqlite | Backend::Postgres => true,
            Backend::Mysql => false,
        }
    }

    /// The server's port when the URL gives none; `None` for SQLite.
    pub fn default_port(self) -> Option<u16> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some(5432),
            Backend::Mysql => Some(3306),
        }
    }

    /// The database every user of a server may connect to for administration (a database
    /// cannot create or drop itself); `None` for SQLite, where a database is a file.
    pub fn maintenance_database(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some("postgres"),
            Backend::Mysql => Some("information_schema"),
        }
    }

    /// The character that quotes an identifier.
    pub fn identifier_quote(self) -> char {
        match self {
            Backend::Sqlite | Backend::Postgres => '"',
            Backend::Mysql => '`',
        }
    }

    /// Whether a backslash in a string literal is an escape character (MySQL's default
    /// `sql_mode`), so it must be doubled.
    pub fn backslash_escapes(self) -> bool {
        self == Backend::Mysql
    }

    /// How to apply a script with the backend's own command-line client.
    pub fn client_hint(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite3 DATABASE_FILE < THIS_FILE",
            Backend::Postgres => "psql -v ON_ERROR_STOP=1 -f THIS_FILE DATABASE_URL",
            Backend::Mysql => "mysql DATABASE < THIS_FILE",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
