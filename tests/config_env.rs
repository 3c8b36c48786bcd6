//! Configuration as a new user meets it: empty URLs, `.env` in a parent folder,
//! `botdb.toml` environments, `BOTDB_*` variables and their precedence, `:memory:`.

use std::path::{Path, PathBuf};

use crate::support::{botdb, outcome};

/// A folder with a `sub/deeper` folder in it, removed when the test ends.
fn project() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let deeper = dir.path().join("sub").join("deeper");
    std::fs::create_dir_all(&deeper).expect("sub folders");
    (dir, deeper)
}

/// `botdb ARGS…` run in `cwd` with `env` set: exit code, stdout, stderr.
fn run_in(cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = botdb();
    cmd.current_dir(cwd)
        .env_remove("BOTDB_ENV")
        .env_remove("BOTDB_MIGRATIONS_DIR")
        .env_remove("BOTDB_LOCK_TIMEOUT");
    for (key, value) in env {
        cmd.env(key, value);
    }
    outcome(&cmd.args(args).output().expect("run botdb"))
}

/// Every file under `dir` whose name ends with `suffix`.
fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("read folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found
}

fn one_error_line(err: &str) -> &str {
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {err}");
    lines[0]
}

#[test]
fn an_empty_url_is_an_error_naming_its_source() {
    let (dir, deeper) = project();
    let (code, out, err) = run_in(&deeper, &[("DATABASE_URL", "")], &["migrate"]);
    assert_eq!(code, Some(2), "{out}{err}");
    let line = one_error_line(&err);
    assert!(
        line.contains("from DATABASE_URL is empty") && line.contains("unset DATABASE_URL"),
        "{line}"
    );

    // `${UNSET}` in a parent .env expands to nothing: the error names that file.
    let env_file = dir.path().join(".env");
    std::fs::write(&env_file, "DATABASE_URL=${BOTDB_TEST_SURELY_UNSET}\n").expect("write .env");
    let (code, out, err) = run_in(&deeper, &[], &["migrate"]);
    assert_eq!(code, Some(2), "{out}{err}");
    let line = one_error_line(&err);
    assert!(
        line.contains(&format!("DATABASE_URL in {} is empty", env_file.display())),
        "{line}"
    );
    let (code, _, err) = run_in(&deeper, &[], &["--database-url", " ", "status"]);
    assert_eq!(code, Some(2));
    assert!(
        one_error_line(&err).contains("from --database-url is empty"),
        "{err}"
    );
    assert_eq!(
        files_ending(dir.path(), ".sqlite3"),
        Vec::<PathBuf>::new(),
        "no default database made"
    );
}

