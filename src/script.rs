//! `print-sql`: the exact SQL that `migrate` or `revert` would run, as one script for the
//! database's own client. The text comes from the same files that are embedded for
//! `migrate` (a table build.rs generates), or from `--migrations-dir`.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::config::Backend;
use crate::error::{Error, Result};
use crate::migrate::{self, MigrationId, RevertTarget, Source};
use crate::run::{self, RunOptions};
use crate::sql::{literal, Literal};

/// The SQL of one embedded migration, as build.rs found it in `migrations/<backend>/`.
#[derive(Debug)]
pub struct MigrationSql {
    /// The folder name.
    pub name: &'static str,
    /// up.sql.
    pub up: &'static str,
    /// down.sql, if the folder has one.
    pub down: Option<&'static str>,
}

mod generated {
    use super::MigrationSql;
    include!(concat!(env!("OUT_DIR"), "/migration_sql.rs"));
}

/// The embedded SQL text of `backend`'s migrations, in version order.
pub fn embedded_sql(backend: Backend) -> &'static [MigrationSql] {
    match backend {
        Backend::Sqlite => generated::SQLITE,
        Backend::Postgres => generated::POSTGRES,
        Backend::Mysql => generated::MYSQL,
    }
}

/// One migration with its SQL text.
#[derive(Debug, Clone)]
pub struct MigrationText {
    /// Version and name.
    pub id: MigrationId,
    /// up.sql.
    pub up: String,
    /// down.sql, if there is one.
    pub down: Option<String>,
    /// False when its metadata.toml says `run_in_transaction = false`.
    pub run_in_transaction: bool,
}

/// The migrations of `source` for `backend` with their SQL text, oldest first.
pub fn migration_texts(source: &Source, backend: Backend) -> Result<Vec<MigrationText>> {
    // The migration list and its metadata come from diesel, exactly as migrate sees them.
    let migrations = source.migrations::<diesel::sqlite::Sqlite>(backend)?;
    let dir = source.dir_for(backend);
    migrations
        .iter()
        .map(|m| {
            let id = MigrationId {
                version: m.name().version().to_string(),
                name: m.name().to_string(),
            };
            let (up, down) = match &dir {
                None => {
                    let sql = embedded_sql(backend)
                        .iter()
                        .find(|s| s.name == id.name)
                        .ok_or_else(|| Error::query("finding the embedded SQL", &id.name))?;
                    (sql.up.to_string(), sql.down.map(str::to_string))
                }
                Some(dir) => {
                    let folder = dir.join(&id.name);
                    let read = |file: &str| std::fs::read_to_string(folder.join(file));
                    let unreadable = |file: &str, e: std::io::Error| Error::MigrationsDir {
                        path: folder.clone(),
                        message: format!("cannot read {file}: {e}"),
                    };
                    let up = read("up.sql").map_err(|e| unreadable("up.sql", e))?;
                    let down = match read("down.sql") {
                        Ok(down) => Some(down),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                        Err(e) => return Err(unreadable("down.sql", e)),
                    };
                    (up, down)
                }
            };
            Ok(MigrationText {
                id,
                up,
                down,
                run_in_transaction: m.metadata().run_in_transaction(),
            })
        })
        .collect()
}

/// What the script does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// What `migrate [--to VERSION]` would apply.
    Migrate {
        /// Stop after this version.
        to: Option<String>,
    },
    /// What `revert` would revert.
    Revert(RevertTarget),
}

