//! The built `botdb` binary.

use assert_cmd::Command;

/// The binary, with no database configured from the outside.
pub fn botdb() -> Command {
    let mut cmd = Command::cargo_bin("botdb").expect("the botdb binary is built");
    cmd.env_remove("DATABASE_URL")
        .env_remove("DB_URL")
        .env_remove("DIRECT_URL")
        .env_remove("RUST_LOG");
    cmd
}

/// A finished process's exit code, stdout and stderr.
pub fn outcome(out: &std::process::Output) -> (Option<i32>, String, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `botdb --database-url URL ARGS…`: exit code, stdout, stderr.
pub fn run_url(url: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = botdb()
        .args(["--database-url", url])
        .args(args)
        .output()
        .expect("run botdb");
    outcome(&out)
}

/// `botdb --database-url URL --migrations-dir DIR ARGS…`: exit code, stdout, stderr.
pub fn run_botdb(url: &str, dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let dir = dir.display().to_string();
    run_url(url, &[&["--migrations-dir", &dir][..], args].concat())
}
