//! `botdb new NAME`: an empty migration in all three trees.

use std::io::Write;
use std::process::ExitCode;

use super::args::GlobalArgs;
use super::error::CliError;

/// Create `<version>_<NAME>/{up.sql,down.sql}` in the sqlite, postgres and mysql trees.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The migration's name: a-z, 0-9 and _ only, e.g. add_coupons.
    pub name: String,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let root = migrations_root(global);
    let paths = botdb::ops::new::new_migration(&root, &args.name, chrono::Utc::now().naive_utc())
        .map_err(|e| CliError::Other(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    for path in paths {
        writeln!(out, "{}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The folder holding the three trees: --migrations-dir, else `migrations` here.
pub fn migrations_root(global: &GlobalArgs) -> std::path::PathBuf {
    global
        .migrations_dir
        .clone()
        .unwrap_or_else(|| "migrations".into())
}
