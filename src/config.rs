//! Where the database is: URL resolution, backend detection and password redaction.
//!
//! Each setting comes from, in order of precedence: a flag (`--database-url`), the
//! environment (`DATABASE_URL`, then the Python bot's own `DB_URL`), a `.env` file
//! ([`load_dotenv`]; the real environment wins over it), the environment of `botdb.toml`
//! selected with `--env` / `BOTDB_ENV` ([`Profile`]), and finally the default, a SQLite
//! file at [`DEFAULT_SQLITE_PATH`]. A variable that is set but empty is an error, never
//! the default. A relative SQLite path is relative to the file that names it (`.env`,
//! `botdb.toml`), else to the current folder, and is always shown absolute.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backend::Backend;
use crate::error::Error;

/// The SQLite file used when no URL is configured anywhere.
pub const DEFAULT_SQLITE_PATH: &str = "data/botdb.sqlite3";

/// The environment variables botdb reads a URL from, in order of precedence.
pub const URL_VARIABLES: [&str; 2] = ["DATABASE_URL", "DB_URL"];

/// Where a resolved URL came from; shown in logs and errors so operators know which
/// setting won.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSource {
    /// Given explicitly (the `--database-url` flag or the library caller).
    Explicit,
    /// Read from this environment variable.
    Env(&'static str),
    /// Read from this variable in this `.env` file.
    DotEnv(&'static str, PathBuf),
    /// The `url` of this environment in this `botdb.toml`.
    Toml(String, PathBuf),
    /// Nothing was configured: the embedded SQLite default.
    Default,
}

impl fmt::Display for UrlSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlSource::Explicit => f.write_str("--database-url"),
            UrlSource::Env(var) => f.write_str(var),
            UrlSource::DotEnv(var, file) => write!(f, "{var} in {}", file.display()),
            UrlSource::Toml(env, file) => write!(f, "[env.{env}] in {}", file.display()),
            UrlSource::Default => f.write_str("the default"),
        }
    }
}

/// A parsed database URL: which backend, how to reach it, and how to show it safely.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    /// What the driver receives: a file path for SQLite, a normalised URL otherwise.
    target: String,
    /// The password (decoded and as written) and any password query parameter, kept only
    /// so they can be scrubbed from driver messages.
    secrets: Vec<String>,
    /// `?pgbouncer=true`: the URL goes through a transaction-mode pooler (see `db::pooler`).
    pooled: bool,
}