/// The script for `plan` on a database where `applied` versions are recorded, split into
/// transactions as `migrate` with `options` would run it.
pub fn script(
    dialect: Backend,
    texts: &[MigrationText],
    applied: &[String],
    plan: &Plan,
    options: RunOptions,
) -> Result<String> {
    let ids: Vec<MigrationId> = texts.iter().map(|t| t.id.clone()).collect();
    let current = applied.iter().max().cloned();
    let (steps, verb): (Vec<&MigrationText>, &str) = match plan {
        Plan::Migrate { to } => {
            let plan = migrate::plan_up(&ids, applied, to.as_deref())?;
            (plan.into_iter().map(|i| &texts[i]).collect(), "migrate")
        }
        Plan::Revert(target) => {
            let versions = migrate::plan_down(&ids, applied, target)?;
            let steps = versions
                .iter()
                .map(|v| {
                    texts
                        .iter()
                        .find(|t| t.id.version == *v)
                        .ok_or_else(|| Error::UnknownApplied(v.clone()))
                })
                .collect::<Result<Vec<_>>>()?;
            (steps, "revert")
        }
    };
    let at = current.as_deref().unwrap_or("no migration applied");
    if steps.is_empty() {
        return Ok(format!(
            "-- botdb print-sql ({dialect}): nothing to {verb}; the database is at {at}.\n"
        ));
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- botdb print-sql ({dialect}): {verb}, {}; the database is at {at}",
        plural(steps.len())
    );
    let _ = writeln!(out, "-- Apply with: {}", client_hint(dialect));
    if dialect == Backend::Mysql {
        out.push_str(
            "-- MySQL/MariaDB commit DDL implicitly: BEGIN/COMMIT below only protect the statements\n\
             -- after a migration's last DDL, so a failure part-way leaves earlier statements applied.\n",
        );
    }
    out.push('\n');
    if dialect == Backend::Sqlite {
        out.push_str("-- botdb opens every SQLite connection with foreign keys enforced.\nPRAGMA foreign_keys = ON;\n\n");
    }
    // Exactly the statements migrate runs before reading what is applied.
    out.push_str(diesel::migration::CREATE_MIGRATIONS_TABLE.trim_end());
    out.push('\n');
    out.push_str(run::CREATE_BOTDB_TABLE);
    out.push_str("\n\n");

    match plan {
        Plan::Migrate { .. } => {
            let flags: Vec<bool> = steps.iter().map(|s| s.run_in_transaction).collect();
            for group in run::groups(dialect, &flags, options) {
                let shared = steps[group[0]].run_in_transaction;
                let mysql = dialect == Backend::Mysql;
                if shared && !mysql {
                    out.push_str(if group.len() > 1 {
                        "-- One transaction for these migrations: all or nothing, as migrate runs them.\nBEGIN;\n\n"
                    } else {
                        "BEGIN;\n\n"
                    });
                }
                for &i in &group {
                    let step = steps[i];
                    let checksum = sha256_hex(&step.up);
                    header(&mut out, step, "up.sql", &checksum);
                    if !shared || mysql {
                        // Recorded as running first, so a failure part-way shows as dirty.
                        let _ = writeln!(
                            out,
                            "{}",
                            run::track(dialect, &step.id.version, &checksum, "running")?
                        );
                    }
                    if !shared {
                        out.push_str("-- run_in_transaction = false: not wrapped in a transaction, as migrate runs it.\n");
                    } else if mysql {
                        out.push_str("BEGIN;\n");
                    }
                    out.push_str(&terminated(&step.up));
                    let version = literal(dialect, &Literal::Str(&step.id.version))?;
                    let _ = writeln!(
                        out,
                        "INSERT INTO {} (version) VALUES ({version});",
                        migrate::BOOKKEEPING_TABLE
                    );
                    if shared && mysql {
                        out.push_str("COMMIT;\n");
                    }
                    let _ = writeln!(
                        out,
                        "{}\n",
                        run::track(dialect, &step.id.version, &checksum, "applied")?
                    );
                }
                if shared && !mysql {
                    out.push_str("COMMIT;\n\n");
                }
            }
        }
        Plan::Revert(_) => {
            for step in steps {
                let down = step
                    .down
                    .as_deref()
                    .ok_or_else(|| Error::NoDownSql(step.id.name.clone()))?;
                header(&mut out, step, "down.sql", &sha256_hex(down));
                let mysql = dialect == Backend::Mysql;
                if mysql {
                    let _ = writeln!(
                        out,
                        "{}",
                        run::mark_running(dialect, &step.id.version, "reverting")?
                    );
                }
                out.push_str("BEGIN;\n");
                out.push_str(&terminated(down));
                let version = literal(dialect, &Literal::Str(&step.id.version))?;
                let _ = writeln!(
                    out,
                    "DELETE FROM {} WHERE version = {version};",
                    migrate::BOOKKEEPING_TABLE
                );
                let untrack = run::untrack(dialect, &step.id.version)?;
                if mysql {
                    let _ = writeln!(out, "COMMIT;\n{untrack}\n");
                } else {
                    let _ = writeln!(out, "{untrack}\nCOMMIT;\n");
                }
            }
        }
    }
    Ok(out)
}

fn header(out: &mut String, step: &MigrationText, file: &str, checksum: &str) {
    let _ = writeln!(out, "-- {}", step.id.name);
    let _ = writeln!(
        out,
        "-- version {}, {file} sha256 {checksum}",
        step.id.version
    );
}

/// The versions a database at `from` has recorded: every known version up to and
/// including it (none when `from` is `None`). For `print-sql --offline --from`.
pub fn applied_up_to(known: &[MigrationId], from: Option<&str>) -> Result<Vec<String>> {
    let Some(from) = from else {
        return Ok(Vec::new());
    };
    let last = migrate::find_version(known, from)?;
    Ok(known
        .iter()
        .filter(|m| m.version <= last.version)
        .map(|m| m.version.clone())
        .collect())
}

/// The hex SHA-256 of a migration file's text.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// The file's text, ending in a newline, with a `;` after its last statement if the file
/// left it out (diesel runs such a file; a script would glue it to the next statement).
fn terminated(body: &str) -> String {
    let mut text = body.trim_end().to_string();
    if let Some(at) = crate::statements::missing_terminator(&text) {
        text.insert(at, ';');
    }
    text.push('\n');
    text
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 migration".to_string()
    } else {
        format!("{n} migrations")
    }
}

fn client_hint(dialect: Backend) -> &'static str {
    match dialect {
        Backend::Sqlite => "sqlite3 DATABASE_FILE < THIS_FILE",
        Backend::Postgres => "psql -v ON_ERROR_STOP=1 -f THIS_FILE DATABASE_URL",
        Backend::Mysql => "mysql DATABASE < THIS_FILE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminates_the_last_statement() {
        assert_eq!(terminated("SELECT 1;\n\n"), "SELECT 1;\n");
        assert_eq!(terminated("SELECT 1"), "SELECT 1;\n");
        assert_eq!(terminated("SELECT 1;\n-- done"), "SELECT 1;\n-- done\n");
        // Not inside the trailing comment, where the client would never see it.
        assert_eq!(terminated("SELECT 1\n-- done"), "SELECT 1;\n-- done\n");
    }

    #[test]
    fn checksum_is_sha256() {
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
