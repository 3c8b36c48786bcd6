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
        }
    }

    fn server(backend: Backend, scheme: &str, raw: &str, rest: &str) -> Result<Self, Error> {
        let normalised = format!("{scheme}:{rest}");
        let invalid = |reason: String| Error::InvalidUrl {
            url: redact_unparsed(raw),
            reason,
        };
        let parsed = url::Url::parse(&normalised).map_err(|e| invalid(e.to_string()))?;
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
        // `bot:123/x@db/shop` (a password with an unencoded `/`) parses as host `bot`, port
        // 123 and a path holding the rest of the password: refuse it instead.
        let after_slashes = rest.trim_start_matches('/');
        let authority = after_slashes
            .split(['/', '?', '#'])
            .next()
            .unwrap_or(after_slashes);
        if !authority.contains('@') && after_slashes.contains('@') {
            return Err(invalid(
                "it has an `@` after the host: percent-encode `/`, `?`, `#` and `@` in the user name and password (%2F, %3F, %23, %40)".into(),
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
        })
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

    /// The server's host and port (with the backend's default port), for server URLs.
    pub fn host_port(&self) -> Option<(String, u16)> {
        let default = self.backend.default_port()?;
        let parsed = url::Url::parse(&self.target).ok()?;
        Some((
            parsed.host_str()?.to_string(),
            parsed.port().unwrap_or(default),
        ))
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
                })
            }
        }
    }

    /// Whether the database is on this machine: a SQLite file, or a server on a loopback
    /// address or a Unix socket.
    pub fn is_local(&self) -> bool {
        // A socket given in the query decides where the driver connects, whatever the host.
        let socket = url::Url::parse(&self.target).is_ok_and(|u| {
            u.query_pairs()
                .any(|(k, v)| (k == "host" && v.starts_with('/')) || k == "socket")
        });
        match self.host_port() {
            _ if socket => true,
            None => true,
            Some((host, _)) => {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                host == "localhost"
                    || host
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
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

/// Loads `.env` from the current directory or a parent, without overriding variables
/// that are already set. Returns the file that was loaded, if any.
pub fn load_dotenv() -> Result<Option<PathBuf>, Error> {
    match dotenvy::dotenv() {
        Ok(path) => Ok(Some(path)),
        Err(e) if e.not_found() => Ok(None),
        Err(e) => Err(dotenv_error(e)),
    }
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
