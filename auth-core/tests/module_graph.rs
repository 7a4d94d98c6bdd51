//! The module dependency picture of auth-core, and its two rules.
//!
//! `cargo test -p auth-core --test module_graph -- --nocapture` prints one line per top-level
//! module (`module -> dep1, dep2`), then the modules inside `token/`. A dependency is any
//! `crate::x` or `super::` path that leads into another module, in a `use` (grouped and
//! multi-line ones too) or inline in code. Comments, strings, files named `tests.rs`,
//! `*_tests.rs` or `conformance.rs` and `#[cfg(test)] mod x { .. }` blocks do not count: tests may import anything.
//!
//! The rules: no cycle between top-level modules (cycles among `token/`'s own files are
//! allowed), and `store` is imported only from above it: see [`MAY_IMPORT_STORE`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

/// The only modules that may import `store`: the services over its traits (`flows`, and
/// `session` and `throttle`, whose checks read and write through `RevocationStore` and
/// `ThrottleStore`). Everything `store` speaks of (`id`, `event`, `mfa`, `refresh`, `error`,
/// ...) and everything else (`token`, `password`, `clock`) sits below it and must not import
/// it. `crate` is `lib.rs`.
const MAY_IMPORT_STORE: &[&str] = &["crate", "store", "flows", "session", "throttle"];

/// Files that are tests as a whole (besides those named `*_tests.rs`).
const TEST_FILES: &[&str] = &["tests.rs", "conformance.rs"];

/// node -> dependency -> where it is seen (`file:line`, the first per file).
type Graph = BTreeMap<String, BTreeMap<String, Vec<String>>>;

#[test]
fn the_module_graph_is_printed_for_anyone_to_read() {
    let (top, token) = graphs();
    let mut out = String::from("auth-core modules (`crate` is lib.rs):\n");
    out += &render(&top);
    out += "\ninside token/ (cycles here are allowed):\n";
    out += &render(&token);
    for cycle in cycles(&token) {
        out += &format!("  cycle: {cycle}\n");
    }
    out += "\nrule checks:\n";
    let mut problems: Vec<String> = cycles(&top).iter().map(|c| format!("cycle: {c}")).collect();
    problems.extend(store_importers(&top));
    for problem in &problems {
        out += &format!("  VIOLATION {problem}\n");
    }
    if problems.is_empty() {
        out += "  ok: no cycle between top-level modules; only MAY_IMPORT_STORE import store\n";
    }
    print!("{out}");
}

