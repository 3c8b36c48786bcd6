//! `botdb print-sql`: the SQL of a migrate or a revert, for review or to apply by hand.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use botdb::migration::Catalog;
use botdb::ops::print_sql::{self, Plan};
use botdb::{Backend, RevertTarget};

use super::args::GlobalArgs;
use super::error::CliError;
use super::output::{print_json, Format};
use serde_json::json;

// Print the SQL that `migrate` (or `revert`) would run now, as one script the database's
// own client runs as it is. The applied migrations are read from the database without
// writing anything; with --offline no connection is made at all.
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
    let json = global.format == Format::Json;
    match &args.output {
        Some(path) => {
            // Offline, the URL only says which file not to overwrite; a bad one does not matter.
            let url = global.url().ok();
            let database = url.as_ref().and_then(|u| u.sqlite_path());
            write_output(path, &text, database)?;
            if json {
                print_json(&json!({
                    "dialect": catalog.backend(),
                    "written": path.display().to_string(),
                }))?;
            }
        }
        None if json => print_json(&json!({ "dialect": catalog.backend(), "sql": text }))?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the script to `path` whole or not at all: to a temporary file beside it, then
/// renamed over it (through a symlink, onto the file it points to). Refuses a path that
/// is the SQLite `database` (however spelled, or a hard link to it), one of its journal
/// files or its lock file, or any other SQLite database.
fn write_output(path: &Path, text: &str, database: Option<&Path>) -> Result<(), CliError> {
    let refuse = |what: String| {
        CliError::Botdb(botdb::Error::Refused(format!(
            "refusing to write the script to {}: {what}; nothing was written: give -o a new file, or a script file to replace",
            path.display()
        )))
    };
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if let Some(database) = database {
        if is_same_file(&target, database) {
            return Err(refuse(format!("it is the database {}", database.display())));
        }
        if let Some(suffix) = ["-journal", "-wal", "-shm", ".lock"]
            .into_iter()
            .find(|suffix| is_companion(&target, database, suffix))
        {
            return Err(refuse(format!(
                "it is the {suffix} file of the database {}",
                database.display()
            )));
        }
    }
    if is_sqlite_database(&target) {
        return Err(refuse("it is a SQLite database".into()));
    }
    write_atomically(&target, text.as_bytes()).map_err(|e| {
        CliError::Botdb(botdb::Error::File {
            verb: "write",
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    })
}

/// Whether two paths name one file: the same path once resolved, or the same inode.
fn is_same_file(a: &Path, b: &Path) -> bool {
    let (Ok(a_meta), Ok(b_meta)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (a_meta.dev(), a_meta.ino()) == (b_meta.dev(), b_meta.ino()) {
            return true;
        }
    }
    let _ = (a_meta, b_meta);
    std::fs::canonicalize(a).ok() == std::fs::canonicalize(b).ok()
}

/// Whether `target` is `database` with `suffix` appended (SQLite's journal, WAL and
/// shared-memory files, botdb's lock file), whether or not either exists yet.
fn is_companion(target: &Path, database: &Path, suffix: &str) -> bool {
    let resolve = |p: &Path| -> Option<PathBuf> {
        let parent = match p.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        Some(std::fs::canonicalize(parent).ok()?.join(p.file_name()?))
    };
    let (Some(target), Some(database)) = (resolve(target), resolve(database)) else {
        return false;
    };
    let mut companion = database.into_os_string();
    companion.push(suffix);
    target.as_os_str() == companion
}

/// Whether the file at `path` starts with SQLite's header.
fn is_sqlite_database(path: &Path) -> bool {
    let mut header = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok_and(|()| &header == b"SQLite format 3\0")
}

/// `bytes` at `target`, all or nothing: a crash leaves the old file or the new one.
fn write_atomically(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let folder = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = target
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut temporary = std::ffi::OsString::from(".");
    temporary.push(name);
    temporary.push(format!(".botdb-{}.tmp", std::process::id()));
    let temporary = folder.join(temporary);
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)?;
        file.write_all(bytes)?;
        if let Ok(old) = std::fs::metadata(target) {
            file.set_permissions(old.permissions())?;
        }
        file.sync_all()?;
        std::fs::rename(&temporary, target)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written?;
    // The rename itself survives a crash once the folder is on disk.
    if let Ok(dir) = std::fs::File::open(folder) {
        let _ = dir.sync_all();
    }
    Ok(())
}
