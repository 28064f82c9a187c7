//! Locating `../shared` test data for the fetch/feed/normalize/opml tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `<crate>/../shared` when it exists, else `$DIGESTIF_SHARED` when set and existing; `None` means
/// the data is absent (tests then print a message and skip).
pub fn shared_dir() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"));
    if p.is_dir() {
        return Some(p);
    }
    let env = std::env::var_os("DIGESTIF_SHARED").map(PathBuf::from)?;
    env.is_dir().then_some(env)
}

/// A folder under `../shared/data/feeds/`, or `None` (with a printed skip message) when absent.
pub fn feeds_dir(sub: &str) -> Option<PathBuf> {
    let d = shared_dir().map(|s| s.join("data/feeds").join(sub));
    match d {
        Some(d) if d.is_dir() => Some(d),
        _ => {
            eprintln!("skipping: ../shared/data/feeds/{sub} is absent");
            None
        }
    }
}

/// All files under `dir`, recursively, sorted.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
