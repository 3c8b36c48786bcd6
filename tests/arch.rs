//! The layering of `src/`, checked: every import points down a layer (or stays in its
//! own), the engine (`migration/`) never reaches for connections, introspection or
//! features, and no files import each other in a circle. Imports are read from the
//! source text: `use` items (with their `{…}` groups) and inline `crate::`/`super::` paths.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's layers, lowest first; a module may import from its own layer or below.
const LAYERS: &[&[&str]] = &[
    &["error", "backend", "checksum"],
    &[
        "config",
        "sql",
        "schema",
        "model",
        "models",
        "migration::embedded",
        "migration::catalog",
    ],
    &[
        "migration::bookkeeping",
        "migration::plan",
        "migration::status",
        "migration::report",
        "db",
    ],
    &[
        "migration::harness",
        "migration::apply",
        "migration::revert",
        "migration",
        "introspect",
    ],
    &["database"],
    &["ops"],
    &["lib"],
];

/// What the engine must never import.
const ABOVE_THE_ENGINE: &[&str] = &["db", "introspect", "database", "ops", "lib"];

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A source file as a module path: `migration::catalog`, `lib` for the root; `bin::…` for
/// the binary (main.rs and cli/), whose `crate` is another crate.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    Some(match parts.as_slice() {
        [only] if only == "lib" => "lib".to_string(),
        [only] if only == "main" => "bin".to_string(),
        [first, ..] if first == "cli" => format!("bin::{}", parts.join("::")),
        _ => parts.join("::"),
    })
}

fn layer_of(module: &str) -> Option<usize> {
    // The most specific entry wins: `migration::catalog` before `migration`.
    let mut best: Option<(usize, usize)> = None;
    for (layer, names) in LAYERS.iter().enumerate() {
        for name in *names {
            let matches = module == *name || module.starts_with(&format!("{name}::"));
            if matches && best.is_none_or(|(_, len)| name.len() > len) {
                best = Some((layer, name.len()));
            }
        }
    }
    best.map(|(layer, _)| layer)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = tree[open + 1..]
        .strip_suffix('}')
        .unwrap_or(&tree[open + 1..]);
    let (mut depth, mut start, mut parts) = (0, 0, Vec::new());
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p).into_iter().map(|e| format!("{prefix}{e}")))
        .collect()
}

/// Every path the file imports, as written (`crate::a::b`, `super::c`, `child::d`).
/// A file's unit tests (its `#[cfg(test)] mod tests` at the end) are not part of the
/// layering: inside them `super` is the file itself.
fn paths_in(text: &str) -> Vec<String> {
    let text = text.split("#[cfg(test)]\nmod ").next().unwrap_or(text);
    let code: String = text
        .lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n");
    let mut paths = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        let after = &rest[at + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
            paths.extend(expand(&after[..end]));
        }
        rest = &after[end..];
    }
    for root in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(root) {
            let start = from + at;
            let end = code[start..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| start + e);
            paths.push(code[start..end].trim_end_matches(':').to_string());
            from = end;
        }
    }
    paths
}

/// The module file a path lands in: its longest prefix that is a module.
fn resolve(
    path: &str,
    from: &str,
    modules: &BTreeSet<String>,
    macros: &BTreeMap<String, String>,
) -> Option<String> {
    let is_bin = from == "bin" || from.starts_with("bin::");
    let mut segments: Vec<String> = Vec::new();
    let mut parts = path.split("::").filter(|s| !s.is_empty()).peekable();
    match parts.peek().copied() {
        Some("crate") => {
            parts.next();
            if is_bin {
                segments.push("bin".into());
            }
        }
        Some("super") => {
            let mut base: Vec<&str> = from.split("::").collect();
            while parts.peek() == Some(&"super") {
                parts.next();
                base.pop();
            }
            segments.extend(base.into_iter().map(String::from));
        }
        Some("self") => {
            parts.next();
            segments.extend(from.split("::").map(String::from));
        }
        Some(first) => {
            // A child module of this one (`pub use catalog::Source;` in migration/mod.rs).
            let child = if from == "lib" {
                first.to_string()
            } else {
                format!("{from}::{first}")
            };
            if !modules.contains(&child) {
                return None;
            }
            if from != "lib" {
                segments.extend(from.split("::").map(String::from));
            }
        }
        None => return None,
    }
    segments.extend(parts.map(String::from));
    if !is_bin && segments.len() == 1 {
        if let Some(home) = macros.get(&segments[0]) {
            return Some(home.clone());
        }
    }
    (0..=segments.len()).rev().find_map(|n| {
        let candidate = if n == 0 {
            if is_bin {
                "bin".to_string()
            } else {
                "lib".to_string()
            }
        } else {
            segments[..n].join("::")
        };
        modules.contains(&candidate).then_some(candidate)
    })
}

