//! Pure helpers around stories across digests: signatures and continuity ("developing"), the
//! day count of a continuing story, and followed entities. Persistence is the caller's business.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::event::{EventContext, Evidence, NewStory};
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

/// Which earlier story (index into `previous`, none of the `taken` ids) the new story `story`
/// continues, and the evidence: the most similar one whose signature cosine reaches
/// [`CONTINUATION_THRESHOLD`] and that tells the same event ([`EventContext::judge`]) — not just
/// a shared place, a generic event word or the season's topic.
pub fn continuation_of_event(
    story: &NewStory<'_>,
    previous: &[PreviousStory],
    ctx: &EventContext,
    taken: &HashSet<i64>,
) -> Option<(usize, Evidence)> {
    let a: HashMap<&str, f32> = story
        .signature
        .iter()
        .map(|(k, w)| (k.as_str(), *w))
        .collect();
    // each earlier story scored once, the most similar judged first
    let mut similar: Vec<(f32, usize)> = previous
        .iter()
        .enumerate()
        .filter(|(_, p)| !taken.contains(&p.id))
        .filter_map(|(i, p)| {
            let c = cosine(&a, &p.signature)?;
            (c >= CONTINUATION_THRESHOLD).then_some((c, i))
        })
        .collect();
    similar.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    similar.into_iter().find_map(|(_, i)| {
        let evidence = ctx.judge(story, &previous[i]);
        evidence.is_same().then_some((i, evidence))
    })
}

/// The cosine of the signature `a` (as a map) and `b`; `None` when either is empty.
fn cosine(a: &HashMap<&str, f32>, b: &[(String, f32)]) -> Option<f32> {
    let na = a.values().map(|w| w * w).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x.1 * x.1).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        return None;
    }
    let d: f32 = b
        .iter()
        .filter_map(|(k, w)| a.get(k.as_str()).map(|x| x * w))
        .sum();
    Some(d / (na * nb))
}

/// [`continuation_with`] restricted to the `candidates` indices of `previous`.
fn continuation_among(
    sig: &[(String, f32)],
    previous: &[PreviousStory],
    candidates: &[usize],
    threshold: f32,
) -> Option<usize> {
    let a: HashMap<&str, f32> = sig.iter().map(|(k, w)| (k.as_str(), *w)).collect();
    let mut best: Option<(f32, usize)> = None;
    for &i in candidates {
        let Some(cos) = cosine(&a, &previous[i].signature) else {
            continue;
        };
        if cos >= threshold && best.is_none_or(|(b, _)| cos > b) {
            best = Some((cos, i));
        }
    }
    best.map(|b| b.1)
}

/// The day number of a continuing story ("Day N"): 1 on the calendar day it was first reported
/// (`first`), 2 on the next, and so on to the day of its latest reports (`latest`) — counted by
/// the news, not by when digests were built: two builds a minute apart over reports of two days
/// show day 2, two builds over reports of one day stay on day 1. Never less than the number it
/// already had (`previous`: a late feed's older reports do not move it back), and never more
/// than one day further per calendar day between the build that last carried it and this one
/// (`builds_apart`, at least one): a report with no date of its own is dated when it was
/// fetched, and must not turn a replayed archive's story into "Day 2000".
pub fn day_of_story(
    first: jiff::civil::Date,
    latest: jiff::civil::Date,
    previous: u32,
    builds_apart: i64,
) -> u32 {
    let news = first
        .until((jiff::Unit::Day, latest))
        .map_or(0, |span| i64::from(span.get_days()));
    let previous = previous.max(1);
    let step = u32::try_from(builds_apart.max(1)).unwrap_or(u32::MAX);
    let by_news = u32::try_from(news.max(0))
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    by_news.min(previous.saturating_add(step)).max(previous)
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let ctx = EventContext::new(&[article], &crate::stories::Background::new(), &[]);
        let none = HashSet::new();
        let lockdown = sig(&[("e:germany", 0.8), ("t:germany", 0.4), ("t:lockdown", 0.4)]);
        let missile = previous(sig(&[
            ("e:germany", 0.8),
            ("t:germany", 0.4),
            ("t:missile", 0.4),
        ]));
        let story = NewStory {
            headline: "Germany begins its Christmas lockdown",
            signature: &lockdown,
        };
        assert!(continuation(&lockdown, std::slice::from_ref(&missile)).is_some());
        assert_eq!(continuation_of_event(&story, &[missile], &ctx, &none), None);
        let same = previous(sig(&[
            ("e:germany", 0.6),
            ("t:lockdown", 0.5),
            ("t:record", 0.3),
            ("t:shops", 0.3),
        ]));
        let more = sig(&[
            ("e:germany", 0.6),
            ("t:lockdown", 0.5),
            ("t:record", 0.4),
            ("t:shops", 0.3),
        ]);
        let story = NewStory {
            headline: "Germany's lockdown empties shops",
            signature: &more,
        };
        let found = continuation_of_event(&story, std::slice::from_ref(&same), &ctx, &none);
        assert_eq!(found.map(|f| f.0), Some(0));
        let taken = HashSet::from([same.id]);
        assert_eq!(continuation_of_event(&story, &[same], &ctx, &taken), None);
    }

    /// Regression: "Day N" counted calendar days of the build clock, so two builds a minute
    /// apart over reports of two days both said "Day 1".
    #[test]
    fn regression_day_n_counted_build_clock_days() {
        let d = |s: &str| s.parse::<jiff::civil::Date>().expect("date");
        // reports of the next day, whenever the digest is built
        assert_eq!(day_of_story(d("2020-12-15"), d("2020-12-16"), 1, 0), 2);
        // a second build over reports of the same day stays on day 1
        assert_eq!(day_of_story(d("2020-08-19"), d("2020-08-19"), 1, 0), 1);
        // a late feed's older reports do not move a story back
        assert_eq!(day_of_story(d("2020-12-15"), d("2020-12-14"), 3, 1), 3);
        // daily digests for a week
        assert_eq!(day_of_story(d("2020-12-15"), d("2020-12-22"), 7, 1), 8);
        // an undated report fetched years after the story began: one day on, not "Day 2000"
        assert_eq!(day_of_story(d("2020-08-19"), d("2026-12-07"), 1, 0), 2);
    }
}
