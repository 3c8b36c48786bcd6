//! Safety under faults: waiting for a database that is still starting, and more.

use std::time::{Duration, Instant};

use botdb::Backend;

use crate::cli::botdb;
use crate::per_backend;
use crate::support::{recorded_versions, TestDb, TestResult, VERSIONS};

per_backend!(concurrent_migrations_run_each_step_once);

/// Eight processes, then eight library callers in one process, migrate the same fresh
/// database at once: all succeed, and each migration runs exactly once.
async fn concurrent_migrations_run_each_step_once(t: TestDb) -> TestResult {
    let reference = TestDb::create(t.backend)
        .await
        .ok_or("reference database")?;
    let reference = reference.connect().await;
    reference.migrate().await?;
    // Connecting creates a SQLite file; the processes below race on an empty database.
    let db = t.connect().await;

    let binary = assert_cmd::cargo::cargo_bin("botdb");
    let children = (0..8)
        .map(|_| {
            std::process::Command::new(&binary)
                .args(["--database-url", &t.url, "-v", "migrate"])
                .env_remove("DATABASE_URL")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut applied = 0;
    let mut waited = 0;
    for child in children {
        let out = child.wait_with_output()?;
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{}: {stderr}", t.backend);
        applied += stdout.lines().filter(|l| l.starts_with("applied ")).count();
        waited += usize::from(stderr.contains("got the migration lock after waiting"));
    }
    assert_eq!(applied, VERSIONS.len(), "each migration runs exactly once");
    assert!(waited > 0, "some processes must have waited for the lock");
    assert_eq!(recorded_versions(&db).await?, VERSIONS);
    assert_eq!(db.introspect().await?, reference.introspect().await?);

    let second = TestDb::create(t.backend).await.ok_or("database")?;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let url = second.url.clone();
        tasks.push(tokio::spawn(async move {
            let db = botdb::Database::connect(&url).await?;
            db.migrate().await.map(|report| report.applied.len())
        }));
    }
    let mut applied = 0;
    for task in tasks {
        applied += task.await??;
    }
    assert_eq!(applied, VERSIONS.len());
    let second = second.connect().await;
    assert_eq!(recorded_versions(&second).await?, VERSIONS);
    assert_eq!(second.introspect().await?, reference.introspect().await?);
    Ok(())
}

/// Listens on `port` only after `delay`, then forwards each connection to `upstream`,
/// like a database server that comes up late. Stops by itself after `lifetime`.
fn late_server(port: u16, upstream: String, delay: Duration, lifetime: Duration) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            tokio::time::sleep(delay).await;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .expect("bind the late port");
            let serve = async {
                loop {
                    let Ok((mut client, _)) = listener.accept().await else {
                        break;
                    };
                    let upstream = upstream.clone();
                    tokio::spawn(async move {
                        if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            };
            let _ = tokio::time::timeout(lifetime, serve).await;
        });
    });
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_a_database_that_comes_up_late() -> TestResult {
    for backend in [Backend::Postgres, Backend::Mysql] {
        let Some(t) = TestDb::create(backend).await else {
            continue;
        };
        let real = url::Url::parse(&t.url)?;
        let upstream = format!(
            "{}:{}",
            real.host_str().unwrap_or("127.0.0.1"),
            real.port().unwrap_or(5432)
        );
        let port = free_port();
        let mut late = real.clone();
        late.set_port(Some(port)).map_err(|()| "port")?;
        late_server(
            port,
            upstream,
            Duration::from_secs(3),
            Duration::from_secs(60),
        );

        let start = Instant::now();
        let out = botdb()
            .args(["--database-url", late.as_str(), "--wait", "30", "migrate"])
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{backend}: {stderr}");
        assert!(
            start.elapsed() >= Duration::from_secs(3),
            "it cannot have connected before the server was up"
        );
        assert!(
            stderr.contains("waiting for") && stderr.contains("s left"),
            "{stderr}"
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("migrate: 6 migrations"));
    }
    Ok(())
}

#[test]
fn wait_gives_up_with_the_last_error() {
    let url = format!("postgres://bot:s3cr3t@127.0.0.1:{}/shop", free_port());
    let start = Instant::now();
    let out = botdb()
        .args(["--database-url", &url, "--wait", "2", "status"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(start.elapsed() >= Duration::from_secs(2));
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        error.contains("Connection refused") && error.contains("still failing after waiting 2 s"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cr3t"));
}