// A derived Debug would print the password.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseUrl")
            .field("backend", &self.backend)
            .field("target", &self.redacted())
            .finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl DatabaseUrl {
    /// Parses a URL in any form botdb accepts.
    ///
    /// - SQLite: `sqlite://PATH`, `sqlite:PATH`, a bare file path, or SQLAlchemy's
    ///   `sqlite+aiosqlite:///relative/path` and `sqlite+aiosqlite:////absolute/path`.
    /// - PostgreSQL: `postgres://`, `postgresql://`, `postgresql+asyncpg://` (any `+driver`).
    /// - MySQL/MariaDB: `mysql://`, `mariadb://`, `mysql+aiomysql://` (any `+driver`).
    ///
    /// A relative SQLite path is taken relative to the current folder; the URL keeps (and
    /// shows) the absolute path. `:memory:` is refused: every pooled connection would get
    /// its own empty database, gone when the connection closes.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        Self::parse_in(raw, None)
    }

    /// [`DatabaseUrl::parse`], with a relative SQLite path taken relative to `base` (the
    /// folder of the file that named it) instead of the current folder.
    pub fn parse_relative_to(raw: &str, base: &Path) -> Result<Self, Error> {
        Self::parse_in(raw, Some(base))
    }

    fn parse_in(raw: &str, folder: Option<&Path>) -> Result<Self, Error> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(Error::InvalidUrl {
                url: String::new(),
                reason: "the URL is empty".into(),
            });
        }
        let Some((scheme, rest)) = split_scheme(raw) else {
            // `postgres//bot:pw@db/shop` or `bot:pw@db/shop` is a server URL with a typo,
            // not a file name: taking it as a path would print its password.
            if raw.contains('@') {
                return Err(no_scheme(raw));
            }
            return Self::sqlite_in(raw, raw, folder);
        };
        let (base, driver) = match scheme.split_once('+') {
            Some((base, driver)) => (base.to_ascii_lowercase(), Some(driver)),
            None => (scheme.to_ascii_lowercase(), None),
        };
        match Backend::from_scheme(&base) {
            Some((Backend::Sqlite, _)) => {
                let path = sqlite_path(rest, driver.is_some());
                if path.is_empty() {
                    // SQLite would open a temporary database and forget it on exit.
                    return Err(Error::InvalidUrl {
                        url: raw.to_string(),
                        reason: "it names no file (e.g. sqlite://data/botdb.sqlite3)".into(),
                    });
                }
                Self::sqlite_in(raw, &path, folder)
            }
            Some((backend, scheme)) => Self::server(backend, scheme, raw, rest),
            // Without `//` after the scheme, `bot:pw@db` is a user and password with the
            // scheme left out, not a scheme `bot`.
            None if raw.contains('@') && !rest.starts_with("//") => Err(no_scheme(raw)),
            None => Err(Error::UnknownScheme {
                scheme: scheme.to_string(),
                url: redact_unparsed(raw),
            }),
        }
    }

    fn sqlite_in(raw: &str, path: &str, base: Option<&Path>) -> Result<Self, Error> {
        if path == ":memory:" || path.starts_with("file::memory:") {
            return Err(Error::InvalidUrl {
                url: raw.to_string(),
                reason: "botdb does not use in-memory SQLite databases: each pooled connection would open its own empty one, and migrations would vanish with it; use a file (a temporary one for tests, e.g. sqlite:///tmp/test.sqlite3)".into(),
            });
        }
        Ok(match base {
            Some(base) if Path::new(path).is_relative() => {
                Self::sqlite(&base.join(path).to_string_lossy())
            }
            _ => Self::sqlite(path),
        })
    }

    /// A SQLite URL for `path`, made absolute (against the current folder).
    fn sqlite(path: &str) -> Self {
        let target = std::path::absolute(path)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| path.to_string());
        Self {
            backend: Backend::Sqlite,
            target,
            secrets: Vec::new(),
            pooled: false,
        }
    }

    fn server(backend: Backend, scheme: &str, raw: &str, rest: &str) -> Result<Self, Error> {
        let normalised = format!("{scheme}:{rest}");
        let invalid = |reason: String| Error::InvalidUrl {
            url: redact_unparsed(raw),
            reason,
        };
        // The drivers split userinfo from host at different `@`s: tokio-postgres at the
        // first, mysql_async (the url crate) at the last one before the path. With an
        // unencoded `@` in a password (`bot:a@127.0.0.2:5555/zz@db/shop`) they would
        // connect to another host than the URL seems to name, so a URL has at most one `@`,
        // and only before the host.
        let after_slashes = rest.trim_start_matches('/');
        let authority = after_slashes
            .split(['/', '?', '#'])
            .next()
            .unwrap_or(after_slashes);
        let ats = after_slashes.matches('@').count();
        if ats > 1 || (ats == 1 && !authority.contains('@')) {
            return Err(invalid(
                "it has an `@` after the user name and password, so drivers could read another host from it: percent-encode `/`, `?`, `#` and `@` in the user name and password (%2F, %3F, %23, %40), and anywhere after the host".into(),
            ));
        }
        let mut parsed = url::Url::parse(&normalised).map_err(|e| invalid(e.to_string()))?;
        let flag = take_pgbouncer_flag(&mut parsed).map_err(invalid)?;
        let pooled = flag == Some(true);
        if pooled && backend != Backend::Postgres {
            return Err(invalid("pgbouncer=true is for PostgreSQL URLs only".into()));
        }
        // The drivers reject an option they do not know, whatever its value.
        let normalised = if flag.is_some() {
            parsed.to_string()
        } else {
            normalised
        };
        // PostgreSQL's driver takes a Unix socket in place of the host (libpq's
        // `postgres:///DB?host=/run/postgresql`); MySQL's needs a host besides `?socket=`.
        let pg_socket = backend == Backend::Postgres
            && parsed
                .query_pairs()
                .any(|(k, v)| k == "host" && v.starts_with('/'));
        if parsed.host_str().is_none_or(str::is_empty) && !pg_socket {
            return Err(invalid(
                "it names no host (for a Unix socket: postgres:///DB?host=/run/postgresql, or mysql://USER@localhost/DB?socket=/run/mysqld/mysqld.sock)".into(),
            ));
        }
        if parsed.path().trim_start_matches('/').is_empty() {
            return Err(invalid(
                "it names no database (add /DBNAME after the host)".into(),
            ));
        }
        let mut secrets = Vec::new();
        if let Some(p) = parsed.password().filter(|p| !p.is_empty()) {
            secrets.extend(percent_decode(p));
            secrets.push(p.to_string());
        }
        for (key, value) in parsed.query_pairs() {
            if is_password_key(&key) && !value.is_empty() {
                secrets.push(value.into_owned());
            }
        }
        secrets.dedup();
        Ok(Self {
            backend,
            target: normalised,
            secrets,
            pooled,
        })
    }

    /// Whether the URL goes through a transaction-mode pooler such as PgBouncer
    /// (`?pgbouncer=true`, Prisma's convention): every query then runs inside a
    /// transaction, with no prepared statement outliving it.
    pub fn behind_pooler(&self) -> bool {
        self.pooled
    }

    /// Which backend the URL selects.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite file path, for SQLite URLs.
    pub fn sqlite_path(&self) -> Option<&Path> {
        (self.backend == Backend::Sqlite).then(|| Path::new(&self.target))
    }

    /// What the driver connects with. Contains the password: never print it.
    pub(crate) fn connection_string(&self) -> &str {
        &self.target
    }

    /// The server's host (an IPv6 address without its brackets) and port (with the
    /// backend's default port), for server URLs.
    pub fn host_port(&self) -> Option<(String, u16)> {
        let default = self.backend.default_port()?;
        let parsed = url::Url::parse(&self.target).ok()?;
        let host = match parsed.host()? {
            url::Host::Ipv6(ip) => ip.to_string(),
            host => host.to_string(),
        };
        Some((host, parsed.port().unwrap_or(default)))
    }

    /// The same server with another database, e.g. the maintenance database.
    pub fn with_database(&self, name: &str) -> Result<Self, Error> {
        match self.backend {
            Backend::Sqlite => Ok(Self::sqlite(name)),
            _ => {
                let mut parsed = url::Url::parse(&self.target).map_err(|e| Error::InvalidUrl {
                    url: self.redacted(),
                    reason: e.to_string(),
                })?;
                parsed.set_path(&format!("/{name}"));
                Ok(Self {
                    backend: self.backend,
                    target: parsed.to_string(),
                    secrets: self.secrets.clone(),
                    pooled: self.pooled,
                })
            }
        }
    }

    /// Whether the database is on this machine: a SQLite file, or a server on a loopback
    /// address or a Unix socket.
    pub fn is_local(&self) -> bool {
        self.remote_target().is_none()
    }

    /// Where the driver would connect that is not on this machine, if anywhere.
    ///
    /// Judged on the driver's own reading of the URL, so whatever decides where it
    /// connects counts: PostgreSQL's `hostaddr=` (which wins over the host), `host=` in
    /// the query, several hosts, Unix sockets; MySQL's `socket=`. Every address the driver
    /// may try must be local.
    pub fn remote_target(&self) -> Option<String> {
        match self.backend {
            Backend::Sqlite => None,
            Backend::Postgres => postgres_remote_target(&self.target),
            Backend::Mysql => mysql_remote_target(&self.target),
        }
    }

    /// The database name on a server, or the file path on SQLite.
    pub fn database_name(&self) -> String {
        match self.backend {
            Backend::Sqlite => self.target.clone(),
            _ => url::Url::parse(&self.target)
                .map(|u| u.path().trim_start_matches('/').to_string())
                .unwrap_or_default(),
        }
    }

    /// The URL with any password replaced by `***`: the only form that is ever shown.
    pub fn redacted(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.target),
            _ => redact_unparsed(&self.target),
        }
    }

    /// Removes the password from a message a driver produced, in case it echoes the URL.
    pub fn scrub(&self, message: &str) -> String {
        self.secrets.iter().fold(message.to_string(), |m, secret| {
            m.replace(secret.as_str(), "***")
        })
    }
}

/// Removes `pgbouncer=…` from the query (the driver rejects options it does not know) and
/// says whether it was on.
fn take_pgbouncer_flag(parsed: &mut url::Url) -> Result<Option<bool>, String> {
    let mut flag = None;
    let mut rest = Vec::new();
    for (key, value) in parsed.query_pairs() {
        if key == "pgbouncer" {
            flag = Some(match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                other => return Err(format!("pgbouncer={other} is neither true nor false")),
            });
        } else {
            rest.push((key.into_owned(), value.into_owned()));
        }
    }
    if flag.is_some() {
        if rest.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(rest);
        }
    }
    Ok(flag)
}

fn postgres_remote_target(target: &str) -> Option<String> {
    use tokio_postgres::config::Host;
    let Ok(config) = target.parse::<tokio_postgres::Config>() else {
        return Some("an address its driver cannot read".into());
    };
    let addrs = config.get_hostaddrs();
    if let Some(addr) = addrs.iter().find(|a| !a.is_loopback()) {
        return Some(format!("hostaddr {addr}"));
    }
    // The driver takes the i-th hostaddr instead of the i-th host when there is one.
    config
        .get_hosts()
        .iter()
        .skip(addrs.len())
        .find_map(|host| match host {
            Host::Tcp(name) if !is_local_host(name) => Some(name.clone()),
            _ => None,
        })
}

