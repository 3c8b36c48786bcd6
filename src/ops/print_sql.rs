//! `print-sql`: the exact SQL that `migrate` or `revert` would run, as one script for the
//! database's own client. The text comes from the same files that are embedded for
//! `migrate` (a table build.rs generates), or from `--migrations-dir`.

use std::fmt::Write as _;

use crate::backend::Backend;
use crate::checksum::sha256_hex;
use crate::error::{Error, Result};
use crate::migration::bookkeeping::{
    create_sql, forget_applied, mark_running, record_applied, track, untrack, TrackState,
};
use crate::migration::catalog::{Catalog, MigrationText};
use crate::migration::plan::{groups, plan_down, plan_up, RevertTarget, RunOptions};
use crate::migration::report::plural;
use crate::sql::split::missing_terminator;

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
    catalog: &Catalog,
    applied: &[String],
    plan: &Plan,
    options: RunOptions,
) -> Result<String> {
    let dialect = catalog.backend();
    let current = applied.iter().max().cloned();
    let (steps, verb): (Vec<&MigrationText>, &str) = match plan {
        Plan::Migrate { to } => {
            let plan = plan_up(catalog, applied, to.as_deref())?;
            let texts = catalog.migrations();
            (plan.into_iter().map(|i| &texts[i]).collect(), "migrate")
        }
        Plan::Revert(target) => {
            let versions = plan_down(catalog, applied, target)?;
            let steps = versions
                .iter()
                .map(|v| {
                    catalog
                        .get(v)
                        .ok_or_else(|| Error::UnknownApplied(v.clone()))
                })
                .collect::<Result<Vec<_>>>()?;
            (steps, "revert")
        }
    };
    let at = match current.as_deref() {
        Some(version) => format!("is at {version}"),
        None => "has no migration applied".to_string(),
    };
    if steps.is_empty() {
        return Ok(format!(
            "-- botdb print-sql ({dialect}): nothing to {verb}; the database {at}.\n"
        ));
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- botdb print-sql ({dialect}): {verb}, {}; the database {at}",
        plural(steps.len(), "migration")
    );
    let _ = writeln!(out, "-- Apply with: {}", dialect.client_hint());
    if !dialect.transactional_ddl() {
        out.push_str(
            "-- MySQL/MariaDB commit DDL implicitly: BEGIN/COMMIT below only protect the statements\n\
             -- after a migration's last DDL, so a failure part-way leaves earlier statements applied.\n",
        );
    }
    out.push_str(stop_at_first_error(dialect));
    out.push('\n');
    if dialect == Backend::Sqlite {
        out.push_str("-- botdb opens every SQLite connection with foreign keys enforced.\nPRAGMA foreign_keys = ON;\n\n");
    }
    // Exactly the statements migrate runs before reading what is applied.
    out.push_str(&create_sql());
    out.push_str("\n\n");

    match plan {
        Plan::Migrate { .. } => {
            let flags: Vec<bool> = steps.iter().map(|s| s.run_in_transaction).collect();
            for group in groups(dialect, &flags, options) {
                let shared = steps[group[0]].run_in_transaction;
                let mysql = !dialect.transactional_ddl();
                if shared && !mysql {
                    out.push_str(if group.len() > 1 {
                        "-- One transaction for these migrations: all or nothing, as migrate runs them.\nBEGIN;\n\n"
                    } else {
                        "BEGIN;\n\n"
                    });
                }
                for &i in &group {
                    let step = steps[i];
                    let checksum = &step.checksum;
                    header(&mut out, step, "up.sql", checksum);
                    if !shared || mysql {
                        // Recorded as running first, so a failure part-way shows as dirty.
                        let _ = writeln!(
                            out,
                            "{}",
                            track(dialect, &step.id.version, checksum, TrackState::Running)?
                        );
                    }
                    if !shared {
                        out.push_str("-- run_in_transaction = false: not wrapped in a transaction, as migrate runs it.\n");
                    } else if mysql {
                        out.push_str("BEGIN;\n");
                    }
                    out.push_str(&terminated(&step.up));
                    let _ = writeln!(out, "{}", record_applied(dialect, &step.id.version)?);
                    if shared && mysql {
                        out.push_str("COMMIT;\n");
                    }
                    let _ = writeln!(
                        out,
                        "{}\n",
                        track(dialect, &step.id.version, checksum, TrackState::Applied)?
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
                    .down()?
                    .ok_or_else(|| Error::NoDownSql(step.id.name.clone()))?;
                header(&mut out, step, "down.sql", &sha256_hex(down));
                let mysql = !dialect.transactional_ddl();
                if mysql {
                    let _ = writeln!(
                        out,
                        "{}",
                        mark_running(dialect, &step.id.version, "reverting")?
                    );
                }
                out.push_str("BEGIN;\n");
                out.push_str(&terminated(down));
                let _ = writeln!(out, "{}", forget_applied(dialect, &step.id.version)?);
                let untrack = untrack(dialect, &step.id.version)?;
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

/// The lines that make the client stop at the first error. The sqlite3 shell and psql
/// otherwise go on with the next statement: sqlite3 would then COMMIT what came before the
/// failure and record the migration as applied, and psql would run the migrations after it.
/// The mysql client stops by itself unless run with --force.
fn stop_at_first_error(dialect: Backend) -> &'static str {
    match dialect {
        Backend::Sqlite => {
            "-- Stop at the first error, so a failed transaction is rolled back, never committed.\n.bail on\n"
        }
        Backend::Postgres => {
            "-- Stop at the first error, with or without psql -v ON_ERROR_STOP=1.\n\\set ON_ERROR_STOP on\n"
        }
        Backend::Mysql => "-- The mysql client stops at the first error; do not run this with --force.\n",
    }
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
pub fn applied_up_to(catalog: &Catalog, from: Option<&str>) -> Result<Vec<String>> {
    let Some(from) = from else {
        return Ok(Vec::new());
    };
    let last = &catalog.find(from)?.id.version;
    Ok(catalog
        .migrations()
        .iter()
        .map(|m| &m.id.version)
        .filter(|v| *v <= last)
        .cloned()
        .collect())
}

/// The file's text, ending in a newline, with a `;` after its last statement if the file
/// left it out (diesel runs such a file; a script would glue it to the next statement).
fn terminated(body: &str) -> String {
    let mut text = body.trim_end().to_string();
    if let Some(at) = missing_terminator(&text) {
        text.insert(at, ';');
    }
    text.push('\n');
    text
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
}
