//! One integration-test binary (see Cargo.toml `autotests = false`).

mod support;

mod adoption;
mod arch;
mod cli;
mod config_env;
mod crash;
mod declared_model;
mod direct_url;
mod errors;
mod faults_catalog;
mod faults_config;
mod faults_errors;
mod faults_restore;
mod faults_waits;
mod galera;
mod generate;
mod json_output;
mod library;
mod literals;
mod local;
mod migrations;
mod models;
mod mutants_gaps;
mod no_transaction;
mod pgbouncer;
mod print_sql;
mod python_bot;
mod readme;
mod safety;
mod standby;
mod state;
mod surface;
