//! The CLI's surface: completions, the verbs Alembic and diesel users type, `--version`,
//! colour only where it belongs, durations, and the heartbeat of a slow migration.

use botdb::Backend;

use crate::per_backend;
use crate::support::{
    add_migration, botdb, copy_migrations, outcome, recorded_versions, run_botdb, run_url, TestDb,
    TestResult, VERSIONS,
};

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("surface.sqlite3").display())
}

#[test]
fn bash_completion_defines_its_function_and_knows_the_subcommands() -> TestResult {
    let (code, out, err) = outcome(&botdb().args(["completions", "bash"]).output()?);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("_botdb() {"), "{out}");
    assert!(out.contains("complete -F _botdb"), "{out}");
    for word in [
        "migrate",
        "revert",
        "status",
        "upgrade",
        "downgrade",
        "--database-url",
    ] {
        assert!(out.contains(word), "{word} missing");
    }
    let (code, out, _) = outcome(&botdb().args(["completions", "zsh"]).output()?);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("#compdef botdb"), "{out}");
    let (code, _, err) = outcome(&botdb().args(["completions", "tcsh"]).output()?);
    assert_eq!(code, Some(2));
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
    Ok(())
}

#[test]
fn the_verbs_of_alembic_and_diesel_run_the_right_commands() -> TestResult {
    let dir = tempfile::tempdir()?;
    let url = sqlite_url(&dir);
    let (code, out, err) = run_url(&url, &["upgrade"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("migrate: 6 migrations in "), "{out}");

    let (code, out, err) = run_url(&url, &["downgrade", "--yes"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with("reverted 2026-11-25-100100_maintain_updated_at ("),
        "{out}"
    );

    for verb in ["current", "history"] {
        let (code, out, err) = run_url(&url, &[verb]);
        assert_eq!(code, Some(0), "{verb}: {err}");
        assert!(out.contains("5 applied, 1 pending"), "{verb}: {out}");
    }
    let (_, help, _) = outcome(&botdb().arg("--help").output()?);
    assert!(help.contains("[alias: upgrade]"), "{help}");
    assert!(help.contains("[alias: downgrade]"), "{help}");
    // Wrapped at the terminal's width: compare with the whitespace folded.
    let folded = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(folded.contains("[aliases: current, history]"), "{help}");
    Ok(())
}

#[test]
fn version_names_the_backends_and_the_newest_migration() -> TestResult {
    let newest = |backend: &str| -> Result<String, std::io::Error> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut names: Vec<String> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names.pop().unwrap_or_default())
    };
    let name = newest("sqlite")?;
    assert_eq!(name, newest("postgres")?);
    assert_eq!(name, newest("mysql")?);
    let (code, out, _) = outcome(&botdb().arg("--version").output()?);
    assert_eq!(code, Some(0));
    assert_eq!(
        out.trim_end(),
        format!(
            "botdb {} (sqlite, postgres, mysql; migrations up to {name})",
            env!("CARGO_PKG_VERSION")
        )
    );
    Ok(())
}

#[test]
fn colour_only_when_asked_for_and_never_with_no_color() -> TestResult {
    let dir = tempfile::tempdir()?;
    let url = sqlite_url(&dir);
    let failing =
        |env: &[(&str, &str)]| -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
            let mut cmd = botdb();
            cmd.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
            for (k, v) in env {
                cmd.env(k, v);
            }
            let out = cmd
                .args(["--database-url", &url, "stamp", "2099-01-01-000000"])
                .output()?;
            assert_eq!(out.status.code(), Some(2));
            Ok(String::from_utf8_lossy(&out.stderr).into_owned())
        };
    // Piped, as here: plain text.
    let plain = failing(&[])?;
    assert!(plain.starts_with("error: unknown migration"), "{plain:?}");
    assert!(!plain.contains('\x1b'), "{plain:?}");
    // Colour forced on (as on a terminal): a red `error:`.
    let forced = failing(&[("CLICOLOR_FORCE", "1")])?;
    assert!(
        forced.contains("\x1b[") && forced.contains("error:"),
        "{forced:?}"
    );
    // NO_COLOR wins over everything.
    let none = failing(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")])?;
    assert!(!none.contains('\x1b'), "{none:?}");
    assert_eq!(none, plain);
    // The INFO lines of a run, too.
    let out = botdb()
        .env_remove("CLICOLOR_FORCE")
        .env("NO_COLOR", "1")
        .args(["--database-url", &url, "migrate"])
        .output()?;
    assert!(out.status.success());
    assert!(!out.stdout.contains(&0x1b) && !out.stderr.contains(&0x1b));
    Ok(())
}

