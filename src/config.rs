//! Where the database is: URL resolution, backend detection and password redaction.
//!
//! The URL comes from, in order: an explicit value (`--database-url`), `DATABASE_URL`,
//! the Python bot's own `DB_URL`, and finally the embedded default, a SQLite file at
//! [`DEFAULT_SQLITE_PATH`]. Each variable may also come from a `.env` file
//! ([`load_dotenv`]); the real environment wins over `.env`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::backend::Backend;
use crate::error::Error;

/// The SQLite file used when no URL is configured anywhere.
pub const DEFAULT_SQLITE_PATH: &str = "data/botdb.sqlite3";

/// The environment variables botdb reads a URL from, in order of precedence.
pub const URL_VARIABLES: [&str; 2] = ["DATABASE_URL", "DB_URL"];

/// Where a resolved URL came from; shown in logs so operators know which setting won.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSource {
    /// Given explicitly (the `--database-url` flag or the library caller).
    Explicit,
    /// Read from this environment variable (possibly loaded from `.env`).
    Env(&'static str),
    /// Nothing was configured: the embedded SQLite default.
    Default,
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
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(Error::InvalidUrl {
                url: String::new(),
                reason: "the URL is empty".into(),
            });
        }
        let Some((scheme, rest)) = split_scheme(raw) else {
            return Ok(Self::sqlite(raw));
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
                Ok(Self::sqlite(&path))
            }
            Some((backend, scheme)) => Self::server(backend, scheme, raw, rest),
            None => Err(Error::UnknownScheme {
                scheme: scheme.to_string(),
                url: redact_unparsed(raw),
            }),
        }
    }

    fn sqlite(path: &str) -> Self {
        Self {
            backend: Backend::Sqlite,
            target: path.to_string(),
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
pub const DOTENV_VARIABLES: [&str; 4] = ["DATABASE_URL", "DB_URL", DIRECT_URL_VARIABLE, "RUST_LOG"];

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
    for (key, value) in parse_dotenv(&text)? {
        if std::env::var_os(&key).is_none() {
            std::env::set_var(key, value);
        }
    }
    Ok(Some(path))
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

/// Picks the URL: the explicit value, else `DATABASE_URL`, else `DB_URL`, else the default.
pub fn resolve(explicit: Option<&str>) -> Result<(DatabaseUrl, UrlSource), Error> {
    if let Some(url) = explicit.filter(|u| !u.trim().is_empty()) {
        return Ok((DatabaseUrl::parse(url)?, UrlSource::Explicit));
    }
    for var in URL_VARIABLES {
        if let Ok(value) = std::env::var(var) {
            if !value.trim().is_empty() {
                return Ok((DatabaseUrl::parse(&value)?, UrlSource::Env(var)));
            }
        }
    }
    Ok((DatabaseUrl::sqlite(DEFAULT_SQLITE_PATH), UrlSource::Default))
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

    fn parsed(raw: &str) -> (Backend, String) {
        let url = DatabaseUrl::parse(raw).expect("valid URL");
        (url.backend(), url.target)
    }

    #[test]
    fn sqlite_forms() {
        let rel = (Backend::Sqlite, "data/db.sqlite3".to_string());
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
