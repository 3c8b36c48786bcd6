//! The library's error type.
//!
//! Every message is one line that says what failed, carries the database's own
//! message where there is one, and ends with what to do. URLs inside are always
//! redacted.

use std::path::PathBuf;

/// Everything that can go wrong in botdb.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `.env` file exists but cannot be parsed.
    #[error("cannot read .env: {message}; fix the file or remove it")]
    DotEnv {
        /// The parser's message.
        message: String,
    },

    /// The URL cannot be parsed.
    #[error("invalid database URL `{url}`: {reason}; expected e.g. postgres://USER:PASSWORD@HOST:5432/DB, mysql://USER@HOST:3306/DB or sqlite://PATH")]
    InvalidUrl {
        /// The URL, redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The URL's scheme names no backend botdb knows.
    #[error("unsupported database URL scheme `{scheme}` in `{url}`; use sqlite://PATH, postgres://… or mysql://… (SQLAlchemy forms such as postgresql+asyncpg:// also work)")]
    UnknownScheme {
        /// The scheme as given.
        scheme: String,
        /// The URL, redacted.
        url: String,
    },

    /// The folder for a SQLite file cannot be created.
    #[error("cannot create the folder {} for the SQLite database: {source}; check the path and its permissions", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },

    /// The database could not be reached or refused the connection.
    #[error("cannot connect to {url}: {message}; {hint}")]
    Connect {
        /// The URL, redacted.
        url: String,
        /// The driver's message, scrubbed of the password.
        message: String,
        /// What to do about it.
        hint: &'static str,
    },

    /// The migrations folder given with `--migrations-dir` cannot be used.
    #[error("cannot read migrations from {}: {message}; each migration is a folder <version>_<name> with up.sql and down.sql", path.display())]
    MigrationsDir {
        /// The folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// A migration's up.sql or down.sql failed.
    #[error("{action} of migration {name} failed{statement}: {message}; {outcome}")]
    MigrationFailed {
        /// `applying` or `reverting`.
        action: &'static str,
        /// The migration, `<version>_<name>`.
        name: String,
        /// Which statement failed, e.g. ` at statement 2 (line 5: …)`, when known.
        statement: String,
        /// The database's message.
        message: String,
        /// What state the database is in now, and what to do.
        outcome: String,
    },

    /// A MySQL migration failed part-way (or was interrupted) and nobody resolved it yet.
    #[error("the database is dirty: migration {version} did not finish ({detail}); check the schema by hand, then run `botdb resolve {version} --applied` or `botdb resolve {version} --reverted`")]
    Dirty {
        /// The migration's version.
        version: String,
        /// What failed.
        detail: String,
    },

    /// `resolve` on a migration that is not dirty.
    #[error("migration {0} is not dirty, so there is nothing to resolve; `botdb status` shows the state of each migration")]
    NotDirty(String),

    /// Applied migrations whose up.sql changed after they ran.
    #[error("applied migrations were edited after they ran: {0}; restore their up.sql, or, if the edit is deliberate, record it once with `botdb repair VERSION` (`Database::repair`) or allow it for this run (`RunOptions::allow_changed`)")]
    Changed(String),

    /// A version given on the command line is not among the known migrations.
    #[error("unknown migration `{0}`; `botdb status` lists the known versions")]
    UnknownVersion(String),

    /// `revert --to V` where V is not applied.
    #[error("migration {0} is not applied, so the database cannot be reverted to it; `botdb status` shows what is applied")]
    NotApplied(String),

    /// A revert reached an applied version the binary has no migration for.
    #[error("cannot revert {0}: it is applied but this binary has no migration for it; read the migrations from the folder that has it (`Source::Dir`)")]
    UnknownApplied(String),

    /// `--steps 0`.
    #[error("a revert of 0 steps does nothing; give at least 1 (`RevertTarget::Steps`)")]
    ZeroSteps,

    /// More steps requested than are applied.
    #[error("cannot revert {}: the database has {}; revert everything instead (`RevertTarget::All`)", plural(*.requested, "migration"), plural_applied(*.applied))]
    TooManySteps {
        /// Steps asked for.
        requested: usize,
        /// Migrations applied.
        applied: usize,
    },

    /// A file botdb manages (a backup, a SQLite file) cannot be read, written or removed.
    #[error("cannot {verb} {}: {message}; check the path and its permissions", path.display())]
    File {
        /// What botdb was doing to it: `read`, `write`, `remove`, `list`.
        verb: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        message: String,
    },

    /// A value cannot be written as a SQL literal.
    #[error("cannot render a value as a SQL literal: {reason}")]
    Literal {
        /// Why.
        reason: String,
    },

    /// A revert needs a down.sql the migration does not have.
    #[error("migration {0} has no down.sql, so it cannot be reverted; add one to its folder")]
    NoDownSql(String),

    /// `stamp` or `resolve` found a schema that is not what the migrations produce at the
    /// version it would record.
    #[error("refusing to {action}: the schema is not what the migrations produce there ({}: {differences}); nothing was recorded: bring the schema there, name the version it really is at, or record it anyway (`SchemaCheck::Skip`)", plural(*.count, "difference"))]
    SchemaMismatch {
        /// What was refused, e.g. `stamp 2024-12-20-144707_add_hidden_content`.
        action: String,
        /// How many differences.
        count: usize,
        /// The differences, `; `-separated.
        differences: String,
    },

    /// `stamp` or `resolve` could not build the schema to compare with.
    #[error("cannot {action}: building the schema the migrations produce there failed: {error}; nothing was recorded: fix that, or record it anyway (`SchemaCheck::Skip`)")]
    SchemaUnchecked {
        /// What was refused.
        action: String,
        /// Why the expected schema could not be built.
        error: Box<Error>,
    },

    /// A command that reads or fills an existing SQLite database found no file there.
    #[error("{url} does not exist; create it with `botdb setup` (or `botdb migrate`), or fix the path in the URL; nothing was created")]
    NoSuchDatabase {
        /// The database, as shown.
        url: String,
    },

    /// `repair` on a migration that is not applied.
    #[error("migration {0} is not applied, so it has no recorded checksum to repair; `botdb migrate` applies it")]
    RepairNotApplied(String),

    /// `repair` on a migration whose up.sql is as it was when it ran.
    #[error("migration {0} is applied and its up.sql is unchanged, so there is nothing to repair; `botdb status` marks edited migrations as `changed`")]
    NotChanged(String),

    /// `adopt` found no Alembic database to take over.
    #[error("nothing to adopt: {0}")]
    NothingToAdopt(String),

    /// An Alembic database cannot be taken over.
    #[error("cannot adopt the Alembic database{}: {reason}; nothing was changed: fix the schema by hand, or `botdb stamp` the version it really is at", at_revision(.revision))]
    Adoption {
        /// The Alembic revision found.
        revision: String,
        /// Why not.
        reason: String,
    },

    /// Another process held the migration lock for too long.
    #[error("timed out after {seconds} s waiting for the migration lock on {url}: another botdb is migrating it; wait for it to finish, or wait longer (`Database::with_lock_timeout`)")]
    LockTimeout {
        /// The database, redacted.
        url: String,
        /// How long botdb waited.
        seconds: u64,
    },

    /// The server is a cluster node botdb must not migrate through (a Galera node that
    /// is not `Synced` in the primary component).
    #[error("refusing to use {url}: it is a {cluster}, not Synced in the primary component, so its copy of the schema may be behind the cluster's; wait until the node is Synced (wsrep_local_state_comment) or point botdb at another node, then run again; nothing was changed")]
    NodeNotSynced {
        /// The database, redacted.
        url: String,
        /// What the node says about itself.
        cluster: String,
    },

    /// The lock row's lease ran out while this run held it, and it could not be renewed.
    #[error("the migration lock on {url} was lost while this run held it ({detail}): another botdb may have migrated at the same time; run `botdb status` and check the schema; a longer lease (`Database::with_lock_lease`) avoids it")]
    LockLost {
        /// The database, redacted.
        url: String,
        /// What happened.
        detail: String,
    },

    /// A run failed and botdb put the SQLite backup taken before it back in place.
    #[error(
        "{error}; botdb restored the database from the backup taken before the run ({backup})"
    )]
    Restored {
        /// What failed.
        error: Box<Error>,
        /// The backup now in place.
        backup: String,
    },

    /// A run failed and its backup could not be put back.
    #[error(
        "{error}; putting back the backup taken before the run ({backup}) failed too: {reason}; the database is at {state}: check it, and restore the backup by hand (sqlite3 DATABASE \".restore '{backup}'\") if needed, with the bot stopped"
    )]
    RestoreFailed {
        /// What failed first.
        error: Box<Error>,
        /// The backup.
        backup: String,
        /// Why it could not be restored.
        reason: Box<Error>,
        /// Where the database is left, e.g. `20241220144707 (3 migrations applied)`.
        state: String,
    },

    /// A run failed, and its backup was not put back because that would discard writes
    /// botdb did not make.
    #[error(
        "{error}; botdb did not put back the backup taken before the run ({backup}): {reason}; the database is as the run left it, at {state}: check it, and finish or undo the run by hand"
    )]
    NotRestored {
        /// What failed.
        error: Box<Error>,
        /// The backup, left in place.
        backup: String,
        /// Why it was not put back.
        reason: &'static str,
        /// Where the database is left.
        state: String,
    },

    /// The configuration cannot be used: an empty URL, a bad `botdb.toml`, an unknown
    /// environment name. The message names the source and what to do.
    #[error("{0}")]
    Config(String),

    /// A SQLite backup was taken or restored outside a tokio runtime (migrations and
    /// backups run on any runtime flavour).
    #[error("botdb copies SQLite backups from within a tokio runtime; this one is {0}: call it from async code under #[tokio::main] or #[tokio::test]")]
    Runtime(&'static str),

    /// A destructive command was not confirmed.
    #[error("{0}")]
    Refused(String),

    /// The catalogue holds something the declared model has no word for (a column type or
    /// default outside [`crate::model`]), so the live schema cannot be compared with it.
    #[error("table {table}, column {column}: {what} is not something botdb's model can describe (types: integer, bigint, text, varchar, boolean, double, timestamp; defaults: now, integer, text, boolean); change the column or leave the table out of the schema botdb manages")]
    Unmodelled {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// What the catalogue says, e.g. `type numeric(10,2)`.
        what: String,
    },

    /// A command that writes was pointed at a PostgreSQL hot standby.
    #[error("{url} is a read-only standby (in recovery); run this against the primary")]
    Standby {
        /// The database, redacted.
        url: String,
    },

    /// A query botdb issues itself (bookkeeping, introspection) failed.
    #[error("{doing} failed: {message}; {}", Environment::of(message).map_or(doing.hint(), Environment::hint))]
    Query {
        /// What botdb was doing.
        doing: Doing,
        /// The database's message.
        message: String,
    },
}

