//! The migrations compiled into the binary: diesel's `embed_migrations!` for each backend,
//! and the SQL text of each file, which diesel keeps private (build.rs generates a table
//! of `include_str!`s from the same folders).

use diesel_migrations::{embed_migrations, EmbeddedMigrations};

use crate::backend::Backend;

/// The SQLite history, compiled into the binary.
pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// The PostgreSQL history, compiled into the binary.
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// The MySQL/MariaDB history, compiled into the binary.
pub const MYSQL: EmbeddedMigrations = embed_migrations!("migrations/mysql");

/// `backend`'s embedded migrations.
pub fn embedded(backend: Backend) -> &'static EmbeddedMigrations {
    match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
        Backend::Mysql => &MYSQL,
    }
}

/// The SQL of one embedded migration, as build.rs found it in `migrations/<backend>/`.
#[derive(Debug)]
pub struct MigrationSql {
    /// The folder name.
    pub name: &'static str,
    /// up.sql.
    pub up: &'static str,
    /// down.sql, if the folder has one.
    pub down: Option<&'static str>,
    /// The hex SHA-256 of up.sql, computed by build.rs.
    pub checksum: &'static str,
}

mod generated {
    use crate::migration::embedded::MigrationSql;
    include!(concat!(env!("OUT_DIR"), "/migration_sql.rs"));
}

/// The embedded SQL text of `backend`'s migrations, in version order.
pub fn embedded_sql(backend: Backend) -> &'static [MigrationSql] {
    match backend {
        Backend::Sqlite => generated::SQLITE,
        Backend::Postgres => generated::POSTGRES,
        Backend::Mysql => generated::MYSQL,
    }
}
