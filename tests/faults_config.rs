//! Configuration faults (issue 9 items 4, 12, 13, 14, 15, 20; issue 14 item 1.1): URLs
//! that name one server and connect to another, `reset`'s guards, `.env` files botdb
//! cannot load as the bot does, IPv6 hosts, and passwords in the output of every command.

use std::time::{Duration, Instant};

use botdb::Backend;
use diesel_async::{
    AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, SimpleAsyncConnection,
};

use crate::per_backend;
use crate::support::{
    botdb, count, recorded_versions, row_counts, server_url, TestDb, TestResult, VERSIONS,
};

per_backend!(postgres, mysql;
    reset_refuses_what_it_cannot_recreate,
    an_ipv6_host_connects,
    no_password_in_any_output,
);
per_backend!(postgres; an_unencoded_at_never_reaches_another_database, reset_judges_where_the_driver_connects);

const SEEDED: [i64; 4] = [3, 4, 3, 2];

/// Exit code, stdout, stderr.
fn output(cmd: &mut assert_cmd::Command) -> (Option<i32>, String, String) {
    crate::support::outcome(&cmd.output().expect("run botdb"))
}

/// `botdb --database-url URL ARGS…`, from a folder without a `.env`.
fn run(url: &str, args: &[&str]) -> (Option<i32>, String, String) {
    output(
        botdb()
            .current_dir(std::env::temp_dir())
            .args(["--database-url", url])
            .args(args),
    )
}

/// Asserts a failure reported as one `error:` line with exit code 2.
fn assert_one_error_line(result: &(Option<i32>, String, String)) {
    let (code, stdout, stderr) = result;
    assert_eq!(*code, Some(2), "{stdout}{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.trim_end().lines().count() == 1,
        "{stderr}"
    );
}

fn assert_success(what: &str, result: &(Option<i32>, String, String)) {
    let (code, stdout, stderr) = result;
    assert_eq!(*code, Some(0), "{what}: {stdout}{stderr}");
}

/// `url` with another user (and password, if given).
fn as_user(url: &str, user: &str, password: Option<&str>) -> String {
    let mut parsed = url::Url::parse(url).expect("valid URL");
    parsed.set_username(user).expect("user");
    parsed.set_password(password).expect("password");
    parsed.to_string()
}

/// Runs SQL on a server's administration database.
async fn admin(backend: Backend, sql: &str) -> Result<(), String> {
    let url = server_url(backend).ok_or("no server")?;
    match backend {
        Backend::Postgres => AsyncPgConnection::establish(&url)
            .await
            .map_err(|e| e.to_string())?
            .batch_execute(sql)
            .await
            .map_err(|e| e.to_string()),
        _ => AsyncMysqlConnection::establish(&url)
            .await
            .map_err(|e| e.to_string())?
            .batch_execute(sql)
            .await
            .map_err(|e| e.to_string()),
    }
}

/// Server objects a test made (roles, users, extra databases), removed when it ends, even
/// when it fails.
struct Cleanup {
    backend: Backend,
    statements: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (backend, statements) = (self.backend, std::mem::take(&mut self.statements));
        // Drop runs inside the test's runtime, which cannot block on another future.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            for sql in statements {
                let _ = runtime.block_on(admin(backend, &sql));
            }
        })
        .join();
    }
}

/// Migrates and seeds the test database through the binary.
async fn migrated_and_seeded(url: &str) -> TestResult {
    assert_success("migrate", &run(url, &["migrate"]));
    assert_success("seed", &run(url, &["seed"]));
    Ok(())
}

// ---- issue 9 item 12: an unencoded `@` in the password ----------------------------------

#[test]
fn an_unencoded_at_is_refused_before_connecting() {
    for scheme in ["postgres", "postgresql+asyncpg", "mysql", "mariadb"] {
        for rest in [
            "bot:a@127.0.0.2:5555/zz@db/shop",
            "bot:p@ss@db/shop",
            "bot:Pw5?x@db/shop",
        ] {
            let url = format!("{scheme}://{rest}");
            let started = Instant::now();
            let result = run(&url, &["status"]);
            assert_one_error_line(&result);
            let stderr = &result.2;
            assert!(
                stderr.contains("percent-encode") && stderr.contains("%40"),
                "{url}: {stderr}"
            );
            assert!(!stderr.contains("cannot connect"), "{url}: {stderr}");
            for secret in ["127.0.0.2:5555/zz", "p@ss", "Pw5"] {
                assert!(!stderr.contains(secret), "{url}: {stderr}");
            }
            assert!(started.elapsed() < Duration::from_secs(5), "{url}");
        }
    }
}