impl Error {
    /// A stable snake_case name for the kind of error, for programs that read botdb's
    /// output (`--format json`). A failed run whose backup was then handled
    /// ([`Restored`](Error::Restored) and its siblings) has the code of what failed.
    pub fn code(&self) -> &'static str {
        match self {
            Error::DotEnv { .. } => "dotenv",
            Error::Config(_) => "config",
            Error::SchemaMismatch { .. } => "schema_mismatch",
            Error::SchemaUnchecked { .. } => "schema_unchecked",
            Error::NoSuchDatabase { .. } => "no_such_database",
            Error::Unmodelled { .. } => "unmodelled",
            Error::RepairNotApplied(_) => "not_applied",
            Error::NotChanged(_) => "not_changed",
            Error::InvalidUrl { .. } => "invalid_url",
            Error::UnknownScheme { .. } => "unknown_scheme",
            Error::CreateDir { .. } => "create_dir",
            Error::Connect { .. } => "connect",
            Error::MigrationsDir { .. } => "migrations_dir",
            Error::MigrationFailed { .. } => "migration_failed",
            Error::Dirty { .. } => "dirty",
            Error::NotDirty(_) => "not_dirty",
            Error::Changed(_) => "changed",
            Error::UnknownVersion(_) => "unknown_version",
            Error::NotApplied(_) => "not_applied",
            Error::UnknownApplied(_) => "unknown_applied",
            Error::ZeroSteps => "zero_steps",
            Error::TooManySteps { .. } => "too_many_steps",
            Error::File { .. } => "file",
            Error::Literal { .. } => "literal",
            Error::NoDownSql(_) => "no_down_sql",
            Error::NothingToAdopt(_) => "nothing_to_adopt",
            Error::Adoption { .. } => "adoption",
            Error::LockTimeout { .. } => "lock_timeout",
            Error::NodeNotSynced { .. } => "node_not_synced",
            Error::LockLost { .. } => "lock_lost",
            Error::Restored { error, .. }
            | Error::RestoreFailed { error, .. }
            | Error::NotRestored { error, .. } => error.code(),
            Error::Runtime(_) => "runtime",
            Error::Refused(_) => "refused",
            Error::Standby { .. } => "standby",
            Error::Query { .. } => "query",
        }
    }

    /// The migration the error is about, when it names one: `<version>_<name>` for a
    /// failed migration, the version for a dirty one.
    pub fn migration(&self) -> Option<&str> {
        match self {
            Error::MigrationFailed { name, .. } => Some(name),
            Error::Dirty { version, .. } => Some(version),
            Error::NotDirty(version)
            | Error::NoDownSql(version)
            | Error::NotApplied(version)
            | Error::RepairNotApplied(version)
            | Error::NotChanged(version) => Some(version),
            Error::Restored { error, .. }
            | Error::RestoreFailed { error, .. }
            | Error::NotRestored { error, .. } => error.migration(),
            _ => None,
        }
    }

    /// The failing statement of a failed migration, when botdb found it, e.g.
    /// `statement 2 (line 5: SELEKT 1)`.
    pub fn statement(&self) -> Option<&str> {
        match self {
            Error::MigrationFailed { statement, .. } => {
                let s = statement.trim_start().trim_start_matches("at ");
                (!s.is_empty()).then_some(s)
            }
            Error::Restored { error, .. }
            | Error::RestoreFailed { error, .. }
            | Error::NotRestored { error, .. } => error.statement(),
            _ => None,
        }
    }

    pub(crate) fn query(doing: Doing, e: impl std::fmt::Display) -> Self {
        Error::Query {
            doing,
            message: one_line(&e.to_string()),
        }
    }
}

