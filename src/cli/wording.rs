//! The library's errors name the option a caller can set (`RunOptions::allow_changed`);
//! on the command line the same advice is a flag. This maps one to the other, so the
//! library never tells a library caller to "pass --allow-changed".

/// Each library phrase and the CLI's words for it.
const FLAGS: &[(&str, &str)] = &[
    (
        "record it once with `botdb repair VERSION` (`Database::repair`)",
        "record it once with `botdb repair VERSION`",
    ),
    (
        "allow it for this run (`RunOptions::allow_changed`)",
        "pass --allow-changed for this run",
    ),
    (
        "read the migrations from the folder that has it (`Source::Dir`)",
        "pass --migrations-dir with the folder that has it",
    ),
    (
        "give at least 1 (`RevertTarget::Steps`)",
        "pass --steps 1 or more",
    ),
    (
        "revert everything instead (`RevertTarget::All`)",
        "use --all to revert everything",
    ),
    (
        "wait longer (`Database::with_lock_timeout`)",
        "raise --lock-timeout",
    ),
    (
        "a longer lease (`Database::with_lock_lease`)",
        "a longer --lock-lease",
    ),
    ("or take no backup", "or pass --no-backup"),
    (
        "the lock timeout (`Database::with_lock_timeout`)",
        "--lock-timeout",
    ),
    (
        "drop the table (`Database::adopt(true)`)",
        "pass --drop-alembic-version to drop the table",
    ),
    (
        "use a larger pool or a longer connect timeout (`PoolOptions::max_size`, `PoolOptions::connect_timeout`)",
        "raise --pool-size or --connect-timeout",
    ),
    (
        "record it anyway (`SchemaCheck::Skip`)",
        "pass --force to record it anyway",
    ),
];

/// `message` (a library error's text) in the CLI's words.
pub fn for_cli(message: String) -> String {
    FLAGS
        .iter()
        .fold(message, |m, (library, cli)| m.replace(library, cli))
}

#[cfg(test)]
mod tests {
    use botdb::Error;

    #[test]
    fn library_advice_becomes_a_flag_on_the_command_line() {
        let changed = Error::Changed("2024-12-20-105908_initial_revision".into()).to_string();
        assert!(changed.contains("`RunOptions::allow_changed`"), "{changed}");
        assert!(!changed.contains("--"), "{changed}");
        let cli = super::for_cli(changed);
        assert!(
            cli.ends_with(
                "record it once with `botdb repair VERSION` or pass --allow-changed for this run"
            ),
            "{cli}"
        );
        let steps = Error::TooManySteps {
            requested: 3,
            applied: 1,
        }
        .to_string();
        assert_eq!(
            super::for_cli(steps),
            "cannot revert 3 migrations: the database has 1 migration applied; use --all to revert everything"
        );
        for library in super::FLAGS.iter().map(|(library, _)| library) {
            assert!(!library.contains("--"), "{library}");
        }
    }
}