fn mysql_remote_target(target: &str) -> Option<String> {
    let Ok(opts) = mysql_async::Opts::from_url(target) else {
        return Some("an address its driver cannot read".into());
    };
    let host = opts.ip_or_hostname();
    (opts.socket().is_none() && !is_local_host(host)).then(|| host.to_string())
}

fn is_local_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The variables botdb reads that a `.env` may set.
pub const DOTENV_VARIABLES: [&str; 12] = [
    "DATABASE_URL",
    "DB_URL",
    DIRECT_URL_VARIABLE,
    "RUST_LOG",
    ENV_VARIABLE,
    "BOTDB_MIGRATIONS_DIR",
    "BOTDB_POOL_SIZE",
    "BOTDB_CONNECT_TIMEOUT",
    "BOTDB_WAIT",
    "BOTDB_LOCK_TIMEOUT",
    "BOTDB_LOCK_LEASE",
    "BOTDB_QUIET",
];

/// The `.env` file loaded, and the variables it set (those not already in the environment).
static DOTENV_LOADED: std::sync::Mutex<Option<(PathBuf, Vec<String>)>> =
    std::sync::Mutex::new(None);

/// Loads `.env` from the current directory or a parent, without overriding variables
/// that are already set. Returns the file that was loaded, if any.
///
/// Refused, naming the key and line but never the value: a value with a NUL byte (no
/// environment variable can hold one), and a variable botdb reads set twice (python-dotenv,
/// `set -a; . .env` and docker compose take the last value, dotenvy the first, so botdb
/// could migrate another database than the bot uses).
pub fn load_dotenv() -> Result<Option<PathBuf>, Error> {
    let Some(path) = find_dotenv()? else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| Error::DotEnv {
        message: format!("{}: {e}", path.display()),
    })?;
    let mut set = Vec::new();
    for (key, value) in parse_dotenv(&text)? {
        if std::env::var_os(&key).is_none() {
            std::env::set_var(&key, value);
            set.push(key);
        }
    }
    if let Ok(mut loaded) = DOTENV_LOADED.lock() {
        match loaded.as_mut() {
            // Loaded again (a second `from_env`): what it set the first time still counts.
            Some((file, keys)) if *file == path => keys.extend(set),
            _ => *loaded = Some((path.clone(), set)),
        }
    }
    Ok(Some(path))
}

/// The `.env` file that set `var`, if [`load_dotenv`] did.
fn dotenv_file_of(var: &str) -> Option<PathBuf> {
    let loaded = DOTENV_LOADED.lock().ok()?;
    let (file, keys) = loaded.as_ref()?;
    keys.iter().any(|k| k == var).then(|| file.clone())
}

/// `.env` in the current directory or the nearest parent that has one, as dotenvy finds it.
fn find_dotenv() -> Result<Option<PathBuf>, Error> {
    let cwd = std::env::current_dir().map_err(|e| Error::DotEnv {
        message: format!("cannot read the current directory: {e}"),
    })?;
    for dir in cwd.ancestors() {
        let candidate = dir.join(".env");
        match std::fs::metadata(&candidate) {
            Ok(meta) if meta.is_file() => return Ok(Some(candidate)),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::DotEnv {
                    message: format!("{}: {e}", candidate.display()),
                })
            }
            _ => {}
        }
    }
    Ok(None)
}

/// The variables of a `.env` file's text, in order, checked as [`load_dotenv`] says.
fn parse_dotenv(text: &str) -> Result<Vec<(String, String)>, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let entries = dotenvy::from_read_iter(text.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(dotenv_error)?;
    let line = |i: usize| dotenv_entry_lines(text).get(i).copied().unwrap_or(0);
    if let Some(i) = entries.iter().position(|(_, v)| v.contains('\0')) {
        return Err(Error::DotEnv {
            message: format!(
                "the value of {} on line {} holds a NUL byte, which no environment variable can (remove it)",
                entries[i].0,
                line(i)
            ),
        });
    }
    for (i, (key, _)) in entries.iter().enumerate() {
        if !DOTENV_VARIABLES.contains(&key.as_str()) {
            continue;
        }
        if let Some(j) = entries[i + 1..].iter().position(|(k, _)| k == key) {
            return Err(Error::DotEnv {
                message: format!(
                    "{key} is set twice, on lines {} and {} (botdb would take the first, while python-dotenv, docker compose and `set -a; . .env` take the last): keep only one",
                    line(i),
                    line(i + 1 + j)
                ),
            });
        }
    }
    Ok(entries)
}

/// The line each variable of a `.env` text starts on (1-based), in dotenvy's order.
///
/// dotenvy reports no positions, and a quoted value may span lines; so entry `i` ends on
/// the first line `k` such that the first `k` lines hold more than `i` entries, and starts
/// on the first line after the previous entry that is neither blank nor a comment. Parsing
/// every prefix is quadratic, which is fine for a `.env` and only done to word an error.
fn dotenv_entry_lines(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut prefix = String::new();
    // The first line since the last entry ended that is neither blank nor a comment.
    let mut first: Option<usize> = None;
    for (k, line) in text.split_inclusive('\n').enumerate() {
        prefix.push_str(line);
        let trimmed = line.trim();
        if first.is_none() && !trimmed.is_empty() && !trimmed.starts_with('#') {
            first = Some(k + 1);
        }
        let entries = dotenvy::from_read_iter(prefix.as_bytes())
            .take_while(Result::is_ok)
            .count();
        while starts.len() < entries {
            starts.push(first.take().unwrap_or(k + 1));
        }
    }
    starts
}

fn dotenv_error(e: dotenvy::Error) -> Error {
    let message = match e {
        // The parser's own message quotes the line, which may hold a password.
        dotenvy::Error::LineParse(_, at) => format!(
            "a value cannot be parsed at its character {at} (quote values that hold spaces, `#` or `\\`)"
        ),
        e => e.to_string(),
    };
    Error::DotEnv { message }
}

/// Picks the URL: the explicit value, else `DATABASE_URL`, else `DB_URL` (either from
/// the environment or from `.env`), else the default. See [`resolve_with`].
pub fn resolve(explicit: Option<&str>) -> Result<(DatabaseUrl, UrlSource), Error> {
    resolve_with(explicit, None)
}