/// Database messages can span lines (PostgreSQL adds DETAIL/HINT); errors are one line.
pub(crate) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A failure of what is around the SQL rather than of the SQL itself, told by the
/// database's own message (the drivers keep no finer error code for these): another
/// process's lock, a read-only database, a full or failing disk, a damaged file. Retrying
/// the same SQL succeeds once the cause is gone, so editing the migration is the wrong
/// advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Environment {
    /// Another process or session holds a lock the statement needs (SQLITE_BUSY after the
    /// busy timeout, PostgreSQL's lock_timeout, MySQL's lock wait timeout).
    Locked,
    /// The database cannot be written (SQLITE_READONLY, a read-only transaction, server
    /// or mount).
    ReadOnly,
    /// No space left (SQLITE_FULL, ENOSPC, MySQL's "table is full").
    DiskFull,
    /// The disk failed a read or write (SQLITE_IOERR).
    Io,
    /// The SQLite file is not a database or is damaged (SQLITE_NOTADB, SQLITE_CORRUPT).
    Corrupt,
    /// A transaction-mode pooler (PgBouncer) mixed up named prepared statements between
    /// clients: the URL goes through one without `?pgbouncer=true`.
    Pooler,
    /// A Galera node cut off from its cluster's majority (non-Primary) refuses every
    /// statement until it rejoins.
    NoQuorum,
}

