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
    let all: Vec<usize> = (0..previous.len()).collect();
    continuation_among(sig, previous, &all, threshold)
}

/// A continuation needs at least this many shared pieces of event evidence (see [`EventContext`]).
pub const MIN_EVENT_EVIDENCE: usize = 2;
/// A key in at least this share of the window's reports is broad context, not event evidence …
pub const BROAD_SHARE: f64 = 0.03;
/// … provided it is in at least this many of them.
pub const BROAD_MIN_REPORTS: u64 = 5;

/// What a signature key means in the window a story was grouped in: a place (an entity tagged as a
/// location, or a word of one), or broad context (an entity or term in much of the window:
/// "Christmas" in December, "Covid-19"), neither of which shows that two stories tell the same
/// event.
#[derive(Debug, Default)]
pub struct EventContext {
    window: super::Background,
    places: std::collections::HashSet<String>,
}

impl EventContext {
    /// The context of the window `articles`.
    pub fn of(articles: &[StoryArticle<'_>]) -> EventContext {
        let mut window = super::Background::new();
        window.add_articles(articles);
        let mut places = std::collections::HashSet::new();
        for a in articles {
            for e in a.entities.iter().filter(|e| e.kind == EntityKind::Location) {
                let k = e.key();
                places.extend(k.split(' ').map(str::to_string));
                places.insert(k);
            }
        }
        EventContext { window, places }
    }

    /// True when `key` (`e:…` or `t:…`) is a place or broad context in this window.
    pub fn is_context(&self, key: &str) -> bool {
        let bare = key.split_once(':').map_or(key, |(_, k)| k);
        if self.places.contains(bare) {
            return true;
        }
        let df = self.window.df(key);
        let docs = self.window.docs();
        df >= BROAD_MIN_REPORTS && df as f64 >= BROAD_SHARE * docs as f64
    }

    /// The distinct pieces of event evidence two signatures share: shared entities that are not
    /// context, and shared terms that are neither context nor a word of a shared entity.
    pub fn shared_evidence(&self, a: &[(String, f32)], b: &[(String, f32)]) -> usize {
        let bk: std::collections::HashSet<&str> = b.iter().map(|(k, _)| k.as_str()).collect();
        let shared: Vec<&str> = a
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| bk.contains(k))
            .collect();
        let entity_words: std::collections::HashSet<&str> = shared
            .iter()
            .filter_map(|k| k.strip_prefix("e:"))
            .flat_map(|k| k.split(' '))
            .collect();
        shared
            .iter()
            .filter(|k| !self.is_context(k))
            .filter(|k| match k.strip_prefix("t:") {
                Some(t) => !entity_words.contains(t),
                None => true,
            })
            .count()
    }
}

/// Which earlier story (index into `previous`) the story with signature `sig` continues: the most
/// similar one whose signature cosine reaches [`CONTINUATION_THRESHOLD`] and that shares at least
/// [`MIN_EVENT_EVIDENCE`] pieces of event evidence with it ([`EventContext::shared_evidence`]) —
/// the same event, not just a shared place or the season's topic.
pub fn continuation_of_event(
    sig: &[(String, f32)],
    previous: &[PreviousStory],
    ctx: &EventContext,
) -> Option<usize> {
    let mut candidates: Vec<usize> = (0..previous.len()).collect();
    while let Some(i) = continuation_among(sig, previous, &candidates, CONTINUATION_THRESHOLD) {
        if ctx.shared_evidence(sig, &previous[i].signature) >= MIN_EVENT_EVIDENCE {
            return Some(i);
        }
        candidates.retain(|&c| c != i);
    }
    None
}

