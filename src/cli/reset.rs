//! `botdb reset`: drop the database and set it up again.

use std::process::ExitCode;

use botdb::Error;

use super::args::GlobalArgs;
use super::error::CliError;
use super::output::Progress;

// Drop the database with every row in it, create it again and migrate it. For local
// development: refuses without --yes, and refuses a server that is not on this machine
// unless given --force-remote.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Confirm that every row may be deleted.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Allow a database server that is not on this machine.
    #[arg(long)]
    pub force_remote: bool,
}

pub async fn run(args: Args, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let url = global.migration_url()?;
    if let Some(target) = url.remote_target().filter(|_| !args.force_remote) {
        let message = format!("refusing to reset {url}: it connects to {target}, which is not on this machine; pass --force-remote if you really mean it");
        return Err(Error::Refused(message).into());
    }
    if !args.yes {
        let message = format!(
            "refusing to reset {url} without --yes: it drops the database and every row in it"
        );
        return Err(Error::Refused(message).into());
    }
    let mut progress = Progress::start(global);
    let (db, report) = botdb::reset(&url, &global.pool_options(), &global.source()).await?;
    progress.created(true, &url)?;
    progress.report(&db, &report)
}
