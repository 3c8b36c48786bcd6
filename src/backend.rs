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

    /// SQL that checks the deferred constraints now, inside a transaction, and defers them
    /// again: what a COMMIT would check, for work that runs in a savepoint of a transaction
    /// opened by someone else (a transaction-mode pooler's), whose release checks nothing.
    /// `None` where no such transaction is opened (SQLite has no pooler; MySQL no
    /// deferred constraints). Deferring again also defers the constraints that were
    /// `DEFERRABLE INITIALLY IMMEDIATE`; the next such check still catches them.
    pub fn check_deferred_sql(self) -> Option<&'static str> {
        match self {
            Backend::Postgres => {
                Some("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")
            }
            Backend::Sqlite | Backend::Mysql => None,
        }
    }

    /// Whether a column added back by a revert can take its old place. MySQL says where
    /// (`AFTER`) and SQLite rebuilds the table; PostgreSQL's ADD COLUMN only appends.
    pub fn places_columns(self) -> bool {
        match self {
            Backend::Sqlite | Backend::Mysql => true,
            Backend::Postgres => false,
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

    /// How botdb keeps two migrations of one database apart on this backend, given what
    /// the server said about itself (`cluster`, read when the lock is taken).
    ///
    /// A server's advisory locks serve when they exclude every session that may migrate
    /// the database. On a MariaDB Galera cluster `GET_LOCK` is node-local (MariaDB's
    /// "Galera Cluster known limitations"), so botdb uses its lock row there; an engine
    /// with no advisory locks at all (CockroachDB) would use it too.
    pub fn lock_method(self, cluster: Option<&Cluster>) -> LockMethod {
        match (self, cluster) {
            (Backend::Sqlite, _) => LockMethod::FileLock,
            (_, Some(Cluster::Galera { .. })) => LockMethod::LeaseRow,
            (Backend::Postgres | Backend::Mysql, None) => LockMethod::AdvisoryLock,
        }
    }

    /// Whether the database's `message` says a write lost to a concurrent one and the
    /// same transaction may simply run again: MySQL/MariaDB error 1213, which a Galera
    /// node also returns when certification fails (another node's write to the same row
    /// was ordered first); PostgreSQL's serialization failure (40001), CockroachDB's
    /// restart request.
    pub fn write_conflict(self, message: &str) -> bool {
        match self {
            Backend::Sqlite => false,
            Backend::Mysql => {
                message.contains("Deadlock found when trying to get lock")
                    || message.contains("WSREP detected deadlock/conflict")
            }
            Backend::Postgres => {
                message.contains("could not serialize access")
                    || message.contains("restart transaction")
            }
        }
    }

    /// The SQL expression for the server's current time in UTC with sub-second precision,
    /// which the lock row's lease is measured in (one clock for every writer of the row).
    pub fn utc_now_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => "strftime('%Y-%m-%d %H:%M:%f', 'now')",
            Backend::Postgres => "(now() AT TIME ZONE 'UTC')",
            Backend::Mysql => "UTC_TIMESTAMP(6)",
        }
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

/// What botdb learns about a server when it takes the migration lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cluster {
    /// A MariaDB Galera node (`wsrep_on`): multi-primary with synchronous replication.
    Galera {
        /// `wsrep_cluster_size`: the nodes in this node's component.
        size: u64,
        /// `wsrep_local_state_comment`: `Synced` when the node is a full member; `Donor/Desynced`,
        /// `Joining`, `Joined` or `Initialized` otherwise.
        state: String,
        /// `wsrep_cluster_status`: `Primary` when the node's component has quorum.
        status: String,
    },
}

impl Cluster {
    /// Whether botdb may migrate through this node: a Galera node must be `Synced` in the
    /// primary component, or its view of the schema may be behind the cluster's.
    pub fn usable(&self) -> bool {
        match self {
            Cluster::Galera { state, status, .. } => state == "Synced" && status == "Primary",
        }
    }
}

impl fmt::Display for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cluster::Galera {
                size,
                state,
                status,
            } => write!(
                f,
                "Galera node, {state}, component {status} with {size} node{}",
                if *size == 1 { "" } else { "s" }
            ),
        }
    }
}

/// How botdb keeps two migrations of one database apart (see [`Backend::lock_method`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMethod {
    /// An exclusive OS lock on `<database file>.lock` (SQLite).
    FileLock,
    /// The server's session advisory lock (`pg_advisory_lock`, `GET_LOCK`).
    AdvisoryLock,
    /// A row in `__botdb_lock` taken by a committed write, with a lease its holder renews:
    /// for engines whose advisory locks do not exclude every session (Galera) or that have
    /// none.
    LeaseRow,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn galera_gets_the_lock_row_and_its_certification_failures_are_retried() {
        let galera = Cluster::Galera {
            size: 3,
            state: "Synced".into(),
            status: "Primary".into(),
        };
        assert_eq!(Backend::Mysql.lock_method(None), LockMethod::AdvisoryLock);
        assert_eq!(
            Backend::Mysql.lock_method(Some(&galera)),
            LockMethod::LeaseRow
        );
        assert_eq!(Backend::Sqlite.lock_method(None), LockMethod::FileLock);
        assert!(galera.usable());
        let desynced = Cluster::Galera {
            size: 3,
            state: "Donor/Desynced".into(),
            status: "Primary".into(),
        };
        assert!(!desynced.usable());
        assert!(Backend::Mysql
            .write_conflict("Deadlock found when trying to get lock; try restarting transaction"));
        assert!(!Backend::Mysql.write_conflict("Duplicate column name 'hidden_content'"));
    }
}
