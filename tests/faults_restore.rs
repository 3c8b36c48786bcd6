//! SQLite restores that never discard other writers' rows, locks and backups keyed on the
//! real file, backups that only count when they matter, and no scratch leftovers.
//! Real files, a real second writer process (the `sqlite3` shell), the real binary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use botdb::Backend;

use crate::support::{
    add_migration, copy_migrations, recorded_versions, run_botdb, TestDb, TestResult, VERSIONS,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

const COMMITTED: &str = "2030-01-01-000000_committed";
const SLOW_BROKEN: &str = "2030-01-01-000001_slow_broken";

/// Runs SQL with the `sqlite3` shell: a process of its own, as the bot would be.
fn sqlite3(db: &Path, sql: &str) -> Result<String, Error> {
    let out = Command::new("sqlite3")
        .args(["-bail", "-cmd", ".timeout 30000"])
        .arg(db)
        .arg(sql)
        .output()?;
    if !out.status.success() {
        return Err(format!("sqlite3 {sql}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn categories(db: &Path) -> Result<i64, Error> {
    Ok(sqlite3(db, "SELECT COUNT(*) FROM categories")?.parse()?)
}

/// A `sqlite3` shell that keeps one connection open across a botdb run.
struct OpenConnection(std::process::Child);

impl OpenConnection {
    fn open(db: &Path) -> Result<Self, Error> {
        let mut child = Command::new("sqlite3")
            .args(["-bail", "-cmd", ".timeout 30000"])
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        // A read, so the connection has the file open (and its WAL index mapped).
        writeln!(
            child.stdin.as_mut().ok_or("stdin")?,
            "SELECT COUNT(*) FROM categories;"
        )?;
        std::thread::sleep(Duration::from_millis(300));
        Ok(OpenConnection(child))
    }

    /// Inserts a row on the same connection, then returns what it printed.
    fn insert_and_close(mut self) -> Result<(bool, String, String), Error> {
        writeln!(
            self.0.stdin.as_mut().ok_or("stdin")?,
            "INSERT INTO categories (category_name) VALUES ('from the open connection');\nSELECT COUNT(*) FROM categories;"
        )?;
        drop(self.0.stdin.take());
        let out = self.0.wait_with_output()?;
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }
}

/// A database at the newest version with rows, and a migrations folder with one more
/// migration that commits and then one that runs ~2 s before failing.
async fn prepared(t: &TestDb, wal: bool) -> Result<(PathBuf, PathBuf), Error> {
    let path = t.sqlite_path().ok_or("path")?;
    let dir = copy_migrations(Backend::Sqlite, &t.scratch_dir())?;
    let db = t.connect().await;
    db.migrate().await?;
    crate::support::insert_batch(&db, 6, 1).await?;
    drop(db);
    if wal {
        assert_eq!(sqlite3(&path, "PRAGMA journal_mode = WAL")?, "wal");
    }
    add_migration(
        &dir,
        COMMITTED,
        "CREATE TABLE extra (id INTEGER PRIMARY KEY);\n",
        "DROP TABLE extra;\n",
        None,
    )?;
    add_migration(
        &dir,
        SLOW_BROKEN,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 8000000) SELECT COUNT(*) FROM c;\nSELEKT nonsense;\n",
        "SELECT 1;\n",
        None,
    )?;
    Ok((path, dir))
}

/// Another process commits 8 rows, one transaction each, as soon as botdb has committed
/// the first new migration, i.e. while the slow one runs (it gives up after about a
/// minute, so a botdb that never commits fails the test instead of hanging it).
fn writer(path: &Path) -> Result<std::process::Child, Error> {
    let script = format!(
        "i=0; until [ \"$(sqlite3 -cmd '.timeout 30000' '{db}' \"SELECT COUNT(*) FROM __diesel_schema_migrations WHERE version = '20300101000000'\")\" = 1 ]; do i=$((i + 1)); [ $i -le 3000 ] || exit 3; sleep 0.02; done; \
         for i in 1 2 3 4 5 6 7 8; do sqlite3 -bail -cmd '.timeout 30000' '{db}' \"INSERT INTO categories (category_name) VALUES ('writer $i')\" || exit 1; done",
        db = path.display()
    );
    Ok(Command::new("sh").args(["-c", &script]).spawn()?)
}

async fn others_rows_survive_a_failed_run(wal: bool) -> TestResult {
    let t = TestDb::create(Backend::Sqlite).await.ok_or("sqlite")?;
    let (path, dir) = prepared(&t, wal).await?;
    let before = categories(&path)?;
    let open = OpenConnection::open(&path)?;
    let mut writer = writer(&path)?;
    let (code, _, stderr) = run_botdb(&t.url, &dir, &["migrate", "--transaction-per-migration"]);
    let wrote = writer.wait()?;
    assert!(wrote.success(), "the writer's inserts all succeeded");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("applying of migration {SLOW_BROKEN} failed")),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("error: ").count(),
        1,
        "one error line: {stderr}"
    );

    // Every row the other process committed is there, whatever botdb did.
    assert_eq!(categories(&path)?, before + 8, "{stderr}");
    let db = t.connect().await;
    let versions = recorded_versions(&db).await?;
    if stderr.contains("did not put back the backup") {
        assert!(
            stderr.contains("another process wrote to the database during the run"),
            "{stderr}"
        );
        assert!(
            stderr.contains("at 20300101000000 (7 migrations applied"),
            "{stderr}"
        );
        assert_eq!(
            versions.len(),
            7,
            "the committed migration stays: {versions:?}"
        );
        assert_eq!(
            sqlite3(
                &path,
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'extra'"
            )?,
            "1"
        );
        let backups = botdb::ops::backup::backups(&path)?;
        assert_eq!(backups.len(), 1, "the backup is kept");
        assert!(
            stderr.contains(&backups[0].display().to_string()),
            "{stderr}"
        );
    } else {
        // Rollback journal only: the writer waited for botdb's read lock and committed
        // after the restore, into the restored database.
        assert!(
            !wal,
            "in WAL mode the writer commits during the run: {stderr}"
        );
        assert!(
            stderr.contains("botdb restored the database from the backup"),
            "{stderr}"
        );
        assert_eq!(versions, VERSIONS, "{stderr}");
    }

    // The other process's connection, open throughout, still writes.
    let (ok, stdout, err) = open.insert_and_close()?;
    assert!(ok && err.is_empty(), "{err}");
    assert_eq!(
        stdout.lines().last(),
        Some((before + 9).to_string().as_str()),
        "{stdout}"
    );
    Ok(())
}

/// WAL mode: another process commits while botdb's failing run is in progress; botdb
/// does not put its backup back over those rows, and says where the database is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_keeps_other_writers_rows_in_wal_mode() -> TestResult {
    others_rows_survive_a_failed_run(true).await
}

