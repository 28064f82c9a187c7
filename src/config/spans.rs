//! Source positions for config errors: an index from key paths (`feed[1].interval`,
//! `digest[0].feeds[2]`) to the byte spans of the key and value in the TOML text, built from
//! toml's spanned document tree, plus byte-offset → line/column conversion.

use std::collections::HashMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

#[derive(Debug, Clone)]
struct Entry {
    key: Option<Range<usize>>,
    value: Range<usize>,
}

/// Key path → spans, for one config text.
#[derive(Debug, Default)]
pub(crate) struct SpanIndex {
    map: HashMap<String, Entry>,
    line_starts: Vec<usize>,
    text: String,
}

impl SpanIndex {
    /// Indexes every key, table and array element of `root`.
    pub(crate) fn build(text: &str, root: &Spanned<DeTable<'_>>) -> SpanIndex {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let mut idx = SpanIndex {
            map: HashMap::new(),
            line_starts,
            text: text.to_string(),
        };
        idx.map.insert(
            String::new(),
            Entry {
                key: None,
                value: root.span(),
            },
        );
        idx.walk_table("", root.get_ref());
        idx
    }

    /// True when `path` names a key, table or array element of the text.
    pub(crate) fn has(&self, path: &str) -> bool {
        self.map.contains_key(path)
    }

    /// An index with line starts only (for texts that did not parse).
    pub(crate) fn lines_only(text: &str) -> SpanIndex {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SpanIndex {
            map: HashMap::new(),
            line_starts,
            text: text.to_string(),
        }
    }

    fn walk_table(&mut self, prefix: &str, table: &DeTable<'_>) {
        for (k, v) in table.iter() {
            let path = join(prefix, k.get_ref());
            self.map.insert(
                path.clone(),
                Entry {
                    key: Some(k.span()),
                    value: v.span(),
                },
            );
            self.walk_value(&path, v);
        }
    }

    fn walk_value(&mut self, path: &str, v: &Spanned<DeValue<'_>>) {
        match v.get_ref() {
            DeValue::Table(t) => self.walk_table(path, t),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    self.map.insert(
                        p.clone(),
                        Entry {
                            key: None,
                            value: item.span(),
                        },
                    );
                    self.walk_value(&p, item);
                }
            }
            _ => {}
        }
    }

    /// Line and column (1-based) for an error about `path`: the key's position when the path
    /// names a key, the value's position for array elements and tables; the nearest indexed
    /// ancestor when the path itself is not in the file (a missing key).
    pub(crate) fn position(&self, path: &str) -> (usize, usize) {
        let mut p = path.to_string();
        loop {
            if let Some(e) = self.map.get(&p) {
                let off = e.key.clone().unwrap_or_else(|| e.value.clone()).start;
                return self.line_col(off);
            }
            match parent(&p) {
                Some(up) => p = up,
                None => return (1, 1),
            }
        }
    }

    /// Line and column of the value at `path` (falls back like [`SpanIndex::position`]).
    pub(crate) fn value_position(&self, path: &str) -> (usize, usize) {
        match self.map.get(path) {
            Some(e) => self.line_col(e.value.start),
            None => self.position(path),
        }
    }

    /// The deepest indexed path whose key sits on `line` (for naming syntax errors).
    pub(crate) fn path_on_line(&self, line: usize) -> Option<String> {
        self.map
            .iter()
            .filter(|(p, e)| {
                !p.is_empty()
                    && e.key
                        .as_ref()
                        .is_some_and(|k| self.line_col(k.start).0 == line)
            })
            .max_by_key(|(p, _)| (p.len(), (*p).clone()))
            .map(|(p, _)| p.clone())
    }

    /// 1-based line and column (column counted in characters) of byte offset `off`.
    pub(crate) fn line_col(&self, off: usize) -> (usize, usize) {
        let off = off.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= off).max(1);
        let start = self.line_starts[line - 1];
        let col = self
            .text
            .get(start..off)
            .map(|s| s.chars().count())
            .unwrap_or(off - start);
        (line, col + 1)
    }
}

/// `prefix.key`, or `key` at the root.
pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The parent of a key path: `a.b[2].c` → `a.b[2]` → `a.b` → `a` → `` → None.
fn parent(path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    if path.ends_with(']')
        && let Some(i) = path.rfind('[')
    {
        return Some(path[..i].to_string());
    }
    Some(
        path.rfind('.')
            .map(|i| path[..i].to_string())
            .unwrap_or_default(),
    )
}
