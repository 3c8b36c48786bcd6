//! On a hot standby (`pg_basebackup -R`): read-only commands work, commands that write
//! fail at once naming the standby, and nothing changes on the primary.

use botdb::Backend;

use crate::support::{
    botdb, recorded_versions, run_url, standby_url, TestDb, TestResult, VERSIONS,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_standby), ignore = "set TEST_STANDBY_URL to run it")]
async fn a_standby_reads_and_refuses_writes() -> TestResult {
    let db = TestDb::create(Backend::Postgres)
        .await
        .expect("test database");
    let code = botdb()
        .args(["--database-url", &db.url, "migrate", "--to", VERSIONS[3]])
        .output()?
        .status
        .code();
    assert_eq!(code, Some(0));
    let standby = standby_url(&db).await;
    let run = |args: &[&str]| run_url(&standby, args);
    let (code, out, err) = run(&["status"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("4 applied, 2 pending"), "{out}");
    assert_eq!(run(&["status", "--check"]).0, Some(1));
    let (code, out, err) = run(&["print-sql"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("migrate, 2 migrations"), "{out}");
    let expected = "is a read-only standby (in recovery); run this against the primary";
    for args in [
        &["migrate"][..],
        &["revert", "--yes"],
        &["redo", "--yes"],
        &["stamp", "--head"],
        &["adopt"],
        &["resolve", VERSIONS[0], "--applied"],
        &["seed"],
        &["setup"],
        &["reset", "--yes"],
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: postgres://"), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
    let direct = db.connect().await;
    assert_eq!(recorded_versions(&direct).await?, VERSIONS[..4]);
    Ok(())
}

/// `check` reads the history and the catalogue and creates nothing, so it runs on a
/// standby: not up to date while migrations are pending, no drift at the head, and drift
/// made on the primary is seen once the standby replays it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(botdb_test_standby), ignore = "set TEST_STANDBY_URL to run it")]
async fn check_runs_on_a_standby() -> TestResult {
    let db = TestDb::create(Backend::Postgres)
        .await
        .expect("test database");
    let migrate = |args: &[&str]| {
        let mut all = vec!["--database-url", db.url.as_str(), "migrate"];
        all.extend_from_slice(args);
        botdb().args(all).output().map(|o| o.status.code())
    };
    assert_eq!(migrate(&["--to", VERSIONS[3]])?, Some(0));
    let standby = standby_url(&db).await;
    let (code, out, err) = run_url(&standby, &["check"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.is_empty(), "{err}");
    assert_eq!(
        out.lines().last(),
        Some(
            format!(
                "not up to date: 2 pending migrations at {}; run `botdb migrate`, then `botdb check`",
                VERSIONS[3]
            )
            .as_str()
        ),
        "{out}"
    );

    assert_eq!(migrate(&[])?, Some(0));
    let standby = standby_url(&db).await;
    let (code, out, err) = run_url(&standby, &["check"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out.trim_end(),
        format!("no drift: 0 differences at {}", VERSIONS[5]),
        "{err}"
    );

    crate::support::execute(
        &db.connect().await,
        "ALTER TABLE users ADD COLUMN nickname VARCHAR(20)",
    )
    .await?;
    let standby = standby_url(&db).await;
    let (code, out, err) = run_url(&standby, &["check", "--json"]);
    assert_eq!(code, Some(1), "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out)?;
    assert_eq!(json["drift"], true, "{json}");
    assert_eq!(
        json["report"]["differences"][0]["detail"], "column nickname not expected",
        "{json}"
    );
    let direct = db.connect().await;
    assert_eq!(recorded_versions(&direct).await?, VERSIONS);
    Ok(())
}
