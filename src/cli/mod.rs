//! Command-line interface: the clap types, shared options, and dispatch to one module
//! per subcommand. Results go to stdout; logs and errors go to stderr.

mod adopt;
mod check;
mod migrate;
mod print_sql;
mod redo;
mod reset;
mod resolve;
mod revert;
mod seed;
mod setup;
mod stamp;
mod status;
mod verify;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use botdb::config::{self, UrlSource};
use botdb::{Database, DatabaseUrl, PoolOptions, Report, Source, Step};
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Exit code when a check (`status --check`, `check`, `verify`) fails.
pub const EXIT_CHECK_FAILED: u8 = 1;
/// Exit code for every error.
pub const EXIT_ERROR: u8 = 2;
/// Exit code after Ctrl-C or SIGTERM.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Schema migrations for the Telegram shop bot's database (SQLite, PostgreSQL, MySQL/MariaDB).
///
/// The database URL comes from --database-url, else DATABASE_URL, else the bot's DB_URL
/// (each may be set in a .env file), else the embedded default sqlite://data/botdb.sqlite3.
///
/// Exit codes: 0 success, 1 a check failed (status --check, check, verify), 2 an error,
/// 130 interrupted by Ctrl-C or SIGTERM.
// No Debug: `database_url` is the URL as typed, password included.
#[derive(Parser)]
#[command(
    name = "botdb",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Args)]
pub struct GlobalArgs {
    /// Database URL: sqlite://PATH, postgres://USER:PASS@HOST/DB, mysql://USER:PASS@HOST/DB,
    /// or the bot's SQLAlchemy form (postgresql+asyncpg://…). [env: DATABASE_URL, DB_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Read migrations from this folder instead of the embedded ones: either one backend's
    /// folder, or a root with sqlite/, postgres/ and mysql/ inside.
    #[arg(long, global = true, value_name = "DIR")]
    pub migrations_dir: Option<PathBuf>,

    /// Most connections in the pool.
    #[arg(long, global = true, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub pool_size: u32,

    /// Seconds to wait for a connection before giving up.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub connect_timeout: u64,

    /// Wait up to SECONDS (default 60) for the database to accept connections, retrying
    /// with backoff: for deploys that start the database and the bot together.
    #[arg(long, global = true, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "60",
          value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub wait: Option<u64>,

    /// Seconds migrate, revert, redo, stamp, adopt and resolve wait for another botdb's
    /// migration lock on the same database before giving up (0: do not wait).
    #[arg(long, global = true, value_name = "SECS", default_value_t = 60)]
    pub lock_timeout: u64,

    /// More log output on stderr (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations (all, or up to --to).
    Migrate(migrate::Args),
    /// Revert applied migrations (one by default).
    Revert(revert::Args),
    /// Revert the newest migrations and apply them again (for migration authors).
    Redo(redo::Args),
    /// List every migration as applied or pending. Never writes to the database.
    Status(status::Args),
    /// Print the SQL a migrate (or, with --revert, a revert) would run, for review or to
    /// apply by hand. Reads the database read-only, or not at all with --offline.
    PrintSql(print_sql::Args),
    /// Record migrations as applied without running them (like Alembic's stamp).
    Stamp(stamp::Args),
    /// Take over a database the Python bot's Alembic managed (migrate does this by itself).
    Adopt(adopt::Args),
    /// Compare the live schema with the migrations and src/schema.rs; exit 1 on drift.
    Check(check::Args),
    /// Apply, revert and re-apply every migration on a scratch database, checking each step.
    Verify(verify::Args),
    /// Create the database if it does not exist, then migrate it.
    Setup(setup::Args),
    /// Drop the database and set it up again (local development; needs --yes).
    Reset(reset::Args),
    /// Load demo data (idempotent).
    Seed(seed::Args),
    /// Settle a migration MySQL left half-applied ("dirty") after fixing the schema by hand.
    Resolve(resolve::Args),
}

