//! The migration catalogue: which migrations exist for a backend, with their SQL text,
//! `run_in_transaction` flag and checksum. It is read once per command (the embedded
//! migrations, or one pass over a `--migrations-dir` folder); planning, applying, status
//! and print-sql all work from that one reading.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use diesel::migration::MigrationSource as DieselSource;

use crate::backend::Backend;
use crate::checksum::sha256_hex;
use crate::error::{Doing, Error, Result};
use crate::migration::embedded::{embedded, embedded_sql};

/// Where migrations come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Source {
    /// The migrations compiled into the binary.
    #[default]
    Embedded,
    /// A folder on disk: either one backend's folder, or a root holding
    /// `sqlite/`, `postgres/` and `mysql/`.
    Dir(PathBuf),
}

impl Source {
    /// The folder that holds `backend`'s migrations, for a [`Source::Dir`].
    pub fn dir_for(&self, backend: Backend) -> Option<PathBuf> {
        match self {
            Source::Embedded => None,
            Source::Dir(dir) => {
                let nested = dir.join(backend.name());
                Some(if nested.is_dir() { nested } else { dir.clone() })
            }
        }
    }
}

/// One migration, by version and full name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct MigrationId {
    /// The version as diesel records it, e.g. `20241220105908`.
    pub version: String,
    /// The folder name, e.g. `2024-12-20-105908_initial_revision`.
    pub name: String,
}

impl MigrationId {
    /// The id of the folder `name`: diesel's version is what precedes the first `_`,
    /// without its dashes.
    pub fn from_name(name: &str) -> Self {
        let version = name.split('_').next().unwrap_or(name);
        Self {
            version: normalize_version(version),
            name: name.to_string(),
        }
    }
}

impl std::fmt::Display for MigrationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// One migration with its SQL text.
#[derive(Debug, Clone)]
pub struct MigrationText {
    /// Version and name.
    pub id: MigrationId,
    /// up.sql.
    pub up: String,
    /// down.sql: read only when a revert or print-sql needs it.
    down: Down,
    /// False when its metadata.toml says `run_in_transaction = false`.
    pub run_in_transaction: bool,
    /// The hex SHA-256 of up.sql, as recorded when it is applied.
    pub checksum: String,
}

/// Where a migration's down.sql is.
#[derive(Debug, Clone)]
enum Down {
    /// Already in memory (embedded), or absent.
    Text(Option<String>),
    /// `<dir>/<name>/down.sql`, read the first time it is needed. The folder is shared by
    /// every migration of the catalogue, rather than a path kept per migration.
    File(Arc<Path>, OnceLock<String>),
}

impl MigrationText {
    /// A migration with its text; the checksum is computed here, once.
    pub fn new(
        id: MigrationId,
        up: String,
        down: Option<String>,
        run_in_transaction: bool,
    ) -> Self {
        Self {
            checksum: sha256_hex(&up),
            id,
            up,
            down: Down::Text(down),
            run_in_transaction,
        }
    }

    /// down.sql, if the migration has one.
    pub fn down(&self) -> Result<Option<&str>> {
        match &self.down {
            Down::Text(text) => Ok(text.as_deref()),
            Down::File(dir, text) => {
                if let Some(text) = text.get() {
                    return Ok(Some(text));
                }
                let folder = dir.join(&self.id.name);
                let read =
                    read_text(&folder.join("down.sql")).map_err(|e| Error::MigrationsDir {
                        path: folder,
                        message: format!("cannot read down.sql: {e}"),
                    })?;
                Ok(Some(text.get_or_init(|| read)))
            }
        }
    }
}

/// A file's text, without the size query `fs::read_to_string` makes first: a history is
/// read file by file, and every system call counts a thousand times.
fn read_text(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(u64::MAX)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// [`read_text`] into `buf` (emptied first), which keeps its capacity from one file to
/// the next: a small file then costs one read and the one that finds its end, with no
/// growing of the buffer on the way.
fn read_into(path: &Path, buf: &mut Vec<u8>) -> std::io::Result<String> {
    buf.clear();
    std::fs::File::open(path)?.take(u64::MAX).read_to_end(buf)?;
    match std::str::from_utf8(buf) {
        Ok(text) => Ok(text.to_owned()),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )),
    }
}

/// Every migration a source has for one backend, oldest first.
#[derive(Debug, Clone)]
pub struct Catalog {
    backend: Backend,
    /// In version order, so a version is found by binary search.
    migrations: Vec<MigrationText>,
}

