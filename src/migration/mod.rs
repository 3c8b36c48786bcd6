//! The migration engine, as diesel_migrations is to diesel_cli: which migrations exist,
//! what is applied, and applying or reverting them on any diesel connection with a
//! migration harness. It knows nothing of pools, introspection or the features built on
//! top (`db/`, `introspect/`, `ops/`).

pub mod apply;
pub mod bookkeeping;
pub mod catalog;
pub mod embedded;
pub mod harness;
pub mod plan;
pub mod report;
pub mod revert;
pub mod status;

pub use bookkeeping::{TrackState, Tracked, BOOKKEEPING_TABLE, BOTDB_TABLE};
pub use catalog::{normalize_version, Catalog, MigrationId, MigrationText, Source};
pub use embedded::{MigrationSql, MYSQL, POSTGRES, SQLITE};
pub use plan::{RevertTarget, RunOptions};
pub use report::{Action, Adoption, Report, Stamped, Step};
pub use status::{Entry, Outlook, State, Status};
