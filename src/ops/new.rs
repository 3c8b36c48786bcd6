//! `botdb new NAME`: an empty migration in all three trees, with a version later than every
//! existing one; and the all-or-nothing writing that `generate` shares.

use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDateTime};

use crate::backend::Backend;
use crate::model::diff::Refusal;

/// The three trees under a migrations folder, in the order their files are listed.
pub const TREES: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::Mysql];

/// diesel's version form, `YYYY-MM-DD-HHMMSS`.
const VERSION_FORMAT: &str = "%Y-%m-%d-%H%M%S";

/// What can stop `new` or `generate`. Its text is what is wrong, then `; ` and what to do
/// ([`Error::hint`] alone).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The migration's name has characters outside `[a-z0-9_]`.
    #[error("migration name `{name}` may hold only a-z, 0-9 and _; nothing was written; {hint}", name = .0, hint = self.hint())]
    BadName(String),
    /// The folder does not hold the three trees.
    #[error("{} does not hold the sqlite/, postgres/ and mysql/ migration folders; {}", .0.display(), self.hint())]
    NotTrees(PathBuf),
    /// A file or folder cannot be read or written.
    #[error("cannot {verb} {}: {source}; nothing was written; {}", path.display(), self.hint())]
    Io {
        /// `read`, `create`, `write` or `rename`.
        verb: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The newest existing version is not diesel's date form, so no later one can be made.
    #[error("cannot pick a version after {version}: it is not in diesel's YYYY-MM-DD-HHMMSS form; {hint}", version = .0, hint = self.hint())]
    Version(String),
    /// The model snapshot cannot be read or written.
    #[error("the model snapshot {}: {message}; {}", path.display(), self.hint())]
    Snapshot {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Migrations were added after the snapshot was recorded (by `botdb new`): the snapshot
    /// may not describe where the history now ends.
    #[error("the model snapshot {} was recorded at {head}, and {} came after it without recording the model (a step written by hand); nothing was written; {}", path.display(), .after.join(", "), self.hint())]
    HistoryAhead {
        /// The snapshot.
        path: PathBuf,
        /// The migration it was recorded at.
        head: String,
        /// The migrations after it.
        after: Vec<String>,
    },
    /// The migration the snapshot was recorded at is in none of the trees.
    #[error("the model snapshot {} was recorded at {head}, which none of the three trees holds; nothing was written; {}", path.display(), self.hint())]
    SnapshotAhead {
        /// The snapshot.
        path: PathBuf,
        /// The migration it was recorded at.
        head: String,
    },
    /// `--record-only` with a model that differs from the snapshot, while the newest
    /// migration is the one generate wrote from that snapshot.
    #[error("the model differs from {}, but the newest migration {head} was generated from that snapshot and no step written by hand follows it, so recording the model would claim a change no migration makes; nothing was written; {}", path.display(), self.hint())]
    NothingToRecordAt {
        /// The snapshot.
        path: PathBuf,
        /// The newest migration.
        head: String,
    },
    /// The models' difference cannot be generated as asked.
    #[error("{}; nothing was written; {}", .0.problem(), .0.hint())]
    Refused(#[from] Refusal),
    /// SQL could not be rendered (an identifier SQL cannot hold).
    #[error("{0}; nothing was written; {hint}", hint = self.hint())]
    Sql(#[from] crate::error::Error),
}

impl Error {
    /// A stable snake_case name for the error (`--format json`'s `code`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadName(_) => "bad_name",
            Error::NotTrees(_) => "migrations_dir",
            Error::Io { .. } => "file",
            Error::Version(_) => "bad_version",
            Error::Snapshot { .. } => "snapshot",
            Error::HistoryAhead { .. } => "history_ahead",
            Error::SnapshotAhead { .. } => "snapshot_ahead",
            Error::NothingToRecordAt { .. } => "nothing_to_record_at",
            Error::Refused(r) => r.code(),
            Error::Sql(e) => e.code(),
        }
    }

    /// What to do about it: the end of the message, on its own.
    pub fn hint(&self) -> String {
        match self {
            Error::BadName(_) => "use a name such as add_coupons".to_string(),
            Error::NotTrees(_) => "run botdb from the project root or point --migrations-dir at the folder that holds all three".to_string(),
            Error::Io { .. } => "check that the migrations folder exists and is writable, then run again".to_string(),
            Error::Version(_) => "rename that migration's folder".to_string(),
            Error::Snapshot { .. } => "restore it from version control (it must describe the schema the migrations end at)".to_string(),
            Error::HistoryAhead { .. } => "make src/model/bot.rs describe the schema those steps end at, run `botdb generate --record-only` to record it, then generate again".to_string(),
            Error::SnapshotAhead { .. } => "restore that migration, or model.toml as it was before it, from version control".to_string(),
            Error::NothingToRecordAt { .. } => "run `botdb generate NAME` to write the change, or write it by hand with `botdb new NAME` and record after that".to_string(),
            Error::Refused(r) => r.hint(),
            Error::Sql(_) => "change that name or value in src/model/bot.rs".to_string(),
        }
    }
}

/// The result of `new` and `generate`.
pub type Result<T> = std::result::Result<T, Error>;

/// Refuses a name outside `[a-z0-9_]+`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::BadName(name.to_string()))
    }
}

