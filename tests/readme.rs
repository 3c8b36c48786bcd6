//! README.md's examples, run in the order written against a real SQLite database, so
//! that an example can no longer drift from the binary.
//!
//! The transcript format (also described under "Testing" in the README):
//! - A fenced block whose info string is `console` is run; `console,ignore` followed by a
//!   reason (e.g. `console,ignore (needs a PostgreSQL server)`) is skipped; other blocks
//!   are not examples.
//! - In a run block, a line starting with `$ ` is a command; the lines after it, up to the
//!   next command, are what it prints, stdout and stderr together as on a terminal.
//! - Commands run with `sh` one after the other in one temporary folder that holds a copy
//!   of `migrations/`, with the built `botdb` first on PATH and no database configured from
//!   outside, so the default `sqlite://data/botdb.sqlite3` is a fresh file there. `$?` is
//!   the previous command's exit code, so `$ echo $?` works.
//! - `[..]` in an expected line matches any text within that line; a line that is only
//!   `...` matches any number of lines; `[CWD]` is the temporary folder. Durations
//!   (`3 ms`, `<1 ms`, `1.20 s`), timestamps and blank lines at the end are not compared.
//! - A command may exit non-zero only if what it prints has an `error:` line or the next
//!   command is `echo $?`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::LazyLock;

use regex::Regex;

use crate::support::TestResult;

/// One command of a run block and what it should print.
#[derive(Debug)]
struct Example {
    /// The README line of the command.
    line: usize,
    command: String,
    expected: Vec<String>,
}

/// The commands of every run block, in order.
fn examples(readme: &str) -> Result<Vec<Example>, String> {
    let mut out = Vec::new();
    let mut in_block: Option<bool> = None;
    // Blocks inside list items are indented as deep as their fence; that indent is not
    // part of the text.
    let mut indent = 0;
    for (i, raw) in readme.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            indent = raw.len() - trimmed.len();
            in_block = match in_block {
                Some(_) => None,
                None if info == "console" => Some(true),
                None if info.starts_with("console,ignore") => Some(false),
                None if info.starts_with("console") => {
                    return Err(format!(
                        "README.md:{line}: unknown block `{info}`: use `console` or `console,ignore (reason)`"
                    ))
                }
                None => Some(false),
            };
            continue;
        }
        if in_block != Some(true) {
            continue;
        }
        let strip = indent.min(raw.len() - trimmed.len());
        let text = &raw[strip..];
        if let Some(command) = text.strip_prefix("$ ") {
            out.push(Example {
                line,
                command: command.to_string(),
                expected: Vec::new(),
            });
        } else if let Some(example) = out.last_mut() {
            example.expected.push(text.to_string());
        } else {
            return Err(format!(
                "README.md:{line}: output before any `$ ` command in a console block"
            ));
        }
    }
    Ok(out)
}

/// Durations and timestamps, which differ on every run.
static VOLATILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"<1 ms|\b\d+(\.\d+)? m?s\b|\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?",
    )
    .expect("a valid pattern")
});

fn normalize(line: &str) -> String {
    VOLATILE.replace_all(line, "[TIME]").into_owned()
}

