//! Pure helpers around stories: signatures and continuity across days, followed entities, and
//! trending entities. Persistence is the caller's business.

use std::collections::{BTreeMap, HashMap};

use super::{Story, StoryArticle};
use crate::model::{Entity, EntityKind, fold_key};

/// A story from an earlier digest, as stored by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousStory {
    pub id: i64,
    pub headline: String,
    /// As returned by [`signature`] when the story was first grouped.
    pub signature: Vec<(String, f32)>,
    /// Unix seconds of the first digest that carried it.
    pub first_seen: i64,
    /// On how many days it has appeared so far.
    pub days: u32,
}

/// The entity/term weights to persist for a story (namespaced keys `e:<entity key>` and
/// `t:<term>`, L2-normalised, heaviest first, at most 24).
pub fn signature(story: &Story, _articles: &[StoryArticle]) -> Vec<(String, f32)> {
    story.signature.clone()
}

/// Minimum signature cosine for a new story to continue an earlier one.
pub const CONTINUATION_THRESHOLD: f32 = 0.3;

/// Which earlier story (index into `previous`) the story with signature `sig` continues, if any:
/// the most similar one whose signature cosine reaches [`CONTINUATION_THRESHOLD`].
pub fn continuation(sig: &[(String, f32)], previous: &[PreviousStory]) -> Option<usize> {
    continuation_with(sig, previous, CONTINUATION_THRESHOLD)
}

/// [`continuation`] with an explicit threshold.
pub fn continuation_with(
    sig: &[(String, f32)],
    previous: &[PreviousStory],
    threshold: f32,
) -> Option<usize> {
    let a: HashMap<&str, f32> = sig.iter().map(|(k, w)| (k.as_str(), *w)).collect();
    let na = a.values().map(|w| w * w).sum::<f32>().sqrt();
    if na == 0.0 {
        return None;
    }
    let mut best: Option<(f32, usize)> = None;
    for (i, p) in previous.iter().enumerate() {
        let nb = p.signature.iter().map(|x| x.1 * x.1).sum::<f32>().sqrt();
        if nb == 0.0 {
            continue;
        }
        let d: f32 = p
            .signature
            .iter()
            .filter_map(|(k, w)| a.get(k.as_str()).map(|x| x * w))
            .sum();
        let cos = d / (na * nb);
        if cos >= threshold && best.is_none_or(|(b, _)| cos > b) {
            best = Some((cos, i));
        }
    }
    best.map(|b| b.1)
}

/// The alias key of a name: the tagger's canonical name if its alias tables know the name,
/// folded.
fn alias_key(name: &str) -> String {
    match crate::ner::canonical_name(name) {
        Some((canonical, _)) => fold_key(&canonical),
        None => fold_key(name),
    }
}

/// Which of the followed names (`follow`, returned in their given order) a story involves: a
/// followed name matches an entity of the story or of any of its articles when their alias keys
/// agree (case, diacritics, dots and known aliases folded: "DPRK" meets "North Korea" through the
/// tagger's canonical names), or, for people, when one name is the other's surname
/// ("Putin" and "Vladimir Putin").
pub fn follows(
    story_entities: &[(String, EntityKind)],
    article_entities: &[&[Entity]],
    follow: &[String],
) -> Vec<String> {
    let mut keys: BTreeMap<String, bool> = BTreeMap::new(); // key -> is a person
    for (n, k) in story_entities {
        *keys.entry(alias_key(n)).or_insert(false) |= *k == EntityKind::Person;
        *keys.entry(fold_key(n)).or_insert(false) |= *k == EntityKind::Person;
    }
    for es in article_entities {
        for e in es.iter() {
            *keys.entry(alias_key(&e.name)).or_insert(false) |= e.kind == EntityKind::Person;
            *keys.entry(e.key()).or_insert(false) |= e.kind == EntityKind::Person;
        }
    }
    let last_word = |k: &str| k.rsplit(' ').next().unwrap_or("").to_string();
    follow
        .iter()
        .filter(|f| {
            let fk = alias_key(f);
            let fk2 = fold_key(f);
            keys.iter().any(|(k, &person)| {
                *k == fk
                    || *k == fk2
                    || (person
                        && k.len() > 2
                        && ((fk2.contains(' ') && !k.contains(' ') && last_word(&fk2) == *k)
                            || (k.contains(' ') && !fk2.contains(' ') && last_word(k) == fk2)))
            })
        })
        .cloned()
        .collect()
}

/// An entity mentioned much more than usual.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    pub name: String,
    pub kind: EntityKind,
    /// Mentions in this window.
    pub count: u32,
    /// Smoothed usual mentions per window.
    pub expected: f64,
    /// Poisson z-score `(count - expected) / sqrt(max(expected, 1))`.
    pub score: f64,
}

/// Minimum mentions in the window for an entity to trend.
pub const TREND_MIN_COUNT: u32 = 3;
/// Minimum z-score to trend.
pub const TREND_MIN_SCORE: f64 = 2.0;

/// The entities whose mentions in this window (one day) most exceed their usual rate.
///
/// `window`: (name, kind, mentions) per entity (rows with the same folded name add up);
/// `history_per_day`: mean mentions per day over the history, keyed by folded entity key
/// ([`fold_key`]); `history_days`: how many days that history covers. The usual rate is smoothed
/// with one pseudo-day of one mention, so that a short history does not make everything trend;
/// an entity needs at least [`TREND_MIN_COUNT`] mentions and a z-score of [`TREND_MIN_SCORE`].
/// At most `max` trends, highest score first.
pub fn trending(
    window: &[(String, EntityKind, u32)],
    history_per_day: &HashMap<String, f64>,
    history_days: f64,
    max: usize,
) -> Vec<Trend> {
    // key -> (count, best row's (count, name, kind))
    let mut merged: BTreeMap<String, (u32, u32, &str, EntityKind)> = BTreeMap::new();
    for (name, kind, count) in window {
        let k = fold_key(name);
        let e = merged.entry(k).or_insert((0, 0, name.as_str(), *kind));
        e.0 += count;
        if *count > e.1 || (*count == e.1 && name.as_str() < e.2) {
            e.1 = *count;
            e.2 = name.as_str();
            e.3 = *kind;
        }
    }
    let days = history_days.max(0.0);
    let mut out: Vec<Trend> = merged
        .into_iter()
        .filter(|(_, v)| v.0 >= TREND_MIN_COUNT)
        .filter_map(|(k, (count, _, name, kind))| {
            let rate = history_per_day.get(&k).copied().unwrap_or(0.0).max(0.0);
            let expected = (rate * days + 1.0) / (days + 1.0);
            let score = (count as f64 - expected) / expected.max(1.0).sqrt();
            (score >= TREND_MIN_SCORE).then(|| Trend {
                name: name.to_string(),
                kind,
                count,
                expected,
                score,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.name.cmp(&b.name))
    });
    out.truncate(max);
    out
}