/// Rollback-journal mode: the same, whichever of botdb and the writer gets the lock first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_keeps_other_writers_rows_in_rollback_mode() -> TestResult {
    others_rows_survive_a_failed_run(false).await
}

/// A database reached through a symlink: a failed run is undone in the real file (the link
/// stays a link), in place, so a connection another process holds open keeps working;
/// backups and the lock sit beside the real file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_through_a_symlink_undoes_the_real_file_in_place() -> TestResult {
    let t = TestDb::create(Backend::Sqlite).await.ok_or("sqlite")?;
    let (path, dir) = prepared(&t, false).await?;
    let links = t.scratch_dir().join("links");
    std::fs::create_dir_all(&links)?;
    let link = links.join("shop.db");
    std::os::unix::fs::symlink(&path, &link)?;
    let before = (sqlite3(&path, ".schema")?, categories(&path)?);
    let open = OpenConnection::open(&path)?;

    let url = format!("sqlite://{}", link.display());
    let (code, _, stderr) = run_botdb(&url, &dir, &["migrate", "--transaction-per-migration"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("botdb restored the database from the backup"),
        "{stderr}"
    );
    assert!(
        std::fs::symlink_metadata(&link)?.file_type().is_symlink(),
        "the link stays a link"
    );
    assert_eq!(
        (sqlite3(&path, ".schema")?, categories(&path)?),
        before,
        "the real file is undone"
    );
    let db = t.connect().await;
    assert_eq!(recorded_versions(&db).await?, VERSIONS);

    let (ok, stdout, err) = open.insert_and_close()?;
    assert!(
        ok && err.is_empty(),
        "the open connection still writes: {err}"
    );
    assert_eq!(
        stdout.lines().last(),
        Some((before.1 + 1).to_string().as_str())
    );

    let beside_link: Vec<_> = std::fs::read_dir(&links)?.collect::<Result<_, _>>()?;
    assert_eq!(
        beside_link.len(),
        1,
        "nothing beside the link: {beside_link:?}"
    );
    assert_eq!(botdb::ops::backup::backups(&path)?.len(), 1);
    assert_eq!(
        botdb::ops::backup::backups(&link)?,
        botdb::ops::backup::backups(&path)?
    );
    assert!(PathBuf::from(format!("{}.lock", path.display())).exists());
    Ok(())
}