impl Catalog {
    /// Reads `source`'s migrations for `backend`: lists, reads, checks and hashes them.
    pub fn load(source: &Source, backend: Backend) -> Result<Self> {
        let migrations = match source.dir_for(backend) {
            None => load_embedded(backend)?,
            Some(dir) => load_dir(&dir)?,
        };
        Ok(Self::from_migrations(backend, migrations))
    }

    /// A catalogue of the given migrations, put in version order.
    pub fn from_migrations(backend: Backend, mut migrations: Vec<MigrationText>) -> Self {
        migrations.sort_by(|a, b| a.id.version.cmp(&b.id.version));
        Self {
            backend,
            migrations,
        }
    }

    /// The backend these migrations are written for.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The migrations, oldest first.
    pub fn migrations(&self) -> &[MigrationText] {
        &self.migrations
    }

    /// Their ids, oldest first.
    pub fn ids(&self) -> Vec<MigrationId> {
        self.migrations.iter().map(|m| m.id.clone()).collect()
    }

    /// The migration recorded as `version`, if this catalogue has it.
    pub fn get(&self, version: &str) -> Option<&MigrationText> {
        // The last of equal versions, as a map built in this order would keep.
        let end = self
            .migrations
            .partition_point(|m| m.id.version.as_str() <= version);
        self.migrations[..end]
            .last()
            .filter(|m| m.id.version == version)
    }

    /// Resolves a version given by a user: `2024-12-20-105908`, `20241220105908`, or the
    /// full folder name.
    pub fn find(&self, wanted: &str) -> Result<&MigrationText> {
        let wanted = wanted.trim();
        self.get(&normalize_version(wanted))
            .or_else(|| self.migrations.iter().find(|m| m.id.name == wanted))
            .ok_or_else(|| Error::UnknownVersion(wanted.to_string()))
    }
}

/// The embedded migrations: the list and metadata from diesel's `embed_migrations!`, the
/// text from build.rs's table.
fn load_embedded(backend: Backend) -> Result<Vec<MigrationText>> {
    // The backend type only decides which connection the migrations could run on; any will do.
    let listed = DieselSource::<diesel::sqlite::Sqlite>::migrations(embedded(backend))
        .map_err(|e| Error::query(Doing::LoadEmbedded, e))?;
    let sql = embedded_sql(backend);
    listed
        .iter()
        .map(|m| {
            let id = MigrationId {
                version: m.name().version().to_string(),
                name: m.name().to_string(),
            };
            let text = sql
                .iter()
                .find(|s| s.name == id.name)
                .ok_or_else(|| Error::query(Doing::FindEmbeddedSql, &id.name))?;
            // Hashed by build.rs already.
            Ok(MigrationText {
                checksum: text.checksum.to_string(),
                id,
                up: text.up.to_string(),
                down: Down::Text(text.down.map(str::to_string)),
                run_in_transaction: m.metadata().run_in_transaction(),
            })
        })
        .collect()
}

/// A `--migrations-dir` folder, read in one pass with diesel's rules: every folder not
/// starting with `.` is a migration `<version>_<name>` holding up.sql and down.sql, and
/// optionally metadata.toml.
fn load_dir(dir: &Path) -> Result<Vec<MigrationText>> {
    let dir_error = |message: String| Error::MigrationsDir {
        path: dir.to_path_buf(),
        message,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| dir_error(e.to_string()))?;
    let shared: Arc<Path> = Arc::from(dir);
    // One path and one read buffer for the whole folder, rather than new ones per file.
    let mut path = dir.to_path_buf();
    let mut buf = Vec::with_capacity(4096);
    let mut migrations = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| dir_error(e.to_string()))?;
        let file_name = entry.file_name();
        let name = file_name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        // The entry's own type costs no system call; only a symlink needs a look behind it.
        let is_dir = match entry.file_type() {
            Ok(t) if !t.is_symlink() => t.is_dir(),
            _ => entry.path().is_dir(),
        };
        if !is_dir {
            continue;
        }
        if !name.contains('_') {
            return Err(dir_error(format!("`{name}` is not named <version>_<name>")));
        }
        let id = MigrationId::from_name(&name);
        if !is_version(&id.version) {
            return Err(dir_error(format!(
                "`{name}` has no version: what precedes its first `_` must be digits, \
                 optionally with `-` between them, e.g. 2030-01-01-000000_{}",
                name.split_once('_').map_or("", |(_, rest)| rest)
            )));
        }
        path.push(&file_name);
        path.push("up.sql");
        let up = match read_into(&path, &mut buf) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(dir_error(format!("`{name}` has no up.sql")))
            }
            Err(e) => {
                return Err(Error::MigrationsDir {
                    path: dir.join(&file_name),
                    message: format!("cannot read up.sql: {e}"),
                })
            }
        };
        path.set_file_name("down.sql");
        if !path.is_file() {
            return Err(dir_error(format!("`{name}` has no down.sql")));
        }
        path.set_file_name("metadata.toml");
        let in_transaction = run_in_transaction(&path);
        path.pop();
        path.pop();
        let mut migration = MigrationText::new(id, up, None, in_transaction);
        migration.down = Down::File(Arc::clone(&shared), OnceLock::new());
        migrations.push(migration);
    }
    if migrations.is_empty() {
        return Err(dir_error("the folder holds no migrations".to_string()));
    }
    if let Some((first, second)) = duplicate(&mut migrations) {
        return Err(dir_error(format!(
            "`{}` and `{}` have the same version {}, so the database cannot tell them apart: \
             give one of them a later version (rename its folder)",
            first.name, second.name, first.version
        )));
    }
    Ok(migrations)
}