/// Every file's imports of other files.
fn import_graph() -> Result<BTreeMap<String, BTreeSet<String>>, Box<dyn std::error::Error>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files)?;
    let mut texts = BTreeMap::new();
    let mut macros = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file).ok_or("a file outside src")?;
        let text = std::fs::read_to_string(file)?;
        for (i, _) in text.match_indices("#[macro_export]") {
            if let Some(name) = text[i..]
                .split("macro_rules!")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
            {
                macros.insert(name.to_string(), module.clone());
            }
        }
        texts.insert(module, text);
    }
    let modules: BTreeSet<String> = texts.keys().cloned().collect();
    let mut graph = BTreeMap::new();
    for (module, text) in &texts {
        let targets: BTreeSet<String> = paths_in(text)
            .iter()
            .filter_map(|p| resolve(p, module, &modules, &macros))
            .filter(|t| t != module)
            .collect();
        graph.insert(module.clone(), targets);
    }
    Ok(graph)
}

#[test]
fn every_library_module_has_a_layer() -> TestResult {
    let graph = import_graph()?;
    let missing: Vec<&String> = graph
        .keys()
        .filter(|m| !m.starts_with("bin") && layer_of(m).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "give these a layer in tests/arch.rs: {missing:?}"
    );
    // The parser finds what is there: the engine's apply imports its catalogue and plan.
    let apply = graph.get("migration::apply").ok_or("migration/apply.rs")?;
    assert!(
        apply.contains("migration::catalog") && apply.contains("migration::plan"),
        "{apply:?}"
    );
    Ok(())
}

#[test]
fn imports_point_down_the_layers() -> TestResult {
    let mut upward = Vec::new();
    for (module, targets) in import_graph()? {
        let Some(from) = layer_of(&module) else {
            continue;
        };
        for target in targets {
            let to = layer_of(&target).unwrap_or(usize::MAX);
            let into_engine_from_above = module.starts_with("migration")
                && ABOVE_THE_ENGINE
                    .iter()
                    .any(|a| target == *a || target.starts_with(&format!("{a}::")));
            if to > from || into_engine_from_above {
                upward.push(format!("{module} (layer {from}) imports {target}"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that point up a layer:\n{}",
        upward.join("\n")
    );
    Ok(())
}

/// Every import circle, as `a -> b -> a`.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    // Depth-first search; a node met again while still on the stack closes a circle.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, bool>,
        stack: &mut Vec<&'a str>,
        circles: &mut Vec<String>,
    ) {
        match state.get(node) {
            Some(true) => {
                if let Some(at) = stack.iter().position(|n| *n == node) {
                    let mut circle: Vec<&str> = stack[at..].to_vec();
                    circle.push(node);
                    circles.push(circle.join(" -> "));
                }
                return;
            }
            Some(false) => return,
            None => {}
        }
        state.insert(node, true);
        stack.push(node);
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, state, stack, circles);
        }
        stack.pop();
        state.insert(node, false);
    }
    let (mut state, mut stack, mut found) = (BTreeMap::new(), Vec::new(), Vec::new());
    for node in graph.keys() {
        visit(node, graph, &mut state, &mut stack, &mut found);
    }
    found
}

#[test]
fn no_files_import_each_other_in_a_circle() -> TestResult {
    let found = circles(&import_graph()?);
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
    Ok(())
}

#[test]
fn the_checker_sees_an_upward_import_and_a_circle() {
    let modules: BTreeSet<String> = ["lib", "migration", "migration::plan", "db", "ops::adopt"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let macros = BTreeMap::new();
    let paths = paths_in("use crate::{db::Pool, ops::adopt::{self, X}};\nfn f() { crate::migration::plan::groups(); }");
    let resolved: BTreeSet<String> = paths
        .iter()
        .filter_map(|p| resolve(p, "migration::plan", &modules, &macros))
        .collect();
    assert!(
        resolved.contains("db") && resolved.contains("ops::adopt"),
        "{resolved:?}"
    );
    assert!(layer_of("ops::adopt") > layer_of("migration::plan"));
    assert_eq!(
        resolve(
            "catalog::Source",
            "migration",
            &{
                let mut m = modules.clone();
                m.insert("migration::catalog".into());
                m
            },
            &macros
        )
        .as_deref(),
        Some("migration::catalog")
    );
    let graph: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .iter()
        .map(|(from, to)| (from.to_string(), BTreeSet::from([to.to_string()])))
        .collect();
    assert_eq!(circles(&graph), ["a -> b -> c -> a"]);
}
