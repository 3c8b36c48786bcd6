//! `botdb completions`: a shell completion script, generated from the CLI's definition.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;

use super::error::CliError;
use super::Cli;

// Print the completion script for SHELL on stdout, e.g.
// `botdb completions bash > ~/.local/share/bash-completion/completions/botdb`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to complete in.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    // Generated into memory first: clap_complete panics when its writer fails, and a
    // closed pipe is reported like any other command's.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "botdb", &mut script);
    std::io::stdout().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}