/// Whether `version` (dashes already removed) is one diesel's folder names give: digits.
/// diesel itself takes anything before the first `_`, so `foo_bar` would be version `foo`.
fn is_version(version: &str) -> bool {
    !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit())
}

/// Two migrations with one version, if any (sorting `migrations` by version and name).
fn duplicate(migrations: &mut [MigrationText]) -> Option<(&MigrationId, &MigrationId)> {
    migrations.sort_by(|a, b| (&a.id.version, &a.id.name).cmp(&(&b.id.version, &b.id.name)));
    migrations
        .windows(2)
        .find(|pair| pair[0].id.version == pair[1].id.version)
        .map(|pair| (&pair[0].id, &pair[1].id))
}

/// diesel's reading of metadata.toml: no file (or one that does not parse) runs in a
/// transaction; a file that parses takes `run_in_transaction`, false when left out.
fn run_in_transaction(path: &Path) -> bool {
    #[derive(serde::Deserialize)]
    struct Metadata {
        #[serde(default)]
        run_in_transaction: bool,
    }
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| toml::from_str::<Metadata>(&text).ok())
        .is_none_or(|m| m.run_in_transaction)
}

/// diesel stores a folder's version without its dashes: `2024-12-20-105908` is
/// recorded as `20241220105908`. Users may type either.
pub fn normalize_version(version: &str) -> String {
    version.trim().replace('-', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_read_as_diesel_reads_it() -> std::result::Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("metadata.toml");
        assert!(run_in_transaction(&file), "no file");
        std::fs::write(&file, "run_in_transaction = false\n")?;
        assert!(!run_in_transaction(&file));
        std::fs::write(&file, "run_in_transaction = true\n")?;
        assert!(run_in_transaction(&file));
        std::fs::write(&file, "# nothing\n")?;
        assert!(!run_in_transaction(&file), "a parsed file without the key");
        std::fs::write(&file, "not toml [")?;
        assert!(run_in_transaction(&file), "a file that does not parse");
        Ok(())
    }

    #[test]
    fn the_embedded_catalogue_has_every_file() -> Result<()> {
        for backend in Backend::ALL {
            let catalog = Catalog::load(&Source::Embedded, backend)?;
            assert_eq!(catalog.migrations().len(), embedded_sql(backend).len());
            let first = &catalog.migrations()[0];
            assert_eq!(catalog.find(&first.id.name)?.id, first.id);
            // build.rs hashed the embedded files; the same folder read at run time (as
            // `--migrations-dir migrations` does) must give the same checksums.
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations");
            let from_dir = Catalog::load(&Source::Dir(root), backend)?;
            assert_eq!(from_dir.migrations().len(), catalog.migrations().len());
            for (embedded, read) in catalog.migrations().iter().zip(from_dir.migrations()) {
                assert_eq!(
                    embedded.checksum,
                    sha256_hex(&embedded.up),
                    "{}",
                    embedded.id
                );
                assert_eq!(embedded.checksum, read.checksum, "{}", embedded.id);
            }
            let mut versions: Vec<&str> = catalog
                .migrations()
                .iter()
                .map(|m| m.id.version.as_str())
                .collect();
            assert!(versions.iter().all(|v| is_version(v)), "{versions:?}");
            versions.dedup();
            assert_eq!(
                versions.len(),
                catalog.migrations().len(),
                "one per version"
            );
        }
        Ok(())
    }

    #[test]
    fn versions_are_digits_with_optional_dashes() {
        for name in [
            "2024-12-20-105908_x",
            "20241220105908_x",
            "00000000000000_y_z",
        ] {
            assert!(is_version(&MigrationId::from_name(name).version), "{name}");
        }
        for name in ["foo_bar", "_x", "--_x", "2024-12-2O_x", "v1_x"] {
            assert!(!is_version(&MigrationId::from_name(name).version), "{name}");
        }
    }
}
