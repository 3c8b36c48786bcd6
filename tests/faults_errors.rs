//! Faults botdb cannot retry away or blame on the migration: a hot journal left by a
//! killed writer, a file that is not a database, a huge failing migration, another process
//! holding the lock, a read-only file and a full disk. Each fails at once (or works), with
//! one line naming the real cause, and leaves the database as it was.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

use botdb::{Backend, Database};

use crate::per_backend;
use crate::support::{
    add_migration, copy_migrations, count, recorded_versions, row_counts, run, TestDb, TestResult,
    VERSIONS,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// What a run of the binary showed, and how long it took.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Outcome {
    fn of(mut command: Command) -> Result<Outcome, Error> {
        command
            .env_remove("DATABASE_URL")
            .env_remove("DB_URL")
            .env_remove("RUST_LOG");
        let start = Instant::now();
        let Output {
            status,
            stdout,
            stderr,
        } = command.output()?;
        Ok(Outcome {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            took: start.elapsed(),
        })
    }

    /// The failure every case here must look like: exit 2 within `limit`, one error line
    /// and at most one more line on stderr (no retry flood), no pool time-out.
    fn failed_at_once(&self, limit: Duration) -> Result<&str, Error> {
        let lines: Vec<&str> = self.stderr.lines().collect();
        let errors: Vec<&&str> = lines.iter().filter(|l| l.starts_with("error:")).collect();
        if self.code != Some(2)
            || self.took > limit
            || errors.len() != 1
            || lines.len() > 2
            || self.stderr.contains("Timed out")
            || self.stderr.contains("panicked")
        {
            return Err(format!(
                "expected exit 2 within {limit:?} with one error line, got {:?} after {:?}: {}",
                self.code, self.took, self.stderr
            )
            .into());
        }
        Ok(errors[0])
    }
}

/// `botdb --database-url URL ARGS…`.
fn botdb(url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("botdb"));
    command.arg("--database-url").arg(url).args(args);
    command
}

/// The same command run as an unprivileged user, for whom file permissions hold (root
/// writes through a 0444 file). `None` when this cannot be arranged here.
fn as_unprivileged(url: &str, args: &[&str], scratch: &Path) -> Option<Command> {
    let probe = scratch.join("whoami");
    std::fs::write(&probe, b"").ok()?;
    if std::fs::metadata(&probe).ok()?.uid() != 0 {
        return Some(botdb(url, args));
    }
    let setpriv = Command::new("setpriv").arg("--version").output();
    if !setpriv.is_ok_and(|o| o.status.success()) {
        return None;
    }
    let mut command = Command::new("setpriv");
    command
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--reset-env",
        ])
        .arg(assert_cmd::cargo::cargo_bin("botdb"))
        .arg("--database-url")
        .arg(url)
        .args(args);
    Some(command)
}

fn journal_of(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}-journal", path.display()))
}

/// A rollback journal is hot once its header carries SQLite's magic number (written when the
/// journal is synced, before the first change reaches the database file).
fn is_hot(journal: &Path) -> bool {
    const MAGIC: [u8; 8] = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];
    std::fs::read(journal).is_ok_and(|b| b.starts_with(&MAGIC))
}

/// A `sqlite3` shell on `path`, fed commands one line at a time.
struct Shell {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Shell {
    fn open(path: &Path) -> Result<Shell, Error> {
        let mut child = Command::new("sqlite3")
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run sqlite3: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        Ok(Shell {
            child,
            stdin,
            stdout,
        })
    }

    /// Runs `sql`, then waits until the shell has printed `done` after it.
    fn run(&mut self, sql: &str) -> Result<(), Error> {
        writeln!(self.stdin, "{sql}\n.print done")?;
        self.stdin.flush()?;
        let mut line = String::new();
        while line.trim() != "done" {
            line.clear();
            if self.stdout.read_line(&mut line)? == 0 {
                return Err(format!("sqlite3 ended while running {sql}").into());
            }
        }
        Ok(())
    }