/// Sends tracing output to stderr, at the level -v/-q ask for unless RUST_LOG is set.
pub fn init_logging(args: &GlobalArgs) {
    let default = match (args.quiet, args.verbose) {
        (true, _) => "error",
        (false, 0) => "warn,botdb=info",
        (false, 1) => "info,botdb=debug",
        (false, _) => "debug,botdb=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .without_time()
        .with_target(false)
        .init();
}

/// Runs the parsed command on a multi-threaded runtime (diesel's migration harness needs
/// `block_in_place`, which a current-thread runtime does not allow).
pub fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Other(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(async {
        // The command runs as a task, so a signal is noticed even while a migration
        // blocks its worker thread.
        let command = tokio::spawn(dispatch(cli));
        tokio::select! {
            finished = command => finished.map_err(|e| CliError::Other(format!("botdb failed unexpectedly ({e}); please report it with the command you ran")))?,
            signal = interrupted() => {
                // Exiting closes the connections: PostgreSQL and SQLite roll the open
                // transaction back, and every backend releases the migration lock.
                let _ = writeln!(
                    io::stderr(),
                    "error: interrupted by {signal}: the open transaction is rolled back by the database and the migration lock released (on MySQL/MariaDB a migration already running is left dirty: see `botdb status`)"
                );
                Ok(ExitCode::from(EXIT_INTERRUPTED))
            }
        }
    });
    // After a signal a SQLite statement may still be running on a blocking thread;
    // dropping the runtime would wait for it to finish.
    runtime.shutdown_background();
    result
}

async fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Migrate(args) => migrate::run(args, &cli.global).await,
        Command::Revert(args) => revert::run(args, &cli.global).await,
        Command::Redo(args) => redo::run(args, &cli.global).await,
        Command::Status(args) => status::run(args, &cli.global).await,
        Command::PrintSql(args) => print_sql::run(args, &cli.global).await,
        Command::Stamp(args) => stamp::run(args, &cli.global).await,
        Command::Adopt(args) => adopt::run(args, &cli.global).await,
        Command::Check(args) => check::run(args, &cli.global).await,
        Command::Verify(args) => verify::run(args, &cli.global).await,
        Command::Setup(args) => setup::run(args, &cli.global).await,
        Command::Reset(args) => reset::run(args, &cli.global).await,
        Command::Seed(args) => seed::run(args, &cli.global).await,
        Command::Resolve(args) => resolve::run(args, &cli.global).await,
    }
}

/// Waits for Ctrl-C or SIGTERM, and names it.
async fn interrupted() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "Ctrl-C";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
    }
}

impl GlobalArgs {
    /// The URL to use, logged with where it came from.
    fn url(&self) -> Result<DatabaseUrl, CliError> {
        let (url, source) = config::resolve(self.database_url.as_deref())?;
        match source {
            UrlSource::Explicit => tracing::debug!(%url, "database from --database-url"),
            UrlSource::Env(var) => tracing::debug!(%url, "database from {var}"),
            UrlSource::Default => {
                tracing::debug!(%url, "no database configured; using the embedded SQLite default")
            }
        }
        Ok(url)
    }

    fn pool_options(&self) -> PoolOptions {
        PoolOptions {
            max_size: self.pool_size,
            connect_timeout: Duration::from_secs(self.connect_timeout),
            read_only: false,
            wait: self.wait.map(Duration::from_secs),
        }
    }

    fn source(&self) -> Source {
        self.migrations_dir
            .clone()
            .map_or(Source::Embedded, Source::Dir)
    }

    /// Connects for a command that changes the schema, and takes the migration lock: the
    /// command's backup, run and any restore all happen under it.
    async fn connect_locked(&self) -> Result<(Database, botdb::lock::MigrationLock), CliError> {
        let db = self.connect().await?;
        let lock = db.lock(Duration::from_secs(self.lock_timeout)).await?;
        Ok((db.assume_locked(), lock))
    }

    /// Connects for a command that may write.
    async fn connect(&self) -> Result<Database, CliError> {
        let db = Database::connect_with(self.url()?, &self.pool_options()).await?;
        Ok(db
            .with_source(self.source())
            .with_lock_timeout(Duration::from_secs(self.lock_timeout)))
    }
}

/// What can make the command fail.
#[derive(Debug)]
pub enum CliError {
    /// botdb failed.
    Botdb(botdb::Error),
    /// Writing the output failed.
    Output(io::Error),
    /// Anything else, already worded for the user.
    Other(String),
}

