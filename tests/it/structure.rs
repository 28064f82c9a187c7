//! The code's own structure rules, checked on the source text: no function in `src/` is longer than
//! [`MAX_FN_LINES`] lines, unless the line above it says why it may be (`// fn-length: <reason>`,
//! for a hot state machine or a pure lookup table). `scripts/fn-lengths.sh` prints the longest.

use std::path::{Path, PathBuf};

/// The hard rule of the brief: a function that outgrows one screen is split along its phases.
const MAX_FN_LINES: usize = 120;
/// The marker, on the line above a function, that exempts it (followed by the reason).
const EXEMPT: &str = "// fn-length:";
/// Long functions whose split is under way in another issue (file, function); empty since #10
/// split the grouping's and #11 the tagger's. The test fails when one of them is short enough, so
/// this list only shrinks.
const BEING_SPLIT: &[(&str, &str)] = &[];

/// One function found in the source.
#[derive(Debug)]
struct FnSpan {
    file: PathBuf,
    name: String,
    /// 1-based line of `fn`.
    line: usize,
    /// Lines from `fn` to the closing brace, both included.
    lines: usize,
    /// The reason given after [`EXEMPT`], if any.
    exempt: Option<String>,
}

/// Replaces comments, string, byte-string, raw-string and char literals by spaces (newlines
/// kept), so that braces and keywords inside them are not seen.
fn blank_literals(src: &str) -> Vec<u8> {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < b.len() {
        // `br"…"` is a raw string too; any other identifier character before `r` is a name.
        let prev_ident =
            i > 0 && is_ident(b[i - 1]) && !(b[i - 1] == b'b' && (i < 2 || !is_ident(b[i - 2])));
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p);
                blank(&mut out, i, end);
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let (mut depth, mut j) = (1, i + 2);
                while j < b.len() && depth > 0 {
                    if b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
                        depth += 1;
                        j += 1;
                    } else if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
                        depth -= 1;
                        j += 1;
                    }
                    j += 1;
                }
                blank(&mut out, i, j);
                i = j;
            }
            b'r' if !prev_ident && matches!(b.get(i + 1), Some(b'"' | b'#')) => {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                let start = i + 2 + hashes;
                let end = b[start..]
                    .windows(close.len())
                    .position(|w| w == close.as_slice())
                    .map_or(b.len(), |p| start + p + close.len());
                blank(&mut out, i, end);
                i = end;
            }
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                blank(&mut out, i, j + 1);
                i = j + 1;
            }
            b'\'' => {
                // A char literal ('x', '\n', '\u{..}', '{') or a lifetime ('a, 'static).
                let end = if b.get(i + 1) == Some(&b'\\') {
                    b[i + 3..]
                        .iter()
                        .position(|&c| c == b'\'')
                        .map(|p| i + 3 + p)
                } else {
                    let ch_len = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                    (b.get(i + 1 + ch_len) == Some(&b'\'')).then_some(i + 1 + ch_len)
                };
                match end {
                    Some(e) => {
                        blank(&mut out, i, e + 1);
                        i = e + 1;
                    }
                    None => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Every function with a body in `src` (methods and nested functions included).
fn functions(file: &Path, src: &str) -> Vec<FnSpan> {
    let code = blank_literals(src);
    let line_of = |off: usize| code[..off].iter().filter(|&&c| c == b'\n').count() + 1;
    let lines: Vec<&str> = src.lines().collect();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(p) = code[i..].windows(3).position(|w| w == b"fn ") {
        let at = i + p;
        i = at + 3;
        if at > 0 && is_ident(code[at - 1]) {
            continue;
        }
        let name: String = code[i..]
            .iter()
            .skip_while(|c| c.is_ascii_whitespace())
            .take_while(|&&c| is_ident(c))
            .map(|&c| c as char)
            .collect();
        if name.is_empty() {
            continue; // `fn(` pointer types
        }
        // The body opens at the first `{` before any `;` (a declaration without a body) outside
        // brackets (`-> [u8; 4]`).
        let mut nest = 0i32;
        let Some(open) = code[i..]
            .iter()
            .position(|&c| {
                match c {
                    b'(' | b'[' => nest += 1,
                    b')' | b']' => nest -= 1,
                    _ => {}
                }
                nest == 0 && (c == b'{' || c == b';')
            })
            .map(|p| i + p)
            .filter(|&o| code[o] == b'{')
        else {
            continue;
        };
        let mut depth = 0usize;
        let mut close = open;
        for (j, &c) in code.iter().enumerate().skip(open) {
            match c {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = j;
                        break;
                    }
                }
                _ => {}
            }
        }
        let line = line_of(at);
        // The comment and attribute lines right above the function, in order; the reason runs
        // from the marker to the end of its plain `//` comment.
        let above: Vec<&str> = lines[..line - 1]
            .iter()
            .rev()
            .map(|l| l.trim())
            .take_while(|l| l.starts_with("//") || l.starts_with("#["))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let exempt = above.iter().position(|l| l.starts_with(EXEMPT)).map(|i| {
            let first = above[i][EXEMPT.len()..].trim();
            let rest = above[i + 1..]
                .iter()
                .take_while(|l| l.starts_with("//") && !l.starts_with("///"))
                .map(|l| l.trim_start_matches('/').trim());
            std::iter::once(first)
                .chain(rest)
                .collect::<Vec<_>>()
                .join(" ")
        });
        found.push(FnSpan {
            file: file.to_path_buf(),
            name,
            line,
            lines: line_of(close) - line + 1,
            exempt,
        });
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn all_functions() -> Vec<FnSpan> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut all = Vec::new();
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let rel = f.strip_prefix(root).unwrap_or(&f);
        all.extend(functions(rel, &src));
    }
    all.sort_by(|a, b| b.lines.cmp(&a.lines).then(a.file.cmp(&b.file)));
    all
}