/// A duration as printed, as the range of milliseconds it stands for.
fn millis(text: &str) -> Option<(f64, f64)> {
    if text == "<1 ms" {
        return Some((0.0, 1.0));
    }
    if let Some(ms) = text.strip_suffix(" ms") {
        let ms: f64 = ms.parse().ok()?;
        return Some((ms, ms + 1.0));
    }
    let s: f64 = text.strip_suffix(" s")?.parse().ok()?;
    Some((s * 1000.0 - 5.0, s * 1000.0 + 5.0))
}

#[test]
fn durations_are_never_zero_and_add_up_to_the_total() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (code, out, err) = run_url(&sqlite_url(&dir), &["migrate"]);
    assert_eq!(code, Some(0), "{err}");
    let (mut low, mut high) = (0.0, 0.0);
    let lines: Vec<&str> = out.lines().collect();
    for line in &lines[..lines.len() - 1] {
        let shown = line
            .rsplit_once(" (")
            .and_then(|(_, d)| d.strip_suffix(')'))
            .ok_or(format!("no duration in {line}"))?;
        assert_ne!(shown, "0 ms", "{out}");
        let (l, h) = millis(shown).ok_or(format!("bad duration {shown}"))?;
        low += l;
        high += h;
    }
    let total = lines[lines.len() - 1]
        .strip_prefix("migrate: 6 migrations in ")
        .and_then(|rest| rest.split_once(';'))
        .ok_or(format!("no total in {out}"))?
        .0;
    let (l, h) = millis(total).ok_or(format!("bad total {total}"))?;
    assert!(
        l <= high && h >= low,
        "{total} is not the sum of the steps in {out}"
    );
    Ok(())
}

/// A migration whose up.sql takes about three seconds.
fn slow_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "SELECT pg_sleep(3);\n",
        Backend::Mysql => "DO SLEEP(3);\n",
        Backend::Sqlite => unreachable!("SQLite has no sleep; the servers show the heartbeat"),
    }
}

per_backend!(postgres, mysql; a_slow_step_prints_a_heartbeat);

async fn a_slow_step_prints_a_heartbeat(t: TestDb) -> TestResult {
    const SLOW: &str = "2030-01-01-000000_slow_step";
    let dir = copy_migrations(t.backend, &t.scratch_dir())?;
    add_migration(&dir, SLOW, slow_sql(t.backend), "SELECT 1;\n", None)?;
    let (code, out, err) = run_botdb(&t.url, &dir, &["--format", "json", "migrate"]);
    assert_eq!(code, Some(0), "{err}");
    let document: serde_json::Value = serde_json::from_str(&out)?;
    assert_eq!(document["applied"].as_array().map(Vec::len), Some(7));
    let beats: Vec<&str> = err.lines().filter(|l| l.starts_with("applying ")).collect();
    // Only the slow one, named, after about 2 s; none for the fast ones.
    assert_eq!(beats, [format!("applying {SLOW} (2 s so far)")], "{err}");
    let db = t.connect().await;
    let expected: Vec<&str> = VERSIONS.iter().copied().chain(["20300101000000"]).collect();
    assert_eq!(recorded_versions(&db).await?, expected);

    // --quiet: no heartbeat.
    let (code, _, err) = run_botdb(&t.url, &dir, &["--quiet", "redo", "--yes"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("so far"), "{err}");
    Ok(())
}

#[test]
fn a_url_typed_in_the_wrong_place_is_quoted_back_without_its_password() -> TestResult {
    for args in [
        &["status", "postgres://bot:s3cret@db.example/shop"][..],
        &[
            "--pool-size",
            "mysql://root:s3cret@db.example/shop",
            "status",
        ],
        &[
            "--format",
            "json",
            "migrate",
            "--to",
            "x",
            "postgresql+asyncpg://bot:s3cret@db/shop",
        ],
    ] {
        let (code, out, err) = outcome(&botdb().args(args).output()?);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(!err.contains("s3cret"), "{args:?}: {err}");
        assert!(err.contains(":***@db"), "{args:?}: {err}");
    }
    Ok(())
}