impl Environment {
    /// The cause the database's `message` names, if it is one of these.
    pub fn of(message: &str) -> Option<Self> {
        let m = message.to_ascii_lowercase();
        let any = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
        if any(&[
            "database is locked",
            "database table is locked",
            "lock wait timeout exceeded",
            "canceling statement due to lock timeout",
            "could not obtain lock",
        ]) {
            Some(Environment::Locked)
        } else if any(&[
            "readonly database",
            "read-only transaction",
            "read only transaction",
            "read-only option",
            "read-only file system",
            "during recovery",
        ]) {
            Some(Environment::ReadOnly)
        } else if any(&[
            "database or disk is full",
            "no space left on device",
            "disk full",
            "disk is full",
            "could not extend file",
        ]) || (m.contains("the table") && m.contains("is full"))
        {
            Some(Environment::DiskFull)
        } else if m.contains("disk i/o error") {
            Some(Environment::Io)
        } else if any(&["file is not a database", "database disk image is malformed"]) {
            Some(Environment::Corrupt)
        } else if m.contains("wsrep has not yet prepared node for application use") {
            Some(Environment::NoQuorum)
        } else if m.contains("prepared statement \"")
            && (m.contains("already exists") || m.contains("does not exist"))
        {
            Some(Environment::Pooler)
        } else {
            None
        }
    }

