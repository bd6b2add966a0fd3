//! The shape of the code, checked (ARCHITECTURE.md): top-level modules depend only on lower
//! layers (so there is no cycle, and nothing below `api` knows handlers or the OpenAPI
//! document), SQL is written only under `db/` and `analytics/`, and no source file grows past
//! 600 lines.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, lowest first; a module may use modules of lower layers only.
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["config", "embedded", "domain"],
    &["db"],
    &["auth", "analytics"],
    &["app"],
    &["jobs", "seed", "http"],
    &["demo"],
    &["api"],
    &["openapi"],
    &["startup"],
];

const MAX_LINES: usize = 600;

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `src/` file with its top-level module (`None` for the crate root and the binary).
fn files() -> Vec<(Option<String>, PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    sources(&src, &mut paths);
    paths
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
            let top = rel.split('/').next().unwrap().trim_end_matches(".rs").to_owned();
            let module = layer(&top).map(|_| top);
            let text = std::fs::read_to_string(&p).unwrap();
            (module, PathBuf::from(rel), text)
        })
        .collect()
}

/// The top-level modules a file names through `crate::` (also inside `crate::{…}`).
fn uses(text: &str) -> BTreeSet<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut start) = (0usize, 0usize);
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.insert(ident(group[start..j].trim()));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(ident(group[start..j].trim()));
                        start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found
}

/// Exported macros (`crate::name!`) belong to the module that defines them.
fn macro_homes(files: &[(Option<String>, PathBuf, String)]) -> Vec<(String, String)> {
    let mut homes = Vec::new();
    for (module, _, text) in files {
        let Some(module) = module else { continue };
        for (i, _) in text.match_indices("macro_rules! ") {
            let name: String = text[i + 13..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            homes.push((name, module.clone()));
        }
    }
    homes
}

#[test]
fn modules_depend_only_on_lower_layers() {
    let files = files();
    let homes = macro_homes(&files);
    let mut wrong = Vec::new();
    for (module, path, text) in &files {
        let Some(module) = module else { continue };
        let own = layer(module).unwrap();
        for used in uses(text) {
            let used = homes.iter().find(|(name, _)| *name == used).map_or(used, |(_, home)| home.clone());
            if used == *module || used.is_empty() {
                continue;
            }
            match layer(&used) {
                Some(l) if l < own => {}
                Some(_) => wrong.push(format!("{} ({module}) uses {used}", path.display())),
                None if used == "structure" => {}
                None => wrong.push(format!("{} uses {used}, which has no layer", path.display())),
            }
        }
    }
    assert!(wrong.is_empty(), "uses against the layers:\n{}", wrong.join("\n"));
}

#[test]
fn sql_is_written_under_db_and_analytics_only() {
    let markers = ["sqlx::query", "query_as(", "query_scalar(", "QueryBuilder", "raw_sql("];
    let statements = ["\"SELECT ", "\"INSERT ", "\"UPDATE ", "\"DELETE ", "\"WITH ", "\"CREATE ", "\"ALTER "];
    let mut wrong = Vec::new();
    for (module, path, text) in files() {
        if matches!(module.as_deref(), Some("db" | "analytics")) || path.ends_with("structure.rs") {
            continue;
        }
        for m in markers.iter().chain(&statements) {
            if text.contains(m) {
                wrong.push(format!("{}: {m}", path.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "SQL outside db/ and analytics/:\n{}", wrong.join("\n"));
}

#[test]
fn no_source_file_is_longer_than_600_lines() {
    let long: Vec<String> = files()
        .into_iter()
        .map(|(_, path, text)| (path, text.lines().count()))
        .filter(|(_, n)| *n > MAX_LINES)
        .map(|(path, n)| format!("{}: {n} lines", path.display()))
        .collect();
    assert!(long.is_empty(), "{}", long.join("\n"));
}

#[test]
fn uses_reads_paths_and_groups() {
    let text = "use crate::db::x; use crate::{app::{a, b}, error::E}; fn f() { crate::domain::new_id(); }";
    assert_eq!(uses(text).into_iter().collect::<Vec<_>>(), ["app", "db", "domain", "error"]);
}
