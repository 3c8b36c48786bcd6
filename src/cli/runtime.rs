//! Parsing and running a command: the command line, logging, the tokio runtime, and
//! Ctrl-C / SIGTERM.

use std::ffi::OsString;
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

/// The commands that take the migration lock, and so use --lock-timeout and --lock-lease.
const LOCKING: [&str; 6] = ["migrate", "revert", "redo", "stamp", "adopt", "resolve"];

/// The commands that change the schema or its bookkeeping, and so connect through
/// --direct-url.
const CHANGING: [&str; 8] = [
    "migrate", "revert", "redo", "stamp", "adopt", "resolve", "setup", "reset",
];

/// The command line's definition: the global options are accepted everywhere (before or
/// after the subcommand), but each subcommand's help lists only those it uses.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    hide_unused_globals(Cli::command())
}

/// Gives each subcommand a hidden copy of the global options it does not use, so its help
/// does not list them.
fn hide_unused_globals(mut command: clap::Command) -> clap::Command {
    let global = |id: &str| {
        command
            .get_arguments()
            .find(|arg| arg.get_id() == id)
            .map(|arg| arg.clone().hide(true))
    };
    let (lock_timeout, lock_lease, direct_url) = (
        global("lock_timeout"),
        global("lock_lease"),
        global("direct_url"),
    );
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .collect();
    for name in names {
        let mut hidden = Vec::new();
        if !LOCKING.contains(&name.as_str()) {
            hidden.extend([lock_timeout.clone(), lock_lease.clone()]);
        }
        if !CHANGING.contains(&name.as_str()) {
            hidden.push(direct_url.clone());
        }
        // A subcommand that has an argument already does not get the global one: this
        // hidden copy still parses (and reaches GlobalArgs) but is not listed.
        command = command.mut_subcommand(&name, |sub| sub.args(hidden.into_iter().flatten()));
    }
    command
}

/// The definition with only the subcommand `args` seem to run: the first argument that
/// names one (or an alias). None if no argument does.
///
/// Parsing with it gives what parsing with [`command`] gives whenever it succeeds: the
/// options before the subcommand are the same, and a word there that names another
/// subcommand is an error here (so [`parse`] falls back to the whole definition).
fn command_for(args: &[OsString]) -> Option<clap::Command> {
    use clap::{Args, Subcommand};
    let all = Command::augment_subcommands(clap::Command::new("botdb"));
    let sub = args
        .iter()
        .skip(1)
        .take_while(|arg| *arg != "--")
        .find_map(|arg| all.find_subcommand(arg.to_str()?))?
        .clone();
    let root = GlobalArgs::augment_args(clap::Command::new("botdb"))
        .subcommand_required(true)
        .subcommand(sub);
    Some(hide_unused_globals(root))
}

/// Parses the command line (exiting with clap's message on an error, or after printing
/// help or the version).
///
/// Defining all 18 subcommands, each with its own copy of the 12 global options, was a
/// quarter of the instructions of a whole `botdb status` on SQLite; so the subcommand that
/// is run is tried alone first. Anything that does not parse that way (help, the version, a mistake) is
/// parsed again with the whole definition, whose messages list every subcommand.
pub fn parse() -> Cli {
    use clap::FromArgMatches;
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Some(mut command) = command_for(&args) {
        if let Ok(cli) = command
            .try_get_matches_from_mut(&args)
            .and_then(|matches| Cli::from_arg_matches(&matches))
        {
            forget(command);
            return cli;
        }
    }
    let mut command = command();
    let cli = command
        .try_get_matches_from_mut(&args)
        .and_then(|matches| Cli::from_arg_matches(&matches))
        .unwrap_or_else(|e| e.exit());
    forget(command);
    cli
}