/// Picks the URL in order of precedence: the explicit value (`--database-url`),
/// `DATABASE_URL`, `DB_URL` (each from the environment, else from `.env`), the `url` of
/// `profile` (an environment of `botdb.toml`), else the default SQLite file.
///
/// The first of them that is set decides: set but empty is an error naming where it was
/// set, never a fall back to the default. A relative SQLite path from `.env` or
/// `botdb.toml` is relative to that file's folder.
pub fn resolve_with(
    explicit: Option<&str>,
    profile: Option<&Profile>,
) -> Result<(DatabaseUrl, UrlSource), Error> {
    if let Some(url) = explicit {
        refuse_empty(url, &UrlSource::Explicit)?;
        return Ok((DatabaseUrl::parse(url)?, UrlSource::Explicit));
    }
    for var in URL_VARIABLES {
        let Some(value) = std::env::var_os(var) else {
            continue;
        };
        let value = value.into_string().map_err(|_| {
            Error::Config(format!(
                "{var} is not valid UTF-8: set it to a database URL"
            ))
        })?;
        let (source, base) = match dotenv_file_of(var) {
            Some(file) => {
                let base = file.parent().map(Path::to_path_buf);
                (UrlSource::DotEnv(var, file), base)
            }
            None => (UrlSource::Env(var), None),
        };
        refuse_empty(&value, &source)?;
        let url = match &base {
            Some(base) => DatabaseUrl::parse_relative_to(&value, base)?,
            None => DatabaseUrl::parse(&value)?,
        };
        return Ok((url, source));
    }
    if let Some(profile) = profile {
        if let Some(raw) = &profile.url {
            let source = UrlSource::Toml(profile.name.clone(), profile.file.clone());
            refuse_empty(raw, &source)?;
            return Ok((
                DatabaseUrl::parse_relative_to(raw, profile.folder())?,
                source,
            ));
        }
    }
    Ok((DatabaseUrl::sqlite(DEFAULT_SQLITE_PATH), UrlSource::Default))
}

/// The error for a URL that was set empty at `source`.
fn refuse_empty(raw: &str, source: &UrlSource) -> Result<(), Error> {
    if !raw.trim().is_empty() {
        return Ok(());
    }
    let fix = match source {
        UrlSource::Explicit => "give a URL, or leave the flag out".to_string(),
        UrlSource::Env(var) => {
            format!("set {var} to a database URL, or unset it (`unset {var}`)")
        }
        UrlSource::DotEnv(var, _) => format!(
            "set {var} to a database URL there (a `${{VAR}}` in it expands to nothing when VAR is unset), or remove the line"
        ),
        UrlSource::Toml(..) => "set url to a database URL there, or remove the key".into(),
        UrlSource::Default => String::new(),
    };
    Err(Error::Config(format!(
        "the database URL from {source} is empty, so botdb would not know which database to use (it does not fall back to {DEFAULT_SQLITE_PATH}): {fix}"
    )))
}

/// botdb's optional configuration file, looked for in the current folder and its parents.
pub const CONFIG_FILE: &str = "botdb.toml";

/// The variable that selects an environment of `botdb.toml`, as `--env` does.
pub const ENV_VARIABLE: &str = "BOTDB_ENV";

/// One environment of `botdb.toml` (`[env.NAME]`): settings that rank below the flags,
/// the environment and `.env`, and above the defaults.
///
/// ```toml
/// [env.dev]
/// url = "sqlite://data/dev.sqlite3"    # relative to botdb.toml's folder
///
/// [env.prod]
/// url = "postgres://bot:secret@db.internal/shop"
/// lock_timeout = "30s"                  # seconds: 30, "30s", "500ms", "2m", "1h"
/// wait = 60
/// pool_size = 8
/// ```
///
/// The keys are `url`, `migrations_dir`, `pool_size`, `connect_timeout`, `wait`,
/// `lock_timeout` and `lock_lease`; any other key is an error.
// No Debug: `url` may hold a password.
#[derive(Clone, Default)]
pub struct Profile {
    /// The environment's name (`prod` for `[env.prod]`).
    pub name: String,
    /// The `botdb.toml` it was read from.
    pub file: PathBuf,
    /// The database URL, as written (a relative SQLite path is relative to [`Profile::folder`]).
    pub url: Option<String>,
    /// The migrations folder, made absolute against [`Profile::folder`].
    pub migrations_dir: Option<PathBuf>,
    /// Most connections in the pool.
    pub pool_size: Option<u32>,
    /// How long to wait for a connection.
    pub connect_timeout: Option<Duration>,
    /// How long to wait for the database to accept connections (`--wait`).
    pub wait: Option<Duration>,
    /// How long to wait for the migration lock and for table and row locks.
    pub lock_timeout: Option<Duration>,
    /// A Galera lock row's lease.
    pub lock_lease: Option<Duration>,
}

impl Profile {
    /// The folder of the `botdb.toml` it came from.
    pub fn folder(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }

    /// Reads environment `name` from the `botdb.toml` in the current folder or its nearest
    /// parent that has one.
    pub fn load(name: &str) -> Result<Self, Error> {
        let cwd = std::env::current_dir().map_err(|e| {
            Error::Config(format!(
                "cannot read the current directory to look for {CONFIG_FILE}: {e}"
            ))
        })?;
        let Some(file) = cwd
            .ancestors()
            .map(|dir| dir.join(CONFIG_FILE))
            .find(|candidate| candidate.is_file())
        else {
            return Err(Error::Config(format!(
                "environment `{name}` was asked for (--env or {ENV_VARIABLE}), but there is no {CONFIG_FILE} in {} or any folder above it: create one with an [env.{name}] table, or leave --env out",
                cwd.display()
            )));
        };
        let text = std::fs::read_to_string(&file).map_err(|e| {
            Error::Config(format!(
                "cannot read {}: {e}; check the file and its permissions",
                file.display()
            ))
        })?;
        let profile = Self::parse(name, &text, &file)?;
        tracing::info!("environment {name} from {}", file.display());
        Ok(profile)
    }