/// Two migrates at once, one through the real path and one through a symlink: they share
/// one lock, so both exit 0 and each migration runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_is_keyed_on_the_real_file() -> TestResult {
    let t = TestDb::create(Backend::Sqlite).await.ok_or("sqlite")?;
    let path = t.sqlite_path().ok_or("path")?;
    let dir = copy_migrations(Backend::Sqlite, &t.scratch_dir())?;
    // A slow first migration, so the two runs overlap.
    add_migration(
        &dir,
        "2024-01-01-000000_slow",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000000) SELECT COUNT(*) FROM c;\n",
        "SELECT 1;\n",
        None,
    )?;
    drop(t.connect().await);
    let link = t.scratch_dir().join("link.db");
    std::os::unix::fs::symlink(&path, &link)?;
    let binary = assert_cmd::cargo::cargo_bin("botdb");
    let children = [path.clone(), link]
        .iter()
        .map(|p| {
            Command::new(&binary)
                .args(["--database-url", &format!("sqlite://{}", p.display())])
                .args(["--migrations-dir", &dir.display().to_string(), "migrate"])
                .env_remove("DATABASE_URL")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut applied = 0;
    for child in children {
        let out = child.wait_with_output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        applied += String::from_utf8_lossy(&out.stdout)
            .matches("applied  ")
            .count();
    }
    assert_eq!(applied, 7, "each migration ran once");
    let db = t.connect().await;
    assert_eq!(recorded_versions(&db).await?.len(), 7);
    Ok(())
}

fn backup_names(path: &Path) -> Result<Vec<String>, Error> {
    let dir = path.parent().ok_or("dir")?;
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.retain(|n| n.contains(".bak"));
    names.sort();
    Ok(names)
}

/// Backups only count when the run changed something: an unknown `--to`, a revert with
/// nothing to revert and a failed run that was rolled back leave the backups as they
/// were. A backup cut off by a crash (a `.partial`, or an old-style `.bak` with its hot
/// journal) never counts and is cleaned up; pruning removes companions too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_count_only_real_changes() -> TestResult {
    let t = TestDb::create(Backend::Sqlite).await.ok_or("sqlite")?;
    let path = t.sqlite_path().ok_or("path")?;
    let dir = copy_migrations(Backend::Sqlite, &t.scratch_dir())?;
    let migrate = |args: &[&str]| run_botdb(&t.url, &dir, args);
    let (code, _, stderr) = migrate(&["migrate", "--to", "2024-12-20-144707"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = migrate(&[
        "migrate",
        "--to",
        "2024-12-20-215903",
        "--keep-backups",
        "1",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let first = backup_names(&path)?;
    assert_eq!(first.len(), 1, "{first:?}");

    for _ in 0..3 {
        let (code, _, stderr) = migrate(&["migrate", "--to", "2099", "--keep-backups", "1"]);
        assert_eq!(code, Some(2), "{stderr}");
    }
    let (code, _, stderr) =
        migrate(&["revert", "--to", "2024-12-20-215903", "--keep-backups", "1"]);
    assert_eq!(code, Some(0), "{stderr}");
    add_migration(
        &dir,
        "2030-01-01-000000_broken",
        "CREATE TABLE half (id INTEGER);\nSELEKT nonsense;\n",
        "DROP TABLE half;\n",
        None,
    )?;
    let (code, _, stderr) = migrate(&["migrate", "--keep-backups", "1"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("the whole run was rolled back"), "{stderr}");
    assert!(!stderr.contains("restored"), "{stderr}");
    assert_eq!(
        backup_names(&path)?,
        first,
        "no run that changed nothing made or pruned a backup"
    );
    std::fs::remove_dir_all(dir.join("2030-01-01-000000_broken"))?;

    // What a crash in the middle of a backup leaves, and companions of a kept backup.
    let db_name = path
        .file_name()
        .ok_or("name")?
        .to_string_lossy()
        .into_owned();
    let beside = |name: &str| path.with_file_name(format!("{db_name}.{name}"));
    std::fs::write(beside("20200101T000000.000000Z.bak.partial"), "half")?;
    std::fs::write(
        beside("20200101T000000.000000Z.bak.partial-journal"),
        "half",
    )?;
    std::fs::write(beside("20200101T000001.000000Z.bak"), "")?;
    std::fs::write(beside("20200101T000001.000000Z.bak-journal"), "hot")?;
    let kept = path.with_file_name(&first[0]);
    std::fs::write(format!("{}-wal", kept.display()), "")?;
    std::fs::write(format!("{}-shm", kept.display()), "")?;
    assert_eq!(
        botdb::ops::backup::backups(&path)?,
        std::slice::from_ref(&kept),
        "the broken one does not count"
    );

    let (code, _, stderr) = migrate(&[
        "migrate",
        "--to",
        "2024-12-26-132844",
        "--keep-backups",
        "1",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let now = backup_names(&path)?;
    assert_eq!(now.len(), 1, "one whole backup, nothing else: {now:?}");
    assert_ne!(now, first, "the new backup replaced the old one");
    let newest = path.with_file_name(&now[0]);
    assert_eq!(
        sqlite3(&newest, "SELECT COUNT(*) FROM __diesel_schema_migrations")?,
        "3",
        "the backup is a whole database, taken before the run"
    );
    Ok(())
}

/// `check` and `verify` on SQLite leave nothing in $TMPDIR (no scratch lock files).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_scratch_leaves_nothing_in_tmpdir() -> TestResult {
    let t = TestDb::create(Backend::Sqlite).await.ok_or("sqlite")?;
    let dir = copy_migrations(Backend::Sqlite, &t.scratch_dir())?;
    let tmp = tempfile::tempdir()?;
    drop(t.connect().await.migrate().await?);
    for args in [&["check"][..], &["verify"], &["revert", "--yes"]] {
        let out = crate::support::botdb()
            .env("TMPDIR", tmp.path())
            .args([
                "--database-url",
                &t.url,
                "--migrations-dir",
                &dir.display().to_string(),
            ])
            .args(args)
            .output()?;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let left: Vec<_> = std::fs::read_dir(tmp.path())?.collect::<Result<_, _>>()?;
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
    Ok(())
}

/// `sqlite:///dev/null` is refused, clearly, without creating `/dev/null.lock`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_special_file_gets_no_lock_file() -> TestResult {
    let existed = Path::new("/dev/null.lock").exists();
    let out = crate::support::botdb()
        .args(["--database-url", "sqlite:///dev/null", "migrate"])
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("/dev/null is not a regular file"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    if !existed {
        assert!(
            !Path::new("/dev/null.lock").exists(),
            "created /dev/null.lock"
        );
    }
    Ok(())
}

/// SIGTERM while `verify` works on a scratch database on the server: botdb drops it
/// before exiting.
async fn interrupted_verify_drops_its_scratch(t: TestDb) -> TestResult {
    let dir = copy_migrations(t.backend, &t.scratch_dir())?;
    let sleep = match t.backend {
        Backend::Postgres => "SELECT pg_sleep(30);\n",
        _ => "SELECT SLEEP(30);\n",
    };
    add_migration(&dir, "2030-01-01-000000_slow", sleep, "SELECT 1;\n", None)?;
    let child = Command::new(assert_cmd::cargo::cargo_bin("botdb"))
        .args([
            "--database-url",
            &t.url,
            "--migrations-dir",
            &dir.display().to_string(),
            "verify",
        ])
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let prefix = format!("botdb_scratch_{}_", child.id());
    let db = t.connect().await;
    let list = match t.backend {
        Backend::Postgres => format!("SELECT COUNT(*) AS n FROM pg_database WHERE datname LIKE '{prefix}%'"),
        _ => format!("SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '{prefix}%'"),
    };
    let start = Instant::now();
    while crate::support::count(&db, &list).await? == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no scratch database appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Into the slow migration.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    assert!(kill.success());
    let out = child.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert!(!stderr.contains("left behind"), "{stderr}");
    assert_eq!(
        crate::support::count(&db, &list).await?,
        0,
        "scratch databases left on the server"
    );
    Ok(())
}

crate::per_backend!(postgres, mysql; interrupted_verify_drops_its_scratch);

/// kill -9 while botdb copies a large database into its backup: the half-written copy is
/// a `.bak.partial` that never counts as a backup; the database is untouched; the next
/// migrate removes the leftover and keeps one good backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_the_backup_leaves_no_backup_that_counts() -> TestResult {
    let t = TestDb::create(Backend::Sqlite).await.ok_or("sqlite")?;
    let path = t.sqlite_path().ok_or("no SQLite path")?;
    let dir = copy_migrations(Backend::Sqlite, &t.scratch_dir())?;
    add_migration(
        &dir,
        COMMITTED,
        "CREATE TABLE later (id INTEGER);",
        "DROP TABLE later;",
        None,
    )?;
    let (code, _, stderr) = run_botdb(&t.url, &dir, &["migrate", "--to", VERSIONS[5]]);
    assert_eq!(code, Some(0), "{stderr}");
    // About 300 MB, so the copy takes long enough to be killed in the middle.
    sqlite3(
        &path,
        "CREATE TABLE big (b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) INSERT INTO big SELECT randomblob(1000000) FROM n;",
    )?;
    let digest_before = botdb::checksum::digest(&std::fs::read(&path)?);
    let partial = || -> Result<Vec<PathBuf>, Error> {
        let parent = path.parent().ok_or("no folder")?;
        Ok(std::fs::read_dir(parent)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".bak.partial"))
            .collect())
    };
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("botdb"))
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .args(["--database-url", &t.url, "--migrations-dir"])
        .arg(&dir)
        .arg("migrate")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        if !partial()?.is_empty() {
            break true;
        }
        if child.try_wait()?.is_some() || Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill()?; // SIGKILL
    child.wait()?;
    assert!(
        seen,
        "botdb finished before its backup copy could be killed"
    );

    assert_eq!(
        partial()?.len(),
        1,
        "the half-written copy is a .bak.partial"
    );
    assert!(
        botdb::ops::backup::backups(&path)?.is_empty(),
        "a half-written copy never counts as a backup"
    );
    assert_eq!(
        botdb::checksum::digest(&std::fs::read(&path)?),
        digest_before,
        "the database is untouched"
    );

    let (code, stdout, stderr) = run_botdb(&t.url, &dir, &["migrate", "--keep-backups", "1"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("applied  {COMMITTED}")),
        "{stdout}"
    );
    assert!(partial()?.is_empty(), "the leftover is removed");
    assert_eq!(botdb::ops::backup::backups(&path)?.len(), 1);
    assert_eq!(sqlite3(&path, "SELECT COUNT(*) FROM big")?, "300");
    Ok(())
}
