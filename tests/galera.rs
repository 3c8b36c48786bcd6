//! Migrating a 3-node MariaDB Galera cluster (issue 13), on the real cluster whose node
//! URLs TEST_GALERA_URLS lists (`.ci/galera.sh start DIR` starts one on loopback).
//!
//! Galera's `GET_LOCK` is node-local, so botdb takes a lock row there: these tests race
//! botdb processes on different nodes, kill the lock holder, fail a migration and desync a
//! node. They run one at a time (a node desynced by one test must not fail another).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncMysqlConnection, SimpleAsyncConnection};

use crate::support::{
    add_migration, copy_migrations, count, outcome, recorded_versions, TestResult, VERSIONS,
};

#[cfg(all(botdb_ci, not(botdb_test_galera)))]
compile_error!("CI is set but TEST_GALERA_URLS is not, so the Galera tests would not run: start a cluster with `.ci/galera.sh start DIR` and set the URLs it prints (see Testing in README.md)");

/// The Galera tests share one cluster and run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A database created on the cluster for one test (it exists on every node), dropped at
/// the end.
struct ClusterDb {
    /// The database's URL on each node.
    urls: Vec<String>,
    name: String,
    dir: tempfile::TempDir,
}

fn node_urls() -> Vec<String> {
    let urls = std::env::var("TEST_GALERA_URLS").unwrap_or_else(|_| {
        panic!("TEST_GALERA_URLS is not set: start a cluster with `.ci/galera.sh start DIR`")
    });
    urls.split(',')
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .collect()
}

async fn admin(url: &str, sql: &str) -> TestResult {
    let mut conn = AsyncMysqlConnection::establish(url).await?;
    conn.batch_execute(sql).await?;
    Ok(())
}

impl ClusterDb {
    async fn create() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let nodes = node_urls();
        assert_eq!(nodes.len(), 3, "TEST_GALERA_URLS must list three nodes");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .subsec_nanos();
        let name = format!("botdb_g{}_{nanos}", std::process::id());
        admin(&nodes[0], &format!("CREATE DATABASE {name}")).await?;
        // Galera applies the CREATE on the other nodes a moment later; a node desynced by
        // an earlier test takes a moment to be Synced again.
        let deadline = Instant::now() + Duration::from_secs(30);
        for node in &nodes {
            loop {
                let mut conn = AsyncMysqlConnection::establish(node).await?;
                let ready: Vec<Ready> = diesel_async::RunQueryDsl::load(
                    diesel::sql_query(
                        "SELECT (SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?) = 1 \
                         AND (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
                              WHERE VARIABLE_NAME = 'WSREP_LOCAL_STATE_COMMENT') = 'Synced' AS ok",
                    )
                    .bind::<diesel::sql_types::Text, _>(&name),
                    &mut conn,
                )
                .await?;
                if ready.first().is_some_and(|r| r.ok) {
                    break;
                }
                assert!(Instant::now() < deadline, "{node} is not ready");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let urls = nodes
            .iter()
            .map(|n| crate::support::with_database(n, &name))
            .collect();
        Ok(ClusterDb {
            urls,
            name,
            dir: tempfile::tempdir()?,
        })
    }

    fn node(&self, i: usize) -> &str {
        &self.urls[i % self.urls.len()]
    }

    async fn db(&self, i: usize) -> botdb::Database {
        botdb::Database::connect(self.node(i))
            .await
            .expect("connect to a Galera node")
    }
}

impl Drop for ClusterDb {
    fn drop(&mut self) {
        let (admin_url, sql) = (
            node_urls()[0].clone(),
            format!("DROP DATABASE IF EXISTS {}", self.name),
        );
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(admin(&admin_url, &sql))
        })
        .join();
    }
}

#[derive(diesel::QueryableByName)]
struct Ready {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    ok: bool,
}

/// `botdb --database-url URL ARGS…` on a child process, not waited for.
fn spawn_botdb(url: &str, args: &[&str]) -> std::process::Child {
    Command::new(assert_cmd::cargo::cargo_bin("botdb"))
        .env_remove("DATABASE_URL")
        .env_remove("DB_URL")
        .env_remove("RUST_LOG")
        .args(["--database-url", url])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start botdb")
}

fn finish(child: std::process::Child) -> (Option<i32>, String, String) {
    outcome(&child.wait_with_output().expect("wait for botdb"))
}

