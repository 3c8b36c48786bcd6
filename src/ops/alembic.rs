//! The Python bot's Alembic history and where each revision lands in botdb's.
//!
//! Adopting a database that Alembic managed starts from its `alembic_version` row: the
//! revision says which of botdb's migrations the schema already contains.

/// Alembic's version table.
pub const ALEMBIC_TABLE: &str = "alembic_version";

/// One Alembic revision of the Python bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revision {
    /// Alembic's revision id, as stored in `alembic_version.version_num`.
    pub revision: &'static str,
    /// The revision it follows.
    pub down_revision: Option<&'static str>,
    /// The botdb migration version (as diesel records it) whose schema this revision has;
    /// `None` when nothing had been created yet.
    pub version: Option<&'static str>,
}

/// The bot's Alembic history, oldest first.
pub const REVISIONS: &[Revision] = &[
    Revision {
        revision: "47f559ec82bb",
        down_revision: None,
        version: None,
    },
    Revision {
        revision: "2fda6446e69f",
        down_revision: Some("47f559ec82bb"),
        version: Some("20241220105908"),
    },
    Revision {
        revision: "1b95d36c8908",
        down_revision: Some("2fda6446e69f"),
        version: Some("20241220144707"),
    },
    Revision {
        revision: "1720ca777755",
        down_revision: Some("1b95d36c8908"),
        version: Some("20241220215903"),
    },
    Revision {
        revision: "5ca0f991801d",
        down_revision: Some("1720ca777755"),
        version: Some("20241226132844"),
    },
];

/// Looks up an Alembic revision id.
pub fn revision(id: &str) -> Option<&'static Revision> {
    REVISIONS.iter().find(|r| r.revision == id.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_a_chain() {
        for pair in REVISIONS.windows(2) {
            assert_eq!(pair[1].down_revision, Some(pair[0].revision));
        }
        assert_eq!(
            revision("5ca0f991801d").and_then(|r| r.version),
            Some("20241226132844")
        );
        assert_eq!(revision("47f559ec82bb").map(|r| r.version), Some(None));
        assert!(revision("deadbeef").is_none());
    }
}
