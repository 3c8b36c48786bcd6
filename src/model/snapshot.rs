//! The model at the head of the migration history, kept beside the migrations as
//! `model.toml`.
//!
//! Why a snapshot (as EF Core's ModelSnapshot and Django's migration state do) and not an
//! in-memory SQLite that replays the history: SQLite's catalogue forgets the names of
//! constraints and foreign keys, and PostgreSQL and MySQL need those names to drop or
//! change them. The snapshot keeps every name; a test holds it equal to `model::bot` and to
//! what the history produces on all three backends. `generate` compares the declared model
//! with it, and writes the migration and the new snapshot together.

use super::Schema;

/// The snapshot's file name inside the migrations folder.
pub const FILE_NAME: &str = "model.toml";

const HEADER: &str = "# The model at the head of the migration history, written by `botdb generate`.\n# Edit src/model/bot.rs, not this file: generate compares the two.\n\n";

/// A schema as the snapshot's text.
pub fn to_toml(schema: &Schema) -> Result<String, toml::ser::Error> {
    Ok(format!("{HEADER}{}", toml::to_string(schema)?))
}

/// A snapshot's text as a schema.
pub fn from_toml(text: &str) -> Result<Schema, toml::de::Error> {
    toml::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bot_model_survives_a_round_trip() {
        let schema = super::super::bot::schema();
        let text = to_toml(&schema).expect("serialises");
        assert_eq!(from_toml(&text).ok(), Some(schema));
    }
}
