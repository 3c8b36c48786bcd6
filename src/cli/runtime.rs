//! Running a parsed command: logging, the tokio runtime, and Ctrl-C / SIGTERM.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use botdb::db::waits::{stop_running, Stop};
use tokio::task::JoinHandle;

use tracing_subscriber::EnvFilter;

use super::args::GlobalArgs;
use super::error::{CliError, Shown, EXIT_INTERRUPTED};
use super::{dispatch, Cli, Command};

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
        .with_ansi(anstream::AutoStream::choice(&io::stderr()) != anstream::ColorChoice::Never)
        .without_time()
        .with_target(false)
        .init();
}

/// Reads the botdb.toml environment --env names, then runs the parsed command on the
/// runtime it needs (see [`runtime_for`]).
pub fn run(mut cli: Cli) -> Result<ExitCode, CliError> {
    cli.global.load_profile()?;
    let runtime = runtime_for(&cli.command)
        .map_err(|e| CliError::Other(format!("cannot start the async runtime: {e}")))?;
    let format = cli.format();
    let result = runtime.block_on(async {
        // The command runs as a task, so a signal is noticed even while a migration
        // blocks its worker thread.
        let mut command = tokio::spawn(dispatch(cli));
        tokio::select! {
            finished = &mut command => finished.map_err(|e| CliError::Other(format!("botdb failed unexpectedly ({e}); please report it with the command you ran")))?,
            signal = interrupted() => {
                let outcome = stop(command).await;
                // Scratch databases (verify, check, a guarded revert) are dropped before exit.
                for (name, why) in botdb::ops::scratch::drop_all(std::time::Duration::from_secs(5)).await {
                    let _ = writeln!(
                        io::stderr(),
                        "warning: scratch database {name} was left behind ({why}): drop it by hand"
                    );
                }
                Shown {
                    code: "interrupted",
                    message: format!("interrupted by {signal}: {outcome}"),
                    migration: None,
                    statement: None,
                    hint: None,
                }
                .print(format);
                Ok(ExitCode::from(EXIT_INTERRUPTED))
            }
        }
    });
    // After a signal a SQLite statement may still be running on a blocking thread;
    // dropping the runtime would wait for it to finish.
    runtime.shutdown_background();
    result
}

/// `status`, `check` and `migrate` run on a current-thread runtime, which starts no worker
/// threads: status and check only read, migrations run on a blocking thread, and a SQLite
/// backup blocks the one runtime thread while it copies. The other commands keep the
/// multi-threaded runtime.
fn runtime_for(command: &Command) -> io::Result<tokio::runtime::Runtime> {
    let mut builder = match command {
        Command::Status(_) | Command::Check(_) => {
            let mut builder = tokio::runtime::Builder::new_current_thread();
            // Their blocking work (SQLite's statements, name lookups) runs one task at a
            // time: a task handed over just before the thread of the one before is idle
            // again would otherwise start a second thread, which then finds nothing to do.
            // Neither runs migrations, whose SQLite harness waits on a second blocking
            // thread (`db::blocking::Lend`) and would wait forever under this limit.
            builder.max_blocking_threads(1);
            builder
        }
        Command::Migrate(_) => tokio::runtime::Builder::new_current_thread(),
        _ => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(2);
            builder
        }
    };
    builder.enable_all().build()
}

/// How long an interrupted botdb waits for a stopped MySQL statement's migration to record
/// its outcome, per attempt.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// After a signal: what happens to the work in flight, as the rest of the error line.
///
/// Exiting closes the connections: PostgreSQL and SQLite roll the open transaction back,
/// and every backend releases the migration lock. A MySQL statement, though, runs on after
/// its client is gone, and would take effect behind a migration botdb reports as
/// interrupted: botdb stops it on the server (`KILL QUERY`), waits for the migration to
/// record the outcome (dirty, with the server's message), and only then exits.
async fn stop(mut command: JoinHandle<Result<ExitCode, CliError>>) -> String {
    const ROLLED_BACK: &str =
        "the open transaction is rolled back by the database and the migration lock released";
    let mut stopped = Vec::new();
    for how in [Stop::Query, Stop::Connection] {
        let results = stop_running(how).await;
        if results.is_empty() {
            break;
        }
        for result in results {
            match result {
                Ok(what) => stopped.push(what),
                Err(e) => {
                    command.abort();
                    return format!("{ROLLED_BACK}; stopping the statement still running on the server ({e}) failed: it may still take effect, so check `botdb status` and the schema");
                }
            }
        }
        if let Ok(finished) = tokio::time::timeout(STOP_WAIT, &mut command).await {
            return match finished {
                Ok(Err(e)) => format!(
                    "botdb stopped the statement the server was running ({}) and waited for it to end: {}",
                    stopped.join(", "),
                    message(e)
                ),
                Ok(Ok(_)) => "the command had already finished, and what it did is committed".to_string(),
                Err(e) => format!("{ROLLED_BACK}; botdb failed unexpectedly while stopping ({e}); please report it with the command you ran"),
            };
        }
    }
    command.abort();
    if stopped.is_empty() {
        format!("{ROLLED_BACK} (on MySQL/MariaDB a migration already running is left dirty: see `botdb status`)")
    } else {
        format!("{ROLLED_BACK}; botdb stopped the statement the server was running ({}), but its migration did not record the outcome in time, so it is left dirty: see `botdb status`", stopped.join(", "))
    }
}

/// An error's text without the `error:` prefix.
fn message(error: CliError) -> String {
    error.shown().message
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
