//! Locating `../shared` test data for the fetch/feed/normalize/opml tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// A folder under `../shared/data/feeds/` (see [`super::shared::require`] for when it is absent).
#[track_caller]
pub fn feeds_dir(sub: &str) -> Option<PathBuf> {
    super::shared::require(&format!("data/feeds/{sub}"))
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
