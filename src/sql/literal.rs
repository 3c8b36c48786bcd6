//! Offline SQL: values rendered as literals for a dialect ("literal binds"), so a printed
//! script has no placeholders and runs as it is in the database's own client.

use chrono::NaiveDateTime;

use crate::backend::Backend;
use crate::error::{Error, Result};

/// A value to render as a SQL literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal<'a> {
    /// A string.
    Str(&'a str),
    /// An integer.
    Int(i64),
    /// NULL.
    Null,
    /// A timestamp without time zone, rendered as `'YYYY-MM-DD HH:MM:SS[.ffffff]'`.
    Timestamp(NaiveDateTime),
}

/// Renders `value` as a literal of `dialect`.
///
/// Strings double their single quotes; on MySQL, whose default `sql_mode` treats the
/// backslash as an escape character, backslashes are doubled too. A NUL byte is refused:
/// PostgreSQL cannot store it in text at all, and the clients would cut the script there.
pub fn literal(dialect: Backend, value: &Literal<'_>) -> Result<String> {
    Ok(match value {
        Literal::Null => "NULL".to_string(),
        Literal::Int(n) => n.to_string(),
        Literal::Str(s) => quote(dialect, s)?,
        Literal::Timestamp(t) => {
            let text = t.format("%Y-%m-%d %H:%M:%S%.f").to_string();
            quote(dialect, &text)?
        }
    })
}

/// Quotes an identifier (a database or table name) for `dialect`: `"name"` on SQLite and
/// PostgreSQL, `` `name` `` on MySQL, doubling the quote character inside. NUL is refused.
pub fn identifier(dialect: Backend, name: &str) -> Result<String> {
    if name.contains('\0') || name.is_empty() {
        return Err(Error::Literal {
            reason: format!("`{name}` cannot be an identifier"),
        });
    }
    let q = dialect.identifier_quote();
    let doubled: String = name
        .chars()
        .flat_map(|c| if c == q { vec![c, c] } else { vec![c] })
        .collect();
    Ok(format!("{q}{doubled}{q}"))
}

fn quote(dialect: Backend, s: &str) -> Result<String> {
    if s.contains('\0') {
        return Err(Error::Literal {
            reason: "it contains a NUL byte, which SQL text cannot carry".into(),
        });
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' if dialect.backslash_escapes() => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn render(dialect: Backend, value: Literal<'_>) -> String {
        literal(dialect, &value).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn strings_per_dialect() {
        for dialect in [Backend::Sqlite, Backend::Postgres] {
            assert_eq!(render(dialect, Literal::Str("it's")), "'it''s'");
            assert_eq!(render(dialect, Literal::Str(r"a\b")), r"'a\b'");
        }
        assert_eq!(render(Backend::Mysql, Literal::Str("it's")), "'it''s'");
        assert_eq!(render(Backend::Mysql, Literal::Str(r"a\b")), r"'a\\b'");
        assert_eq!(render(Backend::Mysql, Literal::Str(r"\'")), r"'\\'''");
        assert_eq!(render(Backend::Sqlite, Literal::Str("")), "''");
        assert_eq!(render(Backend::Sqlite, Literal::Str("ünï 🚀")), "'ünï 🚀'");
    }

    #[test]
    fn other_values() {
        assert_eq!(render(Backend::Postgres, Literal::Int(-42)), "-42");
        assert_eq!(render(Backend::Mysql, Literal::Null), "NULL");
        let t = NaiveDate::from_ymd_opt(2024, 12, 20)
            .and_then(|d| d.and_hms_micro_opt(10, 59, 8, 120))
            .expect("valid date");
        assert_eq!(
            render(Backend::Sqlite, Literal::Timestamp(t)),
            "'2024-12-20 10:59:08.000120'"
        );
    }

    #[test]
    fn identifiers() {
        assert_eq!(
            identifier(Backend::Postgres, "shop").ok(),
            Some("\"shop\"".into())
        );
        assert_eq!(
            identifier(Backend::Postgres, "a\"b").ok(),
            Some("\"a\"\"b\"".into())
        );
        assert_eq!(
            identifier(Backend::Mysql, "a`b").ok(),
            Some("`a``b`".into())
        );
        assert!(identifier(Backend::Mysql, "").is_err());
        assert!(identifier(Backend::Sqlite, "a\0").is_err());
    }

    #[test]
    fn nul_is_refused() {
        for dialect in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
            assert!(literal(dialect, &Literal::Str("a\0b")).is_err());
        }
    }

    proptest::proptest! {
        // Fuzzing: any string (NUL included) renders or is refused, never a panic.
        #[test]
        fn never_panics(s in "\\PC*|.*\\x00.*", n in proptest::num::i64::ANY) {
            for dialect in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
                let rendered = literal(dialect, &Literal::Str(&s));
                proptest::prop_assert_eq!(rendered.is_err(), s.contains('\0'));
                let _ = identifier(dialect, &s);
                proptest::prop_assert_eq!(literal(dialect, &Literal::Int(n)).ok(), Some(n.to_string()));
            }
        }

        #[test]
        fn any_string_is_one_quoted_token(s in "[^\\x00]*") {
            for dialect in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
                let out = literal(dialect, &Literal::Str(&s)).expect("no NUL");
                // Strip the outer quotes; what is left must have no lone quote.
                let inner = &out[1..out.len() - 1];
                proptest::prop_assert!(!inner.replace("''", "").contains('\''));
            }
        }
    }
}