#[test]
fn no_two_top_level_modules_depend_on_each_other_through_a_cycle() {
    let found = cycles(&graphs().0);
    assert!(
        found.is_empty(),
        "cycles between top-level modules:\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn only_the_modules_above_store_import_it() {
    let found = store_importers(&graphs().0);
    assert!(
        found.is_empty(),
        "modules below `store` import it:\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn the_scanner_sees_the_imports_that_are_known_to_exist() {
    let top = graphs().0;
    let seen = ["error", "store", "token"]
        .iter()
        .all(|m| top["flows"].contains_key(*m));
    assert!(
        seen && top.len() >= 10,
        "flows uses error, store and token: {top:?}"
    );
}

#[test]
fn grouped_multi_line_use_trees_expand_to_one_path_each() {
    let tree = "crate::{\n a, b::{c, d as e}, f::g::*,\n}";
    assert_eq!(
        expand(tree),
        ["crate::a", "crate::b::c", "crate::b::d", "crate::f::g"]
    );
}

#[test]
fn comments_strings_and_test_blocks_never_count_as_imports() {
    let src = "// crate::a\nlet s = \"crate::b\"; let r = r#\"crate::c\"#; let q = '\"';\n\
               #[cfg(test)]\nmod tests { use crate::d; }\nuse crate::e;";
    let code = drop_test_modules(&code_only(src));
    let found: BTreeSet<String> = paths(&code, &[])
        .into_iter()
        .map(|(_, p)| p.join("::"))
        .collect();
    assert_eq!(found, BTreeSet::from(["crate::e".to_string()]));
}

/// The top-level graph and the graph of `token/`'s files.
fn graphs() -> (Graph, Graph) {
    // Where the sources are now (cargo and nextest set it when they run a test), not where
    // they were when the test was built: a target directory shared by clones at other paths
    // may hold a test built from another one.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || env!("CARGO_MANIFEST_DIR").into(),
        std::path::PathBuf::from,
    );
    let root = manifest_dir.join("src");
    let files = rust_files(&root);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(f)).collect();
    let mut reexports = BTreeMap::new(); // `crate::Error` is `error::Error`, through lib.rs
    let mut found = Vec::new();
    for file in &files {
        let code = drop_test_modules(&code_only(
            &std::fs::read_to_string(root.join(file)).expect("read"),
        ));
        let here = module_of(file);
        let children: Vec<&str> = modules
            .iter()
            .filter(|m| m.len() == here.len() + 1 && m.starts_with(&here))
            .map(|m| m[here.len()].as_str())
            .collect();
        for (offset, path) in paths(&code, &children) {
            let Some(target) = resolve(&path, &here, &modules) else {
                continue;
            };
            if here.is_empty() && target.len() > 1 {
                reexports.insert(target[target.len() - 1].clone(), target[0].clone());
            }
            let line = code[..offset].matches('\n').count() + 1;
            found.push((here.clone(), target, format!("{}:{line}", file.display())));
        }
    }
    let node = |path: &[String]| -> String {
        match path.first() {
            None => "crate".into(),
            Some(top) if top == "token" && path.len() > 1 && modules.contains(&path[..2]) => {
                format!("token::{}", path[1])
            }
            Some(top) if modules.iter().any(|m| m.first() == Some(top)) => top.clone(),
            Some(item) => reexports
                .get(item)
                .cloned()
                .unwrap_or_else(|| "crate".into()),
        }
    };
    let (mut top, mut token) = (Graph::new(), Graph::new());
    for module in &modules {
        let name = node(module);
        top.entry(name.split("::").next().unwrap_or_default().to_string())
            .or_default();
        if name.starts_with("token") {
            token.entry(name).or_default();
        }
    }
    for (from, to, at) in found {
        let (from, to) = (node(&from), node(&to));
        if from.starts_with("token") && to.starts_with("token") {
            add(&mut token, &from, &to, &at);
        }
        let level = |n: &str| n.split("::").next().unwrap_or_default().to_string();
        add(&mut top, &level(&from), &level(&to), &at);
    }
    (top, token)
}

fn add(graph: &mut Graph, from: &str, to: &str, at: &str) {
    let seen = graph.entry(from.into()).or_default();
    if from != to {
        let places = seen.entry(to.into()).or_default();
        let file = at.split(':').next();
        if !places.iter().any(|p| p.split(':').next() == file) {
            places.push(at.into());
        }
    }
}

/// Every `.rs` file under `dir`, relative to it, except whole-file tests.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        for entry in std::fs::read_dir(dir.join(&rel)).expect("read src") {
            let path = rel.join(entry.expect("dir entry").file_name());
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if dir.join(&path).is_dir() {
                todo.push(path);
            } else if name.ends_with(".rs")
                && !TEST_FILES.contains(&name)
                && !name.ends_with("_tests.rs")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// `store/postgres/users.rs` -> [store, postgres, users]; `token/mod.rs` -> [token]; `lib.rs` -> [].
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The path from the crate root that `path`, written in module `here`, names; `None` outside the crate.
fn resolve(
    path: &[String],
    here: &[String],
    modules: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let mut base = here.to_vec();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &path[1..];
        }
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        Some("self") => rest = &path[1..],
        Some(child) if modules.contains(&[here, &[child.to_string()]].concat()) => {}
        _ => return None,
    }
    Some([base, rest.to_vec()].concat())
}