fn run(url: &str, args: &[&str]) -> (Option<i32>, String, String) {
    finish(spawn_botdb(url, args))
}

/// Waits up to 30 s until `node` shows the test's slow migration (20300101000000) as
/// `running`; false if it never does.
async fn slow_migration_running(node: &botdb::Database) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let running = count(
            node,
            "SELECT COUNT(*) AS n FROM __botdb_migrations WHERE version = '20300101000000' AND state = 'running'",
        )
        .await
        .unwrap_or(0);
        if running == 1 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// What every node holds once the full set is applied: each version recorded once in
/// diesel's table and `applied` in botdb's, nothing dirty, the lock row free, and
/// `status --check` content on every node.
async fn assert_fully_migrated(db: &ClusterDb) -> TestResult {
    for i in 0..3 {
        let node = db.db(i).await;
        assert_eq!(recorded_versions(&node).await?, VERSIONS, "node {}", i + 1);
        let applied = count(
            &node,
            "SELECT COUNT(*) AS n FROM __botdb_migrations WHERE state = 'applied'",
        )
        .await?;
        let total = count(&node, "SELECT COUNT(*) AS n FROM __botdb_migrations").await?;
        assert_eq!((applied, total), (6, 6), "node {}", i + 1);
        let held = count(
            &node,
            "SELECT COUNT(*) AS n FROM __botdb_lock WHERE holder <> ''",
        )
        .await?;
        assert_eq!(held, 0, "the lock row is free on node {}", i + 1);
        let tables = crate::support::bot_tables(&node.introspect().await?)
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>();
        assert_eq!(tables, crate::support::BOT_TABLES, "node {}", i + 1);
        let (code, out, err) = run(db.node(i), &["status", "--check"]);
        assert_eq!(
            code,
            Some(0),
            "status --check on node {}: {out}{err}",
            i + 1
        );
    }
    Ok(())
}

/// The report: 8 `botdb migrate` at once, spread over the three nodes, in three
/// rounds (a fresh database, then after `revert --all`, then with nothing to do). Every
/// process exits 0, each migration is applied by exactly one of them, and nothing is dirty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_galera), ignore = "set TEST_GALERA_URLS to run it")]
async fn eight_replicas_on_three_nodes_migrate_once() -> TestResult {
    let _serial = SERIAL.lock().await;
    let db = ClusterDb::create().await?;
    for round in 1..=3 {
        if round == 2 {
            let (code, out, err) = run(db.node(1), &["revert", "--all", "--yes"]);
            assert_eq!(code, Some(0), "{out}{err}");
        }
        let children: Vec<_> = (0..8)
            .map(|i| spawn_botdb(db.node(i), &["migrate"]))
            .collect();
        let results: Vec<_> = children.into_iter().map(finish).collect();
        let mut applied = Vec::new();
        for (i, (code, out, err)) in results.iter().enumerate() {
            assert_eq!(
                code,
                &Some(0),
                "round {round}, process {i} on node {}: {out}{err}",
                i % 3 + 1
            );
            assert!(!err.contains("error"), "round {round}, process {i}: {err}");
            applied.extend(
                out.lines()
                    .filter_map(|l| l.strip_prefix("applied  "))
                    .map(|l| l.split(' ').next().unwrap_or_default().to_string()),
            );
        }
        applied.sort();
        let expected = if round == 3 { 0 } else { 6 };
        assert_eq!(applied.len(), expected, "round {round}: {applied:?}");
        applied.dedup();
        assert_eq!(
            applied.len(),
            expected,
            "round {round}: a migration ran twice"
        );
        assert_fully_migrated(&db).await?;
    }
    // The lock row is botdb's, not the bot's: `check` sees no drift on any node.
    for i in 0..3 {
        let (code, out, err) = run(db.node(i), &["check"]);
        assert_eq!(code, Some(0), "check on node {}: {out}{err}", i + 1);
    }
    Ok(())
}