    /// Environment `name` of `text`, the contents of the `botdb.toml` at `file`.
    pub fn parse(name: &str, text: &str, file: &Path) -> Result<Self, Error> {
        let bad = |what: String| Error::Config(format!("{}: {what}", file.display()));
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            // The parser's own message quotes the line, which may hold a password.
            let line = e
                .span()
                .and_then(|span| text.get(..span.start))
                .map(|before| before.matches('\n').count() + 1);
            bad(format!(
                "{}{}: fix the file",
                line.map(|l| format!("line {l}: ")).unwrap_or_default(),
                redact_words(e.message().trim())
            ))
        })?;
        let envs = match table.remove("env") {
            Some(toml::Value::Table(envs)) => envs,
            Some(_) => {
                return Err(bad(
                    "`env` must be a table of environments, e.g. [env.prod]".into(),
                ))
            }
            None => toml::Table::new(),
        };
        if let Some(key) = table.keys().next() {
            return Err(bad(format!(
                "unknown key `{key}`: botdb.toml holds only [env.NAME] tables"
            )));
        }
        let known = || {
            envs.keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(value) = envs.get(name) else {
            return Err(bad(format!(
                "there is no environment `{name}` (it has: {}): pick one of those with --env, or add [env.{name}]",
                if envs.is_empty() { "none".to_string() } else { known() }
            )));
        };
        let toml::Value::Table(env) = value else {
            return Err(bad(format!("`env.{name}` must be a table ([env.{name}])")));
        };
        let mut profile = Profile {
            name: name.to_string(),
            file: file.to_path_buf(),
            ..Profile::default()
        };
        for (key, value) in env {
            let at = |what: &str| bad(format!("{key} in [env.{name}] {what}"));
            match key.as_str() {
                "url" => {
                    profile.url = Some(value.as_str().ok_or_else(|| at("must be a string"))?.to_string())
                }
                "migrations_dir" => {
                    let dir = value.as_str().ok_or_else(|| at("must be a string"))?;
                    profile.migrations_dir = Some(profile.folder().join(dir));
                }
                "pool_size" => {
                    let n = value
                        .as_integer()
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or_else(|| at("must be a whole number from 1 to 1000"))?;
                    profile.pool_size = u32::try_from(n).ok();
                }
                "connect_timeout" => profile.connect_timeout = Some(seconds(value, 1, 3600).map_err(|e| at(&e))?),
                "wait" => profile.wait = Some(seconds(value, 1, 86_400).map_err(|e| at(&e))?),
                "lock_timeout" => profile.lock_timeout = Some(seconds(value, 0, 2_147_483).map_err(|e| at(&e))?),
                "lock_lease" => profile.lock_lease = Some(seconds(value, 1, 3600).map_err(|e| at(&e))?),
                _ => {
                    return Err(bad(format!(
                        "unknown key `{key}` in [env.{name}]: the keys are url, migrations_dir, pool_size, connect_timeout, wait, lock_timeout and lock_lease"
                    )))
                }
            }
        }
        Ok(profile)
    }
}

/// A duration from `botdb.toml`: whole seconds (`30`), or a number with a unit (`"30s"`,
/// `"500ms"`, `"2m"`, `"1h"`), from `min` to `max` seconds.
fn seconds(value: &toml::Value, min: u64, max: u64) -> Result<Duration, String> {
    let wrong = || {
        format!("must be a duration from {min} to {max} seconds: 30, \"30s\", \"500ms\", \"2m\" or \"1h\"")
    };
    let duration = match value {
        toml::Value::Integer(n) => Duration::from_secs(u64::try_from(*n).map_err(|_| wrong())?),
        toml::Value::String(text) => {
            let text = text.trim();
            let split = text
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len());
            let (number, unit) = text.split_at(split);
            let n: u64 = number.parse().map_err(|_| wrong())?;
            match unit.trim() {
                "" | "s" => Duration::from_secs(n),
                "ms" => Duration::from_millis(n),
                "m" => Duration::from_secs(n.saturating_mul(60)),
                "h" => Duration::from_secs(n.saturating_mul(3600)),
                _ => return Err(wrong()),
            }
        }
        _ => return Err(wrong()),
    };
    if duration < Duration::from_secs(min) || duration > Duration::from_secs(max) {
        return Err(wrong());
    }
    Ok(duration)
}

/// `text` with the password of every URL in it replaced by `***`, line by line: for
/// messages that quote what was typed (a command-line parser's, a file parser's).
pub fn redact_urls(text: &str) -> String {
    text.split_inclusive('\n').map(redact_words).collect()
}

