//! What can make a command fail, how it is shown, and the exit codes.

use std::io::{self, Write};
use std::process::ExitCode;

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
            CliError::Botdb(e) => super::wording::for_cli(e.to_string()),
        };
        let _ = writeln!(io::stderr(), "error: {message}");
        ExitCode::from(EXIT_ERROR)
    }
}
