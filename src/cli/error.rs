//! What can make a command fail, how it is shown, and the exit codes.

use std::io::{self, Write};
use std::process::ExitCode;

use serde_json::json;

use super::format::Format;

/// Exit code when a check (`status --check`, `check`, `verify`) fails.
pub const EXIT_CHECK_FAILED: u8 = 1;
/// Exit code for every error.
pub const EXIT_ERROR: u8 = 2;
/// Exit code after Ctrl-C or SIGTERM.
pub const EXIT_INTERRUPTED: u8 = 130;

/// What can make the command fail.
#[derive(Debug)]
pub enum CliError {
    /// botdb failed.
    Botdb(botdb::Error),
    /// Writing the output failed.
    Output(io::Error),
    /// `new` or `generate` failed (they need no database).
    Generate(botdb::ops::new::Error),
    /// Anything else, already worded for the user.
    Other(String),
}

impl From<botdb::ops::new::Error> for CliError {
    fn from(e: botdb::ops::new::Error) -> Self {
        CliError::Generate(e)
    }
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

/// An error as it is shown: the line of text, and the fields of the JSON object.
pub struct Shown {
    /// Stable snake_case kind (see README, "Errors as JSON").
    pub code: &'static str,
    /// The whole one-line message, as text output prints it after `error: `.
    pub message: String,
    /// The migration it is about, when known.
    pub migration: Option<String>,
    /// The failing statement, when known.
    pub statement: Option<String>,
    /// What to do, when the error knows it apart from its message; otherwise the part of
    /// the message after its last `; `.
    pub hint: Option<String>,
}

impl Shown {
    /// Prints the error on stderr: `error: …` (red on a terminal), or the JSON object.
    pub fn print(&self, format: Format) {
        let mut err = anstream::stderr();
        let _ = match format {
            Format::Text => {
                let red = anstyle::Style::new()
                    .bold()
                    .fg_color(Some(anstyle::AnsiColor::Red.into()));
                writeln!(err, "{red}error:{red:#} {}", self.message)
            }
            Format::Json => {
                // Every message ends with what to do, after its last `; `.
                let hint = self
                    .hint
                    .as_deref()
                    .or_else(|| self.message.rsplit_once("; ").map(|(_, hint)| hint));
                let object = json!({ "error": {
                    "code": self.code,
                    "message": self.message,
                    "hint": hint,
                    "migration": self.migration,
                    "statement": self.statement,
                }});
                writeln!(err, "{object}")
            }
        };
    }
}

impl CliError {
    /// Prints the error on stderr, in `format`, and picks the exit code.
    pub fn report(self, format: Format) -> ExitCode {
        if matches!(&self, CliError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe) {
            // Piping into `head` closes stdout early: not an error.
            return ExitCode::SUCCESS;
        }
        self.shown().print(format);
        ExitCode::from(EXIT_ERROR)
    }

    pub fn shown(self) -> Shown {
        match self {
            CliError::Output(e) => Shown {
                code: "output",
                message: format!("cannot write output: {e}"),
                migration: None,
                statement: None,
                hint: None,
            },
            CliError::Generate(e) => Shown {
                code: e.code(),
                hint: Some(e.hint()),
                message: e.to_string(),
                migration: None,
                statement: None,
            },
            CliError::Other(message) => Shown {
                code: "other",
                message,
                migration: None,
                statement: None,
                hint: None,
            },
            CliError::Botdb(e) => Shown {
                code: e.code(),
                migration: e.migration().map(str::to_string),
                statement: e.statement().map(str::to_string),
                message: super::wording::for_cli(e.to_string()),
                hint: None,
            },
        }
    }
}
