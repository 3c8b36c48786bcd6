//! SQL text botdb writes itself: values and names rendered for a dialect, and migration
//! files split into statements to say which one failed.

pub mod literal;
pub mod split;

pub use literal::{identifier, literal, Literal};
pub use split::{missing_terminator, span, split, Statement};