/// The URL against a server that has the database its path seems to name: without
/// the refusal, botdb migrated `NAME@db/shop` on this server, while the URL names host `db`.
async fn an_unencoded_at_never_reaches_another_database(t: TestDb) -> TestResult {
    let odd = format!("{}@db/shop", t.name());
    let _cleanup = Cleanup {
        backend: t.backend,
        statements: vec![format!("DROP DATABASE IF EXISTS \"{odd}\" WITH (FORCE)")],
    };
    admin(t.backend, &format!("CREATE DATABASE \"{odd}\"")).await?;
    let server = url::Url::parse(&t.url)?;
    let host = format!(
        "{}:{}",
        server.host_str().ok_or("host")?,
        server.port().unwrap_or(5432)
    );
    let url = format!("postgres://postgres:a@{host}/{odd}");
    let result = run(&url, &["migrate"]);
    assert_one_error_line(&result);
    assert!(result.2.contains("percent-encode"), "{}", result.2);

    let encoded = format!("postgres://postgres@{host}/{}%40db%2Fshop", t.name());
    let db = botdb::Database::connect(&encoded).await?;
    let tables = count(
        &db,
        "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .await?;
    assert_eq!(tables, 0, "botdb migrated a database the URL does not name");
    Ok(())
}

// ---- issue 9 item 13: reset's "not on this machine" guard ---------------------------------

async fn reset_judges_where_the_driver_connects(t: TestDb) -> TestResult {
    migrated_and_seeded(&t.url).await?;
    let db = t.connect().await;
    let base = url::Url::parse(&t.url)?;
    let port = base.port().unwrap_or(5432);
    let name = t.name();
    // 192.0.2.0/24 is reserved for documentation: nothing answers there.
    for (url, named) in [
        (
            format!("postgres://postgres@127.0.0.1:{port}/{name}?hostaddr=192.0.2.1"),
            "it connects to hostaddr 192.0.2.1",
        ),
        (
            format!("postgres://postgres@127.0.0.1:{port}/{name}?host=db.example.invalid"),
            "it connects to db.example.invalid",
        ),
        (
            format!("postgres://postgres@localhost,db.example.invalid:{port}/{name}"),
            "it connects to db.example.invalid",
        ),
    ] {
        let started = Instant::now();
        let result = run(&url, &["reset", "--yes"]);
        assert_one_error_line(&result);
        assert!(
            result.2.contains(named)
                && result.2.contains("not on this machine")
                && result.2.contains("--force-remote"),
            "{url}: {}",
            result.2
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{url}: it tried to connect"
        );
        assert_eq!(row_counts(&db).await?, SEEDED, "{url}");
    }
    drop(db);

    // A host name that is not this machine, but the driver connects to hostaddr, which is:
    // reset is allowed, and does reset.
    let url = format!("postgres://postgres@db.example.invalid:{port}/{name}?hostaddr=127.0.0.1");
    let result = run(&url, &["reset", "--yes"]);
    assert_success("reset", &result);
    let db = t.connect().await;
    assert_eq!(row_counts(&db).await?, [0, 0, 0, 0]);
    assert_eq!(recorded_versions(&db).await?, VERSIONS);
    Ok(())
}

// ---- issue 9 item 4: reset destroys what it cannot recreate --------------------------------

async fn reset_refuses_what_it_cannot_recreate(t: TestDb) -> TestResult {
    let name = t.name().to_string();
    let user = format!("{name}_app");
    let (url, grant_create, _cleanup) = match t.backend {
        Backend::Postgres => {
            // A DBA made the database and handed it to the app's role, which has no CREATEDB.
            let cleanup = Cleanup {
                backend: t.backend,
                statements: vec![
                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    format!("DROP ROLE IF EXISTS {user}"),
                ],
            };
            t.admin(&format!("CREATE ROLE {user} LOGIN NOSUPERUSER NOCREATEDB"))
                .await;
            t.admin(&format!("ALTER DATABASE {name} OWNER TO {user}"))
                .await;
            let url = as_user(&t.url, &user, None);
            migrated_and_seeded(&url).await?;
            (url, format!("ALTER ROLE {user} CREATEDB"), cleanup)
        }
        _ => {
            // The app's user may change rows and drop the database, but not create it.
            let cleanup = Cleanup {
                backend: t.backend,
                statements: vec![
                    format!("DROP USER IF EXISTS '{user}'@'%'"),
                    format!("DROP USER IF EXISTS '{user}'@'localhost'"),
                ],
            };
            for host in ["%", "localhost"] {
                t.admin(&format!("CREATE USER '{user}'@'{host}'")).await;
                t.admin(&format!(
                    "GRANT SELECT, INSERT, UPDATE, DELETE, DROP ON `{name}`.* TO '{user}'@'{host}'"
                ))
                .await;
            }
            migrated_and_seeded(&t.url).await?;
            let grant = ["%", "localhost"]
                .map(|host| format!("GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'{host}';"))
                .join(" ");
            (as_user(&t.url, &user, None), grant, cleanup)
        }
    };
    let db = t.connect().await;
    assert_eq!(row_counts(&db).await?, SEEDED);

    let result = run(&url, &["reset", "--yes"]);
    assert_one_error_line(&result);
    let expected = match t.backend {
        Backend::Postgres => "may not create databases (it has no CREATEDB)",
        _ => "may not create it again",
    };
    assert!(
        result.2.contains(expected) && result.2.contains("nothing was dropped"),
        "{}",
        result.2
    );
    assert_eq!(row_counts(&db).await?, SEEDED, "reset dropped the database");
    assert_eq!(recorded_versions(&db).await?, VERSIONS);
    drop(db);

    // With the privilege (on MySQL only on this database: no global CREATE), reset works.
    t.admin(&grant_create).await;
    assert_success("reset", &run(&url, &["reset", "--yes"]));
    let db = t.connect().await;
    assert_eq!(row_counts(&db).await?, [0, 0, 0, 0]);
    assert_eq!(recorded_versions(&db).await?, VERSIONS);
    Ok(())
}

// ---- issue 9 items 14 and 15: .env files --------------------------------------------------

#[test]
fn a_nul_byte_in_env_is_one_line_without_the_value() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join(".env"),
        "BOT_TOKEN=123\nDATABASE_URL=postgres://bot:hun\0ter2@db/shop\n",
    )?;
    let result = output(botdb().current_dir(dir.path()).arg("status"));
    assert_one_error_line(&result);
    let stderr = &result.2;
    assert!(
        stderr.contains("DATABASE_URL on line 2 holds a NUL byte"),
        "{stderr}"
    );
    for leak in ["hun", "ter2", "panicked"] {
        assert!(!stderr.contains(leak), "{stderr}");
    }
    assert!(!dir.path().join("data").exists());
    Ok(())
}

