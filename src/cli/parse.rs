//! The command line: its definition, and parsing it into a [`Cli`], or exiting with
//! clap's help, version or error.

use std::ffi::OsString;
use std::io::Write;

use super::args::GlobalArgs;
use super::error::Shown;
use super::format::Format;
use super::{Cli, Command};

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
        // clap does not copy a global option into a subcommand that has an argument of
        // its id already: this hidden copy takes its place, parses the same (and reaches
        // GlobalArgs), but is not listed.
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
/// is run is tried alone first. Anything that does not parse that way (help, the version,
/// a mistake) is parsed again with the whole definition, whose messages list every
/// subcommand.
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
        .unwrap_or_else(|e| exit_after(e, &args));
    forget(command);
    cli
}

/// Prints the help or version asked for, or the error, and exits with clap's code (2 for
/// an error). clap quotes what was typed, so every URL's password is masked first; and with
/// `--format json` (or `BOTDB_FORMAT=json`) the error is the JSON object of every other
/// error, code `usage`.
fn exit_after(error: clap::Error, args: &[OsString]) -> ! {
    // Help and the version (and the help `botdb` alone prints on stderr) quote nothing typed.
    if !error.use_stderr()
        || error.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    {
        error.exit();
    }
    if asks_for_json(args) {
        let text = botdb::config::redact_urls(&error.render().to_string());
        // The error is its first paragraph (what is missing may follow on its own lines).
        let message = text
            .lines()
            .take_while(|line| !line.trim().is_empty())
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
            .trim_start_matches("error: ")
            .to_string();
        let tip = text
            .lines()
            .find_map(|line| line.trim().strip_prefix("tip: "));
        Shown {
            code: "usage",
            message,
            migration: None,
            statement: None,
            hint: Some(tip.map_or_else(
                || "see `botdb --help`, or `botdb COMMAND --help`".to_string(),
                str::to_string,
            )),
        }
        .print(Format::Json);
    } else {
        let text = botdb::config::redact_urls(&error.render().ansi().to_string());
        let _ = write!(anstream::stderr(), "{text}");
    }
    std::process::exit(error.exit_code())
}

/// Whether the command line (or else `BOTDB_FORMAT`) asks for JSON output, read word by
/// word since it did not parse: `--json` anywhere (as for status and check, whose `--json`
/// wins over `--format`), else the last `--format`.
fn asks_for_json(args: &[OsString]) -> bool {
    let mut json = None;
    let mut words = args
        .iter()
        .skip(1)
        .map(|word| word.to_str())
        .take_while(|word| *word != Some("--"));
    while let Some(word) = words.next() {
        match word {
            Some("--json") => return true,
            Some("--format=json") => json = Some(true),
            Some("--format=text") => json = Some(false),
            Some("--format") => match words.next() {
                Some(Some("json")) => json = Some(true),
                Some(Some("text")) => json = Some(false),
                _ => {}
            },
            _ => {}
        }
    }
    json.unwrap_or_else(|| std::env::var("BOTDB_FORMAT").is_ok_and(|format| format == "json"))
}

/// The definition is a tree of some hundred allocations that is not used again: freeing
/// them one by one cost 6% of the instructions of a whole `botdb status`. What it holds is
/// given back when the process exits.
fn forget(command: clap::Command) {
    std::mem::forget(command);
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

    /// Every subcommand and alias.
    const SUBCOMMANDS: &[&str] = &[
        "migrate",
        "upgrade",
        "revert",
        "downgrade",
        "redo",
        "status",
        "current",
        "history",
        "print-sql",
        "stamp",
        "adopt",
        "check",
        "print-schema",
        "verify",
        "setup",
        "reset",
        "seed",
        "resolve",
        "completions",
        "repair",
        "new",
        "generate",
        "revision",
    ];

    /// Global options, each with its value if it takes one.
    const GLOBALS: &[&[&str]] = &[
        &["--database-url", "sqlite://a.db"],
        &["--database-url=postgres://u:p@h/db"],
        &["--direct-url", "postgres://u@h/db"],
        &["--env", "prod"],
        &["--migrations-dir", "m"],
        &["--pool-size", "3"],
        &["--connect-timeout", "2"],
        &["--wait"],
        &["--wait", "5"],
        &["--wait=5"],
        &["--lock-timeout", "3"],
        &["--lock-lease", "9"],
        &["-v"],
        &["-vv"],
        &["-q"],
        &["--format", "json"],
        &["--format=text"],
    ];

    /// What may follow a subcommand: its options (some subcommand's, at least), a value,
    /// and the words that end options or ask for help.
    const AFTER: &[&[&str]] = &[
        &["--check"],
        &["--json"],
        &["--to", "x"],
        &["--steps", "2"],
        &["--all"],
        &["-y"],
        &["--offline"],
        &["--dialect", "mysql"],
        &["--allow-changed"],
        &["bash"],
        &["x"],
        &["--"],
        &["-h"],
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

        /// On lines built as users write them (options, a subcommand, its options), the
        /// one-subcommand definition is used whenever the line parses, and reads it the
        /// same way: the short path is the usual one, not a rare one.
        #[test]
        fn a_line_that_parses_parses_the_short_way(
            before in proptest::collection::vec(0..GLOBALS.len(), 0..3),
            sub in 0..SUBCOMMANDS.len(),
            after in proptest::collection::vec(0..GLOBALS.len() + AFTER.len(), 0..4),
        ) {
            let mut words: Vec<&str> = before.iter().flat_map(|&i| GLOBALS[i].iter().copied()).collect();
            words.push(SUBCOMMANDS[sub]);
            for &i in &after {
                let unit = GLOBALS.get(i).copied().unwrap_or_else(|| AFTER[i - GLOBALS.len()]);
                words.extend(unit.iter().copied());
            }
            let args = argv(&words);
            let (full, reduced) = both(&args);
            match reduced {
                Some(Ok(reduced)) => prop_assert_eq!(full, Ok(reduced), "{:?}", words),
                Some(Err(_)) => prop_assert!(full.is_err(), "{:?}: only the whole definition parses it", words),
                None => prop_assert!(false, "{:?}: no subcommand found", words),
            }
        }
    }
}
