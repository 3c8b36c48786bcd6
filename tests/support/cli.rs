//! The built `botdb` binary.

/// `botdb --database-url URL --migrations-dir DIR ARGS…`: exit code, stdout, stderr.
pub fn run_botdb(url: &str, dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = crate::cli::botdb()
        .args([
            "--database-url",
            url,
            "--migrations-dir",
            &dir.display().to_string(),
        ])
        .args(args)
        .output()
        .expect("run botdb");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
