//! Test fixtures for the stories tests: owned articles with hand-made entities, turned into
//! `StoryArticle`s.

use digestif::model::{Entity, EntityKind};
use digestif::stories::StoryArticle;

/// An article owned by the test.
pub struct Owned {
    pub title: String,
    pub text: String,
    pub outlet: String,
    pub published: i64,
    pub entities: Vec<Entity>,
    /// Detected language (ISO 639-1), `None` when not detected.
    pub language: Option<String>,
}

/// 2024-03-01T08:00:00Z.
pub const T0: i64 = 1_709_280_000;
pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;

/// An entity; `in_title` entities get a high salience.
pub fn ent(name: &str, kind: EntityKind, in_title: bool) -> Entity {
    Entity {
        name: name.to_string(),
        kind,
        mentions: if in_title { 2 } else { 1 },
        first_offset: 0,
        in_title,
        salience: if in_title { 0.9 } else { 0.4 },
    }
}

pub fn art(title: &str, text: &str, outlet: &str, published: i64, entities: Vec<Entity>) -> Owned {
    Owned {
        title: title.to_string(),
        text: text.to_string(),
        outlet: outlet.to_string(),
        published,
        entities,
        language: None,
    }
}

/// Borrows the owned articles, with ids = positions.
pub fn view(owned: &[Owned]) -> Vec<StoryArticle<'_>> {
    owned
        .iter()
        .enumerate()
        .map(|(id, o)| StoryArticle {
            id,
            title: &o.title,
            text: &o.text,
            outlet: &o.outlet,
            url: None,
            published: o.published,
            entities: &o.entities,
            language: o.language.as_deref(),
        })
        .collect()
}
