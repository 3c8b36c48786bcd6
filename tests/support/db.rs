//! Test databases: a temporary SQLite file, or a uniquely named database on the
//! PostgreSQL / MariaDB server named by TEST_POSTGRES_URL / TEST_MYSQL_URL, dropped
//! again when the test ends.
//!
//! With TEST_POSTGRES_POOLED_URL set as well (a PgBouncer in transaction mode in front of
//! that server, `?pgbouncer=true`; `.ci/run`'s second pass sets it), every PostgreSQL test
//! database is reached through the pooler: [`TestDb::url`], what botdb connects with, names
//! the database on the pooler. The test's own administration (CREATE / DROP DATABASE,
//! [`TestDb::admin`]) and the side connections a test opens to play another client
//! ([`TestDb::direct_url`]) stay on the server: DROP DATABASE through the pooler would
//! race the server connections it keeps to that database, and a client that holds a lock
//! for a test must hold it on a session of its own. It is read at run time, not by
//! build.rs, so switching the pass on rebuilds nothing.

use std::sync::atomic::{AtomicU32, Ordering};

use botdb::{Backend, Database};
use diesel_async::{
    AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, SimpleAsyncConnection,
};

/// A database that exists for one test.
pub struct TestDb {
    pub backend: Backend,
    /// The URL botdb connects with: through the pooler when TEST_POSTGRES_POOLED_URL is set.
    pub url: String,
    /// The same database on the server itself, never through a pooler: for a test's own
    /// side connections (another client holding a lock, replication positions).
    pub direct_url: String,
    name: String,
    admin_url: Option<String>,
    dir: Option<tempfile::TempDir>,
}

fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "botdb_t{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The variable that names `backend`'s test server (`None` for SQLite).
pub fn server_var(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some("TEST_POSTGRES_URL"),
        Backend::Mysql => Some("TEST_MYSQL_URL"),
    }
}

/// The server URL for a backend's tests, or `None` when its variable is not set.
pub fn server_url(backend: Backend) -> Option<String> {
    std::env::var(server_var(backend)?)
        .ok()
        .filter(|v| !v.is_empty())
}

/// The server URL for a server backend's tests. A test that needs it is ignored when its
/// variable was not set at build time (`per_backend!` does that, or
/// `#[cfg_attr(not(botdb_test_mysql), ignore = "set TEST_MYSQL_URL")]`), so reaching here
/// without it is an error, never a silent skip.
pub fn required_server_url(backend: Backend) -> String {
    let var = server_var(backend).expect("SQLite needs no server");
    server_url(backend).unwrap_or_else(|| {
        panic!("{var} is not set: set it to run the {backend} tests (see Testing in README.md)")
    })
}

/// The pooler the PostgreSQL tests' botdb connects through, when TEST_POSTGRES_POOLED_URL
/// is set (see the module docs).
pub fn postgres_pooler_url() -> Option<String> {
    std::env::var("TEST_POSTGRES_POOLED_URL")
        .ok()
        .filter(|v| !v.is_empty())
}

/// `url` with its database (path) replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("TEST_*_URL must be a valid URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

impl TestDb {
    /// A new empty database. Always `Some` (the `Option` stays for the callers that
    /// match on it): without its server variable a server backend panics, see
    /// [`required_server_url`].
    pub async fn create(backend: Backend) -> Option<TestDb> {
        let name = unique_name();
        if backend == Backend::Sqlite {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join(format!("{name}.sqlite3"));
            let url = format!("sqlite://{}", path.display());
            return Some(TestDb {
                backend,
                direct_url: url.clone(),
                url,
                name,
                admin_url: None,
                dir: Some(dir),
            });
        }
        let admin = required_server_url(backend);
        admin_execute(backend, &admin, &format!("CREATE DATABASE {name}")).await;
        let direct_url = with_database(&admin, &name);
        let url = match postgres_pooler_url() {
            Some(pooler) if backend == Backend::Postgres => with_database(&pooler, &name),
            _ => direct_url.clone(),
        };
        Some(TestDb {
            backend,
            url,
            direct_url,
            name,
            admin_url: Some(admin),
            dir: None,
        })
    }

    /// The database's name (the file stem on SQLite).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs SQL on the server's administration database (not this database).
    pub async fn admin(&self, sql: &str) {
        if let Some(admin) = &self.admin_url {
            admin_execute(self.backend, admin, sql).await;
        }
    }

    /// The SQLite file, for SQLite databases.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.path().join(format!("{}.sqlite3", self.name)))
    }

    /// A folder that lives as long as the database, for files a test needs.
    pub fn scratch_dir(&self) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("{}_scratch", self.name));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    pub async fn connect(&self) -> Database {
        Database::connect(&self.url)
            .await
            .expect("connect to the test database")
    }

    /// Connected to the server itself, never through the pooler: for a test that checks
    /// what botdb did through it.
    pub async fn connect_direct(&self) -> Database {
        Database::connect(&self.direct_url)
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ =
            std::fs::remove_dir_all(std::env::temp_dir().join(format!("{}_scratch", self.name)));
        let Some(admin) = self.admin_url.clone() else {
            return;
        };
        let (backend, name) = (self.backend, self.name.clone());
        let sql = match backend {
            Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            _ => format!("DROP DATABASE IF EXISTS {name}"),
        };
        // Drop runs inside the test's runtime, which cannot block on another future.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(admin_execute(backend, &admin, &sql));
        })
        .join();
    }
}

async fn admin_execute(backend: Backend, admin_url: &str, sql: &str) {
    match backend {
        Backend::Postgres => {
            let mut conn = AsyncPgConnection::establish(admin_url)
                .await
                .expect("connect to TEST_POSTGRES_URL");
            conn.batch_execute(sql).await.expect(sql);
        }
        Backend::Mysql => {
            let mut conn = AsyncMysqlConnection::establish(admin_url)
                .await
                .expect("connect to TEST_MYSQL_URL");
            conn.batch_execute(sql).await.expect(sql);
        }
        Backend::Sqlite => {}
    }
}