    /// Ends the shell with SIGKILL, as a crash or `kill -9` would.
    fn kill(mut self) -> Result<(), Error> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    fn quit(mut self) -> Result<(), Error> {
        writeln!(self.stdin, ".quit")?;
        drop(self.stdin);
        self.child.wait()?;
        Ok(())
    }
}

/// A migrated, seeded SQLite database at `db`.
async fn seeded(db: &TestDb) -> Result<PathBuf, Error> {
    let database = db.connect().await;
    database.migrate().await?;
    database.seed().await?;
    drop(database);
    Ok(db.sqlite_path().ok_or("no sqlite path")?)
}

/// Kills a sqlite3 shell in the middle of a transaction big enough to spill changed pages
/// into the database file: what kill -9, a crash or a power loss leaves, a hot journal.
fn leave_hot_journal(path: &Path) -> Result<(), Error> {
    let mut shell = Shell::open(path)?;
    shell.run(
        "PRAGMA cache_size = 2;\nBEGIN;\n\
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)\n\
         INSERT INTO users (telegram_id, username) SELECT 1000 + i, hex(randomblob(500)) FROM n;",
    )?;
    shell.kill()?;
    if !is_hot(&journal_of(path)) {
        return Err("the killed writer left no hot journal".into());
    }
    Ok(())
}

/// A copy of the database and its hot journal at `to`.
fn copy_with_journal(from: &Path, to: &Path) -> Result<(), Error> {
    std::fs::copy(from, to)?;
    std::fs::copy(journal_of(from), journal_of(to))?;
    Ok(())
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_journal_is_rolled_back_by_status_and_print_sql() {
    run(Backend::Sqlite, |db| async move {
        let path = seeded(&db).await?;
        leave_hot_journal(&path)?;
        let copy = path.with_extension("copy.sqlite3");
        copy_with_journal(&path, &copy)?;

        for (target, args) in [
            (&path, &["status", "--check"][..]),
            (&copy, &["print-sql"][..]),
        ] {
            let out = Outcome::of(botdb(&sqlite_url(target), args))?;
            assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
            assert!(
                out.took < Duration::from_secs(5),
                "{args:?} took {:?}",
                out.took
            );
            assert!(out.stderr.lines().count() <= 1, "{args:?}: {}", out.stderr);
            assert!(
                out.stderr.contains("rolled back a hot journal"),
                "{}",
                out.stderr
            );
            assert!(!journal_of(target).exists(), "{args:?} left the journal");
        }
        let status = Outcome::of(botdb(&sqlite_url(&path), &["status"]))?;
        assert_eq!(status.stdout.matches("\napplied ").count(), VERSIONS.len());
        assert!(status.stderr.is_empty(), "{}", status.stderr);

        // The killed writer's uncommitted users are gone, the seeded rows are intact.
        for target in [&path, &copy] {
            let database = Database::connect(&sqlite_url(target)).await?;
            assert_eq!(row_counts(&database).await?, [3, 4, 3, 2]);
            assert_eq!(recorded_versions(&database).await?, VERSIONS);
            let quick_check = count(
                &database,
                "SELECT COUNT(*) AS n FROM pragma_quick_check WHERE quick_check = 'ok'",
            );
            assert_eq!(quick_check.await?, 1);
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_journal_that_cannot_be_rolled_back_fails_at_once() {
    run(Backend::Sqlite, |db| async move {
        let path = seeded(&db).await?;
        leave_hot_journal(&path)?;
        let folder = path.parent().ok_or("no folder")?;
        // Readable by anyone, writable by no one but root.
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o755))?;
        for file in [path.clone(), journal_of(&path)] {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o444))?;
        }
        let before = std::fs::read(&path)?;
        let journal = std::fs::read(journal_of(&path))?;
        for args in [&["status"][..], &["print-sql"][..]] {
            let Some(command) = as_unprivileged(&sqlite_url(&path), args, &db.scratch_dir())
            else {
                eprintln!("skipped: running as root without setpriv, so the file cannot be made read-only");
                return Ok(());
            };
            let out = Outcome::of(command)?;
            let error = out.failed_at_once(Duration::from_secs(5))?;
            assert!(
                error.contains("attempt to write a readonly database")
                    && error.contains("hot journal")
                    && error.contains("who may write the file"),
                "{error}"
            );
            assert_eq!(std::fs::read(&path)?, before, "{args:?} changed the file");
            assert_eq!(std::fs::read(journal_of(&path))?, journal);
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_database_fails_at_once() {
    run(Backend::Sqlite, |db| async move {
        let path = seeded(&db).await?;
        let real = std::fs::read(&path)?;
        let dir = db.scratch_dir();
        let random: Vec<u8> = (0..20_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let cases: [(&str, &[u8]); 3] = [
            ("text.db", b"DATABASE_URL=sqlite://data/botdb.sqlite3\n"),
            ("random.db", &random),
            ("truncated.db", &real[..real.len() / 3]),
        ];
        for (name, bytes) in cases {
            let file = dir.join(name);
            std::fs::write(&file, bytes)?;
            for args in [&["status"][..], &["print-sql"][..], &["migrate"][..]] {
                let out = Outcome::of(botdb(&sqlite_url(&file), args))?;
                let error = out.failed_at_once(Duration::from_secs(5))?;
                assert!(
                    (error.contains("file is not a database")
                        || error.contains("database disk image is malformed"))
                        && error.contains("not a SQLite database or is damaged"),
                    "{name} {args:?}: {error}"
                );
                assert!(!out.stderr.contains("connection failed"), "{}", out.stderr);
                assert_eq!(std::fs::read(&file)?, bytes, "{name} {args:?} changed it");
                assert!(!journal_of(&file).exists());
            }
        }
        Ok(())
    })
    .await;
}

/// The statement the generated migration fails at, and its line.
const BIG_STATEMENTS: usize = 30_000;

/// A multi-MB up.sql whose failing statement is near the end: every INSERT spans two lines.
fn big_migration() -> (String, usize, usize) {
    let mut up = String::from("CREATE TABLE big (v TEXT);\n");
    for i in 0..BIG_STATEMENTS {
        up.push_str(&format!(
            "INSERT INTO big (v)\n  VALUES ('row {i}, padded to look like a real data migration');\n"
        ));
    }
    let statement = BIG_STATEMENTS + 2;
    let line = 2 * BIG_STATEMENTS + 2;
    up.push_str("SELEKT nonsense;\nINSERT INTO big (v) VALUES ('after');\n");
    (up, statement, line)
}

per_backend!(sqlite, postgres; a_large_failed_migration_names_its_statement_quickly);

async fn a_large_failed_migration_names_its_statement_quickly(db: TestDb) -> TestResult {
    let database = db.connect().await;
    database.migrate().await?;
    let dir = copy_migrations(db.backend, &db.scratch_dir())?;
    let (up, statement, line) = big_migration();
    assert!(up.len() > 2_500_000, "{} bytes", up.len());
    add_migration(&dir, "2030-01-01-000000_big", &up, "DROP TABLE big;", None)?;

    let mut command = botdb(&db.url, &["--migrations-dir"]);
    command.arg(&dir).args(["migrate", "--no-backup"]);
    let out = Outcome::of(command)?;
    // Linear, this takes a few seconds; quadratic, it took minutes (see the report).
    let error = out.failed_at_once(Duration::from_secs(90))?;
    let expected = format!(
        "applying of migration 2030-01-01-000000_big failed at statement {statement} (line {line}: SELEKT nonsense)"
    );
    assert!(error.contains(&expected), "{error}");
    assert!(error.contains("fix the migration and run again"), "{error}");
    eprintln!(
        "{}: failed migration reported in {:?}",
        db.backend, out.took
    );

    assert_eq!(recorded_versions(&database).await?, VERSIONS);
    assert!(!database.introspect().await?.has_table("big"));
    Ok(())
}

#[test]
fn splitting_a_long_file_is_linear() {
    // 200,000 statements, 2.4 MB: counting each statement's line from the start of the
    // file scanned ~240 GB here; counting on from the previous one scans it once.
    let sql = "SELECT 1;\n-- one\n".repeat(200_000);
    let start = Instant::now();
    let statements = botdb::sql::split::split(&sql);
    let took = start.elapsed();
    assert_eq!(statements.len(), 200_000);
    assert_eq!(statements[199_999].line, 399_999);
    assert!(took < Duration::from_secs(10), "split took {took:?}");
}

/// The copied migrations plus one that creates a table and writes a row.
fn with_pending(db: &TestDb) -> Result<PathBuf, Error> {
    let dir = copy_migrations(db.backend, &db.scratch_dir())?;
    add_migration(
        &dir,
        "2030-01-01-000000_more",
        "CREATE TABLE more (id INTEGER PRIMARY KEY, v TEXT);\nINSERT INTO more (v) VALUES ('x');\n",
        "DROP TABLE more;",
        None,
    )?;
    Ok(dir)
}

fn migrate(url: &str, dir: &Path, extra: &[&str]) -> Command {
    let mut command = botdb(url, &["--migrations-dir"]);
    command.arg(dir).arg("migrate").args(extra);
    command
}

/// Nothing of the pending migration is there, and the seeded rows are.
async fn as_before(path: &Path) -> TestResult {
    let database = Database::connect(&sqlite_url(path)).await?;
    assert_eq!(recorded_versions(&database).await?, VERSIONS);
    assert!(!database.introspect().await?.has_table("more"));
    assert_eq!(row_counts(&database).await?, [3, 4, 3, 2]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_locked_by_another_process_is_not_blamed_on_the_migration() {
    run(Backend::Sqlite, |db| async move {
        let path = seeded(&db).await?;
        let dir = with_pending(&db)?;
        let url = sqlite_url(&path);
        let locked = "another process holds a lock on the database";

        // BEGIN EXCLUSIVE: not even a read gets through, so connecting fails.
        let mut shell = Shell::open(&path)?;
        shell.run("BEGIN EXCLUSIVE;")?;
        let out = Outcome::of(migrate(&url, &dir, &[]))?;
        let error = out.failed_at_once(Duration::from_secs(20))?;
        assert!(
            error.starts_with(&format!("error: cannot connect to {url}: database is locked; {locked}")),
            "{error}"
        );
        shell.run("ROLLBACK;")?;

        // A write transaction: reads work, the migration's first write times out.
        shell.run("BEGIN IMMEDIATE;\nINSERT INTO categories (category_name) VALUES ('held');")?;
        let out = Outcome::of(migrate(&url, &dir, &["--no-backup"]))?;
        let error = out.failed_at_once(Duration::from_secs(30))?;
        assert!(
            error.contains("applying of migration 2030-01-01-000000_more failed: database is locked")
                && error.contains("so the database is as it was before")
                && error.ends_with(&format!("{locked} (the running bot, a sqlite3 shell or another session with a transaction open): let it finish or stop it, then run again")),
            "{error}"
        );
        assert!(!error.contains("fix the migration"), "{error}");
        shell.run("COMMIT;")?;
        shell.quit()?;

        // The other process's row is kept; the migration left nothing.
        let database = Database::connect(&url).await?;
        assert_eq!(recorded_versions(&database).await?, VERSIONS);
        assert!(!database.introspect().await?.has_table("more"));
        let held = "SELECT COUNT(*) AS n FROM categories WHERE category_name = 'held'";
        assert_eq!(count(&database, held).await?, 1);
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_file_is_not_blamed_on_the_migration() {
    run(Backend::Sqlite, |db| async move {
        let path = seeded(&db).await?;
        let dir = with_pending(&db)?;
        let folder = path.parent().ok_or("no folder")?;
        // The folder stays writable (for the lock file and the backup); the file is not.
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o777))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444))?;
        let lock = PathBuf::from(format!("{}.lock", path.display()));
        if lock.exists() {
            std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o666))?;
        }
        let before = std::fs::read(&path)?;
        let args = ["--migrations-dir", &dir.display().to_string(), "migrate"];
        let Some(command) = as_unprivileged(&sqlite_url(&path), &args, &db.scratch_dir()) else {
            eprintln!("skipped: running as root without setpriv, so the file cannot be made read-only");
            return Ok(());
        };
        let out = Outcome::of(command)?;
        let error = out.failed_at_once(Duration::from_secs(10))?;
        assert!(
            error.contains("applying of migration 2030-01-01-000000_more failed: attempt to write a readonly database")
                && error.contains("so the database is as it was before: the database is read-only here"),
            "{error}"
        );
        assert!(!error.contains("fix the migration"), "{error}");
        assert_eq!(std::fs::read(&path)?, before);
        as_before(&path).await
    })
    .await;
}

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: PathBuf, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(&at).ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then_some(Tmpfs(at))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_not_blamed_on_the_migration() {
    run(Backend::Sqlite, |db| async move {
        let seeded_path = seeded(&db).await?;
        let dir = copy_migrations(Backend::Sqlite, &db.scratch_dir())?;
        // ~500 KB of rows on a disk with ~100 KB free.
        add_migration(
            &dir,
            "2030-01-01-000000_more",
            "CREATE TABLE more (v TEXT);\n\
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)\n\
             INSERT INTO more SELECT hex(randomblob(250)) FROM n;\n",
            "DROP TABLE more;",
            None,
        )?;
        let Some(disk) = Tmpfs::mount(db.scratch_dir().join("disk"), "160k") else {
            eprintln!("skipped: cannot mount a tmpfs here (needs root), so the disk cannot be filled");
            return Ok(());
        };
        let path = disk.0.join("shop.sqlite3");
        std::fs::copy(&seeded_path, &path)?;
        let before = std::fs::read(&path)?;

        let out = Outcome::of(migrate(&sqlite_url(&path), &dir, &["--no-backup"]))?;
        let error = out.failed_at_once(Duration::from_secs(10))?;
        assert!(
            error.contains("2030-01-01-000000_more failed: database or disk is full")
                && error.contains("so the database is as it was before: the disk is full: free space and run again"),
            "{error}"
        );
        assert!(!error.contains("fix the migration"), "{error}");
        assert_eq!(std::fs::read(&path)?, before);
        as_before(&path).await?;
        drop(disk);
        Ok(())
    })
    .await;
}

per_backend!(postgres; a_read_only_postgres_database_is_not_blamed_on_the_migration);

async fn a_read_only_postgres_database_is_not_blamed_on_the_migration(db: TestDb) -> TestResult {
    let database = db.connect().await;
    database.migrate().await?;
    drop(database);
    let dir = with_pending(&db)?;
    db.admin(&format!(
        "ALTER DATABASE {} SET default_transaction_read_only = on",
        db.name()
    ))
    .await;
    let out = Outcome::of(migrate(&db.url, &dir, &[]))?;
    let error = out.failed_at_once(Duration::from_secs(20))?;
    assert!(
        error.contains("read-only transaction")
            && error.contains("the database is read-only here")
            && !error.contains("fix the migration")
            && !error.contains("may create and write tables"),
        "{error}"
    );
    db.admin(&format!(
        "ALTER DATABASE {} SET default_transaction_read_only = off",
        db.name()
    ))
    .await;
    let database = db.connect().await;
    assert_eq!(recorded_versions(&database).await?, VERSIONS);
    assert!(!database.introspect().await?.has_table("more"));
    Ok(())
}
