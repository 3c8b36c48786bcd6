//! Splitting a migration file into its statements, each with the line it starts on, to
//! say which statement of a failed migration failed.
//!
//! Migrations run as whole files (diesel's batch execution); this split is only used to
//! diagnose a failure on PostgreSQL and SQLite, so a file it cannot split exactly still
//! runs exactly as written. It understands standard SQL quotes (`'…'` with `''`, `"…"`,
//! `` `…` ``), PostgreSQL's `E'…'` with backslash escapes, comments (`--`, `/* */`),
//! PostgreSQL dollar quoting (`$$…$$`, `$tag$…$tag$`) and trigger bodies (`BEGIN … END;`,
//! with `CASE … END` and `END IF`/`END LOOP` inside).

/// One statement of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The statement's text, without its terminating `;`.
    pub text: &'a str,
    /// The 1-based line of the file the statement starts on.
    pub line: usize,
    /// Where the statement starts in the file, in bytes.
    pub start: usize,
}

/// The file's own text from the first of `statements` to the end of the last, separators
/// and comments between them included: to run a run of statements as one batch.
pub fn span<'a>(sql: &'a str, statements: &[Statement<'_>]) -> &'a str {
    match (statements.first(), statements.last()) {
        (Some(first), Some(last)) => &sql[first.start..last.start + last.text.len()],
        _ => "",
    }
}

/// The statements of `sql`, in order. Comments-only stretches are not statements.
pub fn split(sql: &str) -> Vec<Statement<'_>> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut lines = LineCounter::default();
    let mut start = 0;
    let mut i = 0;
    // Depth of BEGIN … END inside a CREATE TRIGGER, where `;` does not end the statement,
    // and of CASE … END inside such a block, whose END closes no block.
    let mut block_depth = 0usize;
    let mut case_depth = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' | b'`' => i = skip_quoted(bytes, i, is_escape_string(bytes, i)),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = find(bytes, i, b"\n").map_or(bytes.len(), |e| e + 1)
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = find(bytes, i + 2, b"*/").map_or(bytes.len(), |e| e + 2)
            }
            b'$' => i = skip_dollar_quoted(sql, i),
            b';' if block_depth == 0 => {
                push(sql, start, i, &mut lines, &mut out);
                i += 1;
                start = i;
            }
            c if c.is_ascii_alphabetic() => {
                let end = i + bytes[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                let word = &sql[i..end];
                if word.eq_ignore_ascii_case("begin") && is_trigger(&sql[start..i]) {
                    block_depth += 1;
                } else if word.eq_ignore_ascii_case("case") && block_depth > 0 {
                    case_depth += 1;
                } else if word.eq_ignore_ascii_case("end") && block_depth > 0 {
                    if case_depth > 0 {
                        case_depth -= 1;
                    } else if !ends_compound(&sql[end..]) {
                        block_depth -= 1;
                    }
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    push(sql, start, bytes.len(), &mut lines, &mut out);
    out
}

/// Where a `;` must go when the last statement of `sql` has none: just after its last
/// character of code, before any trailing comment. `None` when it ends with `;` or holds
/// no code at all.
pub fn missing_terminator(sql: &str) -> Option<usize> {
    let bytes = sql.as_bytes();
    let mut last = None;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        i = match bytes[i] {
            b'\'' | b'"' | b'`' => skip_quoted(bytes, i, is_escape_string(bytes, i)),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                find(bytes, i, b"\n").map_or(bytes.len(), |e| e + 1)
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                find(bytes, i + 2, b"*/").map_or(bytes.len(), |e| e + 2)
            }
            b'$' => skip_dollar_quoted(sql, i),
            _ => i + 1,
        };
        let comment = bytes[start..].starts_with(b"--") || bytes[start..].starts_with(b"/*");
        if !comment && !bytes[start].is_ascii_whitespace() {
            last = Some((i, bytes[start]));
        }
    }
    match last {
        Some((end, byte)) if byte != b';' => Some(end),
        _ => None,
    }
}

/// Whether the quote at `i` opens PostgreSQL's `E'…'`, where a backslash escapes.
fn is_escape_string(bytes: &[u8], i: usize) -> bool {
    bytes[i] == b'\''
        && i > 0
        && matches!(bytes[i - 1], b'E' | b'e')
        && !bytes
            .get(i.wrapping_sub(2))
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Whether the words after an END make it MySQL's `END IF`, `END LOOP`, `END WHILE` or
/// `END REPEAT`, which close no BEGIN.
fn ends_compound(after: &str) -> bool {
    let next: String = after
        .trim_start()
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    ["if", "loop", "while", "repeat"]
        .iter()
        .any(|w| next.eq_ignore_ascii_case(w))
}

/// Whether the statement so far is a CREATE TRIGGER. Only its first four words count, read
/// lazily, so a long statement with many BEGINs is not scanned again for each.
fn is_trigger(head: &str) -> bool {
    let mut words = head
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .flat_map(str::split_whitespace)
        .take(4);
    words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("create"))
        && words.any(|w| w.eq_ignore_ascii_case("trigger"))
}