impl From<botdb::Error> for CliError {
    fn from(e: botdb::Error) -> Self {
        CliError::Botdb(e)
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        CliError::Output(e)
    }
}

impl CliError {
    /// Prints the error as one line on stderr and picks the exit code.
    pub fn report(self) -> ExitCode {
        let message = match self {
            // Piping into `head` closes stdout early: not an error.
            CliError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                return ExitCode::SUCCESS
            }
            CliError::Output(e) => format!("cannot write output: {e}"),
            CliError::Other(message) => message,
            CliError::Botdb(e) => e.to_string(),
        };
        let _ = writeln!(io::stderr(), "error: {message}");
        ExitCode::from(EXIT_ERROR)
    }
}

/// Prints each migration as it finishes, and the closing summary.
struct Progress {
    out: io::Stdout,
    error: Option<io::Error>,
    start: std::time::Instant,
}

impl Progress {
    fn start() -> Self {
        Self {
            out: io::stdout(),
            error: None,
            start: std::time::Instant::now(),
        }
    }

    fn step(&mut self, step: &Step) {
        if self.error.is_none() {
            let line = format!(
                "{:<8} {} ({})",
                step.action,
                step.migration,
                millis(step.duration)
            );
            self.error = writeln!(self.out, "{line}").err();
        }
    }

    /// `created <url>` or `<url> exists`, for setup and reset.
    fn created(&mut self, created: bool, url: &DatabaseUrl) -> Result<(), CliError> {
        if created {
            writeln!(self.out, "created  {url}")?;
        } else {
            writeln!(self.out, "exists   {url}")?;
        }
        Ok(())
    }

    /// Prints a migrate report that was not streamed, then the summary.
    fn report(mut self, db: &Database, report: &Report) -> Result<ExitCode, CliError> {
        if let Some(adoption) = &report.adopted {
            print_adoption(&mut self.out, adoption)?;
        }
        for step in &report.applied {
            self.step(step);
        }
        self.finish(db, report, "migrate", report.applied.len())
    }

