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
