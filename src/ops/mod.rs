//! The features built on [`Database`](crate::Database): each file adds its own
//! `impl Database` or free functions, and one command of the CLI uses it.

pub mod adopt;
pub mod alembic;
pub mod backup;
pub mod check;
pub mod generate;
pub mod guard;
pub mod migrate;
pub mod new;
pub mod print_sql;
pub mod scratch;
pub mod seed;
pub mod setup;
pub mod trees;