/// The line of a position in the file, counted on from the previous position asked for,
/// so a file is scanned once however many statements it has (positions only grow).
#[derive(Default)]
struct LineCounter {
    at: usize,
    line: usize,
}

impl LineCounter {
    fn line_of(&mut self, sql: &str, position: usize) -> usize {
        self.line += sql.as_bytes()[self.at..position]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.at = position;
        self.line + 1
    }
}

fn push<'a>(
    sql: &'a str,
    start: usize,
    end: usize,
    lines: &mut LineCounter,
    out: &mut Vec<Statement<'a>>,
) {
    let chunk = &sql[start..end];
    // The statement starts at its first character that is not blank or comment.
    let mut offset = 0;
    let rest = chunk.as_bytes();
    while offset < rest.len() {
        if rest[offset].is_ascii_whitespace() {
            offset += 1;
        } else if rest[offset..].starts_with(b"--") {
            offset = find(rest, offset, b"\n").map_or(rest.len(), |e| e + 1);
        } else if rest[offset..].starts_with(b"/*") {
            offset = find(rest, offset + 2, b"*/").map_or(rest.len(), |e| e + 2);
        } else {
            break;
        }
    }
    let text = chunk[offset..].trim_end();
    if !text.is_empty() {
        let line = lines.line_of(sql, start + offset);
        out.push(Statement {
            text,
            line,
            start: start + offset,
        });
    }
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Index just past a quoted string starting at `i`; a doubled quote escapes the quote, and
/// so does a backslash when `backslash_escapes` (PostgreSQL's `E'…'`).
fn skip_quoted(bytes: &[u8], i: usize, backslash_escapes: bool) -> usize {
    let quote = bytes[i];
    let mut j = i + 1;
    while j < bytes.len() {
        if bytes[j] == b'\\' && backslash_escapes {
            j += 2;
        } else if bytes[j] == quote {
            if bytes.get(j + 1) == Some(&quote) {
                j += 2;
            } else {
                return j + 1;
            }
        } else {
            j += 1;
        }
    }
    bytes.len()
}

/// Index just past a PostgreSQL dollar-quoted body starting at `i`, or `i + 1` if the `$`
/// does not open one (e.g. a `$1` parameter).
fn skip_dollar_quoted(sql: &str, i: usize) -> usize {
    let bytes = sql.as_bytes();
    let tag_len = bytes[i + 1..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    if bytes.get(i + 1 + tag_len) != Some(&b'$') || bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
    {
        return i + 1;
    }
    let tag = &sql[i..i + tag_len + 2];
    match sql[i + tag.len()..].find(tag) {
        Some(p) => i + tag.len() + p + tag.len(),
        None => bytes.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<(usize, &str)> {
        split(sql).into_iter().map(|s| (s.line, s.text)).collect()
    }

    #[test]
    fn plain_statements_with_lines() {
        let sql = "-- header\nCREATE TABLE a (x INT);\n\nINSERT INTO a VALUES (1);\nSELEKT 1;\n-- trailing\n";
        assert_eq!(
            texts(sql),
            [
                (2, "CREATE TABLE a (x INT)"),
                (4, "INSERT INTO a VALUES (1)"),
                (5, "SELEKT 1")
            ]
        );
    }

    #[test]
    fn semicolons_in_quotes_and_comments() {
        let sql =
            "INSERT INTO t VALUES ('a;b', 'it''s;'); /* ; */ SELECT \"x;y\"; -- ;\nSELECT `a;b`";
        assert_eq!(texts(sql).len(), 3);
        assert_eq!(texts(sql)[0].1, "INSERT INTO t VALUES ('a;b', 'it''s;')");
    }

    #[test]
    fn postgres_function_bodies() {
        let sql = "CREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n  NEW.x := 1;\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\nCREATE TRIGGER t BEFORE UPDATE ON a FOR EACH ROW EXECUTE FUNCTION f();\nSELECT $1;";
        let got = texts(sql);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[1].0, 7);
        assert!(got[0].1.ends_with("LANGUAGE plpgsql"));
    }

    #[test]
    fn sqlite_trigger_bodies() {
        let sql = "CREATE TRIGGER trg AFTER UPDATE ON users\nFOR EACH ROW WHEN NEW.a IS OLD.a\nBEGIN\n    UPDATE users SET a = 1 WHERE id = NEW.id;\nEND;\nDROP TABLE x;";
        let got = texts(sql);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[1], (6, "DROP TABLE x"));
        // BEGIN on its own (a transaction) is a statement, not a block.
        assert_eq!(texts("BEGIN; SELECT 1; COMMIT;").len(), 3);
        // CASE … END inside a trigger closes no block.
        let sql = "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET x = CASE WHEN NEW.y THEN 1 ELSE 0 END;\n  UPDATE a SET z = 1;\nEND;\nSELEKT 1;";
        let got = texts(sql);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[1], (5, "SELEKT 1"));
        // Nor do MySQL's END IF and END LOOP.
        let sql = "CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN\n  IF NEW.x < 0 THEN SET NEW.x = 0; END IF;\nEND;\nSELEKT 1;";
        assert_eq!(texts(sql).len(), 2, "{:?}", texts(sql));
    }

    #[test]
    fn a_span_is_the_file_from_one_statement_to_another() {
        let sql = "SELECT 1; -- one\nSELECT 2\n;\n/* three */ SELECT 3;";
        let statements = split(sql);
        assert_eq!(
            span(sql, &statements[1..]),
            "SELECT 2\n;\n/* three */ SELECT 3"
        );
        assert_eq!(span(sql, &statements[..1]), "SELECT 1");
        assert_eq!(span(sql, &[]), "");
        for s in &statements {
            assert_eq!(&sql[s.start..s.start + s.text.len()], s.text);
        }
    }

    #[test]
    fn a_missing_last_semicolon_goes_before_trailing_comments() {
        assert_eq!(missing_terminator("SELECT 1;\n-- done\n"), None);
        assert_eq!(missing_terminator("-- only a comment\n"), None);
        let sql = "SELECT 1\n-- done\n/* really */\n";
        assert_eq!(missing_terminator(sql), Some("SELECT 1".len()));
        assert_eq!(missing_terminator("SELECT ';'"), Some(10));
        assert_eq!(missing_terminator("SELECT 1; -- x;"), None);
    }

    #[test]
    fn backslashes_are_plain_except_in_escape_strings() {
        // Standard SQL (PostgreSQL, SQLite): a backslash does not escape the quote.
        assert_eq!(
            texts("INSERT INTO t VALUES ('C:\\');\nSELEKT 1;"),
            [(1, "INSERT INTO t VALUES ('C:\\')"), (2, "SELEKT 1")]
        );
        // PostgreSQL's E'…' strings: it does.
        assert_eq!(
            texts("SELECT E'it\\'s;';\nSELEKT 1;"),
            [(1, "SELECT E'it\\'s;'"), (2, "SELEKT 1")]
        );
        // A column named like `type` followed by a string is not an escape string.
        assert_eq!(texts("SELECT type'x\\';\nSELEKT 1;").len(), 2);
    }

    /// The statements joined with what lies between them, after checking that what lies
    /// between is only blanks, comments and one `;` each: equal to the file, it proves
    /// nothing was lost or cut.
    fn rejoined(file: &str, statements: &[Statement<'_>]) -> String {
        let mut out = String::new();
        let mut at = 0;
        for (i, s) in statements.iter().enumerate() {
            let start = s.text.as_ptr() as usize - file.as_ptr() as usize;
            let gap = &file[at..start];
            let code = if i == 0 { "" } else { ";" };
            assert_eq!(code_in(gap), code, "between statements: {gap:?}");
            out.push_str(gap);
            out.push_str(s.text);
            at = start + s.text.len();
        }
        let tail = &file[at..];
        assert!(
            matches!(code_in(tail).as_str(), "" | ";"),
            "after the last statement: {tail:?}"
        );
        out.push_str(tail);
        out
    }

    /// `gap` without blanks and comments.
    fn code_in(gap: &str) -> String {
        let mut code = String::new();
        let mut rest = gap;
        while let Some(c) = rest.chars().next() {
            if rest.starts_with("--") {
                rest = rest.find('\n').map_or("", |e| &rest[e..]);
            } else if rest.starts_with("/*") {
                rest = rest.find("*/").map_or("", |e| &rest[e + 2..]);
            } else {
                if !c.is_whitespace() {
                    code.push(c);
                }
                rest = &rest[c.len_utf8()..];
            }
        }
        code
    }

    #[test]
    fn rejoining_finds_what_a_split_lost() {
        let sql = "CREATE TABLE a (x INT);\n-- note\nDROP TABLE b;\n";
        assert_eq!(rejoined(sql, &split(sql)), sql);
        let lost = std::panic::catch_unwind(|| rejoined(sql, &split(sql)[..1]));
        assert!(lost.is_err(), "a lost statement must be noticed");
        let cut = [Statement {
            text: &sql[..10],
            line: 1,
            start: 0,
        }];
        assert!(std::panic::catch_unwind(|| rejoined(sql, &cut)).is_err());
    }

    #[test]
    fn every_embedded_migration_splits_into_its_statements() {
        for backend in [
            crate::Backend::Sqlite,
            crate::Backend::Postgres,
            crate::Backend::Mysql,
        ] {
            for m in crate::migration::embedded::embedded_sql(backend) {
                for file in [Some(m.up), m.down].into_iter().flatten() {
                    let statements = split(file);
                    assert!(!statements.is_empty(), "{}", m.name);
                    for s in &statements {
                        assert!(
                            !s.text.trim_start().starts_with("--"),
                            "{}: {}",
                            m.name,
                            s.text
                        );
                    }
                    assert_eq!(rejoined(file, &statements), file, "{}", m.name);
                }
            }
        }
    }
}