/// The definition is a tree of some hundred allocations that is not used again: freeing
/// them one by one cost 6% of the instructions of a whole `botdb status`. What it holds is
/// given back when the process exits.
fn forget(command: clap::Command) {
    std::mem::forget(command);
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

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use proptest::prelude::*;

    use super::{command, command_for};

    fn argv(words: &[&str]) -> Vec<OsString> {
        std::iter::once("botdb")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect()
    }

    /// What a parse found, argument by argument: the id, where its value came from, its
    /// raw values and their positions; then the subcommand's, in turn. (`ArgMatches`
    /// itself also holds the definition's list of arguments, which differ by design.)
    type Found = Vec<(String, String, Option<Vec<OsString>>, Vec<usize>)>;

    fn found(matches: &clap::ArgMatches) -> Vec<(Option<String>, Found)> {
        let mut levels = Vec::new();
        let mut at = (None, matches);
        loop {
            let mut args: Found =
                at.1.ids()
                    .map(|id| {
                        let id = id.as_str();
                        (
                            id.to_owned(),
                            format!("{:?}", at.1.value_source(id)),
                            at.1.try_get_raw(id)
                                .ok()
                                .flatten()
                                .map(|values| values.map(OsString::from).collect()),
                            at.1.indices_of(id)
                                .map(Iterator::collect)
                                .unwrap_or_default(),
                        )
                    })
                    .collect();
            args.sort();
            levels.push((at.0, args));
            match at.1.subcommand() {
                Some((name, sub)) => at = (Some(name.to_owned()), sub),
                None => return levels,
            }
        }
    }

    type Parsed = Result<Vec<(Option<String>, Found)>, clap::error::ErrorKind>;

    /// What the whole definition makes of `args`, and what the one-subcommand definition
    /// does (None when no argument names a subcommand).
    fn both(args: &[OsString]) -> (Parsed, Option<Parsed>) {
        let parse = |command: clap::Command| {
            command
                .try_get_matches_from(args)
                .map(|m| found(&m))
                .map_err(|e| e.kind())
        };
        (parse(command()), command_for(args).map(parse))
    }

    #[test]
    fn the_usual_command_lines_define_one_subcommand() {
        for words in [
            &["status"][..],
            &["--database-url", "sqlite://x.db", "status", "--check"],
            &["-v", "upgrade", "--to", "2024-12-20-105908"],
            &["print-sql", "--offline", "--dialect", "mysql", "-q"],
            &[
                "migrate",
                "--database-url=sqlite://x.db",
                "--lock-timeout",
                "3",
            ],
        ] {
            let args = argv(words);
            let (full, reduced) = both(&args);
            assert!(full.is_ok(), "{words:?}: {full:?}");
            assert_eq!(reduced, Some(full), "{words:?}");
        }
    }

    #[test]
    fn each_subcommands_help_starts_with_its_summary() {
        let about = |sub: &clap::Command| {
            let text = |s: Option<&clap::builder::StyledStr>| s.map(ToString::to_string);
            let name = sub.get_name().to_owned();
            (name, text(sub.get_about()), text(sub.get_long_about()))
        };
        let summaries: Vec<_> = command().get_subcommands().map(about).collect();
        let mut built = command();
        built.build();
        // Building adds clap's own `help` subcommand.
        let helps: Vec<_> = built
            .get_subcommands()
            .filter(|sub| sub.get_name() != "help")
            .map(about)
            .collect();
        assert_eq!(helps, summaries);
    }

    #[test]
    fn a_subcommand_name_taken_as_a_value_falls_back_to_the_whole_definition() {
        // `migrate` is --env's value here; the one-subcommand definition for it fails.
        let args = argv(&["--env", "migrate", "status"]);
        let (full, reduced) = both(&args);
        let subcommands = full.map(|levels| {
            levels
                .into_iter()
                .filter_map(|(name, _)| name)
                .collect::<Vec<_>>()
        });
        assert_eq!(subcommands, Ok(vec!["status".to_string()]));
        assert!(matches!(reduced, Some(Err(_))), "{reduced:?}");
    }

    const WORDS: &[&str] = &[
        "status",
        "current",
        "migrate",
        "upgrade",
        "revert",
        "downgrade",
        "print-sql",
        "stamp",
        "generate",
        "revision",
        "help",
        "completions",
        "bash",
        "--",
        "-h",
        "--help",
        "-V",
        "--version",
        "--database-url",
        "--database-url=sqlite://a.db",
        "sqlite://a.db",
        "--env",
        "prod",
        "--wait",
        "--wait=5",
        "5",
        "-v",
        "-vq",
        "-q",
        "--quiet",
        "--format",
        "json",
        "--format=text",
        "--json",
        "--check",
        "--to",
        "--steps",
        "--all",
        "--yes",
        "-y",
        "--lock-timeout",
        "--direct-url",
        "--offline",
        "--dialect",
        "mysql",
        "-o",
        "x",
    ];

    proptest! {
        /// Whatever the one-subcommand definition accepts, the whole one reads the same way.
        #[test]
        fn the_one_subcommand_definition_agrees_with_the_whole(
            picks in proptest::collection::vec(0..WORDS.len(), 0..7)
        ) {
            let words: Vec<&str> = picks.iter().map(|&i| WORDS[i]).collect();
            let args = argv(&words);
            let (full, reduced) = both(&args);
            if let Some(Ok(reduced)) = reduced {
                prop_assert_eq!(full, Ok(reduced), "{:?}", words);
            }
        }
    }
}