/// A message with every word that looks like a URL redacted. Only the URL itself is
/// rewritten: quotes around it, and a terminal's colour codes, stay as they are.
fn redact_words(message: &str) -> String {
    let scheme = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.');
    message
        .split(' ')
        .map(|word| {
            let Some(at) = word.find("://") else {
                return word.to_string();
            };
            let start = word[..at]
                .char_indices()
                .rev()
                .find(|&(_, c)| !scheme(c))
                .map_or(0, |(i, c)| i + c.len_utf8());
            // A quoted URL ends at the last matching quote (a password may hold one);
            // otherwise at a colour code or the end of the line.
            let end = match word[..start].chars().next_back() {
                Some(quote @ ('\'' | '"')) => word.rfind(quote).filter(|&i| i > at),
                _ => None,
            }
            .or_else(|| word[at..].find(['\x1b', '\n', '\t']).map(|i| at + i))
            .unwrap_or(word.len());
            format!(
                "{}{}{}",
                &word[..start],
                redact_unparsed(&word[start..end]),
                &word[end..]
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The variable holding the server's own URL for commands that change the schema, when
/// the database URL goes through a transaction-mode pooler (Prisma's `directUrl`).
pub const DIRECT_URL_VARIABLE: &str = "DIRECT_URL";

/// Picks the direct URL: the explicit value, else `DIRECT_URL`, else none. It must name
/// the same backend as `url` (the database URL it stands in for) and go to the server
/// itself, so not carry `?pgbouncer=true`.
pub fn resolve_direct(
    explicit: Option<&str>,
    url: &DatabaseUrl,
) -> Result<Option<(DatabaseUrl, UrlSource)>, Error> {
    let (raw, source) = match explicit.filter(|u| !u.trim().is_empty()) {
        Some(raw) => (raw.to_string(), UrlSource::Explicit),
        None => match std::env::var(DIRECT_URL_VARIABLE) {
            Ok(raw) if !raw.trim().is_empty() => (raw, UrlSource::Env(DIRECT_URL_VARIABLE)),
            _ => return Ok(None),
        },
    };
    let name = match source {
        UrlSource::Env(var) => var,
        _ => "--direct-url",
    };
    let direct = DatabaseUrl::parse(&raw)?;
    let invalid = |reason: String| Error::InvalidUrl {
        url: direct.redacted(),
        reason,
    };
    if direct.behind_pooler() {
        return Err(invalid(format!(
            "{name} is for the server itself, past the pooler: remove ?pgbouncer=true from it"
        )));
    }
    // Only the backend can be compared: a pooler may serve a database under another name
    // (PgBouncer's [databases] aliases), so the names and hosts may rightly differ.
    if direct.backend() != url.backend() {
        return Err(invalid(format!(
            "{name} names a {} database but the database URL {url} a {} one: the direct URL must reach the same database as the database URL, past the pooler",
            direct.backend().name(),
            url.backend().name()
        )));
    }
    Ok(Some((direct, source)))
}

/// `scheme:rest`, but only when the prefix looks like a URL scheme, so that a Windows
/// drive letter or a plain relative path stays a path.
fn split_scheme(raw: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = raw.split_once(':')?;
    let valid = scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some((scheme, rest))
}

/// The file path in a SQLite URL's remainder (what follows `sqlite:`).
///
/// SQLAlchemy (`sqlite+driver:`) counts three slashes as a relative path and four as an
/// absolute one; the sqlx/diesel form `sqlite://PATH` takes everything after `//`.
fn sqlite_path(rest: &str, sqlalchemy: bool) -> String {
    let rest = rest.split_once('?').map_or(rest, |(path, _query)| path);
    let path = if sqlalchemy {
        rest.strip_prefix("///").unwrap_or(rest)
    } else {
        rest.strip_prefix("//").unwrap_or(rest)
    };
    path.to_string()
}

/// Redacts the passwords of a URL that may not parse.
///
/// A password may hold an unencoded `/`, `?`, `#` or `@` that ends the authority early, so
/// everything from the user name's `:` to the *last* `@` is masked, wherever that `@` is.
/// Query parameters named like a password (`password=`, `sslpassword=`) are masked too.
/// A server URL with its scheme left out, shown with everything before the host masked.
fn no_scheme(raw: &str) -> Error {
    let host = raw.rsplit_once('@').map_or("", |(_, host)| host);
    Error::InvalidUrl {
        url: format!("***@{host}"),
        reason: "it has no scheme; start it with postgres://, mysql:// or sqlite://".into(),
    }
}

fn redact_unparsed(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once(':') else {
        return raw.to_string();
    };
    let slashes = &rest[..rest.len() - rest.trim_start_matches('/').len()];
    let rest = &rest[slashes.len()..];
    let rest = match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            // No `:`, so no password; but a password's `/` may have cut the user short.
            None if userinfo.contains(['/', '?', '#']) => format!("***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => rest.to_string(),
    };
    format!("{scheme}:{slashes}{}", mask_query_passwords(&rest))
}

/// `?user=bot&password=x` → `?user=bot&password=***`.
fn mask_query_passwords(s: &str) -> String {
    let Some((head, query)) = s.split_once('?') else {
        return s.to_string();
    };
    let (query, fragment) = query
        .split_once('#')
        .map_or((query, None), |(q, f)| (q, Some(f)));
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_password_key(key) => format!("{key}=***"),
            _ => pair.to_string(),
        })
        .collect();
    let fragment = fragment.map(|f| format!("#{f}")).unwrap_or_default();
    format!("{head}?{}{fragment}", pairs.join("&"))
}

fn is_password_key(key: &str) -> bool {
    key.to_ascii_lowercase().ends_with("password")
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pgbouncer_flag_never_reaches_the_driver() {
        for (raw, pooled) in [
            ("postgres://u@h/db?pgbouncer=true", true),
            ("postgres://u@h/db?pgbouncer=false", false),
            ("postgres://u@h/db?pgbouncer=0&sslmode=disable", false),
        ] {
            let url = DatabaseUrl::parse(raw).expect("valid URL");
            assert_eq!(url.behind_pooler(), pooled, "{raw}");
            assert!(!url.connection_string().contains("pgbouncer"), "{raw}");
            assert_eq!(
                url.remote_target().as_deref(),
                Some("h"),
                "{raw}: read by the driver"
            );
        }
    }

    #[test]
    fn a_server_url_without_its_scheme_is_refused_without_its_password() {
        for raw in ["postgres//bot:s3cret@db/shop", "bot:s3cret@db/shop"] {
            let err = DatabaseUrl::parse(raw).expect_err(raw).to_string();
            assert!(!err.contains("s3cret"), "{err}");
            assert!(err.contains("no scheme"), "{err}");
        }
        assert_eq!(parsed("data/shop.sqlite3").0, Backend::Sqlite);
    }

    fn parsed(raw: &str) -> (Backend, String) {
        let url = DatabaseUrl::parse(raw).expect("valid URL");
        (url.backend(), url.target)
    }

    #[test]
    fn sqlite_forms() {
        let cwd = std::env::current_dir().expect("current dir");
        let rel = (
            Backend::Sqlite,
            cwd.join("data/db.sqlite3").display().to_string(),
        );
        assert_eq!(parsed("sqlite://data/db.sqlite3"), rel);
        assert_eq!(parsed("sqlite:data/db.sqlite3"), rel);
        assert_eq!(parsed("data/db.sqlite3"), rel);
        assert_eq!(parsed("sqlite+aiosqlite:///data/db.sqlite3"), rel);
        assert_eq!(
            parsed("sqlite+aiosqlite:////var/lib/bot.db"),
            (Backend::Sqlite, "/var/lib/bot.db".to_string())
        );
        assert_eq!(
            parsed("sqlite:///var/lib/bot.db"),
            (Backend::Sqlite, "/var/lib/bot.db".to_string())
        );
        assert_eq!(parsed("/tmp/x.db"), (Backend::Sqlite, "/tmp/x.db".into()));
        let from_env_file =
            DatabaseUrl::parse_relative_to("sqlite://data/db.sqlite3", Path::new("/srv/bot"))
                .expect("valid");
        assert_eq!(
            from_env_file.redacted(),
            "sqlite:///srv/bot/data/db.sqlite3"
        );
        let absolute =
            DatabaseUrl::parse_relative_to("sqlite:///var/x.db", Path::new("/srv")).expect("valid");
        assert_eq!(absolute.redacted(), "sqlite:///var/x.db");
        for memory in [
            "sqlite://:memory:",
            "sqlite::memory:",
            ":memory:",
            "sqlite+aiosqlite:///:memory:",
        ] {
            let err = DatabaseUrl::parse(memory).expect_err(memory).to_string();
            assert!(err.contains("in-memory"), "{memory}: {err}");
        }
    }

    #[test]
    fn botdb_toml_environments() {
        let file = Path::new("/srv/bot/botdb.toml");
        let text = "[env.prod]\nurl = \"postgres://bot:pw@db/shop\"\nlock_timeout = \"30s\"\nwait = 60\npool_size = 8\nmigrations_dir = \"m\"\nconnect_timeout = \"2m\"\n\n[env.dev]\n";
        let prod = Profile::parse("prod", text, file).expect("valid");
        assert_eq!(prod.lock_timeout, Some(Duration::from_secs(30)));
        assert_eq!(prod.wait, Some(Duration::from_secs(60)));
        assert_eq!(prod.pool_size, Some(8));
        assert_eq!(prod.migrations_dir, Some(PathBuf::from("/srv/bot/m")));
        let err = |name: &str, text: &str| {
            Profile::parse(name, text, file)
                .err()
                .map(|e| e.to_string())
        };
        assert_eq!(prod.connect_timeout, Some(Duration::from_secs(120)));
        for (text, expected) in [
            (
                "[env.prod]\npool_size = 0\n",
                "pool_size in [env.prod] must be",
            ),
            (
                "[env.prod]\nlock_timeout = \"soon\"\n",
                "lock_timeout in [env.prod] must be",
            ),
            (
                "[env.prod]\nconnect_timeout = \"500ms\"\n",
                "connect_timeout in [env.prod] must be a duration from 1",
            ),
            (
                "[env.prod]\nurl = 5\n",
                "url in [env.prod] must be a string",
            ),
            ("url = \"x\"\n", "unknown key `url`"),
            ("[env.dev]\n", "no environment `prod` (it has: dev)"),
            (
                "[env.prod]\nwait = 1\nurl = \"postgres://bot:pw@db/shop\n",
                "line 3",
            ),
        ] {
            let shown = err("prod", text).expect(text);
            assert!(shown.contains(expected), "{text}: {shown}");
            assert!(!shown.contains(":pw@"), "{shown}");
        }
    }

    #[test]
    fn server_forms_are_normalised() {
        assert_eq!(
            parsed("postgresql+asyncpg://bot:pw@db:5432/shop"),
            (Backend::Postgres, "postgres://bot:pw@db:5432/shop".into())
        );
        assert_eq!(parsed("postgresql://h/d").0, Backend::Postgres);
        assert_eq!(
            parsed("mariadb://root@127.0.0.1:3306/shop"),
            (Backend::Mysql, "mysql://root@127.0.0.1:3306/shop".into())
        );
        assert_eq!(parsed("mysql+aiomysql://u:p@h/d").0, Backend::Mysql);
    }

    #[test]
    fn bad_urls_are_errors_without_password() {
        let err = DatabaseUrl::parse("oracle://u:hunter2@h/d")
            .unwrap_err()
            .to_string();
        assert!(err.contains("oracle"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = DatabaseUrl::parse("postgres://u:hunter2@/d")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        let err = DatabaseUrl::parse("postgres://u:hunter2@h:99999/d")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(DatabaseUrl::parse("mysql://h").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse("sqlite+aiosqlite:///").is_err());
        assert!(DatabaseUrl::parse("  ").is_err());
    }

    #[test]
    fn locality_and_other_databases() {
        let local = DatabaseUrl::parse("postgres://u:pw@127.0.0.1/shop").expect("valid");
        assert!(local.is_local());
        assert!(DatabaseUrl::parse("mysql://u@localhost/shop")
            .expect("valid")
            .is_local());
        assert!(DatabaseUrl::parse("x.db").expect("valid").is_local());
        let socket = DatabaseUrl::parse("postgres:///shop?host=/run/postgresql").expect("valid");
        assert!(socket.is_local());
        assert_eq!(socket.database_name(), "shop");
        assert!(
            DatabaseUrl::parse("mysql://u@db.example/shop?socket=/run/mysqld/mysqld.sock")
                .expect("valid")
                .is_local()
        );
        assert!(DatabaseUrl::parse("mysql:///shop?socket=/run/mysqld/mysqld.sock").is_err());
        assert!(DatabaseUrl::parse("postgres:///shop").is_err());
        assert!(!DatabaseUrl::parse("postgres://u@db.internal/shop")
            .expect("valid")
            .is_local());
        let admin = local.with_database("postgres").expect("valid");
        assert_eq!(admin.redacted(), "postgres://u:***@127.0.0.1/postgres");
        assert_eq!(admin.database_name(), "postgres");
    }

    #[test]
    fn passwords_with_unencoded_separators_never_show() {
        for raw in [
            "postgres://bot:pa/ss@db/shop",
            "mysql://bot:123/x@db/shop",
            "postgres://bot:a?b#c@db/shop",
            "postgres:/bot:hunter@db/shop",
            "oracle://bot:pa/ss@db/shop",
            "postgres://db/shop?user=bot&password=hunter&sslmode=disable",
        ] {
            let shown = match DatabaseUrl::parse(raw) {
                Ok(url) => format!("{url} {url:?}"),
                Err(e) => e.to_string(),
            };
            for secret in ["pa/ss", "123/x", "a?b#c", "hunter"] {
                assert!(!shown.contains(secret), "{raw}: {shown}");
            }
        }
        let url = DatabaseUrl::parse("postgres://db/shop?user=bot&password=hunter&sslmode=disable")
            .expect("valid");
        assert_eq!(
            url.redacted(),
            "postgres://db/shop?user=bot&password=***&sslmode=disable"
        );
        assert_eq!(url.scrub("password hunter"), "password ***");
        let url = DatabaseUrl::parse("postgres://bot:s%2Fcret@db/shop").expect("valid");
        assert_eq!(url.scrub("s%2Fcret s/cret"), "*** ***");
    }

    #[test]
    fn a_bad_env_file_is_reported_without_its_values() {
        let bad = "DATABASE_URL=postgres://bot:hunter two@db/shop\n";
        let e = dotenvy::from_read_iter(bad.as_bytes())
            .find_map(Result::err)
            .expect("a parse error");
        let shown = dotenv_error(e).to_string();
        assert!(shown.contains("quote values"), "{shown}");
        assert!(!shown.contains("hunter"), "{shown}");
    }

    #[test]
    fn redaction() {
        let url = DatabaseUrl::parse("postgres://bot:s%40cret@db/shop").expect("valid");
        assert_eq!(url.redacted(), "postgres://bot:***@db/shop");
        assert_eq!(format!("{url}"), "postgres://bot:***@db/shop");
        assert!(!format!("{url:?}").contains("cret"));
        assert_eq!(url.scrub("auth failed for s@cret"), "auth failed for ***");
        assert_eq!(
            redact_unparsed("mysql://root@h:3306/x"),
            "mysql://root@h:3306/x"
        );
    }

    #[test]
    fn urls_in_a_message_lose_their_passwords_and_nothing_else() {
        let message = "error: unexpected argument 'postgres://bot:s3cret@db/shop' found\n\n  \
                       tip: to pass it as a value, use '-- mysql://root:pw@h/x'\n\nUsage: botdb\n";
        assert_eq!(
            redact_urls(message),
            "error: unexpected argument 'postgres://bot:***@db/shop' found\n\n  \
             tip: to pass it as a value, use '-- mysql://root:***@h/x'\n\nUsage: botdb\n"
        );
        assert_eq!(redact_urls("no url: here\n"), "no url: here\n");
        // What surrounds a URL stays: quotes (one inside the password too), a colour, and
        // the rest of a query after its password.
        assert_eq!(
            redact_urls("'postgres://h/db?password=x&sslmode=disable' found\n"),
            "'postgres://h/db?password=***&sslmode=disable' found\n"
        );
        assert_eq!(
            redact_urls("\x1b[33m'mysql://root:it's@h/db'\x1b[0m\n"),
            "\x1b[33m'mysql://root:***@h/db'\x1b[0m\n"
        );
        assert_eq!(
            redact_urls("--database-url=postgres://u:p@h/db\tx"),
            "--database-url=postgres://u:***@h/db\tx"
        );
    }

    #[test]
    fn an_at_outside_the_user_name_and_password_is_refused() {
        for scheme in ["postgres", "postgresql+asyncpg", "mysql", "mariadb"] {
            for rest in [
                "bot:a@127.0.0.2:5555/zz@db/shop",
                "bot:p@ss@db/shop",
                "bot@db/shop?user=x@y",
                "db/shop@x",
                "bot:5?x@db/shop",
            ] {
                let raw = format!("{scheme}://{rest}");
                let err = DatabaseUrl::parse(&raw).expect_err(&raw).to_string();
                assert!(
                    err.contains("percent-encode") && err.contains("%40"),
                    "{err}"
                );
                assert!(!err.contains("127.0.0.2") && !err.contains("p@ss"), "{err}");
            }
            let fine =
                DatabaseUrl::parse(&format!("{scheme}://bot:p%40ss@db/shop")).expect("valid");
            assert_eq!(fine.host_port().map(|h| h.0), Some("db".into()));
        }
    }

    #[test]
    fn remote_targets_are_where_the_driver_connects() {
        let remote = |raw: &str| DatabaseUrl::parse(raw).expect(raw).remote_target();
        for (raw, expected) in [
            ("postgres://u@127.0.0.1/shop", None),
            ("postgres://u@[::1]:5432/shop", None),
            ("postgres://u@LOCALHOST/shop", None),
            ("postgres://u@db.example/shop?hostaddr=127.0.0.1", None),
            ("postgres:///shop?host=/run/postgresql&user=u", None),
            (
                "postgres://u@db.example/shop?host=/run/postgresql",
                Some("db.example"),
            ),
            (
                "postgres://u@127.0.0.1/shop?hostaddr=10.1.2.3",
                Some("hostaddr 10.1.2.3"),
            ),
            (
                "postgres://u@localhost/shop?host=db.example",
                Some("db.example"),
            ),
            ("postgres://u@127.0.0.1,db.example/shop", Some("db.example")),
            (
                "postgres://u@127.0.0.1,localhost/shop?hostaddr=127.0.0.1,::1",
                None,
            ),
            (
                "postgres://u@127.0.0.1/shop?hostaddr=nonsense",
                Some("an address its driver cannot read"),
            ),
            ("mysql://u@[::1]:3306/shop", None),
            ("mysql://u@127.0.0.1/shop", None),
            ("mysql://u@db.example/shop", Some("db.example")),
            (
                "mysql://u@db.example/shop?socket=/run/mysqld/mysqld.sock",
                None,
            ),
            ("sqlite://x.db", None),
        ] {
            assert_eq!(remote(raw).as_deref(), expected, "{raw}");
        }
        assert!(
            !DatabaseUrl::parse("postgres://u@127.0.0.1/shop?hostaddr=10.1.2.3")
                .expect("valid")
                .is_local()
        );
    }

    #[test]
    fn an_ipv6_host_has_no_brackets() {
        let url = DatabaseUrl::parse("mysql://u@[::1]:3307/shop").expect("valid");
        assert_eq!(url.host_port(), Some(("::1".into(), 3307)));
    }

    #[test]
    fn env_file_entries_with_their_lines() {
        let text = "DATABASE_URL=sqlite://first.db\nCERT=\"one\ntwo\"\n\n  # note\nX=1 # trailing\nexport DB_URL=y\n";
        assert_eq!(dotenv_entry_lines(text), vec![1, 2, 6, 7]);
        let err = parse_dotenv(&format!("{text}DATABASE_URL=sqlite://second.db\n"))
            .expect_err("a duplicate")
            .to_string();
        assert!(
            err.contains("DATABASE_URL is set twice, on lines 1 and 8"),
            "{err}"
        );
        assert!(
            !err.contains("first.db") && !err.contains("second.db"),
            "{err}"
        );
        // BOTDB_ENV picks the database as much as DATABASE_URL does.
        let err = parse_dotenv("BOTDB_ENV=dev\nBOTDB_ENV=prod\n")
            .expect_err("a duplicate")
            .to_string();
        assert!(
            err.contains("BOTDB_ENV is set twice, on lines 1 and 2"),
            "{err}"
        );
        // Keys botdb does not read may repeat, as they may for the bot.
        assert_eq!(parse_dotenv("A=1\nA=2\n").expect("valid").len(), 2);
        let err = parse_dotenv("\u{feff}A=1\nDB_URL=x\0secret\n")
            .expect_err("a NUL")
            .to_string();
        assert!(err.contains("DB_URL on line 2 holds a NUL byte"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }

    proptest::proptest! {
        // Whatever botdb accepts, both drivers connect to the host botdb names (and shows).
        #[test]
        fn accepted_urls_connect_where_they_say(
            user in "[a-z]{1,5}",
            password in "[A-Za-z0-9:@/?#%]{0,12}",
            tail in "(/shop|/shop\\?sslmode=disable|/s@p|/shop\\?x=@y)",
        ) {
            for scheme in ["postgres", "mysql"] {
                let raw = format!("{scheme}://{user}:{password}@db.example:5433{tail}");
                let Ok(url) = DatabaseUrl::parse(&raw) else { continue };
                let named = url.host_port().map(|h| h.0);
                proptest::prop_assert_eq!(named.as_deref(), Some("db.example"), "{}", raw);
                let driver = if scheme == "postgres" {
                    url.connection_string()
                        .parse::<tokio_postgres::Config>()
                        .ok()
                        .and_then(|c| match c.get_hosts() {
                            [tokio_postgres::config::Host::Tcp(h)] => Some(h.clone()),
                            _ => None,
                        })
                } else {
                    mysql_async::Opts::from_url(url.connection_string())
                        .ok()
                        .map(|o| o.ip_or_hostname().to_string())
                };
                // A URL the driver cannot read at all fails to connect, which is safe.
                if let Some(host) = driver {
                    proptest::prop_assert_eq!(host.as_str(), "db.example", "{}", raw);
                }
            }
        }
    }

    proptest::proptest! {
        // Fuzzing: any input is an answer or an error, never a panic, and an error never
        // repeats a password.
        #[test]
        fn parse_never_panics(raw in "\\PC{0,80}") {
            let _ = DatabaseUrl::parse(&raw).map(|u| (u.redacted(), u.host_port(), u.database_name()));
        }

        #[test]
        fn schemes_and_shapes_never_panic(
            scheme in "(postgres|postgresql\\+asyncpg|mysql|mariadb|sqlite|sqlite\\+aiosqlite|oracle)",
            rest in "[a-z0-9:@/?#%.\\[\\]_-]{0,40}",
        ) {
            let _ = DatabaseUrl::parse(&format!("{scheme}://{rest}"));
            let _ = DatabaseUrl::parse(&format!("{scheme}:{rest}"));
        }

        #[test]
        // "Pw" appears nowhere else in the URL, so a match is always a leak.
        fn a_password_never_shows(password in "Pw[A-Za-z0-9!$&*+,;=~_./?#@:-]{4,18}", port in 0u32..70000) {
            for scheme in ["postgres", "mysql", "mariadb", "postgresql+asyncpg", "oracle"] {
                let raw = format!("{scheme}://bot:{password}@db.example:{port}/shop");
                let shown = match DatabaseUrl::parse(&raw) {
                    Ok(url) => format!("{url} {url:?} {}", url.scrub(&format!("failed for {password}"))),
                    Err(e) => e.to_string(),
                };
                proptest::prop_assert!(!shown.contains(&password), "{}", shown);
            }
        }
    }
}