/// [`continuation_with`] restricted to the `candidates` indices of `previous`.
fn continuation_among(
    sig: &[(String, f32)],
    previous: &[PreviousStory],
    candidates: &[usize],
    threshold: f32,
) -> Option<usize> {
    let a: HashMap<&str, f32> = sig.iter().map(|(k, w)| (k.as_str(), *w)).collect();
    let na = a.values().map(|w| w * w).sum::<f32>().sqrt();
    if na == 0.0 {
        return None;
    }
    let mut best: Option<(f32, usize)> = None;
    for &i in candidates {
        let p = &previous[i];
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

/// Rising needs a background of at least this many reports from the week before: with less
/// there is nothing to rise against, and nothing is shown.
pub const RISING_MIN_BACKGROUND: u64 = 50;
/// An entity rises when its share of the window's reports is at least this many times its share
/// of the background week's …
pub const RISING_MIN_LIFT: f64 = 2.0;

/// The entities whose share of this window's reports rose most against the background week.
///
/// `window`: (name, kind, reports mentioning it) per entity (rows with the same folded name add
/// up); `window_reports`: reports in the window; `background`: the stored week before it (its
/// entity document frequencies, [`super::Background`]). An entity needs [`TREND_MIN_COUNT`]
/// reports, a share at least [`RISING_MIN_LIFT`] times its usual one (smoothed by half a report,
/// so an entity new this week can rise) and a binomial z-score of [`TREND_MIN_SCORE`] against
/// it; the ones whose share rose most (in share points) come first. So an entity in a tenth of
/// every day's reports ("United States") never trends for being frequent. Empty when the
/// background has fewer than [`RISING_MIN_BACKGROUND`] reports. `expected` is the reports the
/// window would hold at the usual share; `score` the rise in share (0.05 = five points).
pub fn rising(
    window: &[(String, EntityKind, u32)],
    window_reports: u64,
    background: &super::Background,
    max: usize,
) -> Vec<Trend> {
    let n_b = background.docs();
    if n_b < RISING_MIN_BACKGROUND || window_reports == 0 {
        return Vec::new();
    }
    let mut merged: BTreeMap<String, (u32, u32, &str, EntityKind)> = BTreeMap::new();
    for (name, kind, count) in window {
        let e = merged
            .entry(fold_key(name))
            .or_insert((0, 0, name.as_str(), *kind));
        e.0 += count;
        if *count > e.1 || (*count == e.1 && name.as_str() < e.2) {
            (e.1, e.2, e.3) = (*count, name.as_str(), *kind);
        }
    }
    let n_t = window_reports as f64;
    let mut out: Vec<Trend> = merged
        .into_iter()
        .filter(|(_, v)| v.0 >= TREND_MIN_COUNT)
        .filter_map(|(k, (count, _, name, kind))| {
            let c_b = background.df(&format!("e:{k}")) as f64;
            let p_b = (c_b + 0.5) / (n_b as f64 + 1.0);
            let c_t = f64::from(count).min(n_t);
            let p_t = c_t / n_t;
            let expected = n_t * p_b;
            let z = (c_t - expected) / (expected * (1.0 - p_b)).max(1e-9).sqrt();
            (p_t >= RISING_MIN_LIFT * p_b && z >= TREND_MIN_SCORE).then(|| Trend {
                name: name.to_string(),
                kind,
                count,
                expected,
                score: p_t - p_b,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn background(reports: u64, with: &[(&str, u64)]) -> super::super::Background {
        super::super::Background::from_counts(
            reports,
            with.iter().map(|(k, n)| (format!("e:{}", fold_key(k)), *n)),
        )
    }

    #[test]
    fn rising_is_a_share_that_rose_not_a_frequent_name() {
        let bg = background(
            4000,
            &[
                ("California", 300),
                ("United States", 400),
                ("Boko Haram", 2),
            ],
        );
        let window = vec![
            ("California".to_string(), EntityKind::Location, 39),
            ("United States".to_string(), EntityKind::Location, 37),
            ("Boko Haram".to_string(), EntityKind::Organization, 9),
            ("Kankara".to_string(), EntityKind::Location, 4),
            ("Once".to_string(), EntityKind::Misc, 2),
        ];
        let t = rising(&window, 500, &bg, 5);
        let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, vec!["Boko Haram", "Kankara"], "{t:?}");
        assert!(t[0].expected < 1.0 && t[0].score > 0.0);
    }

    #[test]
    fn nothing_rises_without_a_background_week() {
        let window = vec![("Boko Haram".to_string(), EntityKind::Organization, 9)];
        assert!(rising(&window, 500, &background(10, &[]), 5).is_empty());
    }

    fn sig(keys: &[(&str, f32)]) -> Vec<(String, f32)> {
        keys.iter().map(|(k, w)| (k.to_string(), *w)).collect()
    }

    fn previous(signature: Vec<(String, f32)>) -> PreviousStory {
        PreviousStory {
            id: 1,
            headline: "earlier".into(),
            signature,
            first_seen: 0,
            days: 1,
        }
    }

    #[test]
    fn a_shared_place_alone_does_not_continue_a_story() {
        let germany = crate::model::Entity {
            name: "Germany".into(),
            kind: EntityKind::Location,
            mentions: 1,
            first_offset: 0,
            in_title: true,
            salience: 1.0,
        };
        let entities = [germany];
        let article = StoryArticle {
            id: 0,
            title: "Germany begins its Christmas lockdown",
            text: "",
            outlet: "a",
            url: None,
            published: 0,
            entities: &entities,
            language: None,
        };
        let ctx = EventContext::of(&[article]);
        let lockdown = sig(&[("e:germany", 0.8), ("t:germany", 0.4), ("t:lockdown", 0.4)]);
        let missile = previous(sig(&[
            ("e:germany", 0.8),
            ("t:germany", 0.4),
            ("t:missile", 0.4),
        ]));
        assert!(continuation(&lockdown, std::slice::from_ref(&missile)).is_some());
        assert_eq!(continuation_of_event(&lockdown, &[missile], &ctx), None);
        let same = previous(sig(&[
            ("e:germany", 0.6),
            ("t:lockdown", 0.5),
            ("t:record", 0.3),
        ]));
        let more = sig(&[("e:germany", 0.6), ("t:lockdown", 0.5), ("t:record", 0.4)]);
        assert_eq!(continuation_of_event(&more, &[same], &ctx), Some(0));
    }
}
