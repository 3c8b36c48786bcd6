//! The arguments every subcommand shares, and how they become a connected [`Database`].

use std::path::PathBuf;
use std::time::Duration;

use botdb::config::{self, UrlSource};
use botdb::{Database, DatabaseUrl, MigrationLock, PoolOptions, Source};
use clap::Args;

use super::error::CliError;
use super::format::Format;

/// Options every subcommand takes. Each can also be set by an environment variable
/// (which a `.env` file may set too) or by the `botdb.toml` environment chosen with
/// `--env`; the flag wins, then the variable, then `.env`, then `botdb.toml`, then the
/// default.
#[derive(Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Database URL: sqlite://PATH, postgres://USER:PASS@HOST/DB, mysql://USER:PASS@HOST/DB,
    /// or the bot's SQLAlchemy form (postgresql+asyncpg://…). [env: DATABASE_URL, DB_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// The server's own URL, past a transaction-mode pooler (Prisma's directUrl): migrate,
    /// revert, redo, stamp, adopt, resolve, setup and reset connect there, while the bot
    /// keeps the pooled --database-url. [env: DIRECT_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub direct_url: Option<String>,

    /// Take settings from this environment of botdb.toml ([env.NAME]), found in the
    /// current folder or the nearest parent.
    #[arg(long = "env", global = true, value_name = "NAME", env = "BOTDB_ENV")]
    pub env_name: Option<String>,

    /// Read migrations from this folder instead of the embedded ones: either one backend's
    /// folder, or a root with sqlite/, postgres/ and mysql/ inside.
    #[arg(long, global = true, value_name = "DIR", env = "BOTDB_MIGRATIONS_DIR")]
    pub migrations_dir: Option<PathBuf>,

    /// Most connections in the pool [default: 4].
    #[arg(long, global = true, value_name = "N", env = "BOTDB_POOL_SIZE", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub pool_size: Option<u32>,

    /// Seconds to wait for a connection before giving up [default: 10].
    #[arg(long, global = true, value_name = "SECS", env = "BOTDB_CONNECT_TIMEOUT", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub connect_timeout: Option<u64>,

    /// Wait up to SECONDS (default 60) for the database to accept connections, retrying
    /// with backoff: for deploys that start the database and the bot together.
    #[arg(long, global = true, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "60",
          env = "BOTDB_WAIT", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub wait: Option<u64>,

    /// Seconds migrate, revert, redo, stamp, adopt and resolve wait for another botdb's
    /// migration lock on the same database before giving up (0: do not wait), and that a
    /// migration waits for a table or row lock another session holds (at least 1 ms on
    /// PostgreSQL and 1 s on MySQL) [default: 60].
    #[arg(long, global = true, value_name = "SECS", env = "BOTDB_LOCK_TIMEOUT",
          value_parser = clap::value_parser!(u64).range(0..=2_147_483))]
    pub lock_timeout: Option<u64>,

    /// On a Galera cluster, where botdb's migration lock is a row with a lease: seconds a
    /// botdb that died holding it blocks the others (renewed every third while it runs)
    /// [default: 15].
    #[arg(long, global = true, value_name = "SECS", env = "BOTDB_LOCK_LEASE", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub lock_lease: Option<u64>,

    /// More log output on stderr (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, env = "BOTDB_QUIET", value_parser = clap::builder::BoolishValueParser::new())]
    pub quiet: bool,

    /// The botdb.toml environment chosen with --env, read before the command runs.
    #[arg(skip)]
    pub profile: Option<config::Profile>,
    /// Output for people (text) or programs (json: one document on stdout, errors as a
    /// JSON object on stderr).
    #[arg(long, global = true, value_enum, value_name = "FORMAT", default_value_t = Format::Text, env = "BOTDB_FORMAT")]
    pub format: Format,
}

impl GlobalArgs {
    /// Reads the botdb.toml environment that --env / BOTDB_ENV names, if any.
    pub fn load_profile(&mut self) -> Result<(), CliError> {
        if let Some(name) = self.env_name.as_deref().map(str::trim) {
            if !name.is_empty() {
                self.profile = Some(config::Profile::load(name)?);
            }
        }
        Ok(())
    }

    /// The URL to use, logged with where it came from.
    pub fn url(&self) -> Result<DatabaseUrl, CliError> {
        let (url, source) =
            config::resolve_with(self.database_url.as_deref(), self.profile.as_ref())?;
        match (&source, &self.profile) {
            (UrlSource::Default, _) => {
                tracing::debug!(%url, "no database configured; using the embedded SQLite default")
            }
            (UrlSource::Toml(..), _) | (_, None) => tracing::debug!(%url, "database from {source}"),
            (_, Some(profile)) if profile.url.is_some() => tracing::warn!(
                "using {url} from {source}, which wins over the url of [env.{}] in {}",
                profile.name,
                profile.file.display()
            ),
            _ => tracing::debug!(%url, "database from {source}"),
        }
        Ok(url)
    }