#[test]
fn a_relative_sqlite_path_in_a_parent_env_file_is_relative_to_that_file() {
    let (dir, deeper) = project();
    std::fs::write(
        dir.path().join(".env"),
        "DATABASE_URL=sqlite://data/shop.sqlite3\n",
    )
    .expect("write .env");
    let (code, out, err) = run_in(&deeper, &[], &["migrate"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let db = dir.path().join("data").join("shop.sqlite3");
    assert!(
        out.contains(&format!("sqlite://{} is at", db.display())),
        "the absolute path is shown: {out}"
    );
    // From the project's root and from another subfolder: the same database, migrated.
    for cwd in [dir.path().to_path_buf(), dir.path().join("sub")] {
        let (code, out, err) = run_in(&cwd, &[], &["status", "--check"]);
        assert_eq!(code, Some(0), "{}: {out}{err}", cwd.display());
        assert!(
            out.starts_with(&format!("database: sqlite://{}\n", db.display())),
            "{out}"
        );
    }
    assert_eq!(files_ending(dir.path(), ".sqlite3"), vec![db]);
}

#[test]
fn a_relative_sqlite_url_is_shown_absolute() {
    let (dir, deeper) = project();
    let (code, out, err) = run_in(
        &deeper,
        &[],
        &["--database-url", "sqlite://x.sqlite3", "migrate"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(&format!(
            "sqlite://{} is at",
            deeper.join("x.sqlite3").display()
        )),
        "{out}"
    );
    drop(dir);
}

const TOML: &str = r#"
[env.dev]
url = "sqlite://toml.sqlite3"
migrations_dir = "toml-migrations"

[env.prod]
url = "postgres://bot:hunter2@127.0.0.1:1/shop"
lock_timeout = "30s"
connect_timeout = 1
"#;

/// The database `status` says it reads.
fn database_shown(out: &str) -> &str {
    out.lines()
        .find_map(|l| l.strip_prefix("database: sqlite://"))
        .unwrap_or_else(|| panic!("no database line: {out}"))
}

#[test]
fn precedence_is_flag_then_environment_then_env_file_then_botdb_toml_then_default() {
    let (dir, deeper) = project();
    let root = dir.path();
    std::fs::write(root.join("botdb.toml"), TOML).expect("write botdb.toml");
    let embedded = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let status = |env: &[(&str, &str)], flag: bool| {
        let mut args = vec!["--env", "dev", "--migrations-dir", embedded];
        if flag {
            args.extend(["--database-url", "sqlite://flag.sqlite3"]);
        }
        args.push("status");
        let (code, out, err) = run_in(&deeper, env, &args);
        assert_eq!(code, Some(0), "{out}{err}");
        database_shown(&out).to_string()
    };
    let at = |p: &Path| p.display().to_string();
    // Without .env: botdb.toml (relative to its folder), then the environment, then the flag.
    let (_, out, err) = run_in(&deeper, &[], &["status"]);
    assert_eq!(
        database_shown(&out),
        at(&deeper.join("data/botdb.sqlite3")),
        "{err}"
    );
    assert_eq!(status(&[], false), at(&root.join("toml.sqlite3")));
    std::fs::write(root.join(".env"), "DATABASE_URL=dotenv.sqlite3\n").expect("write .env");
    assert_eq!(status(&[], false), at(&root.join("dotenv.sqlite3")));
    let env = [("DATABASE_URL", "sqlite://environment.sqlite3")];
    assert_eq!(status(&env, false), at(&deeper.join("environment.sqlite3")));
    assert_eq!(status(&env, true), at(&deeper.join("flag.sqlite3")));

    // The same order for a setting that is not the URL: the migrations folder.
    let migrations = |env: &[(&str, &str)], flag: bool| {
        let mut args = vec!["--env", "dev", "--database-url", "sqlite://m.sqlite3"];
        if flag {
            args.extend(["--migrations-dir", "flag-migrations"]);
        }
        args.push("status");
        let (code, out, err) = run_in(&deeper, env, &args);
        assert_eq!(code, Some(2), "{out}{err}");
        err
    };
    assert!(migrations(&[], false).contains(&at(&root.join("toml-migrations"))));
    let env = [("BOTDB_MIGRATIONS_DIR", "env-migrations")];
    assert!(migrations(&env, false).contains("env-migrations"));
    assert!(migrations(&env, true).contains("flag-migrations"));
}

#[test]
fn botdb_toml_errors_are_clear_and_never_show_a_password() {
    let (dir, deeper) = project();
    let toml = dir.path().join("botdb.toml");
    std::fs::write(&toml, TOML).expect("write botdb.toml");
    let (code, out, err) = run_in(&deeper, &[], &["--env", "prod", "status"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("postgres://bot:***@127.0.0.1:1/shop"), "{err}");
    assert!(!format!("{out}{err}").contains("hunter2"), "{out}{err}");

    let (code, _, err) = run_in(&deeper, &[("BOTDB_ENV", "staging")], &["status"]);
    assert_eq!(code, Some(2));
    assert!(
        one_error_line(&err).contains("there is no environment `staging` (it has: dev, prod)"),
        "{err}"
    );

    std::fs::write(
        &toml,
        "[env.prod]\nurll = \"postgres://bot:hunter2@db/shop\"\n",
    )
    .expect("write");
    let (code, _, err) = run_in(&deeper, &[], &["--env", "prod", "status"]);
    assert_eq!(code, Some(2));
    let line = one_error_line(&err);
    assert!(
        line.contains("unknown key `urll` in [env.prod]")
            && line.contains(&toml.display().to_string()),
        "{line}"
    );
    assert!(!line.contains("hunter2"), "{line}");

    std::fs::write(
        &toml,
        "[env.prod]\nurl = \"postgres://bot:hunter2@db/shop\n",
    )
    .expect("write");
    let (code, _, err) = run_in(&deeper, &[], &["--env", "prod", "status"]);
    assert_eq!(code, Some(2));
    assert!(one_error_line(&err).contains("line 2"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    std::fs::remove_file(&toml).expect("remove botdb.toml");
    let (code, _, err) = run_in(&deeper, &[], &["--env", "prod", "status"]);
    assert_eq!(code, Some(2));
    assert!(
        one_error_line(&err).contains("there is no botdb.toml"),
        "{err}"
    );
}

#[test]
fn in_memory_sqlite_is_refused_without_a_lock_file() {
    let (dir, deeper) = project();
    for url in ["sqlite://:memory:", "sqlite::memory:"] {
        let (code, out, err) = run_in(&deeper, &[], &["--database-url", url, "migrate"]);
        assert_eq!(code, Some(2), "{out}{err}");
        assert!(one_error_line(&err).contains("in-memory"), "{err}");
    }
    assert_eq!(files_ending(dir.path(), ".lock"), Vec::<PathBuf>::new());
}

#[test]
fn every_global_flag_has_a_variable_under_global_options() {
    let (code, out, _) = run_in(Path::new("."), &[], &["migrate", "--help"]);
    assert_eq!(code, Some(0));
    let global = out
        .split("Global options:")
        .nth(1)
        .expect("a Global options heading");
    for var in [
        "BOTDB_ENV",
        "BOTDB_MIGRATIONS_DIR",
        "BOTDB_POOL_SIZE",
        "BOTDB_CONNECT_TIMEOUT",
        "BOTDB_WAIT",
        "BOTDB_LOCK_TIMEOUT",
        "BOTDB_LOCK_LEASE",
        "BOTDB_QUIET",
        "DATABASE_URL",
        "DIRECT_URL",
    ] {
        assert!(global.contains(var), "{var} in: {global}");
    }
    // Each command lists only the options it uses; the others still parse.
    let (_, status_help, _) = run_in(Path::new("."), &[], &["status", "--help"]);
    for unused in ["--lock-timeout", "--lock-lease", "--direct-url"] {
        assert!(!status_help.contains(unused), "{unused} in: {status_help}");
        assert!(global.contains(unused), "{unused} in migrate's help");
    }
    // A variable is checked as its flag would be.
    let (code, _, err) = run_in(Path::new("."), &[("BOTDB_POOL_SIZE", "0")], &["status"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--pool-size"), "{err}");
}

/// `Database::from_env()` in a child process (it reads the process's folder and
/// environment): prints what it connected to, or its error.
#[tokio::test]
#[ignore = "run by from_env_resolves_as_the_cli_does"]
async fn from_env_child() {
    match botdb::Database::from_env().await {
        Ok(db) => {
            let report = db.migrate().await.expect("migrate");
            println!("child ok {} applied {}", db.url(), report.applied.len());
        }
        Err(e) => println!("child error {e}"),
    }
}

#[test]
fn from_env_resolves_as_the_cli_does() {
    let (dir, deeper) = project();
    let child = |env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(std::env::current_exe().expect("test binary"));
        cmd.args([
            "--exact",
            "config_env::from_env_child",
            "--include-ignored",
            "--nocapture",
        ])
        .current_dir(&deeper)
        .env_remove("DATABASE_URL")
        .env_remove("DB_URL")
        .env_remove("BOTDB_ENV");
        for (key, value) in env {
            cmd.env(key, value);
        }
        let out = cmd.output().expect("run the child");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix("child ").map(str::to_string))
            .unwrap_or_else(|| panic!("the child did not run: {text}"))
    };
    std::fs::write(
        dir.path().join(".env"),
        "DATABASE_URL=sqlite://data/shop.sqlite3\n",
    )
    .expect("write .env");
    let db = dir.path().join("data/shop.sqlite3");
    assert_eq!(
        child(&[]),
        format!("ok sqlite://{} applied 6", db.display())
    );
    std::fs::write(dir.path().join(".env"), "DATABASE_URL=\n").expect("write .env");
    let line = child(&[]);
    assert!(
        line.starts_with("error ") && line.contains("DATABASE_URL in") && line.contains("is empty"),
        "{line}"
    );
    std::fs::remove_file(dir.path().join(".env")).expect("remove .env");
    std::fs::write(
        dir.path().join("botdb.toml"),
        "[env.test]\nurl = \"sqlite://toml.sqlite3\"\npool_size = 2\n",
    )
    .expect("write botdb.toml");
    assert_eq!(
        child(&[("BOTDB_ENV", "test")]),
        format!(
            "ok sqlite://{} applied 6",
            dir.path().join("toml.sqlite3").display()
        )
    );
}
