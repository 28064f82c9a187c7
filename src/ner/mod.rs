//! Named-entity tagging and linking (PER, ORG, LOC, MISC) for news articles.
//!
//! Owns the tokeniser, the two-stage averaged-perceptron sequence tagger (hashed features,
//! Viterbi decoding with BIO constraints; stage 2 adds document-level features from stage 1's
//! labels), the embedded model and gazetteers, and per-article linking of mentions to canonical
//! entities. Pure: text in, data out; only the train/eval/build functions read files.

// Index loops over the fixed label dimension are the clearest form for this numeric code.
#![allow(clippy::needless_range_loop)]

pub mod clusters;
pub mod corpus;
pub mod eval;
pub mod features;
pub mod gazbuild;
pub mod gazetteer;
pub mod hash;
pub mod link;
pub mod stream;
mod tagger;
pub mod tokenize;
pub mod train;
pub mod words;

use crate::model::{Entity, EntityKind};
use gazetteer::Gazetteer;
pub use tagger::Tagger;

/// Errors of the NER module.
#[derive(Debug, thiserror::Error)]
pub enum NerError {
    #[error("reading {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {msg}")]
    Format {
        path: std::path::PathBuf,
        line: usize,
        msg: String,
    },
    #[error("invalid model file: {0}")]
    Model(String),
    #[error("training: {0}")]
    Train(String),
}

/// A mention found in text: surface form, canonical name, kind and byte range.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Mention {
    pub text: String,
    pub name: String,
    pub kind: EntityKind,
    pub start: usize,
    pub end: usize,
}

/// Entity spans from labels: (first token, end token exclusive, kind).
pub fn spans(labels: &[u8]) -> Vec<(usize, usize, EntityKind)> {
    let kinds = [
        EntityKind::Person,
        EntityKind::Organization,
        EntityKind::Location,
        EntityKind::Misc,
    ];
    let mut out = Vec::new();
    let mut i = 0;
    while i < labels.len() {
        match features::label_type(labels[i]) {
            None => i += 1,
            Some(t) => {
                let mut j = i + 1;
                while j < labels.len() && labels[j] == 2 * t + 2 {
                    j += 1;
                }
                out.push((i, j, kinds[t as usize]));
                i = j;
            }
        }
    }
    out
}

/// Tokenises, tags and links `text`; `title_len` is the byte length of a leading title (0 if none).
fn run(text: &str, title_len: usize) -> (Vec<Mention>, Vec<Entity>) {
    let toks = tokenize::tokenize(text);
    let mut sents = tokenize::split_sentences(text, &toks);
    // the title is one sentence of its own
    if title_len > 0 {
        let split: Vec<_> = sents
            .iter()
            .flat_map(|r| {
                let cut = r
                    .clone()
                    .find(|&i| toks[i].start >= title_len && toks[r.start].start < title_len);
                match cut {
                    Some(c) => vec![r.start..c, c..r.end],
                    None => vec![r.clone()],
                }
            })
            .collect();
        sents = split;
    }
    let strs: Vec<&str> = toks.iter().map(|t| t.text(text)).collect();
    let labels = Tagger::global().tag_tokens(&strs, &sents, title_len > 0);
    let raw: Vec<link::RawMention> = spans(&labels)
        .into_iter()
        .map(|(a, b, kind)| link::RawMention {
            tokens: toks[a..b].to_vec(),
            kind,
        })
        .collect();
    link::link(text, &raw, title_len, Gazetteer::global())
}

/// Tag + link one article. Offsets index into `format!("{title}\n\n{text}")`.
pub fn tag_article(title: &str, text: &str) -> Vec<Entity> {
    let full = format!("{title}\n\n{text}");
    let title_len = if title.trim().is_empty() {
        0
    } else {
        title.len()
    };
    run(&full, title_len).1
}

/// Mentions in free text for the `digestif tag` command, plus the linked entities.
pub fn tag_text(text: &str) -> (Vec<Mention>, Vec<Entity>) {
    run(text, 0)
}

/// Alias lookup used for `follow = ["US", "Putin"]`: canonical display name + kind if the alias
/// tables know it.
pub fn canonical_name(alias: &str) -> Option<(String, EntityKind)> {
    let g = Gazetteer::global();
    let key = crate::model::fold_key(alias);
    if let Some(c) = g.alias(&key) {
        return Some((c.name.clone(), c.kind));
    }
    g.demonym(&key).map(|c| (c.name.clone(), c.kind))
}
