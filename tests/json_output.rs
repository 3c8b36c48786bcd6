//! `--format json`: one JSON document on stdout for each command, and on failure one JSON
//! error object on stderr with a stable code, checked against what the database holds.

use serde_json::Value;

use crate::per_backend;
use crate::support::{
    add_migration, copy_migrations, recorded_versions, run_botdb, run_url, TestDb, TestResult,
    VERSIONS,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// `botdb --format json ARGS…` on the database: the exit code and the parsed stdout.
fn json_ok(url: &str, args: &[&str]) -> Result<Value, Error> {
    let (code, out, err) = run_url(url, &[&["--format", "json"][..], args].concat());
    if code != Some(0) {
        return Err(format!("{args:?} exited {code:?}: {err}").into());
    }
    // The whole of stdout is one document: no progress lines around it.
    Ok(serde_json::from_str(&out).map_err(|e| format!("{args:?}: {e} in {out:?}"))?)
}

/// The `error` object a failed run printed on stderr, as its only line.
fn json_error(code: Option<i32>, out: &str, err: &str) -> Result<Value, Error> {
    if code != Some(2) {
        return Err(format!("expected exit 2, got {code:?}: {out} {err}").into());
    }
    if !out.is_empty() {
        return Err(format!("a failure printed on stdout: {out}").into());
    }
    let line = err.lines().last().ok_or("nothing on stderr")?;
    let document: Value = serde_json::from_str(line).map_err(|e| format!("{e}: {err}"))?;
    let error = document.get("error").ok_or("no `error` key")?.clone();
    for key in ["code", "message", "hint", "migration", "statement"] {
        if error.get(key).is_none() {
            return Err(format!("the error object has no `{key}`: {document}").into());
        }
    }
    Ok(error)
}

fn versions(steps: &Value) -> Vec<String> {
    steps
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["version"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

per_backend!(every_command_prints_one_json_document);

async fn every_command_prints_one_json_document(t: TestDb) -> TestResult {
    let url = t.url.as_str();

    let migrate = json_ok(url, &["migrate"])?;
    assert_eq!(migrate["command"], "migrate", "{migrate}");
    assert_eq!(migrate["backend"], t.backend.name(), "{migrate}");
    assert_eq!(versions(&migrate["applied"]), VERSIONS, "{migrate}");
    assert_eq!(migrate["current"]["version"], VERSIONS[5], "{migrate}");
    let steps: f64 = migrate["applied"]
        .as_array()
        .ok_or("applied is a list")?
        .iter()
        .filter_map(|s| s["duration_ms"].as_f64())
        .sum();
    let total = migrate["duration_ms"].as_f64().ok_or("duration_ms")?;
    assert!((total - steps).abs() < 0.01, "{total} vs {steps}");
    let db = t.connect().await;
    assert_eq!(recorded_versions(&db).await?, VERSIONS);

    let again = json_ok(url, &["migrate"])?;
    assert_eq!(again["applied"], serde_json::json!([]), "{again}");

    // `status --json` keeps its shape, and is what `--format json` prints.
    let status = json_ok(url, &["status"])?;
    let (_, legacy, _) = run_url(url, &["status", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&legacy)?, status);
    assert_eq!(status["applied"], 6, "{status}");
    assert_eq!(status["pending"], 0, "{status}");
    for entry in status["migrations"].as_array().ok_or("migrations")? {
        let at = entry["applied_at"].as_str().ok_or("applied_at")?;
        let parsed = chrono::DateTime::parse_from_rfc3339(at)?;
        assert!(at.ends_with('Z'), "{at}");
        let age = chrono::Utc::now().signed_duration_since(parsed);
        assert!(age.num_minutes().abs() < 10, "{at} is not now in UTC");
    }

    let seed = json_ok(url, &["seed"])?;
    assert!(seed["inserted"]["products"].as_u64() > Some(0), "{seed}");

    let check = json_ok(url, &["check"])?;
    assert_eq!(check["drift"], false, "{check}");

    let revert = json_ok(url, &["revert", "--yes"])?;
    assert_eq!(revert["command"], "revert", "{revert}");
    assert_eq!(versions(&revert["reverted"]), [VERSIONS[5]], "{revert}");
    assert_eq!(revert["current"]["version"], VERSIONS[4], "{revert}");
    assert_eq!(recorded_versions(&db).await?, VERSIONS[..5]);

    let redo = json_ok(url, &["redo", "--yes"])?;
    assert_eq!(versions(&redo["reverted"]), [VERSIONS[4]], "{redo}");
    assert_eq!(versions(&redo["applied"]), [VERSIONS[4]], "{redo}");

    let stamp = json_ok(url, &["stamp", "--head"])?;
    assert_eq!(versions(&stamp["recorded"]), [VERSIONS[5]], "{stamp}");
    assert_eq!(stamp["current"]["version"], VERSIONS[5], "{stamp}");
    assert_eq!(recorded_versions(&db).await?, VERSIONS);

    let sql = json_ok(url, &["print-sql", "--revert"])?;
    assert_eq!(sql["dialect"], t.backend.name(), "{sql}");
    assert!(
        sql["sql"]
            .as_str()
            .is_some_and(|s| s.contains("DELETE FROM __diesel_schema_migrations")),
        "{sql}"
    );

    // Failures: one object on stderr, nothing on stdout, exit 2.
    let (code, out, err) = run_url(url, &["--format", "json", "stamp", "2099-01-01-000000"]);
    let error = json_error(code, &out, &err)?;
    assert_eq!(error["code"], "unknown_version", "{error}");
    assert_eq!(
        error["hint"], "`botdb status` lists the known versions",
        "{error}"
    );

    // The older `--json` flags report errors in JSON too.
    let (code, out, err) = run_url(
        url,
        &["status", "--json", "--migrations-dir", "/nonexistent"],
    );
    let error = json_error(code, &out, &err)?;
    assert_eq!(error["code"], "migrations_dir", "{error}");

    let (code, out, err) = run_url(url, &["--format", "json", "revert", "--steps", "9", "-y"]);
    let error = json_error(code, &out, &err)?;
    assert_eq!(error["code"], "too_many_steps", "{error}");
    assert!(
        error["hint"].as_str().is_some_and(|h| h.contains("--all")),
        "{error}"
    );
    assert_eq!(recorded_versions(&db).await?, VERSIONS);
    Ok(())
}

per_backend!(sqlite, postgres; a_failed_migration_names_itself_and_its_statement);

async fn a_failed_migration_names_itself_and_its_statement(t: TestDb) -> TestResult {
    const BROKEN: &str = "2030-01-01-000000_broken";
    let dir = copy_migrations(t.backend, &t.scratch_dir())?;
    add_migration(
        &dir,
        BROKEN,
        "CREATE TABLE fine (id INTEGER PRIMARY KEY);\nSELEKT nonsense;\n",
        "DROP TABLE fine;\n",
        None,
    )?;
    let (code, out, err) = run_botdb(&t.url, &dir, &["--format", "json", "migrate"]);
    let error = json_error(code, &out, &err)?;
    assert_eq!(error["code"], "migration_failed", "{error}");
    assert_eq!(error["migration"], BROKEN, "{error}");
    let statement = error["statement"].as_str().ok_or("a statement")?;
    assert!(
        statement.starts_with("statement 2 (line 2: SELEKT"),
        "{statement}"
    );
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("SELEKT")),
        "{error}"
    );
    // All or nothing: the shared transaction is rolled back.
    let db = t.connect().await;
    assert_eq!(recorded_versions(&db).await?, Vec::<String>::new());
    Ok(())
}

#[test]
fn a_connection_error_is_json_without_the_password() -> TestResult {
    let url = "postgres://bot:s3cret-pw@127.0.0.1:1/nowhere";
    let (code, out, err) = run_url(
        url,
        &["--format", "json", "--connect-timeout", "1", "status"],
    );
    let error = json_error(code, &out, &err)?;
    assert_eq!(error["code"], "connect", "{error}");
    assert!(!err.contains("s3cret-pw"), "{err}");
    assert!(
        error["hint"].as_str().is_some_and(|h| !h.is_empty()),
        "{error}"
    );
    assert_eq!(error["migration"], Value::Null, "{error}");
    Ok(())
}

#[test]
fn the_format_comes_from_botdb_format_too() -> TestResult {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("env.sqlite3").display());
    let out = crate::support::botdb()
        .env("BOTDB_FORMAT", "json")
        .args(["--database-url", &url, "migrate"])
        .output()?;
    let document: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(versions(&document["applied"]), VERSIONS, "{document}");
    Ok(())
}

