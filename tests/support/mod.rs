//! Test databases: a temporary SQLite file, or a uniquely named database on the
//! PostgreSQL / MariaDB server named by TEST_POSTGRES_URL / TEST_MYSQL_URL, dropped
//! again when the test ends.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use botdb::models::{Product, Purchase, User};
use botdb::schema::{products, purchases, users};
use botdb::{Backend, Database, Schema};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{
    AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection,
};

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// The migrations every backend has, oldest first, as diesel records them.
pub const VERSIONS: [&str; 6] = [
    "20241220105908",
    "20241220144707",
    "20241220215903",
    "20241226132844",
    "20261125100000",
    "20261125100100",
];

/// The bot's tables.
pub const BOT_TABLES: [&str; 4] = ["categories", "products", "purchases", "users"];

/// A database that exists for one test.
pub struct TestDb {
    pub backend: Backend,
    /// The URL botdb connects with.
    pub url: String,
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

/// The server URL for a backend's tests, or `None` when its variable is not set.
pub fn server_url(backend: Backend) -> Option<String> {
    let var = match backend {
        Backend::Sqlite => return None,
        Backend::Postgres => "TEST_POSTGRES_URL",
        Backend::Mysql => "TEST_MYSQL_URL",
    };
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

/// `url` with its database (path) replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("TEST_*_URL must be a valid URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

impl TestDb {
    /// A new empty database, or `None` (after saying so) when the backend is not configured.
    pub async fn create(backend: Backend) -> Option<TestDb> {
        let name = unique_name();
        if backend == Backend::Sqlite {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join(format!("{name}.sqlite3"));
            return Some(TestDb {
                backend,
                url: format!("sqlite://{}", path.display()),
                name,
                admin_url: None,
                dir: Some(dir),
            });
        }
        let Some(admin) = server_url(backend) else {
            eprintln!(
                "skipped: set TEST_{}_URL to run the {backend} tests",
                backend.name().to_uppercase()
            );
            return None;
        };
        admin_execute(backend, &admin, &format!("CREATE DATABASE {name}")).await;
        Some(TestDb {
            backend,
            url: with_database(&admin, &name),
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

/// Runs `test` on a fresh database of `backend`, or reports it skipped.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = TestResult>,
{
    if let Some(db) = TestDb::create(backend).await {
        if let Err(e) = test(db).await {
            panic!("{backend}: {e}");
        }
    }
}

/// Generates a `sqlite`, `postgres` and `mysql` test for each async fn named.
#[macro_export]
macro_rules! per_backend {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::support::run(botdb::Backend::Sqlite, super::$test).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::support::run(botdb::Backend::Postgres, super::$test).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                $crate::support::run(botdb::Backend::Mysql, super::$test).await
            }
        }
    )*};
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Runs SQL text on the database.
pub async fn execute(
    db: &Database,
    sql: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    botdb::with_connection!(db.pool(), |conn| {
        conn.batch_execute(sql).await?;
        Ok(())
    })
}

/// A single integer from a query whose one column is named `n`.
pub async fn count(
    db: &Database,
    sql: &str,
) -> Result<i64, Box<dyn std::error::Error + Send + Sync>> {
    botdb::with_connection!(db.pool(), |conn| {
        let row = diesel::sql_query(sql)
            .get_result::<Count>(&mut conn)
            .await?;
        Ok(row.n)
    })
}

/// Row counts of the bot's tables that exist, in BOT_TABLES order (-1 for a missing table).
pub async fn row_counts(
    db: &Database,
) -> Result<Vec<i64>, Box<dyn std::error::Error + Send + Sync>> {
    let schema = db.introspect().await?;
    let mut counts = Vec::new();
    for table in BOT_TABLES {
        counts.push(if schema.tables.contains_key(table) {
            count(db, &format!("SELECT COUNT(*) AS n FROM {table}")).await?
        } else {
            -1
        });
    }
    Ok(counts)
}

/// The bot's tables present in a schema.
pub fn bot_tables(schema: &Schema) -> Vec<&str> {
    schema
        .table_names()
        .into_iter()
        .filter(|t| BOT_TABLES.contains(t))
        .collect()
}

/// Runs `script` with the database's own command-line client, as a DBA would:
/// `sqlite3 FILE < script`, `psql -v ON_ERROR_STOP=1 -f script URL`, `mysql DB < script`.
pub fn apply_with_client(db: &TestDb, script: &str) -> Result<(), String> {
    use std::process::{Command, Stdio};
    let file = db.scratch_dir().join("script.sql");
    std::fs::write(&file, script).map_err(|e| e.to_string())?;
    let input = std::fs::File::open(&file).map_err(|e| e.to_string())?;
    let mut command = match db.backend {
        Backend::Sqlite => {
            let mut c = Command::new("sqlite3");
            c.arg(db.sqlite_path().ok_or("no sqlite path")?)
                .stdin(Stdio::from(input));
            c
        }
        Backend::Postgres => {
            let mut c = Command::new("psql");
            c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
                .arg(&file)
                .arg(&db.url);
            // CREATE TABLE IF NOT EXISTS on an existing table is a NOTICE, not a problem.
            c.env("PGOPTIONS", "-c client_min_messages=warning");
            c
        }
        Backend::Mysql => {
            let url = url::Url::parse(&db.url).map_err(|e| e.to_string())?;
            let mut c = Command::new("mysql");
            c.arg("-h").arg(url.host_str().unwrap_or("127.0.0.1"));
            c.arg("-P").arg(url.port().unwrap_or(3306).to_string());
            c.arg("-u").arg(url.username());
            if let Some(password) = url.password() {
                c.arg(format!("-p{password}"));
            }
            c.arg(url.path().trim_start_matches('/'))
                .stdin(Stdio::from(input));
            c
        }
    };
    let out = command
        .output()
        .map_err(|e| format!("cannot run the {} client: {e}", db.backend))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !stderr.trim().is_empty() {
        return Err(format!(
            "{} client failed ({}): {stderr}",
            db.backend, out.status
        ));
    }
    Ok(())
}

/// The versions recorded in diesel's bookkeeping table.
pub async fn recorded_versions(
    db: &Database,
) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    Ok(db
        .status()
        .await?
        .applied()
        .map(|e| e.version.clone())
        .collect())
}

/// A copy of `backend`'s migrations in `dir/migrations`, to edit or extend.
pub fn copy_migrations(
    backend: Backend,
    dir: &std::path::Path,
) -> Result<std::path::PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    let dir = dir.join("migrations");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend.name());
    for entry in std::fs::read_dir(&source)? {
        let entry = entry?;
        let target = dir.join(entry.file_name());
        std::fs::create_dir_all(&target)?;
        for file in ["up.sql", "down.sql"] {
            std::fs::copy(entry.path().join(file), target.join(file))?;
        }
    }
    Ok(dir)
}