/// The bot's own start-up path, `Database::migrate()`, from six processes at once (this
/// test binary, run again as a child per process), two per node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_galera), ignore = "set TEST_GALERA_URLS to run it")]
async fn library_migrate_from_several_processes() -> TestResult {
    let _serial = SERIAL.lock().await;
    let db = ClusterDb::create().await?;
    let exe = std::env::current_exe()?;
    let children: Vec<_> = (0..6)
        .map(|i| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "galera::library_migrate_child",
                    "--nocapture",
                    "--include-ignored",
                ])
                .env("BOTDB_GALERA_CHILD_URL", db.node(i))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start the child")
        })
        .collect();
    let mut applied = 0;
    for (i, child) in children.into_iter().enumerate() {
        let (code, out, err) = finish(child);
        assert_eq!(code, Some(0), "child {i}: {out}{err}");
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix("child applied "))
            .unwrap_or_else(|| panic!("child {i} did not run: {out}{err}"));
        applied += line.trim().parse::<usize>()?;
    }
    assert_eq!(applied, 6, "each migration applied by exactly one process");
    assert_fully_migrated(&db).await
}

/// The child of [`library_migrate_from_several_processes`], which runs it by name: ignored
/// on its own, so it never counts as a passing test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by library_migrate_from_several_processes"]
async fn library_migrate_child() -> TestResult {
    let url = std::env::var("BOTDB_GALERA_CHILD_URL")
        .map_err(|_| "BOTDB_GALERA_CHILD_URL is not set: this test is a child process")?;
    let report = botdb::Database::connect(&url).await?.migrate().await?;
    println!("child applied {}", report.applied.len());
    Ok(())
}