    /// What to do about it.
    pub fn hint(self) -> &'static str {
        match self {
            Environment::Locked => {
                "another process holds a lock on the database (the running bot, a sqlite3 shell or another session with a transaction open): let it finish or stop it, then run again"
            }
            Environment::ReadOnly => {
                "the database is read-only here (file or folder permissions, a read-only mount, or a read-only server, transaction or account): make it writable for this user, then run again"
            }
            Environment::DiskFull => "the disk is full: free space and run again",
            Environment::Io => {
                "the disk failed a read or write: check the device and its free space, then run again"
            }
            Environment::Corrupt => {
                "the file is not a SQLite database or is damaged: check the path in the URL, or restore the file from a backup"
            }
            Environment::NoQuorum => {
                "this Galera node has lost its cluster's majority (non-Primary) and refuses every statement: once a majority of the nodes is back, run `botdb status` against a Synced node and settle any migration it shows running or dirty"
            }
            Environment::Pooler => {
                "the URL goes through a transaction-mode pooler such as PgBouncer: add ?pgbouncer=true to it (see \"Behind a pooler, and on replicas\" in the README)"
            }
        }
    }
}

/// What botdb was doing when one of its own queries failed. It names the work in the
/// message and picks the advice, so rewording one cannot change the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Doing {
    /// Listing the database's tables.
    ListTables,
    /// Reading a table's columns.
    ReadColumns,
    /// Reading a table's indexes.
    ReadIndexes,
    /// Reading a table's foreign keys.
    ReadForeignKeys,
    /// Reading a table's triggers.
    ReadTriggers,
    /// Reading diesel's `__diesel_schema_migrations`.
    ReadApplied,
    /// Reading botdb's `__botdb_migrations`.
    ReadTracking,
    /// Reading Alembic's `alembic_version`.
    ReadAlembicVersion,
    /// Checking whether a database exists.
    CheckExists,
    /// Counting the rows a revert would delete.
    CountLosses,
    /// Creating the bookkeeping tables.
    CreateBookkeeping,
    /// Recording migrations applied in one transaction.
    RecordApplied,
    /// Recording the checksums of migrations applied before botdb kept them.
    RecordChecksums,
    /// Recording a migration as running, applied or dirty.
    RecordState,
    /// Recording a reverted migration.
    RecordReverted,
    /// Recording stamped migrations.
    RecordStamped,
    /// Recording how a dirty migration was resolved.
    RecordResolution,
    /// Dropping `alembic_version`.
    DropAlembicVersion,
    /// Inserting demo data.
    Seed,
    /// Loading the migrations compiled into the binary.
    LoadEmbedded,
    /// Finding a migration's SQL text.
    FindMigrationSql,
    /// Finding an embedded migration's SQL text.
    FindEmbeddedSql,
    /// Taking or releasing the migration lock.
    TakeLock,
    /// Opening SQLite's migration lock file.
    OpenLockFile,
    /// Backing a SQLite database up.
    Backup,
    /// Putting a SQLite backup back after a failed run.
    Restore,
    /// Creating a database.
    CreateDatabase,
    /// Dropping a database.
    DropDatabase,
    /// Finding the sessions that hold a table a migration waited for.
    ReadLockHolders,
    /// Reading a connection's session id.
    ReadSession,
    /// Setting or resetting the session's lock wait timeouts.
    BoundLockWaits,
    /// Opening or committing the transaction a query runs in behind a pooler.
    PoolerTransaction,
    /// Asking the server whether it is a standby.
    CheckStandby,
}

