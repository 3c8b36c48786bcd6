//! Migration folders on disk, and SQL scripts run with the database's own client.

use botdb::Backend;

use super::TestDb;

/// A copy of `backend`'s migrations in `dir/migrations`, to edit or extend.
pub fn copy_migrations(
    backend: Backend,
    dir: &std::path::Path,
) -> Result<std::path::PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    let dir = dir.join("migrations");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend.name());
    for entry in std::fs::read_dir(&source)? {
        let entry = entry?;
        let target = dir.join(entry.file_name());
        std::fs::create_dir_all(&target)?;
        for file in ["up.sql", "down.sql"] {
            std::fs::copy(entry.path().join(file), target.join(file))?;
        }
    }
    Ok(dir)
}

/// Adds a migration folder `name` with `up` and `down` (and `metadata`, when given, as
/// its metadata.toml) to a migrations folder.
pub fn add_migration(
    dir: &std::path::Path,
    name: &str,
    up: &str,
    down: &str,
    metadata: Option<&str>,
) -> std::io::Result<()> {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder)?;
    std::fs::write(folder.join("up.sql"), up)?;
    std::fs::write(folder.join("down.sql"), down)?;
    if let Some(metadata) = metadata {
        std::fs::write(folder.join("metadata.toml"), metadata)?;
    }
    Ok(())
}

/// Runs `script` with the database's own command-line client, as a DBA would:
/// `sqlite3 FILE < script`, `psql -v ON_ERROR_STOP=1 -f script URL`, `mysql DB < script`.
/// The client connects to the server itself ([`TestDb::direct_url`]), also when botdb
/// goes through a pooler: it is the DBA's tool, not botdb.
pub fn apply_with_client(db: &TestDb, script: &str) -> Result<(), String> {
    use std::process::{Command, Stdio};
    let file = db.scratch_dir().join("script.sql");
    std::fs::write(&file, script).map_err(|e| e.to_string())?;
    let input = std::fs::File::open(&file).map_err(|e| e.to_string())?;
    let mut command = match db.backend {
        Backend::Sqlite => {
            let mut c = Command::new("sqlite3");
            c.arg(db.sqlite_path().ok_or("no sqlite path")?)
                .stdin(Stdio::from(input));
            c
        }
        Backend::Postgres => {
            let mut c = Command::new("psql");
            c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
                .arg(&file)
                .arg(&db.direct_url);
            // CREATE TABLE IF NOT EXISTS on an existing table is a NOTICE, not a problem.
            c.env("PGOPTIONS", "-c client_min_messages=warning");
            c
        }
        Backend::Mysql => {
            let url = url::Url::parse(&db.direct_url).map_err(|e| e.to_string())?;
            let mut c = Command::new("mysql");
            c.arg("-h").arg(url.host_str().unwrap_or("127.0.0.1"));
            c.arg("-P").arg(url.port().unwrap_or(3306).to_string());
            c.arg("-u").arg(url.username());
            if let Some(password) = url.password() {
                c.arg(format!("-p{password}"));
            }
            c.arg(url.path().trim_start_matches('/'))
                .stdin(Stdio::from(input));
            c
        }
    };
    let out = command
        .output()
        .map_err(|e| format!("cannot run the {} client: {e}", db.backend))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !stderr.trim().is_empty() {
        return Err(format!(
            "{} client failed ({}): {stderr}",
            db.backend, out.status
        ));
    }
    Ok(())
}
