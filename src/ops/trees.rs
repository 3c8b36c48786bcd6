//! The three migration trees (sqlite/, postgres/, mysql/) hold one history: the same
//! versions under the same names. A migration added to one tree only would otherwise go
//! unnoticed, since each backend reads only its own.

use std::path::{Path, PathBuf};

use crate::backend::Backend;
use crate::migration::catalog::{Catalog, MigrationId, Source};
use crate::migration::embedded::embedded_sql;

/// A migration another tree has and the one read for a backend lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The migration.
    pub id: MigrationId,
    /// The backends whose trees have it.
    pub found_in: Vec<Backend>,
}

/// The migrations the tree `source` holds for `backend` lacks while another tree has them
/// (by version). For a folder: only when it is one of three sibling trees (a root holding
/// `sqlite/`, `postgres/`, `mysql/`, or one of those); any other folder has nothing to
/// compare with and gives none. A sibling tree that cannot be read is left out.
pub fn missing_versions(source: &Source, backend: Backend) -> Vec<Missing> {
    let trees: Vec<(Backend, Vec<MigrationId>)> = match source {
        Source::Embedded => Backend::ALL
            .iter()
            .map(|&b| {
                let ids = embedded_sql(b)
                    .iter()
                    .map(|m| MigrationId::from_name(m.name))
                    .collect();
                (b, ids)
            })
            .collect(),
        Source::Dir(dir) => {
            let Some(root) = tree_root(dir, backend) else {
                return Vec::new();
            };
            Backend::ALL
                .iter()
                .filter_map(|&b| {
                    let folder = root.join(b.name());
                    let catalog = Catalog::load(&Source::Dir(folder), b).ok()?;
                    Some((b, catalog.ids()))
                })
                .collect()
        }
    };
    let Some((_, here)) = trees.iter().find(|(b, _)| *b == backend) else {
        return Vec::new();
    };
    let mut missing: Vec<Missing> = Vec::new();
    for (other, ids) in trees.iter().filter(|(b, _)| *b != backend) {
        for id in ids
            .iter()
            .filter(|id| !here.iter().any(|h| h.version == id.version))
        {
            match missing.iter_mut().find(|m| m.id.version == id.version) {
                Some(m) => m.found_in.push(*other),
                None => missing.push(Missing {
                    id: id.clone(),
                    found_in: vec![*other],
                }),
            }
        }
    }
    missing.sort_by(|a, b| a.id.version.cmp(&b.id.version));
    missing
}

/// The folder holding the three trees, if `dir` is that folder or `backend`'s tree in it.
fn tree_root(dir: &Path, backend: Backend) -> Option<PathBuf> {
    let is_root = |d: &Path| Backend::ALL.iter().all(|b| d.join(b.name()).is_dir());
    if is_root(dir) {
        return Some(dir.to_path_buf());
    }
    let parent = dir.parent()?;
    (dir.file_name()? == backend.name() && is_root(parent)).then(|| parent.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_trees_agree() {
        for b in Backend::ALL {
            assert_eq!(missing_versions(&Source::Embedded, b), vec![], "{b}");
        }
    }

    #[test]
    fn a_migration_in_one_tree_only_is_found() -> std::io::Result<()> {
        let root = std::env::temp_dir().join(format!("botdb_trees_{}", std::process::id()));
        for b in Backend::ALL {
            let m = root.join(b.name()).join("2020-01-01-000000_first");
            std::fs::create_dir_all(&m)?;
            std::fs::write(m.join("up.sql"), "SELECT 1;\n")?;
            std::fs::write(m.join("down.sql"), "SELECT 1;\n")?;
        }
        let extra = root.join("postgres").join("2020-02-02-000000_only_here");
        std::fs::create_dir_all(&extra)?;
        std::fs::write(extra.join("up.sql"), "SELECT 1;\n")?;
        std::fs::write(extra.join("down.sql"), "SELECT 1;\n")?;
        let from_root = missing_versions(&Source::Dir(root.clone()), Backend::Sqlite);
        let from_tree = missing_versions(&Source::Dir(root.join("mysql")), Backend::Mysql);
        let own = missing_versions(&Source::Dir(root.join("postgres")), Backend::Postgres);
        let lone = missing_versions(&Source::Dir(extra.clone()), Backend::Sqlite);
        std::fs::remove_dir_all(&root)?;
        let expected = vec![Missing {
            id: MigrationId::from_name("2020-02-02-000000_only_here"),
            found_in: vec![Backend::Postgres],
        }];
        assert_eq!(from_root, expected);
        assert_eq!(from_tree, expected);
        assert_eq!(own, vec![]);
        assert_eq!(lone, vec![]);
        Ok(())
    }
}
