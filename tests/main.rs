//! One integration-test binary (see Cargo.toml `autotests = false`).

mod support;

mod cli;
mod errors;
mod migrations;
mod models;
mod python_bot;
