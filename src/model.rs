//! Shared data types that flow between the pipeline stages: articles as normalised at ingest,
//! the entities tagged in them, and the small value types every module agrees on.
//!
//! This module owns no behaviour beyond trivial helpers; it depends on nothing else in the crate.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The kind of a named entity, as in CoNLL-2003 (PER, ORG, LOC, MISC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    Person,
    Organization,
    Location,
    Misc,
}

impl EntityKind {
    /// The lower-case name used in JSON and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Person => "person",
            EntityKind::Organization => "organization",
            EntityKind::Location => "location",
            EntityKind::Misc => "misc",
        }
    }

    /// Parses the lower-case name (or a CoNLL label such as `PER`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "person" | "per" => Some(EntityKind::Person),
            "organization" | "organisation" | "org" => Some(EntityKind::Organization),
            "location" | "loc" => Some(EntityKind::Location),
            "misc" => Some(EntityKind::Misc),
            _ => None,
        }
    }
}

/// One canonical entity found in one article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Canonical display name ("United States", "Vladimir Putin").
    pub name: String,
    pub kind: EntityKind,
    /// Number of mentions in title + text that linked to this entity.
    pub mentions: u32,
    /// Byte offset of the first mention in `title + "\n\n" + text`.
    pub first_offset: usize,
    /// True when the entity is mentioned in the title.
    pub in_title: bool,
    /// 0..=1, how central the entity is to the article.
    pub salience: f32,
}

impl Entity {
    /// The matching key of an entity: its canonical name folded for case and diacritics.
    pub fn key(&self) -> String {
        fold_key(&self.name)
    }
}

/// Folds a name into a matching key: lower case, diacritics removed, whitespace collapsed,
/// dots dropped ("U.S." and "us" meet). Used for entity keys and alias tables.
///
/// ```
/// use digestif::model::fold_key;
/// assert_eq!(fold_key("U.S."), fold_key("US"));
/// assert_eq!(fold_key("  Zoë   Kravitz "), "zoe kravitz");
/// ```
pub fn fold_key(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(s.len());
    let mut last_space = true;
    for c in s.nfkd() {
        if unicode_normalization::char::is_combining_mark(c) || c == '.' {
            continue;
        }
        if c.is_whitespace() || c == '_' {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
            continue;
        }
        let c = match c {
            '\u{2019}' | '\u{2018}' | '`' => '\'',
            '\u{2010}'..='\u{2015}' => '-',
            c => c,
        };
        for l in c.to_lowercase() {
            out.push(l);
        }
        last_space = false;
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// An article after parsing and normalisation, ready to be tagged and stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    /// Our dedupe key: canonical URL, else `guid:<guid>`, else `hash:<sha256 of title+text>`.
    pub key: String,
    /// Name of the feed (from the config) it was first seen in.
    pub feed: String,
    /// Canonical URL, if the entry had a link.
    pub url: Option<String>,
    /// The entry's id/guid as published (not feed-rs's invented one), if any.
    pub guid: Option<String>,
    /// Clean title: entities decoded, whitespace folded, NFC.
    pub title: String,
    /// Plain text of the summary/content.
    pub text: String,
    /// Sanitised HTML excerpt (ammonia), links absolute.
    pub html: String,
    pub author: Option<String>,
    /// Published time in UTC (fallback: updated, then first seen).
    pub published: Timestamp,
    /// ISO 639-1 code when detected with confidence ("en").
    pub language: Option<String>,
    /// Entities tagged at ingest (empty until tagged).
    pub entities: Vec<Entity>,
}