/// Every path in a `use` (expanded) and every inline path that starts with `crate::`, `super::`
/// or one of `children::` (the modules declared in this file), with its offset.
fn paths(code: &str, children: &[&str]) -> Vec<(usize, Vec<String>)> {
    let split = |p: &str| p.split("::").map(str::to_string).collect::<Vec<_>>();
    let mut out = Vec::new();
    for (at, _) in words(code, "use") {
        let tree = &code[at + 3..code[at..].find(';').map_or(code.len(), |end| at + end)];
        out.extend(expand(tree).iter().map(|p| (at, split(p))));
    }
    for (at, word) in ["crate", "super"]
        .iter()
        .chain(children)
        .flat_map(|w| words(code, w))
    {
        if code[..at].trim_end().ends_with("::") {
            continue; // the second `super` of `super::super`, or the middle of a longer path
        }
        let tail = &code[at..];
        let end = tail
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        let path = tail[..end].trim_end_matches(':');
        if path.len() > word.len() {
            out.push((at, split(path)));
        }
    }
    out
}

/// Offsets where `word` stands as a whole word.
fn words<'a>(code: &str, word: &'a str) -> Vec<(usize, &'a str)> {
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    code.match_indices(word)
        .filter(|(at, _)| {
            !ident(code[..*at].chars().next_back())
                && !ident(code[at + word.len()..].chars().next())
        })
        .map(|(at, _)| (at, word))
        .collect()
}

/// `a::{b, c::{d as e, *}}` -> `a::b`, `a::c::d`, `a::c` (a glob names its module).
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let tree = tree.trim().trim_start_matches("::");
    let Some(open) = tree.find('{') else {
        let path = tree
            .split(" as ")
            .next()
            .unwrap_or_default()
            .trim_end_matches("::*");
        return if path.is_empty() {
            vec![]
        } else {
            vec![path.replace(' ', "")]
        };
    };
    let prefix = tree[..open].trim().trim_end_matches("::");
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
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
    let join = |p: String| match p.as_str() {
        "self" => prefix.to_string(),
        _ if prefix.is_empty() => p,
        _ => format!("{prefix}::{p}"),
    };
    parts
        .into_iter()
        .flat_map(expand)
        .map(join)
        .filter(|p| !p.is_empty())
        .collect()
}

/// The code with comments and string and char literals blanked: offsets and lines stay.
fn code_only(src: &str) -> String {
    let (b, mut out, mut i) = (src.as_bytes(), src.as_bytes().to_vec(), 0);
    while i < b.len() {
        let ident_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        let raw = [b"br".as_slice(), b"r"]
            .iter()
            .find(|p| b[i..].starts_with(p))
            .map_or(0, |p| p.len());
        let hashes = b[i + raw..].iter().take_while(|&&c| c == b'#').count();
        let end = if b[i..].starts_with(b"//") {
            after(b, i, b"\n")
        } else if b[i..].starts_with(b"/*") {
            after(b, i + 2, b"*/")
        } else if raw > 0 && !ident_before && b.get(i + raw + hashes) == Some(&b'"') {
            let close = format!("\"{}", "#".repeat(hashes));
            after(b, i + raw + hashes + 1, close.as_bytes())
        } else if b[i] == b'"' {
            let mut k = i + 1;
            while k < b.len() && b[k] != b'"' {
                k += if b[k] == b'\\' { 2 } else { 1 };
            }
            k + 1
        } else if b[i..].starts_with(b"'\\") {
            after(b, i + 3, b"'")
        } else if b.get(i + 2) == Some(&b'\'') && b[i] == b'\'' {
            i + 3 // 'x', not a lifetime
        } else {
            i += 1;
            continue;
        };
        i = blank(&mut out, i, end);
    }
    String::from_utf8(out).expect("only ASCII bytes were blanked")
}