/// Whether `actual` fits `expected`, whose `[..]` matches any text.
fn line_matches(expected: &str, actual: &str) -> bool {
    let parts: Vec<&str> = expected.split("[..]").collect();
    if parts.len() == 1 {
        return expected == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !actual.starts_with(first) || actual.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &actual[first.len()..];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Whether `actual` fits `expected`, where a `...` line matches any number of lines.
fn lines_match(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first.trim() == "..." => {
            (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| line_matches(first, a) && lines_match(rest, more)),
    }
}

/// The first expected line that does not fit, and the printed line in its place, found
/// by skipping over each `...` to the next line that fits what follows it.
fn first_difference(expected: &[String], actual: &[String]) -> (String, String) {
    let shown = |l: Option<&String>| l.cloned().unwrap_or_else(|| "(nothing)".into());
    let (mut i, mut j) = (0, 0);
    while i < expected.len() {
        if expected[i].trim() == "..." {
            i += 1;
            let Some(next) = expected.get(i) else {
                break;
            };
            match actual[j..].iter().position(|a| line_matches(next, a)) {
                Some(skip) => j += skip,
                None => return (next.clone(), shown(actual.get(j))),
            }
        } else if actual.get(j).is_some_and(|a| line_matches(&expected[i], a)) {
            i += 1;
            j += 1;
        } else {
            return (expected[i].clone(), shown(actual.get(j)));
        }
    }
    ("(nothing more)".into(), shown(actual.get(j)))
}

/// Runs `examples` in `dir`, and says where the first one went wrong.
fn run_examples(examples: &[Example], dir: &Path, bin_dir: &Path) -> Result<usize, String> {
    let path = std::env::join_paths(std::iter::once(bin_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .map_err(|e| e.to_string())?;
    let cwd = dir.display().to_string();
    let mut status = 0;
    for (i, example) in examples.iter().enumerate() {
        let output_file = dir.join(".readme-output");
        let file = std::fs::File::create(&output_file).map_err(|e| e.to_string())?;
        let stderr = file.try_clone().map_err(|e| e.to_string())?;
        // One file for both streams keeps their lines in the order a terminal shows.
        let exit = Command::new("sh")
            .arg("-c")
            .arg(format!("(exit {status}); {}", example.command))
            .current_dir(dir)
            .env("PATH", &path)
            .env("NO_COLOR", "1")
            .env_remove("DATABASE_URL")
            .env_remove("DB_URL")
            .env_remove("DIRECT_URL")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(stderr)
            .status()
            .map_err(|e| format!("cannot run sh: {e}"))?;
        status = exit.code().unwrap_or(128);
        let printed = std::fs::read_to_string(&output_file).map_err(|e| e.to_string())?;
        let mut actual: Vec<String> = printed.lines().map(normalize).collect();
        // A blank last line cannot be seen in the README's block.
        while actual.last().is_some_and(|l| l.is_empty()) {
            actual.pop();
        }
        let expected: Vec<String> = example
            .expected
            .iter()
            .map(|l| normalize(&l.replace("[CWD]", &cwd)))
            .collect();
        let place = format!(
            "README.md:{}: `$ {}` (after {i} examples that passed)",
            example.line, example.command
        );
        if !lines_match(&expected, &actual) {
            let (e, a) = first_difference(&expected, &actual);
            return Err(format!(
                "{place}: the output differs from the README\n--- first difference: the README says\n{e}\n--- where botdb printed\n{a}\n--- README says:\n{}\n--- botdb printed:\n{}",
                expected.join("\n"),
                actual.join("\n"),
            ));
        }
        let explained = actual.iter().any(|l| l.starts_with("error:"))
            || examples
                .get(i + 1)
                .is_some_and(|next| next.command.starts_with("echo $?"));
        if status != 0 && !explained {
            return Err(format!(
                "{place}: exited with {status}, but the README shows no `error:` line and no `echo $?` after it\n--- botdb printed:\n{}",
                actual.join("\n")
            ));
        }
    }
    Ok(examples.len())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn bin_dir() -> Result<PathBuf, String> {
    let bin = assert_cmd::cargo::cargo_bin("botdb");
    bin.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("no folder for {}", bin.display()))
}

#[test]
fn readme_examples_run_as_written() -> TestResult {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md"))?;
    let examples = examples(&readme)?;
    assert!(
        examples.len() > 20,
        "only {} README examples found: are the blocks still marked `console`?",
        examples.len()
    );
    let dir = tempfile::tempdir()?;
    copy_dir(&root.join("migrations"), &dir.path().join("migrations"))?;
    // Panic rather than return the error, so that its lines print as lines.
    if let Err(drift) = run_examples(&examples, dir.path(), &bin_dir()?) {
        panic!("{drift}");
    }
    Ok(())
}

/// The harness must fail when an example drifts: a changed line, a missing line, an extra
/// line, and an unexplained failure are each caught.
#[test]
fn a_drifted_example_fails() -> TestResult {
    let dir = tempfile::tempdir()?;
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"),
        &dir.path().join("migrations"),
    )?;
    let bin = bin_dir()?;
    let good = "```console\n$ botdb status --check; echo $?\n WARN [..] does not exist yet: every migration is pending\ndatabase: [..]\n...\n0 applied, 6 pending\n1\n```\n";
    assert_eq!(run_examples(&examples(good)?, dir.path(), &bin), Ok(1));
    for (drifted, why) in [
        (
            "```console\n$ botdb status\ndatabase: [..]\n...\n0 applied, 5 pending\n```\n",
            "the output differs",
        ),
        (
            "```console\n$ botdb status\ndatabase: [..]\n```\n",
            "the output differs",
        ),
        (
            "```console\n$ botdb status --check\n...\n```\n",
            "exited with 1",
        ),
        (
            "```console\n$ echo one; echo two\none\n```\n",
            "the output differs",
        ),
    ] {
        let error = run_examples(&examples(drifted)?, dir.path(), &bin)
            .expect_err("a drifted example must fail");
        assert!(error.contains(why), "{why}: {error}");
        assert!(
            error.starts_with("README.md:2: `$ ") && error.contains("(after 0 examples"),
            "{error}"
        );
    }
    assert!(examples("```console,strict\n$ botdb status\n```\n").is_err());
    Ok(())
}

#[test]
fn wildcards_and_volatile_values() {
    assert!(line_matches(
        "backup=[..].bak",
        "backup=/tmp/x/data.2026.bak"
    ));
    assert!(!line_matches(
        "backup=[..].bak",
        "backup=/tmp/x/data.2026.bak.partial"
    ));
    assert!(line_matches("[..]", ""));
    assert_eq!(
        normalize("applied  x (3 ms) in 1.20 s at 2026-11-25 10:55:06, <1 ms"),
        "applied  x ([TIME]) in [TIME] at [TIME], [TIME]"
    );
    assert_eq!(
        normalize("\"applied_at\": \"2026-11-25T10:55:06Z\""),
        "\"applied_at\": \"[TIME]\""
    );
}
