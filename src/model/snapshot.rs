//! The model at the head of the migration history, kept beside the migrations as
//! `model.toml`.
//!
//! Why a snapshot (as EF Core's ModelSnapshot and Django's migration state do) and not an
//! in-memory SQLite that replays the history: SQLite's catalogue forgets the names of
//! constraints and foreign keys, and PostgreSQL and MySQL need those names to drop or
//! change them. The snapshot keeps every name; a test holds it equal to `model::bot` and to
//! what the history produces on all three backends. `generate` compares the declared model
//! with it, and writes the migration and the new snapshot together.
//!
//! The snapshot also names the migration it was recorded at (`head`), as EF Core ties its
//! snapshot to the last migration: a step written by hand after it (`botdb new`) is one the
//! snapshot knows nothing of, and `generate` says so instead of comparing with a stale model.

use serde::{Deserialize, Serialize};

use super::Schema;

/// The snapshot's file name inside the migrations folder.
pub const FILE_NAME: &str = "model.toml";

const HEADER: &str = "# The model at the head of the migration history, written by `botdb generate`.\n# Edit src/model/bot.rs, not this file: generate compares the two.\n\n";

/// What `model.toml` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The migration (`<version>_<name>`) the model was recorded at; `None` in a snapshot
    /// written before botdb kept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    /// The model.
    #[serde(flatten)]
    pub schema: Schema,
}

/// A snapshot as the file's text.
pub fn to_toml(snapshot: &Snapshot) -> Result<String, toml::ser::Error> {
    Ok(format!("{HEADER}{}", toml::to_string(snapshot)?))
}

/// The file's text as a snapshot.
pub fn from_toml(text: &str) -> Result<Snapshot, toml::de::Error> {
    toml::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bot_model_survives_a_round_trip_with_and_without_a_head() {
        for head in [
            None,
            Some("2026-11-25-100100_maintain_updated_at".to_string()),
        ] {
            let snapshot = Snapshot {
                head,
                schema: super::super::bot::schema(),
            };
            let text = to_toml(&snapshot).expect("serialises");
            assert_eq!(from_toml(&text).ok(), Some(snapshot), "{text}");
        }
    }
}