    /// The URL for a command that changes the schema: the direct URL when one is given
    /// (`--direct-url`, `DIRECT_URL`), else [`url`](Self::url).
    pub fn migration_url(&self) -> Result<DatabaseUrl, CliError> {
        let url = self.url()?;
        Ok(
            match config::resolve_direct(self.direct_url.as_deref(), &url)? {
                Some((direct, source)) => {
                    match source {
                        UrlSource::Env(var) => {
                            tracing::debug!(url = %direct, "changing the schema through {var}")
                        }
                        _ => {
                            tracing::debug!(url = %direct, "changing the schema through --direct-url")
                        }
                    }
                    direct
                }
                None => url,
            },
        )
    }

    pub fn pool_options(&self) -> PoolOptions {
        let profile = self.profile.as_ref();
        let defaults = PoolOptions::default();
        PoolOptions {
            max_size: self
                .pool_size
                .or(profile.and_then(|p| p.pool_size))
                .unwrap_or(defaults.max_size),
            connect_timeout: self
                .connect_timeout
                .map(Duration::from_secs)
                .or(profile.and_then(|p| p.connect_timeout))
                .unwrap_or(defaults.connect_timeout),
            read_only: false,
            wait: self
                .wait
                .map(Duration::from_secs)
                .or(profile.and_then(|p| p.wait)),
        }
    }

    pub fn source(&self) -> Source {
        self.migrations_dir
            .clone()
            .or(self.profile.as_ref().and_then(|p| p.migrations_dir.clone()))
            .map_or(Source::Embedded, Source::Dir)
    }

    /// How long to wait for the migration lock and for table and row locks.
    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
            .map(Duration::from_secs)
            .or(self.profile.as_ref().and_then(|p| p.lock_timeout))
            .unwrap_or(botdb::DEFAULT_LOCK_TIMEOUT)
    }

    /// How long a Galera lock row's lease lasts.
    pub fn lock_lease(&self) -> Duration {
        self.lock_lease
            .map(Duration::from_secs)
            .or(self.profile.as_ref().and_then(|p| p.lock_lease))
            .unwrap_or(botdb::db::lock_row::DEFAULT_LEASE)
    }

    /// Connects for a command that changes the schema, and takes the migration lock: the
    /// command's backup, run and any restore all happen under it.
    ///
    /// On SQLite the pool has a single connection: a failed run's backup is put back only
    /// if no one else wrote meanwhile, which SQLite tells per connection.
    pub async fn connect_locked(&self) -> Result<(Database, MigrationLock), CliError> {
        let url = self.migration_url()?;
        let mut options = self.pool_options();
        if url.backend() == botdb::Backend::Sqlite {
            options.max_size = 1;
        }
        let db = Database::connect_with(url, &options)
            .await?
            .with_source(self.source())
            .with_lock_timeout(self.lock_timeout())
            .with_lock_lease(self.lock_lease());
        db.refuse_standby().await?;
        let lock = db.lock(self.lock_timeout()).await?;
        Ok((db.assume_locked_by(&lock), lock))
    }

    /// Connects for a command that writes: a hot standby is refused at once.
    pub async fn connect_to_write(&self) -> Result<Database, CliError> {
        let db = self.connect().await?;
        db.refuse_standby().await?;
        Ok(db)
    }

    /// Connects for a command that changes the bookkeeping (stamp, adopt, resolve): through
    /// the direct URL when one is given; a hot standby is refused at once.
    pub async fn connect_to_migrate(&self) -> Result<Database, CliError> {
        let db = self.connect_to(self.migration_url()?).await?;
        db.refuse_standby().await?;
        Ok(db)
    }

    /// Connects for a command that may write.
    pub async fn connect(&self) -> Result<Database, CliError> {
        self.connect_to(self.url()?).await
    }

    async fn connect_to(&self, url: DatabaseUrl) -> Result<Database, CliError> {
        let db = Database::connect_with(url, &self.pool_options()).await?;
        Ok(db
            .with_source(self.source())
            .with_lock_timeout(self.lock_timeout())
            .with_lock_lease(self.lock_lease()))
    }
}

// SQLite backups around a command that changes the schema.
#[derive(Debug, Clone, clap::Args)]
pub struct BackupArgs {
    /// SQLite: do not back the database file up first (so a failed run is not restored).
    #[arg(long)]
    pub no_backup: bool,

    /// SQLite: how many backups to keep next to the database file.
    #[arg(long, value_name = "N", default_value_t = botdb::ops::backup::DEFAULT_KEEP)]
    pub keep_backups: usize,
}