/// kill -9 of the botdb holding the lock row (in the middle of a slow migration): another
/// node's migrate waits until the lease runs out, takes the lock over and says so, then
/// finds the killed run's migration dirty, exactly as on a single MariaDB; after
/// `resolve` the next migrate succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_galera), ignore = "set TEST_GALERA_URLS to run it")]
async fn killed_holder_is_taken_over_after_its_lease() -> TestResult {
    let _serial = SERIAL.lock().await;
    let db = ClusterDb::create().await?;
    let dir = copy_migrations(botdb::Backend::Mysql, db.dir.path())?;
    let dir_arg = dir.display().to_string();
    add_migration(
        &dir,
        "2030-01-01-000000_slow",
        "SELECT SLEEP(20);",
        "SELECT 1;",
        None,
    )?;
    let mut holder = spawn_botdb(
        db.node(0),
        &["--migrations-dir", &dir_arg, "--lock-lease", "3", "migrate"],
    );
    let node2 = db.db(1).await;
    if !slow_migration_running(&node2).await {
        let _ = holder.kill();
        let _ = holder.wait();
        panic!("the slow migration never started");
    }
    let holder_pid = holder.id();
    let killed = holder.kill(); // SIGKILL
    holder.wait()?;
    killed?;
    // The row still names the dead holder.
    let held = count(
        &node2,
        &format!(
            "SELECT COUNT(*) AS n FROM __botdb_lock WHERE holder <> '' AND pid = {holder_pid}"
        ),
    )
    .await?;
    assert_eq!(held, 1);

    let start = Instant::now();
    let (code, out, err) = run(
        db.node(1),
        &["--migrations-dir", &dir_arg, "--lock-lease", "3", "migrate"],
    );
    assert!(
        err.contains("took over an expired migration lock on")
            && err.contains(&format!("held by pid {holder_pid} on")),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "bounded by the lease, not --lock-timeout"
    );
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("dirty") && err.contains("20300101000000") && err.contains("botdb resolve"),
        "{err}"
    );
    // Everything before the slow migration was applied once; it is dirty; the row is free.
    assert_eq!(recorded_versions(&node2).await?, VERSIONS);
    let free = count(
        &node2,
        "SELECT COUNT(*) AS n FROM __botdb_lock WHERE holder = ''",
    )
    .await?;
    assert_eq!(free, 1);

    // SELECT SLEEP changed nothing: settle it and carry on, on the third node.
    let (code, out, err) = run(
        db.node(2),
        &[
            "--migrations-dir",
            &dir_arg,
            "resolve",
            "20300101000000",
            "--reverted",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    std::fs::write(dir.join("2030-01-01-000000_slow/up.sql"), "SELECT 1;")?;
    let (code, out, err) = run(db.node(2), &["--migrations-dir", &dir_arg, "migrate"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("applied  2030-01-01-000000_slow"), "{out}");
    let node3 = db.db(2).await;
    let states = count(
        &node3,
        "SELECT COUNT(*) AS n FROM __botdb_migrations WHERE state = 'applied'",
    )
    .await?;
    assert_eq!(states, 7);
    Ok(())
}

/// A migration that fails on the cluster: the same dirty/resolve story as on one MariaDB,
/// seen from every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_galera), ignore = "set TEST_GALERA_URLS to run it")]
async fn failing_migration_is_dirty_on_every_node_until_resolved() -> TestResult {
    let _serial = SERIAL.lock().await;
    let db = ClusterDb::create().await?;
    let dir = copy_migrations(botdb::Backend::Mysql, db.dir.path())?;
    let dir_arg = dir.display().to_string();
    add_migration(
        &dir,
        "2030-01-01-000000_broken",
        "CREATE TABLE half (id INT PRIMARY KEY);\nSELEKT nonsense;\n",
        "DROP TABLE half;",
        None,
    )?;
    let (code, out, err) = run(db.node(0), &["--migrations-dir", &dir_arg, "migrate"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("2030-01-01-000000_broken") && err.contains("SELEKT"),
        "{err}"
    );
    assert!(
        err.contains("marked the database dirty") && err.contains("botdb resolve 20300101000000"),
        "{err}"
    );
    assert_eq!(
        err.trim()
            .lines()
            .filter(|l| l.starts_with("error"))
            .count(),
        1,
        "{err}"
    );
    for i in 1..3 {
        let (code, out, err) = run(db.node(i), &["--migrations-dir", &dir_arg, "status"]);
        assert_eq!(code, Some(2), "status on node {}: {out}{err}", i + 1);
        assert!(
            out.contains("dirty") && out.contains("2030-01-01-000000_broken"),
            "{out}"
        );
        let (code, _, err) = run(db.node(i), &["--migrations-dir", &dir_arg, "migrate"]);
        assert_eq!(code, Some(2));
        assert!(err.contains("dirty"), "{err}");
        // The half that ran (DDL commits at once) is on every node.
        let node = db.db(i).await;
        let half = count(
            &node,
            "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'half'",
        )
        .await?;
        assert_eq!(half, 1, "node {}", i + 1);
    }
    // The operator undoes the half by hand on node 2, says so on node 3, fixes the file.
    admin(db.node(1), "DROP TABLE half").await?;
    let (code, out, err) = run(
        db.node(2),
        &[
            "--migrations-dir",
            &dir_arg,
            "resolve",
            "20300101000000",
            "--reverted",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    std::fs::write(
        dir.join("2030-01-01-000000_broken/up.sql"),
        "CREATE TABLE half (id INT PRIMARY KEY);\n",
    )?;
    let (code, out, err) = run(db.node(0), &["--migrations-dir", &dir_arg, "migrate"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let node = db.db(2).await;
    let recorded = recorded_versions(&node).await?;
    assert_eq!(recorded.len(), 7);
    let dirty = count(
        &node,
        "SELECT COUNT(*) AS n FROM __botdb_migrations WHERE state <> 'applied'",
    )
    .await?;
    assert_eq!(dirty, 0);
    Ok(())
}

/// A node that is not Synced (desynced, as for a backup) is refused before anything is
/// written, naming its state; once it is Synced again migrate works through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_galera), ignore = "set TEST_GALERA_URLS to run it")]
async fn a_node_that_is_not_synced_is_refused() -> TestResult {
    let _serial = SERIAL.lock().await;
    let db = ClusterDb::create().await?;
    let node3 = node_urls()[2].clone();
    admin(&node3, "SET GLOBAL wsrep_desync = ON").await?;
    let (code, out, err) = run(db.node(2), &["migrate"]);
    admin(&node3, "SET GLOBAL wsrep_desync = OFF").await?;
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("refusing to use mysql://root@127.0.0.1"),
        "{err}"
    );
    assert!(
        err.contains("Galera node, Donor/Desynced")
            && err.contains("not Synced")
            && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let node1 = db.db(0).await;
    let tables = count(
        &node1,
        "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
    )
    .await?;
    assert_eq!(tables, 0, "nothing was written");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, out, err) = run(db.node(2), &["migrate"]);
        if code == Some(0) {
            assert!(
                out.contains("applied  2024-12-20-105908_initial_revision"),
                "{out}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "node 3 never came back: {err}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_fully_migrated(&db).await
}

/// A node of a cluster started by `.ci/galera.sh`, found from its server variables: its
/// datadir is `DIR/nN/data`, its pid in `DIR/nN/pid`.
struct ScriptNode {
    dir: std::path::PathBuf,
    n: u16,
    port_base: u16,
    pid: String,
    /// Set once the node is killed: started again on drop, so later tests have 3 nodes.
    killed: bool,
}

#[derive(diesel::QueryableByName)]
struct NodeVars {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datadir: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    node_name: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    port: i64,
}

impl ScriptNode {
    async fn find(url: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let mut conn = AsyncMysqlConnection::establish(url).await?;
        let vars: NodeVars = diesel_async::RunQueryDsl::get_result(
            diesel::sql_query(
                "SELECT @@datadir AS datadir, @@wsrep_node_name AS node_name, CAST(@@port AS SIGNED) AS port",
            ),
            &mut conn,
        )
        .await?;
        let node_dir = std::path::Path::new(vars.datadir.trim_end_matches('/'))
            .parent()
            .ok_or("datadir has no parent")?;
        let dir = node_dir
            .parent()
            .ok_or("node dir has no parent")?
            .to_path_buf();
        let n: u16 = vars.node_name.trim_start_matches('n').parse()?;
        let pid = std::fs::read_to_string(node_dir.join("pid"))
            .map_err(|e| {
                format!(
                    "{}/pid: {e} (this test kills a node, so it needs a cluster started by .ci/galera.sh)",
                    node_dir.display()
                )
            })?
            .trim()
            .to_string();
        Ok(ScriptNode {
            dir,
            n,
            port_base: u16::try_from(vars.port)? - n,
            pid,
            killed: false,
        })
    }

    fn kill9(&mut self) {
        let status = Command::new("kill")
            .args(["-9", &self.pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -9 {}", self.pid);
        self.killed = true;
    }

    /// Starts the node again and waits until it is Synced in a cluster of 3.
    fn rejoin(&mut self) -> std::process::Output {
        self.killed = false;
        Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/galera.sh"))
            .arg("rejoin")
            .arg(&self.dir)
            .arg(self.n.to_string())
            .env("GALERA_PORT_BASE", self.port_base.to_string())
            .stdout(Stdio::null())
            .output()
            .expect("run .ci/galera.sh rejoin")
    }
}

impl Drop for ScriptNode {
    fn drop(&mut self) {
        if self.killed {
            let _ = self.rejoin();
        }
    }
}

async fn cluster_size(url: &str) -> Result<i64, Box<dyn std::error::Error + Send + Sync>> {
    let node = botdb::Database::connect(url).await?;
    count(
        &node,
        "SELECT CAST(VARIABLE_VALUE AS SIGNED) AS n FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_CLUSTER_SIZE'",
    )
    .await
}

/// One node killed with SIGKILL in the middle of a slow migration, while botdb migrates
/// through another node: the two left keep the primary component, so the run completes,
/// each migration recorded once and the lock row freed, as both survivors see it; `status`
/// and `migrate` there agree. The killed node, started again, catches up to the same state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_galera), ignore = "set TEST_GALERA_URLS to run it")]
async fn a_node_killed_mid_run_leaves_the_run_complete() -> TestResult {
    let _serial = SERIAL.lock().await;
    let db = ClusterDb::create().await?;
    let mut victim = ScriptNode::find(&node_urls()[2]).await?;
    let dir = copy_migrations(botdb::Backend::Mysql, db.dir.path())?;
    let dir_arg = dir.display().to_string();
    add_migration(
        &dir,
        "2030-01-01-000000_slow",
        "CREATE TABLE before_kill (id INT PRIMARY KEY);\n\
         SELECT SLEEP(6);\n\
         CREATE TABLE after_kill (id INT PRIMARY KEY);\n\
         INSERT INTO after_kill VALUES (1);\n",
        "DROP TABLE after_kill;\nDROP TABLE before_kill;\n",
        None,
    )?;
    let migrating = spawn_botdb(db.node(0), &["--migrations-dir", &dir_arg, "migrate"]);
    let node2 = db.db(1).await;
    if !slow_migration_running(&node2).await {
        let _ = finish(migrating);
        panic!("the slow migration never started");
    }
    victim.kill9();
    let (code, out, err) = finish(migrating);
    // The node was really gone for the rest of the run.
    assert_eq!(cluster_size(db.node(0)).await?, 2);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("applied  2030-01-01-000000_slow"), "{out}");
    assert!(!err.contains("error"), "{err}");

    let mut all = VERSIONS.to_vec();
    all.push("20300101000000");
    for i in 0..2 {
        let node = db.db(i).await;
        assert_eq!(recorded_versions(&node).await?, all, "node {}", i + 1);
        let states = count(
            &node,
            "SELECT COUNT(*) AS n FROM __botdb_migrations WHERE state = 'applied'",
        )
        .await?;
        let total = count(&node, "SELECT COUNT(*) AS n FROM __botdb_migrations").await?;
        assert_eq!((states, total), (7, 7), "node {}", i + 1);
        let held = count(
            &node,
            "SELECT COUNT(*) AS n FROM __botdb_lock WHERE holder <> ''",
        )
        .await?;
        assert_eq!(held, 0, "the lock row is free on node {}", i + 1);
        let rows = count(&node, "SELECT COUNT(*) AS n FROM after_kill").await?;
        let before = count(
            &node,
            "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'before_kill'",
        )
        .await?;
        assert_eq!((rows, before), (1, 1), "node {}", i + 1);
    }
    let (code, out, err) = run(
        db.node(1),
        &["--migrations-dir", &dir_arg, "status", "--check"],
    );
    assert_eq!(code, Some(0), "status --check on node 2: {out}{err}");
    let (code, out, err) = run(db.node(1), &["--migrations-dir", &dir_arg, "migrate"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!out.contains("applied  "), "nothing left to apply: {out}");

    // The killed node comes back through a state transfer and holds the same.
    let rejoined = victim.rejoin();
    assert!(
        rejoined.status.success(),
        "{}",
        String::from_utf8_lossy(&rejoined.stderr)
    );
    let node3 = db.db(2).await;
    assert_eq!(recorded_versions(&node3).await?, all);
    let applied = count(
        &node3,
        "SELECT COUNT(*) AS n FROM __botdb_migrations WHERE state = 'applied'",
    )
    .await?;
    assert_eq!(applied, 7);
    let (code, out, err) = run(
        db.node(2),
        &["--migrations-dir", &dir_arg, "status", "--check"],
    );
    assert_eq!(code, Some(0), "status --check on node 3: {out}{err}");
    Ok(())
}

/// A run whose lease is lost (here another session takes the lock row, as a botdb that
/// found it expired would) stops before its next migration instead of migrating
/// alongside the new holder, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_galera), ignore = "set TEST_GALERA_URLS to run it")]
async fn a_run_that_loses_its_lease_stops_before_its_next_migration() -> TestResult {
    let _serial = SERIAL.lock().await;
    let db = ClusterDb::create().await?;
    let dir = copy_migrations(botdb::Backend::Mysql, db.dir.path())?;
    let dir_arg = dir.display().to_string();
    add_migration(
        &dir,
        "2030-01-01-000000_slow",
        "SELECT SLEEP(5);",
        "SELECT 1;",
        None,
    )?;
    add_migration(
        &dir,
        "2030-01-01-000001_after",
        "CREATE TABLE after_lease (id INT PRIMARY KEY);",
        "DROP TABLE after_lease;",
        None,
    )?;
    let mut holder = spawn_botdb(
        db.node(0),
        &["--migrations-dir", &dir_arg, "--lock-lease", "3", "migrate"],
    );
    let node2 = db.db(1).await;
    if !slow_migration_running(&node2).await {
        let _ = holder.kill();
        let _ = holder.wait();
        panic!("the slow migration never started");
    }
    // Another holder takes the row over while the slow migration runs.
    let taken = admin(
        db.node(1),
        "UPDATE __botdb_lock SET holder = 'intruder', pid = 1, expires_at = UTC_TIMESTAMP() + INTERVAL 1 HOUR",
    )
    .await;
    if let Err(e) = taken {
        let _ = holder.kill();
        let _ = holder.wait();
        return Err(e);
    }
    let (code, out, err) = outcome(&holder.wait_with_output()?);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.contains("applied  2030-01-01-000000_slow"), "{out}");
    assert!(!out.contains("2030-01-01-000001_after"), "{out}");
    assert!(
        err.contains("was lost while this run held it (the run stopped before 2030-01-01-000001_after with 7 migrations applied)"),
        "{err}"
    );
    let after = count(
        &node2,
        "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'after_lease'",
    )
    .await?;
    assert_eq!(after, 0, "nothing ran after the lease was lost");
    let recorded = count(
        &node2,
        "SELECT COUNT(*) AS n FROM __diesel_schema_migrations WHERE version = '20300101000001'",
    )
    .await?;
    assert_eq!(recorded, 0);
    Ok(())
}
