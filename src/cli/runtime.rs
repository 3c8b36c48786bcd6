//! Running a parsed command: logging, the tokio runtime, and Ctrl-C / SIGTERM.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

use super::args::GlobalArgs;
use super::error::{CliError, EXIT_INTERRUPTED};
use super::{dispatch, Cli};

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
                // Scratch databases (verify, check, a guarded revert) are dropped first.
                for (name, why) in botdb::ops::scratch::drop_all(std::time::Duration::from_secs(5)).await {
                    let _ = writeln!(
                        io::stderr(),
                        "warning: scratch database {name} was left behind ({why}): drop it by hand"
                    );
                }
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
