//! Planning, without touching a database: which migrations a migrate or a revert runs,
//! and how a run is cut into transactions.

use std::collections::HashSet;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::migration::catalog::{normalize_version, Catalog};

/// How far a revert goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevertTarget {
    /// The newest N applied migrations.
    Steps(usize),
    /// Everything applied after this version; the version itself stays applied.
    To(String),
    /// Everything.
    All,
}

impl RevertTarget {
    /// The target a command line's `--steps N`, `--to VERSION` and `--all` ask for:
    /// the newest migration when none is given.
    pub fn from_flags(steps: Option<usize>, to: Option<&str>, all: bool) -> Self {
        match (steps, to, all) {
            (_, _, true) => RevertTarget::All,
            (_, Some(v), _) => RevertTarget::To(v.to_string()),
            (n, None, false) => RevertTarget::Steps(n.unwrap_or(1)),
        }
    }
}

/// How a run is split into transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// One transaction per migration (diesel's behaviour) instead of one for the run.
    pub per_migration: bool,
    /// Run even though an applied migration's up.sql changed since.
    pub allow_changed: bool,
}

/// The migrations to apply, oldest first, as positions in `catalog`: everything pending,
/// or up to and including `to`.
pub fn plan_up(catalog: &Catalog, applied: &[String], to: Option<&str>) -> Result<Vec<usize>> {
    let limit = to.map(|v| catalog.find(v)).transpose()?;
    let applied: HashSet<&str> = applied.iter().map(String::as_str).collect();
    Ok(catalog
        .migrations()
        .iter()
        .enumerate()
        .filter(|(_, m)| !applied.contains(m.id.version.as_str()))
        .filter(|(_, m)| limit.is_none_or(|l| m.id.version <= l.id.version))
        .map(|(i, _)| i)
        .collect())
}

/// The applied versions to revert, newest first.
pub fn plan_down(
    catalog: &Catalog,
    applied: &[String],
    target: &RevertTarget,
) -> Result<Vec<String>> {
    let mut newest_first: Vec<String> = applied.to_vec();
    newest_first.sort_by(|a, b| b.cmp(a));
    let chosen: Vec<String> = match target {
        RevertTarget::Steps(0) => return Err(Error::ZeroSteps),
        RevertTarget::Steps(n) if *n > newest_first.len() => {
            return Err(Error::TooManySteps {
                requested: *n,
                applied: newest_first.len(),
            })
        }
        RevertTarget::Steps(n) => newest_first.into_iter().take(*n).collect(),
        RevertTarget::All => newest_first,
        RevertTarget::To(v) => {
            let keep = match catalog.find(v) {
                Ok(m) => m.id.version.clone(),
                Err(_) if applied.contains(&normalize_version(v)) => normalize_version(v),
                Err(e) => return Err(e),
            };
            if !applied.contains(&keep) {
                return Err(Error::NotApplied(keep));
            }
            newest_first.into_iter().filter(|a| *a > keep).collect()
        }
    };
    Ok(chosen)
}

/// The plan cut into runs that share a transaction, as positions into `in_transaction`
/// (each planned migration's `run_in_transaction`): everything together between
/// migrations that must run outside one, or one migration each where DDL is not
/// transactional or with `per_migration`. A group of one whose flag is false runs
/// outside any transaction.
pub fn groups(backend: Backend, in_transaction: &[bool], options: RunOptions) -> Vec<Vec<usize>> {
    if options.per_migration || !backend.transactional_ddl() {
        return (0..in_transaction.len()).map(|i| vec![i]).collect();
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut current = Vec::new();
    for (i, &flag) in in_transaction.iter().enumerate() {
        if flag {
            current.push(i);
        } else {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
            groups.push(vec![i]);
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::catalog::{MigrationId, MigrationText};

    fn known() -> Catalog {
        let texts = [
            "2024-01-01-000001_a",
            "2024-01-01-000002_b",
            "2024-01-01-000003_c",
        ]
        .iter()
        .map(|n| MigrationText::new(MigrationId::from_name(n), String::new(), None, true))
        .collect();
        Catalog::from_migrations(Backend::Sqlite, texts)
    }

    fn applied(n: usize) -> Vec<String> {
        known()
            .ids()
            .into_iter()
            .take(n)
            .map(|m| m.version)
            .collect()
    }

    #[test]
    fn plans_up_to_a_version() {
        assert_eq!(
            plan_up(&known(), &applied(0), None).ok(),
            Some(vec![0, 1, 2])
        );
        assert_eq!(
            plan_up(&known(), &applied(1), Some("2024-01-01-000002")).ok(),
            Some(vec![1])
        );
        assert_eq!(
            plan_up(&known(), &applied(0), Some("2024-01-01-000002_b")).ok(),
            Some(vec![0, 1])
        );
        assert!(matches!(
            plan_up(&known(), &applied(0), Some("nope")),
            Err(Error::UnknownVersion(_))
        ));
        assert_eq!(plan_up(&known(), &applied(3), None).ok(), Some(vec![]));
    }

    #[test]
    fn plans_down() {
        let all = applied(3);
        assert_eq!(
            plan_down(&known(), &all, &RevertTarget::Steps(1)).ok(),
            Some(vec!["20240101000003".to_string()])
        );
        assert_eq!(
            plan_down(
                &known(),
                &all,
                &RevertTarget::To("2024-01-01-000001".into())
            )
            .ok(),
            Some(vec![
                "20240101000003".to_string(),
                "20240101000002".to_string()
            ])
        );
        assert_eq!(
            plan_down(&known(), &all, &RevertTarget::All)
                .map(|v| v.len())
                .ok(),
            Some(3)
        );
        assert!(matches!(
            plan_down(&known(), &all, &RevertTarget::Steps(0)),
            Err(Error::ZeroSteps)
        ));
        assert!(matches!(
            plan_down(&known(), &all, &RevertTarget::Steps(4)),
            Err(Error::TooManySteps {
                requested: 4,
                applied: 3
            })
        ));
        assert!(matches!(
            plan_down(
                &known(),
                &applied(1),
                &RevertTarget::To("2024-01-01-000002".into())
            ),
            Err(Error::NotApplied(_))
        ));
    }

    #[test]
    fn revert_flags_pick_a_target() {
        assert_eq!(
            RevertTarget::from_flags(None, None, false),
            RevertTarget::Steps(1)
        );
        assert_eq!(
            RevertTarget::from_flags(Some(3), None, false),
            RevertTarget::Steps(3)
        );
        assert_eq!(
            RevertTarget::from_flags(None, Some("v"), false),
            RevertTarget::To("v".into())
        );
        assert_eq!(
            RevertTarget::from_flags(None, None, true),
            RevertTarget::All
        );
    }

    #[test]
    fn transactions_are_grouped_like_migrate_runs_them() {
        let all = RunOptions::default();
        assert_eq!(
            groups(Backend::Postgres, &[true, true, true], all),
            vec![vec![0, 1, 2]]
        );
        assert_eq!(
            groups(Backend::Sqlite, &[true, false, true], all),
            vec![vec![0], vec![1], vec![2]]
        );
        assert_eq!(
            groups(Backend::Sqlite, &[true, true, false], all),
            vec![vec![0, 1], vec![2]]
        );
        assert_eq!(
            groups(Backend::Mysql, &[true, true], all),
            vec![vec![0], vec![1]]
        );
        let each = RunOptions {
            per_migration: true,
            ..all
        };
        assert_eq!(
            groups(Backend::Postgres, &[true, true], each),
            vec![vec![0], vec![1]]
        );
    }
}
