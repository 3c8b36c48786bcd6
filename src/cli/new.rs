//! `botdb new NAME`: an empty migration in all three trees.

use std::io::Write;
use std::process::ExitCode;

use super::args::GlobalArgs;
use super::error::CliError;
use super::output::{print_json, Format};
use serde_json::json;

// Create `<version>_<NAME>/{up.sql,down.sql}` in the sqlite, postgres and mysql trees.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The migration's name: a-z, 0-9 and _ only, e.g. add_coupons.
    pub name: String,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let root = migrations_root(global);
    let paths = botdb::ops::new::new_migration(&root, &args.name, chrono::Utc::now().naive_utc())?;
    if global.format == Format::Json {
        print_json(&json!({ "created": paths }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    for path in paths {
        writeln!(out, "{}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The folder holding the three trees: --migrations-dir (or the parent of the one
/// backend's tree it names), else `migrations` here.
pub fn migrations_root(global: &GlobalArgs) -> std::path::PathBuf {
    let dir = match global.source() {
        botdb::Source::Dir(dir) => dir,
        botdb::Source::Embedded => return "migrations".into(),
    };
    let names_a_tree = dir
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| botdb::Backend::ALL.iter().any(|b| b.name() == n));
    match dir.parent() {
        Some(parent) if names_a_tree => parent.to_path_buf(),
        _ => dir,
    }
}
