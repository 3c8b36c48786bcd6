//! The `botdb` command: parse, dispatch, print the error, exit.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Before parsing, so `.env` can supply what the flags default to.
    let dotenv = botdb::config::load_dotenv();
    let args = cli::parse::parse();
    cli::runtime::init_logging(&args.global);
    let format = args.format();
    let result = dotenv
        .map_err(cli::error::CliError::from)
        .and_then(|_| cli::runtime::run(args));
    match result {
        Ok(code) => code,
        Err(e) => e.report(format),
    }
}
