//! `botdb print-sql`: the SQL of a migrate or a revert, for review or to apply by hand.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use botdb::migration::Catalog;
use botdb::ops::print_sql::{self, Plan};
use botdb::{Backend, RevertTarget};

use super::args::GlobalArgs;
use super::error::CliError;

/// Print the SQL that `migrate` (or `revert`) would run now, as one script the database's
/// own client runs as it is. The applied migrations are read from the database without
/// writing anything; with --offline no connection is made at all.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the downgrade script (what `revert` would run) instead.
    #[arg(long)]
    pub revert: bool,

    /// Migrate: stop after VERSION. Revert: revert everything after VERSION.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,

    /// Revert this many migrations (default 1).
    #[arg(long, value_name = "N", requires = "revert", conflicts_with_all = ["to", "all"])]
    pub steps: Option<usize>,

    /// Revert every applied migration.
    #[arg(long, requires = "revert", conflicts_with = "to")]
    pub all: bool,

    /// Make no connection: take the database's version from --from instead.
    #[arg(long)]
    pub offline: bool,

    /// The dialect to print, with --offline (default: from the database URL's scheme).
    #[arg(long, value_enum, requires = "offline")]
    pub dialect: Option<Dialect>,

    /// With --offline: the version the database is at (default: an empty database, or the
    /// newest migration with --revert).
    #[arg(long, value_name = "VERSION", requires = "offline")]
    pub from: Option<String>,

    /// Print one transaction per migration, as `migrate --transaction-per-migration` runs.
    #[arg(long)]
    pub transaction_per_migration: bool,

    /// Write the script to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// A SQL dialect.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Dialect {
    Sqlite,
    Postgres,
    Mysql,
}

impl From<Dialect> for Backend {
    fn from(d: Dialect) -> Self {
        match d {
            Dialect::Sqlite => Backend::Sqlite,
            Dialect::Postgres => Backend::Postgres,
            Dialect::Mysql => Backend::Mysql,
        }
    }
}

impl Args {
    fn plan(&self) -> Plan {
        if !self.revert {
            return Plan::Migrate {
                to: self.to.clone(),
            };
        }
        Plan::Revert(RevertTarget::from_flags(
            self.steps,
            self.to.as_deref(),
            self.all,
        ))
    }
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let source = global.source();
    let (catalog, applied): (Arc<Catalog>, Vec<String>) = if args.offline {
        let dialect = match args.dialect {
            Some(d) => d.into(),
            None => global.url()?.backend(),
        };
        let catalog = Arc::new(Catalog::load(&source, dialect)?);
        let from = match (&args.from, args.revert) {
            (Some(v), _) => Some(v.as_str()),
            (None, true) => catalog.migrations().last().map(|m| m.id.version.as_str()),
            (None, false) => None,
        };
        let applied = print_sql::applied_up_to(&catalog, from)?;
        (catalog, applied)
    } else {
        let url = global.url()?;
        let catalog = Arc::new(Catalog::load(&source, url.backend())?);
        let status = botdb::database::read_status_of(
            &url,
            &global.pool_options(),
            &source,
            Arc::clone(&catalog),
        )
        .await?;
        let applied = status.applied().map(|e| e.version.clone()).collect();
        (catalog, applied)
    };
    let text = print_sql::script(
        &catalog,
        &applied,
        &args.plan(),
        botdb::RunOptions {
            per_migration: args.transaction_per_migration,
            allow_changed: true,
        },
    )?;
    match &args.output {
        Some(path) => std::fs::write(path, text).map_err(|e| {
            CliError::Botdb(botdb::Error::File {
                verb: "write",
                path: path.clone(),
                message: e.to_string(),
            })
        })?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}