/// The offset just after the first `needle` at or after `from` (the end if none).
fn after(b: &[u8], from: usize, needle: &[u8]) -> usize {
    let from = from.min(b.len());
    b[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map_or(b.len(), |k| from + k + needle.len())
}

/// Blanks `out[from..to]` but its newlines; returns where it stopped.
fn blank(out: &mut [u8], from: usize, to: usize) -> usize {
    let to = to.min(out.len());
    out[from..to]
        .iter_mut()
        .filter(|c| **c != b'\n')
        .for_each(|c| *c = b' ');
    to
}

/// `code` with every `#[cfg(test)] mod x { .. }` (or `cfg(all(test, ..))`) blanked.
fn drop_test_modules(code: &str) -> String {
    let mut out = code.as_bytes().to_vec();
    for (at, _) in code.match_indices("#[cfg(") {
        let close = after(code.as_bytes(), at, b"]");
        let cond = code[at + 6..close - 1].replace(' ', "");
        let is_test =
            cond == "test)" || (cond.starts_with("all(") && !words(&cond, "test").is_empty());
        let mut item = code[close..].trim_start();
        while item.starts_with("#[") {
            item = item[item.find(']').map_or(item.len(), |k| k + 1)..].trim_start(); // more attributes
        }
        let header = item.split(['{', ';']).next().unwrap_or_default();
        if !is_test || !item.starts_with("mod ") || !item[header.len()..].starts_with('{') {
            continue; // `mod tests;` is a file of its own: see TEST_FILES
        }
        let (mut depth, open) = (0, code.len() - item.len() + header.len());
        let end = code[open..].find(|c| {
            depth += match c {
                '{' => 1,
                '}' => -1,
                _ => 0,
            };
            depth == 0
        });
        blank(&mut out, at, end.map_or(code.len(), |k| open + k + 1));
    }
    String::from_utf8(out).expect("only ASCII bytes were blanked")
}

fn render(graph: &Graph) -> String {
    let mut out = String::new();
    for (node, deps) in graph {
        let deps: Vec<&str> = deps.keys().map(String::as_str).collect();
        let deps = if deps.is_empty() {
            "(none)".to_string()
        } else {
            deps.join(", ")
        };
        out += &format!("{node} -> {deps}\n");
    }
    out
}

/// One cycle per edge that closes one, shortest first, each as `a -> b -> a` with where each step is seen.
fn cycles(graph: &Graph) -> Vec<String> {
    let mut found = BTreeSet::new();
    for (from, deps) in graph {
        for to in deps.keys() {
            let Some(mut back) = shortest_path(graph, to, from) else {
                continue;
            };
            back.insert(0, from.clone());
            let start = (0..back.len() - 1).min_by_key(|&k| &back[k]).unwrap_or(0);
            let ring: Vec<String> = back[start..back.len() - 1]
                .iter()
                .chain(&back[..=start])
                .cloned()
                .collect();
            found.insert(ring);
        }
    }
    found
        .into_iter()
        .map(|ring| {
            let steps: Vec<String> = ring
                .windows(2)
                .map(|w| format!("{} ({})", w[1], graph[&w[0]][&w[1]].join(", ")))
                .collect();
            format!("{} -> {}", ring[0], steps.join(" -> "))
        })
        .collect()
}

fn shortest_path(graph: &Graph, from: &str, to: &str) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    while let Some(node) = queue.pop_front() {
        if node == to {
            let mut path = vec![to.to_string()];
            while let Some(&prev) = came_from.get(path[0].as_str()) {
                path.insert(0, prev.to_string());
            }
            return Some(path);
        }
        for next in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
            if next != from && !came_from.contains_key(next.as_str()) {
                came_from.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    None
}

fn store_importers(graph: &Graph) -> Vec<String> {
    graph
        .iter()
        .filter(|(node, deps)| {
            !MAY_IMPORT_STORE.contains(&node.as_str()) && deps.contains_key("store")
        })
        .map(|(node, deps)| format!("{node} imports store at {}", deps["store"].join(", ")))
        .collect()
}