#[test]
fn no_function_in_src_is_longer_than_120_lines() {
    let all = all_functions();
    assert!(
        all.len() > 100,
        "the scan found only {} functions",
        all.len()
    );
    // `DIGESTIF_FN_LENGTHS=N` prints the N longest (scripts/fn-lengths.sh).
    let show: usize = std::env::var("DIGESTIF_FN_LENGTHS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for f in all.iter().take(show) {
        println!(
            "{:>5}  {}:{} {}{}",
            f.lines,
            f.file.display(),
            f.line,
            f.name,
            f.exempt
                .as_ref()
                .map(|r| format!("  (exempt: {r})"))
                .unwrap_or_default()
        );
    }
    let being_split = |f: &FnSpan| {
        BEING_SPLIT
            .iter()
            .any(|(file, name)| f.file == Path::new(file) && f.name == *name)
    };
    let too_long: Vec<String> = all
        .iter()
        .filter(|f| f.lines > MAX_FN_LINES && !being_split(f))
        .filter(|f| f.exempt.as_ref().is_none_or(|r| r.is_empty()))
        .map(|f| {
            format!(
                "{}:{} {} ({} lines)",
                f.file.display(),
                f.line,
                f.name,
                f.lines
            )
        })
        .collect();
    let split_already: Vec<String> = BEING_SPLIT
        .iter()
        .filter(|(file, name)| {
            !all.iter()
                .any(|f| f.file == Path::new(file) && f.name == *name && f.lines > MAX_FN_LINES)
        })
        .map(|(file, name)| format!("{file} {name}"))
        .collect();
    assert!(
        split_already.is_empty(),
        "no longer too long, remove from BEING_SPLIT: {split_already:?}"
    );
    assert!(
        too_long.is_empty(),
        "functions longer than {MAX_FN_LINES} lines (split them along their phases, or say why \
         not with `{EXEMPT} <reason>` above them):\n{}",
        too_long.join("\n")
    );
}

#[test]
fn fn_length_scan_skips_literals_and_comments() {
    let src = "fn a() {\n    let s = \"}{ fn x() {\";\n    let c = '}';\n    let q = '\\'';\n    let b = br\"}\";\n    // }\n    /* { */\n    let r = r#\"}\"#;\n}\n\nfn b<'x>(v: &'x str) -> &'x str {\n    v\n}\ntrait T { fn d(&self); }\nfn e() -> [u8; 2] { [0; 2] }\n";
    let fns = functions(Path::new("x.rs"), src);
    let got: Vec<(&str, usize, usize)> = fns
        .iter()
        .map(|f| (f.name.as_str(), f.line, f.lines))
        .collect();
    assert_eq!(got, vec![("a", 1, 9), ("b", 11, 3), ("e", 15, 1)]);
}