#[test]
fn a_variable_set_twice_in_env_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join(".env"),
        "DATABASE_URL=sqlite://first.db\nCERT=\"line one\nline two\"\n\n# the bot's\nDATABASE_URL=sqlite://second.db\n",
    )?;
    let result = output(botdb().current_dir(dir.path()).arg("migrate"));
    assert_one_error_line(&result);
    let stderr = &result.2;
    assert!(
        stderr.contains("DATABASE_URL is set twice, on lines 1 and 6"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("first.db") && !stderr.contains("second.db"),
        "{stderr}"
    );
    // Neither database was touched.
    assert!(!dir.path().join("first.db").exists());
    assert!(!dir.path().join("second.db").exists());

    // A variable botdb does not read may repeat: that is the bot's business.
    std::fs::write(
        dir.path().join(".env"),
        "BOT_TOKEN=1\nBOT_TOKEN=2\nDATABASE_URL=sqlite://only.db\n",
    )?;
    let result = output(botdb().current_dir(dir.path()).arg("migrate"));
    assert_success("migrate", &result);
    assert!(result.1.contains("migrate: 6 migrations"), "{}", result.1);
    assert!(dir.path().join("only.db").is_file());
    Ok(())
}

// ---- issue 9 item 20: IPv6 hosts ----------------------------------------------------------