/// Checks that `root` holds the three trees.
pub fn check_trees(root: &Path) -> Result<()> {
    if TREES.iter().all(|b| root.join(b.name()).is_dir()) {
        Ok(())
    } else {
        Err(Error::NotTrees(root.to_path_buf()))
    }
}

/// Every migration folder's version in the three trees.
fn existing_versions(root: &Path) -> Result<Vec<String>> {
    Ok(existing_folders(root)?
        .iter()
        .map(|name| name.split('_').next().unwrap_or_default().to_string())
        .collect())
}

/// Every migration folder's name (`<version>_<name>`) in the three trees, sorted by
/// version, each once.
pub fn existing_folders(root: &Path) -> Result<Vec<String>> {
    let mut folders = Vec::new();
    for backend in TREES {
        let dir = root.join(backend.name());
        let entries = std::fs::read_dir(&dir).map_err(|source| Error::Io {
            verb: "read",
            path: dir.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && !name.starts_with('.') {
                folders.push(name);
            }
        }
    }
    folders.sort_by_key(|name| {
        let version = name.split('_').next().unwrap_or_default().replace('-', "");
        (version, name.clone())
    });
    folders.dedup();
    Ok(folders)
}

/// `now` in diesel's form, or one second after the newest existing version when `now` is
/// not later than it (a clock behind, or two migrations within a second).
pub fn version_after(existing: &[String], now: NaiveDateTime) -> Result<String> {
    let digits = |v: &str| v.replace('-', "");
    let candidate = now.format(VERSION_FORMAT).to_string();
    let Some(newest) = existing.iter().max_by_key(|v| digits(v)) else {
        return Ok(candidate);
    };
    if digits(&candidate) > digits(newest) {
        return Ok(candidate);
    }
    let parsed = NaiveDateTime::parse_from_str(newest, VERSION_FORMAT)
        .map_err(|_| Error::Version(newest.clone()))?;
    Ok((parsed + Duration::seconds(1))
        .format(VERSION_FORMAT)
        .to_string())
}

/// The folder name for a new migration `name`: `<version>_<name>`.
pub fn folder_name(root: &Path, name: &str, now: NaiveDateTime) -> Result<String> {
    check_name(name)?;
    check_trees(root)?;
    let version = version_after(&existing_versions(root)?, now)?;
    Ok(format!("{version}_{name}"))
}

/// The header every migration file starts with, like the hand-written ones'.
pub fn header(folder: &str, backend: Backend, what: &str) -> String {
    // Every line of `what` stays a comment: a --fill written over several lines must not
    // turn its later lines into SQL.
    let what = what.lines().collect::<Vec<_>>().join("\n-- ");
    format!(
        "-- botdb migration {folder} ({})\n-- Alembic revision: none (botdb's own step)\n-- {what}\n",
        backend.name()
    )
}

/// What to write: each tree's up.sql and down.sql, and other files (the snapshot).
pub struct Files {
    /// `(backend, up.sql, down.sql)`.
    pub migrations: Vec<(Backend, String, String)>,
    /// `(path, text)`, replacing what is there.
    pub others: Vec<(PathBuf, String)>,
}

/// Writes `files` for migration `folder` under `root`, all or nothing: everything is
/// written under temporary names first and renamed into place only once all of it is
/// written; on an error the temporary files and any rename already done are undone.
/// Returns the up.sql and down.sql paths, three trees in [`TREES`] order.
pub fn write_all(root: &Path, folder: &str, files: &Files) -> Result<Vec<PathBuf>> {
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let result = stage(root, folder, files, &mut staged).and_then(|()| commit(&staged));
    if result.is_err() {
        for (temp, _) in &staged {
            let _ = if temp.is_dir() {
                std::fs::remove_dir_all(temp)
            } else {
                std::fs::remove_file(temp)
            };
        }
    }
    result?;
    Ok(TREES
        .iter()
        .flat_map(|b| {
            let dir = root.join(b.name()).join(folder);
            [dir.join("up.sql"), dir.join("down.sql")]
        })
        .collect())
}

fn io(verb: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { verb, path, source }
}

fn stage(
    root: &Path,
    folder: &str,
    files: &Files,
    staged: &mut Vec<(PathBuf, PathBuf)>,
) -> Result<()> {
    for (backend, up, down) in &files.migrations {
        let tree = root.join(backend.name());
        let (temp, target) = (tree.join(format!(".{folder}.partial")), tree.join(folder));
        if target.exists() {
            return Err(Error::Io {
                verb: "create",
                path: target,
                source: std::io::ErrorKind::AlreadyExists.into(),
            });
        }
        std::fs::create_dir(&temp).map_err(io("create", &temp))?;
        staged.push((temp.clone(), target));
        for (file, text) in [("up.sql", up), ("down.sql", down)] {
            let path = temp.join(file);
            std::fs::write(&path, text).map_err(io("write", &path))?;
        }
    }
    for (path, text) in &files.others {
        let mut temp = path.clone().into_os_string();
        temp.push(".partial");
        let temp = PathBuf::from(temp);
        std::fs::write(&temp, text).map_err(io("write", &temp))?;
        staged.push((temp, path.clone()));
    }
    Ok(())
}

/// Renames every staged file into place; after a failed rename, moves the ones already
/// renamed back to their temporary names (a replaced snapshot is the last rename, so
/// nothing it replaced needs restoring).
fn commit(staged: &[(PathBuf, PathBuf)]) -> Result<()> {
    for (done, (temp, target)) in staged.iter().enumerate() {
        if let Err(e) = std::fs::rename(temp, target) {
            for (temp, target) in &staged[..done] {
                let _ = std::fs::rename(target, temp);
            }
            return Err(io("rename", temp)(e));
        }
    }
    Ok(())
}

/// Creates `<version>_<name>/{up.sql,down.sql}` in the three trees under `root`, each with
/// a header comment. Returns the six paths.
pub fn new_migration(root: &Path, name: &str, now: NaiveDateTime) -> Result<Vec<PathBuf>> {
    let folder = folder_name(root, name, now)?;
    let migrations = TREES
        .iter()
        .map(|&b| {
            (
                b,
                header(
                    &folder,
                    b,
                    "Written by hand: the SQL that applies this step goes below.\nIf it changes the schema, make src/model/bot.rs describe the result, then run `botdb generate --record-only`.",
                ),
                header(
                    &folder,
                    b,
                    "Written by hand: the SQL that undoes up.sql goes below, newest change first.",
                ),
            )
        })
        .collect();
    write_all(
        root,
        &folder,
        &Files {
            migrations,
            others: Vec::new(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, VERSION_FORMAT).expect("a valid time")
    }

    #[test]
    fn every_line_of_the_header_is_a_comment() {
        let text = header(
            "2026-11-27-000000_x",
            Backend::Sqlite,
            "fill 'a';\nDROP TABLE users;\r\n--",
        );
        for line in text.lines() {
            assert!(line.starts_with("--"), "{line:?} in {text:?}");
        }
    }

    #[test]
    fn names_outside_lowercase_digits_and_underscore_are_refused() {
        for bad in ["", "Add", "add-coupons", "add coupons", "../x", "ü"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("add_coupons_2").is_ok());
    }

    #[test]
    fn the_version_is_now_unless_an_existing_one_is_as_late() {
        let existing = vec!["2026-11-25-100100".to_string()];
        let now = at("2026-11-27-120000");
        assert_eq!(
            version_after(&existing, now).ok(),
            Some("2026-11-27-120000".into())
        );
        let late = vec!["2026-11-27-120000".to_string()];
        assert_eq!(
            version_after(&late, now).ok(),
            Some("2026-11-27-120001".into())
        );
        let ahead = vec!["2030-01-01-000000".to_string()];
        assert_eq!(
            version_after(&ahead, now).ok(),
            Some("2030-01-01-000001".into())
        );
    }
}