impl Doing {
    /// The work, as the message names it.
    pub fn text(self) -> &'static str {
        match self {
            Doing::ListTables => "listing tables",
            Doing::ReadColumns => "reading columns",
            Doing::ReadIndexes => "reading indexes",
            Doing::ReadForeignKeys => "reading foreign keys",
            Doing::ReadTriggers => "reading triggers",
            Doing::ReadApplied => "reading __diesel_schema_migrations",
            Doing::ReadTracking => "reading __botdb_migrations",
            Doing::ReadAlembicVersion => "reading alembic_version",
            Doing::CheckExists => "checking whether the database exists",
            Doing::CountLosses => "counting what the revert would delete",
            Doing::CreateBookkeeping => "creating the bookkeeping tables",
            Doing::RecordApplied => "recording applied migrations",
            Doing::RecordChecksums => "recording checksums",
            Doing::RecordState => "recording the migration's state",
            Doing::RecordReverted => "recording the reverted migration",
            Doing::RecordStamped => "recording the stamped migrations",
            Doing::RecordResolution => "recording the resolution",
            Doing::DropAlembicVersion => "dropping alembic_version",
            Doing::Seed => "seeding demo data",
            Doing::LoadEmbedded => "loading the embedded migrations",
            Doing::FindMigrationSql => "finding the migration's SQL",
            Doing::FindEmbeddedSql => "finding the embedded SQL",
            Doing::TakeLock => "taking the migration lock",
            Doing::OpenLockFile => "opening the migration lock file",
            Doing::Backup => "backing up the SQLite database",
            Doing::Restore => "putting the SQLite backup back",
            Doing::CreateDatabase => "creating the database",
            Doing::DropDatabase => "dropping the database",
            Doing::ReadLockHolders => "finding the sessions that hold the table's lock",
            Doing::ReadSession => "reading the connection's session id",
            Doing::BoundLockWaits => "setting the session's lock wait timeout",
            Doing::PoolerTransaction => "running the queries in a transaction (behind a pooler)",
            Doing::CheckStandby => "checking whether the server is a standby",
        }
    }

    /// What to do when it failed.
    pub fn hint(self) -> &'static str {
        match self {
            Doing::LoadEmbedded | Doing::FindMigrationSql | Doing::FindEmbeddedSql => {
                "the binary's migrations do not match their SQL: rebuild botdb (cargo build), and report it if that does not help"
            }
            Doing::TakeLock
            | Doing::BoundLockWaits
            | Doing::PoolerTransaction
            | Doing::CheckStandby => {
                "check the connection to the database and run again (a lock dies with its session)"
            }
            Doing::OpenLockFile => {
                "check that the SQLite database's folder is writable by this user"
            }
            Doing::Backup => {
                "check free disk space and that the database's folder is writable, or take no backup"
            }
            Doing::Restore => {
                "the restore is all or nothing, so the database is as the failed run left it"
            }
            Doing::CreateDatabase | Doing::DropDatabase => {
                "check that the database user may create and drop databases (or do it by hand)"
            }
            Doing::ListTables
            | Doing::ReadColumns
            | Doing::ReadIndexes
            | Doing::ReadForeignKeys
            | Doing::ReadTriggers
            | Doing::ReadApplied
            | Doing::ReadTracking
            | Doing::ReadAlembicVersion
            | Doing::CheckExists
            | Doing::CountLosses
            | Doing::ReadLockHolders
            | Doing::ReadSession => "check that the database user may read the schema",
            Doing::CreateBookkeeping
            | Doing::RecordApplied
            | Doing::RecordChecksums
            | Doing::RecordState
            | Doing::RecordReverted
            | Doing::RecordStamped
            | Doing::RecordResolution
            | Doing::DropAlembicVersion
            | Doing::Seed => "check that the database user may create and write tables in this database",
        }
    }
}

