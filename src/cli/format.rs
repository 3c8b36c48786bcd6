//! `--format`: text for people, JSON for programs.

/// How a command prints its result and its error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON document on stdout; an error is a JSON object on stderr.
    Json,
}