/// Forwards every connection to `[::1]:PORT` to the test server, which listens on IPv4
/// only, so botdb connects to a real server at an IPv6 address.
async fn ipv6_forwarder(target: String) -> std::io::Result<u16> {
    let listener = tokio::net::TcpListener::bind("[::1]:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    Ok(port)
}

async fn an_ipv6_host_connects(t: TestDb) -> TestResult {
    let mut url = url::Url::parse(&t.url)?;
    let default = if t.backend == Backend::Postgres {
        5432
    } else {
        3306
    };
    let target = format!(
        "{}:{}",
        url.host_str().ok_or("host")?,
        url.port().unwrap_or(default)
    );
    let port = ipv6_forwarder(target).await?;
    url.set_host(Some("[::1]"))?;
    url.set_port(Some(port)).map_err(|()| "port")?;
    let ipv6 = url.to_string();
    let result = tokio::task::spawn_blocking(move || run(&ipv6, &["migrate"])).await?;
    assert_success("migrate over [::1]", &result);
    assert!(result.1.contains("migrate: 6 migrations"), "{}", result.1);
    assert_eq!(recorded_versions(&t.connect().await).await?, VERSIONS);

    // Nothing listens on a port just freed: the error is the refusal, not a failed lookup
    // of the name `[::1]`.
    let closed = std::net::TcpListener::bind("[::1]:0")?.local_addr()?.port();
    url.set_port(Some(closed)).map_err(|()| "port")?;
    let result = run(url.as_str(), &["status"]);
    assert_one_error_line(&result);
    assert!(
        result.2.contains("Connection refused") && !result.2.contains("lookup"),
        "{}",
        result.2
    );
    Ok(())
}

// ---- issue 14 item 1.1: a password never shows, in any command's output -----------------

async fn no_password_in_any_output(t: TestDb) -> TestResult {
    const PASSWORD: &str = "Pw@Hunter2";
    let user = format!("{}_pw", t.name());
    let _cleanup = Cleanup {
        backend: t.backend,
        statements: match t.backend {
            Backend::Postgres => Vec::new(),
            _ => vec![
                format!("DROP USER IF EXISTS '{user}'@'%'"),
                format!("DROP USER IF EXISTS '{user}'@'localhost'"),
            ],
        },
    };
    let url = match t.backend {
        // Trust authentication takes any password, so the URL still connects.
        Backend::Postgres => as_user(&t.url, "postgres", Some(PASSWORD)),
        _ => {
            for host in ["%", "localhost"] {
                t.admin(&format!(
                    "CREATE USER '{user}'@'{host}' IDENTIFIED BY '{PASSWORD}'"
                ))
                .await;
                // Everywhere: check and the revert guard make scratch databases.
                t.admin(&format!("GRANT ALL PRIVILEGES ON *.* TO '{user}'@'{host}'"))
                    .await;
            }
            as_user(&t.url, &user, Some(PASSWORD))
        }
    };
    assert!(url.contains("Pw%40Hunter2"), "{url}");
    let db = t.connect().await;
    let step = |args: &[&str]| -> (Option<i32>, String, String) {
        let result = output(
            botdb()
                .current_dir(std::env::temp_dir())
                .env("RUST_LOG", "botdb=debug")
                .args(["--database-url", &url])
                .args(args),
        );
        assert_success(&args.join(" "), &result);
        for leak in ["Hunter2", "Pw%40", "Pw@"] {
            assert!(
                !result.1.contains(leak) && !result.2.contains(leak),
                "{args:?} shows the password: {}{}",
                result.1,
                result.2
            );
        }
        result
    };
    let shown = step(&["status"]);
    assert!(shown.1.contains(":***@"), "{}", shown.1);
    step(&["migrate"]);
    assert_eq!(recorded_versions(&db).await?, VERSIONS);
    step(&["status", "--check"]);
    step(&["check"]);
    step(&["seed"]);
    assert_eq!(row_counts(&db).await?, SEEDED);
    step(&["redo", "--yes"]);
    assert_eq!(recorded_versions(&db).await?, VERSIONS);
    step(&["print-sql", "--revert"]);
    step(&["revert", "--yes"]);
    assert_eq!(recorded_versions(&db).await?, VERSIONS[..5]);
    step(&["print-sql"]);
    // The schema is one step behind, so only --force records the newest.
    step(&["stamp", "--head", "--force"]);
    assert_eq!(recorded_versions(&db).await?, VERSIONS);
    step(&["verify"]);
    step(&["setup"]);
    drop(db);
    step(&["reset", "--yes"]);
    let db = t.connect().await;
    assert_eq!(recorded_versions(&db).await?, VERSIONS);
    Ok(())
}