#[test]
fn setup_reset_and_verify_in_json() -> TestResult {
    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite://{}",
        dir.path().join("new/setup.sqlite3").display()
    );
    let setup = json_ok(&url, &["setup"])?;
    assert_eq!(setup["created"], true, "{setup}");
    assert_eq!(versions(&setup["applied"]), VERSIONS, "{setup}");
    let again = json_ok(&url, &["setup"])?;
    assert_eq!(again["created"], false, "{again}");
    assert_eq!(again["applied"], serde_json::json!([]), "{again}");

    let reset = json_ok(&url, &["reset", "--yes"])?;
    assert_eq!(reset["created"], true, "{reset}");
    assert_eq!(versions(&reset["applied"]), VERSIONS, "{reset}");
    let (code, out, err) = run_url(&url, &["--format", "json", "reset"]);
    let error = json_error(code, &out, &err)?;
    assert_eq!(error["code"], "refused", "{error}");

    let verify = json_ok(&url, &["verify"])?;
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(verify["migrations"], VERSIONS.len(), "{verify}");
    assert_eq!(verify["failures"], serde_json::json!([]), "{verify}");
    Ok(())
}

#[test]
fn a_command_line_that_does_not_parse_is_a_json_error_too() -> TestResult {
    for (env, args, quoted) in [
        (
            None,
            &["--format", "json", "status", "--bogus"][..],
            "'--bogus'",
        ),
        (Some("json"), &["statuz"][..], "'statuz'"),
        (
            None,
            &["status", "--format=json", "--pool-size", "x"][..],
            "'x'",
        ),
        (
            None,
            &["--format", "text", "check", "--json", "--to"][..],
            "'--to'",
        ),
        // --json wins over --format, as it does when the line parses.
        (
            None,
            &["status", "--json", "--format", "text", "-x"][..],
            "'-x'",
        ),
        // What is missing is on the line after clap's first: it is in the message.
        (None, &["--format", "json", "stamp"][..], "<VERSION>"),
    ] {
        let mut command = crate::support::botdb();
        if let Some(format) = env {
            command.env("BOTDB_FORMAT", format);
        }
        let (code, out, err) = crate::support::outcome(&command.args(args).output()?);
        let error = json_error(code, &out, &err)?;
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert_eq!(error["code"], "usage", "{args:?}: {error}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(quoted), "{args:?}: {error}");
        assert!(!message.starts_with("error:"), "{args:?}: {error}");
    }
    // The last --format wins, as it does when the line parses; help stays text on stdout.
    let (code, _, err) = crate::support::outcome(
        &crate::support::botdb()
            .args(["--format", "json", "--format", "text", "statuz"])
            .output()?,
    );
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("error: unrecognized subcommand 'statuz'"),
        "{err}"
    );
    let (code, out, _) = crate::support::outcome(
        &crate::support::botdb()
            .args(["--format", "json", "status", "--help"])
            .output()?,
    );
    assert_eq!(code, Some(0));
    assert!(out.starts_with("List every migration"), "{out}");
    Ok(())
}