impl std::fmt::Display for Doing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

/// `1 migration`, `2 migrations`: the one plural helper of the library and the CLI.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `no migration applied`, `1 migration applied`, `2 migrations applied`.
pub fn plural_applied(n: usize) -> String {
    match n {
        0 => "no migration applied".into(),
        n => format!("{} applied", plural(n, "migration")),
    }
}

fn at_revision(revision: &str) -> String {
    if revision.is_empty() {
        String::new()
    } else {
        format!(" (revision {revision})")
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::{Doing, Error};

    #[test]
    fn a_failed_query_says_what_to_do_for_what_it_was_doing() {
        let read = Error::query(Doing::ReadTracking, "permission denied").to_string();
        assert_eq!(
            read,
            "reading __botdb_migrations failed: permission denied; check that the database user may read the schema"
        );
        let write = Error::query(Doing::RecordChecksums, "read-only").to_string();
        assert!(
            write.ends_with("may create and write tables in this database"),
            "{write}"
        );
        let backup = Error::query(Doing::Backup, "disk full").to_string();
        assert!(backup.ends_with("free space and run again"), "{backup}");
        let backup = Error::query(Doing::Backup, "permission denied").to_string();
        assert!(backup.ends_with("or take no backup"), "{backup}");
    }

    #[test]
    fn environment_failures_are_told_from_sql_failures() {
        use super::Environment::*;
        for (message, expected) in [
            ("database is locked", Some(Locked)),
            ("Lock wait timeout exceeded; try restarting transaction", Some(Locked)),
            ("canceling statement due to lock timeout", Some(Locked)),
            ("attempt to write a readonly database", Some(ReadOnly)),
            ("cannot execute CREATE TABLE in a read-only transaction", Some(ReadOnly)),
            ("The MariaDB server is running with the --read-only option so it cannot execute this statement", Some(ReadOnly)),
            ("database or disk is full", Some(DiskFull)),
            ("could not extend file \"base/1/2\": No space left on device", Some(DiskFull)),
            ("The table 'big' is full", Some(DiskFull)),
            ("disk I/O error", Some(Io)),
            ("file is not a database", Some(Corrupt)),
            ("WSREP has not yet prepared node for application use", Some(NoQuorum)),
            ("near \"SELEKT\": syntax error", None),
            ("no such table: full", None),
            ("UNIQUE constraint failed: users.telegram_id", None),
        ] {
            assert_eq!(super::Environment::of(message), expected, "{message}");
        }
    }
}