    /// `<verb> N migrations in T; <where the database is>`, or `nothing to <verb>: …`.
    fn finish(
        mut self,
        db: &Database,
        report: &Report,
        done: &str,
        count: usize,
    ) -> Result<ExitCode, CliError> {
        if let Some(e) = self.error.take() {
            return Err(e.into());
        }
        let at = position(db, report.current.as_deref())?;
        if count == 0 {
            writeln!(self.out, "nothing to {done}: {at}")?;
        } else {
            let elapsed = millis(self.start.elapsed());
            writeln!(
                self.out,
                "{done}: {} in {elapsed}; {at}",
                plural(count, "migration")
            )?;
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// What an adoption did, one line per stamped migration.
fn print_adoption(out: &mut impl Write, adoption: &botdb::adopt::Adoption) -> Result<(), CliError> {
    for m in &adoption.stamped {
        writeln!(out, "stamped  {m}")?;
    }
    let kept = if adoption.dropped_alembic_version {
        "dropped"
    } else {
        "kept"
    };
    writeln!(
        out,
        "adopted Alembic revision {}: {} migrations recorded as applied, alembic_version {kept}",
        adoption.revision,
        adoption.stamped.len()
    )?;
    Ok(())
}

/// `12 ms`, `1.20 s`.
fn millis(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The closing line of migrate, revert and redo.
fn position(db: &Database, current: Option<&str>) -> Result<String, CliError> {
    let known = db.known_migrations()?;
    Ok(match current {
        None => format!("{} has no migrations applied", db.url()),
        Some(v) => {
            let name = known
                .iter()
                .find(|m| m.version == v)
                .map_or(v, |m| m.name.as_str());
            format!("{} is at {name}", db.url())
        }
    })
}

/// SQLite backups around a command that changes the schema.
#[derive(Debug, Clone, clap::Args)]
pub struct BackupArgs {
    /// SQLite: do not back the database file up first (so a failed run is not restored).
    #[arg(long)]
    pub no_backup: bool,

    /// SQLite: how many backups to keep next to the database file.
    #[arg(long, value_name = "N", default_value_t = botdb::backup::DEFAULT_KEEP)]
    pub keep_backups: usize,
}

impl BackupArgs {
    /// Backs a SQLite database up when the command is about to change it, and notes the
    /// file's digest so a failed run is undone only if it changed the file.
    async fn take(&self, db: &Database, changes: bool) -> Result<Option<Backup>, CliError> {
        if self.no_backup || !changes {
            return Ok(None);
        }
        let (Some(path), Some(db_path)) =
            (db.backup(self.keep_backups).await?, db.url().sqlite_path())
        else {
            return Ok(None);
        };
        Ok(Some(Backup {
            path,
            digest: botdb::backup::digest(db_path)?,
        }))
    }
}

/// A backup taken before a run, and the database file's digest at that moment.
pub struct Backup {
    path: std::path::PathBuf,
    digest: Vec<u8>,
}

/// After a command ran with a backup: on failure, closes the database and puts the
/// backup back, saying so in the error. Then releases the migration lock.
async fn settle<T>(
    db: Database,
    lock: botdb::lock::MigrationLock,
    backup: Option<Backup>,
    result: botdb::Result<T>,
) -> Result<(Database, T), CliError> {
    let settled = restore_on_failure(db, backup, result);
    let released = lock.release().await;
    let value = settled?;
    released?;
    Ok(value)
}

fn restore_on_failure<T>(
    db: Database,
    backup: Option<Backup>,
    result: botdb::Result<T>,
) -> Result<(Database, T), CliError> {
    let error = match result {
        Ok(value) => return Ok((db, value)),
        Err(error) => error,
    };
    let (Some(backup), Some(path)) = (
        backup,
        db.url().sqlite_path().map(std::path::Path::to_path_buf),
    ) else {
        return Err(error.into());
    };
    let shown = backup.path.display().to_string();
    let restored = botdb::backup::digest(&path).and_then(|digest| {
        // A rolled-back transaction leaves the file as it was: nothing to undo then.
        if digest == backup.digest {
            return Ok(false);
        }
        drop(db);
        botdb::backup::restore(&backup.path, &path).map(|()| true)
    });
    Err(match restored {
        Ok(false) => error,
        Ok(true) => botdb::Error::Restored {
            error: Box::new(error),
            backup: shown,
        },
        Err(reason) => botdb::Error::RestoreFailed {
            error: Box::new(error),
            backup: shown,
            reason: Box::new(reason),
        },
    }
    .into())
}

/// Before a revert: says what data it would delete and asks for confirmation on a
/// terminal; elsewhere it refuses unless `yes`.
async fn confirm_losses(
    db: &Database,
    target: &botdb::RevertTarget,
    yes: bool,
) -> Result<(), CliError> {
    use botdb::Error;
    let losses = match db.revert_losses(target).await {
        Ok(losses) => losses,
        Err(
            e @ (Error::ZeroSteps
            | Error::TooManySteps { .. }
            | Error::NotApplied(_)
            | Error::UnknownVersion(_)
            | Error::UnknownApplied(_)
            | Error::Dirty { .. }),
        ) => return Err(e.into()),
        Err(e) if yes => {
            tracing::warn!("cannot tell what the revert deletes ({e}); going on because of --yes");
            return Ok(());
        }
        Err(e) => {
            let message = format!(
                "cannot tell what reverting would delete ({e}); pass --yes to revert anyway"
            );
            return Err(Error::Refused(message).into());
        }
    };
    if losses.is_empty() {
        return Ok(());
    }
    let summary = losses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if yes {
        let _ = writeln!(io::stderr(), "reverting deletes data: {summary}");
        return Ok(());
    }
    if io::stdin().is_terminal() && io::stderr().is_terminal() {
        let _ = writeln!(io::stderr(), "reverting deletes data: {summary}");
        let _ = write!(io::stderr(), "Revert and delete this data? [y/N] ");
        let mut answer = String::new();
        io::stdin().read_line(&mut answer).map_err(|e| {
            CliError::Other(format!(
                "cannot read the answer from the terminal ({e}); nothing was changed: pass --yes to revert without asking"
            ))
        })?;
        if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
            return Ok(());
        }
        return Err(Error::Refused("revert cancelled; nothing was changed".into()).into());
    }
    let message =
        format!("refusing to revert without --yes: it would delete {summary}; nothing was changed");
    Err(Error::Refused(message).into())
}