/// Adds a migration folder `name` with `up` and `down` (and `metadata`, when given, as
/// its metadata.toml) to a migrations folder.
pub fn add_migration(
    dir: &std::path::Path,
    name: &str,
    up: &str,
    down: &str,
    metadata: Option<&str>,
) -> std::io::Result<()> {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder)?;
    std::fs::write(folder.join("up.sql"), up)?;
    std::fs::write(folder.join("down.sql"), down)?;
    if let Some(metadata) = metadata {
        std::fs::write(folder.join("metadata.toml"), metadata)?;
    }
    Ok(())
}

/// `botdb --database-url URL --migrations-dir DIR ARGS…`: exit code, stdout, stderr.
pub fn run_botdb(url: &str, dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = crate::cli::botdb()
        .args([
            "--database-url",
            url,
            "--migrations-dir",
            &dir.display().to_string(),
        ])
        .args(args)
        .output()
        .expect("run botdb");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// How many rows of botdb's table record `version` as applied with `up`'s checksum.
pub async fn tracked_as_applied(
    db: &Database,
    version: &str,
    up: &str,
) -> Result<i64, Box<dyn std::error::Error + Send + Sync>> {
    count(
        db,
        &format!(
            "SELECT COUNT(*) AS n FROM __botdb_migrations \
             WHERE version = '{version}' AND state = 'applied' AND checksum = '{}'",
            botdb::script::sha256_hex(up)
        ),
    )
    .await
}

/// Inserts one batch of rows, using only the columns that exist after `stage` migrations:
/// two users, a category, a product in it and a purchase of it by the second user.
pub async fn insert_batch(db: &Database, stage: usize, batch: i64) -> TestResult {
    execute(
        db,
        &format!(
            "INSERT INTO users (telegram_id, username, first_name, last_name) VALUES \
             ({a}, 'user_{batch}', 'O''Brien', NULL), ({b}, NULL, NULL, 'Last {batch}')",
            a = batch * 10 + 1,
            b = batch * 10 + 2
        ),
    )
    .await?;
    execute(
        db,
        &format!("INSERT INTO categories (category_name) VALUES ('Category {batch}')"),
    )
    .await?;
    let (hidden_col, hidden_val) = if stage >= 2 {
        (", hidden_content", format!(", 'Secret {batch}'"))
    } else {
        ("", String::new())
    };
    execute(
        db,
        &format!(
            "INSERT INTO products (name, description, price, file_id, category_id{hidden_col}) \
             SELECT 'Product {batch}', 'About {batch}', {price}, NULL, MAX(id){hidden_val} FROM categories",
            price = batch * 100
        ),
    )
    .await?;
    let mut columns = String::new();
    let mut values = String::new();
    if stage >= 3 {
        columns.push_str(", payment_id");
        values.push_str(&format!(", 'pay-{batch}'"));
    }
    if stage >= 4 {
        columns.push_str(", payment_type");
        values.push_str(", 'card'");
    }
    execute(
        db,
        &format!(
            "INSERT INTO purchases (user_id, product_id, price{columns}) \
             SELECT (SELECT MAX(id) FROM users), MAX(id), {price}{values} FROM products",
            price = batch * 100 + 1
        ),
    )
    .await
}

/// telegram_id, username, first_name, last_name.
type UserFields = (i64, Option<String>, Option<String>, Option<String>);

/// Every row of every batch is there, unchanged, and still points at the right parents.
/// Batch `b` (from 1) was inserted by [`insert_batch`] after `stages[b - 1]` migrations, so
/// the columns added later hold the migrations' fill values.
pub async fn check_content(db: &Database, stages: &[usize]) -> TestResult {
    let batches = stages.len() as i64;
    botdb::with_connection!(db.pool(), |conn| {
        let people = users::table
            .select(User::as_select())
            .order(users::id)
            .load(&mut conn)
            .await?;
        let expected: Vec<UserFields> = (1..=batches)
            .flat_map(|b| {
                [
                    (
                        b * 10 + 1,
                        Some(format!("user_{b}")),
                        Some("O'Brien".to_string()),
                        None,
                    ),
                    (b * 10 + 2, None, None, Some(format!("Last {b}"))),
                ]
            })
            .collect();
        let got: Vec<_> = people
            .into_iter()
            .map(|u| (u.telegram_id, u.username, u.first_name, u.last_name))
            .collect();
        assert_eq!(got, expected);

        let goods = products::table
            .select(Product::as_select())
            .order(products::id)
            .load(&mut conn)
            .await?;
        assert_eq!(goods.len(), stages.len());
        for ((b, &stage), p) in (1..=batches).zip(stages).zip(&goods) {
            assert_eq!(
                (p.name.as_str(), p.description.as_str(), p.price),
                (
                    format!("Product {b}").as_str(),
                    format!("About {b}").as_str(),
                    (b * 100) as i32
                )
            );
            assert_eq!(p.file_id, None);
            let hidden = if stage < 2 {
                String::new()
            } else {
                format!("Secret {b}")
            };
            assert_eq!(p.hidden_content, hidden);
        }

        let sales: Vec<(Purchase, i64, String)> = purchases::table
            .inner_join(users::table)
            .inner_join(products::table)
            .select((Purchase::as_select(), users::telegram_id, products::name))
            .order(purchases::id)
            .load(&mut conn)
            .await?;
        assert_eq!(sales.len(), stages.len());
        for ((b, &stage), (sale, buyer, product)) in (1..=batches).zip(stages).zip(&sales) {
            assert_eq!(
                (sale.price, *buyer, product.clone()),
                ((b * 100 + 1) as i32, b * 10 + 2, format!("Product {b}"))
            );
            let payment_id = if stage < 3 {
                format!("legacy-{}", sale.id)
            } else {
                format!("pay-{b}")
            };
            let payment_type = if stage < 4 { "unknown" } else { "card" };
            assert_eq!(
                (sale.payment_id.as_str(), sale.payment_type.as_str()),
                (payment_id.as_str(), payment_type)
            );
        }
        Ok(())
    })
}
