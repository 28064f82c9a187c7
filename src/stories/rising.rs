//! Trending entities: the names whose share of this window's reports rose most against the
//! background week, one per entity however it is written ("Covid-19" and "Covid", "Joe Biden"
//! and "Biden" are one name). Pure: the caller supplies the window and the background.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{Background, StoryArticle};
use crate::model::{EntityKind, fold_key};

/// An entity mentioned in a larger share of reports than usual.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    /// How the window writes it most often.
    pub name: String,
    pub kind: EntityKind,
    /// Reports of the window mentioning it (under any of its names).
    pub count: u32,
    /// Reports the window would hold at its background share.
    pub expected: f64,
    /// The rise in share (0.05 = five points).
    pub score: f64,
}

/// Minimum reports in the window for an entity to trend.
pub const TREND_MIN_COUNT: u32 = 3;
/// Minimum outlets among those reports: one outlet's programme or column ("TV Patrol") is its
/// own business, not a name the news is talking about.
pub const TREND_MIN_OUTLETS: usize = 2;
/// Minimum binomial z-score to trend.
pub const TREND_MIN_SCORE: f64 = 2.0;
/// Rising needs a background of at least this many reports from the week before: with less
/// there is nothing to rise against, and nothing is shown ([`enough_history`]).
pub const RISING_MIN_BACKGROUND: u64 = 50;
/// An entity rises when its share of the window's reports is at least this many times its share
/// of the background week's.
pub const RISING_MIN_LIFT: f64 = 2.0;

/// True when `background` holds enough reports ([`RISING_MIN_BACKGROUND`]) for [`rising`] to say
/// anything: a fresh state has none, and its digest says so instead of listing nothing silently.
pub fn enough_history(background: &Background) -> bool {
    background.docs() >= RISING_MIN_BACKGROUND
}

/// The key under which a name trends: the tagger's canonical name when its alias tables know
/// the name, folded ([`fold_key`]), without number-only words when a word with letters remains
/// ("Covid-19", "COVID 19" and "Covid" are one key; "G7" keeps its digit).
pub fn trend_key(name: &str) -> String {
    let folded = match crate::ner::canonical_name(name) {
        Some((canonical, _)) => fold_key(&canonical),
        None => fold_key(name),
    };
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let lettered: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    if lettered.is_empty() {
        words.join(" ")
    } else {
        lettered.join(" ")
    }
}

/// Per trend key of the window: the person keys whose one word is the surname of exactly one
/// multi-word person key of the window map to it ("biden" to "joe biden").
fn surnames(keys: &HashMap<String, EntityKind>) -> HashMap<String, String> {
    let mut by_last: HashMap<&str, Vec<&str>> = HashMap::new();
    for (k, kind) in keys {
        if *kind == EntityKind::Person
            && let Some((_, last)) = k.rsplit_once(' ')
        {
            by_last.entry(last).or_default().push(k);
        }
    }
    keys.iter()
        .filter(|(k, _)| !k.contains(' ') && k.len() > 2)
        .filter_map(|(k, _)| match by_last.get(k.as_str()).map(Vec::as_slice) {
            Some([full]) => Some((k.clone(), full.to_string())),
            _ => None,
        })
        .collect()
}

/// One entity of the window under its trend key: reports mentioning it, and per written form
/// the reports that write it so (the display name is the most common form).
#[derive(Default)]
struct Mentions<'a> {
    reports: u32,
    outlets: HashSet<&'a str>,
    forms: BTreeMap<String, (u32, EntityKind)>,
}

/// The window's entities by trend key, each report counted once per key.
fn window_mentions<'a>(
    window: &[StoryArticle<'a>],
) -> (HashMap<String, String>, BTreeMap<String, Mentions<'a>>) {
    let mut kinds: HashMap<String, EntityKind> = HashMap::new();
    for a in window {
        for e in a.entities {
            let k = trend_key(&e.name);
            let kind = kinds.entry(k).or_insert(e.kind);
            if e.kind == EntityKind::Person {
                *kind = EntityKind::Person;
            }
        }
    }
    let merge = surnames(&kinds);
    let key_of = |name: &str| {
        let k = trend_key(name);
        merge.get(&k).cloned().unwrap_or(k)
    };
    let mut out: BTreeMap<String, Mentions> = BTreeMap::new();
    for a in window {
        let mut seen = HashSet::new();
        for e in a.entities {
            let k = key_of(&e.name);
            let m = out.entry(k.clone()).or_default();
            if seen.insert(k) {
                m.reports += 1;
                m.outlets.insert(a.outlet);
            }
            let form = m.forms.entry(e.name.clone()).or_insert((0, e.kind));
            form.0 += 1;
        }
    }
    (merge, out)
}

/// The entities whose share of this window's reports rose most against the background week.
///
/// An entity (under its [`trend_key`], so "Covid-19" and "Covid" count as one, and a surname
/// with the one full name of the window that ends in it) needs [`TREND_MIN_COUNT`] reports, a
/// share at least [`RISING_MIN_LIFT`] times its background share (smoothed by half a report, so
/// an entity new this week can rise) and a binomial z-score of [`TREND_MIN_SCORE`] against it;
/// the ones whose share rose most (in share points) come first, at most `max`. So an entity in a
/// tenth of every day's reports ("United States") never trends for being frequent. Empty
/// without [`enough_history`].
pub fn rising(window: &[StoryArticle<'_>], background: &Background, max: usize) -> Vec<Trend> {
    if !enough_history(background) || window.is_empty() {
        return Vec::new();
    }
    let (merge, mentions) = window_mentions(window);
    // background reports per trend key of the window (the forms' counts add up: a report that
    // writes both is counted twice, which only makes a rise harder)
    let mut usual: HashMap<&str, u64> = HashMap::new();
    for (key, n) in background.counts() {
        let Some(name) = key.strip_prefix("e:") else {
            continue;
        };
        let k = trend_key(name);
        let k = merge.get(&k).cloned().unwrap_or(k);
        if let Some((k, _)) = mentions.get_key_value(&k) {
            *usual.entry(k.as_str()).or_insert(0) += n;
        }
    }
    let n_b = background.docs() as f64;
    let n_t = window.len() as f64;
    let mut out: Vec<Trend> = mentions
        .iter()
        .filter(|(_, m)| m.reports >= TREND_MIN_COUNT && m.outlets.len() >= TREND_MIN_OUTLETS)
        .filter_map(|(k, m)| {
            let p_b = (usual.get(k.as_str()).copied().unwrap_or(0) as f64 + 0.5) / (n_b + 1.0);
            let c_t = f64::from(m.reports).min(n_t);
            let p_t = c_t / n_t;
            let expected = n_t * p_b;
            let z = (c_t - expected) / (expected * (1.0 - p_b)).max(1e-9).sqrt();
            let (name, (_, kind)) = m
                .forms
                .iter()
                .max_by(|a, b| a.1.0.cmp(&b.1.0).then_with(|| b.0.cmp(a.0)))?;
            (p_t >= RISING_MIN_LIFT * p_b && z >= TREND_MIN_SCORE).then(|| Trend {
                name: name.clone(),
                kind: *kind,
                count: m.reports,
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
    use crate::model::Entity;

    fn background(reports: u64, with: &[(&str, u64)]) -> Background {
        Background::from_counts(
            reports,
            with.iter().map(|(k, n)| (format!("e:{}", fold_key(k)), *n)),
        )
    }

    fn entity(name: &str, kind: EntityKind) -> Entity {
        Entity {
            name: name.into(),
            kind,
            mentions: 1,
            first_offset: 0,
            in_title: true,
            salience: 1.0,
        }
    }

    /// `n` reports mentioning each of `entities`, then `rest` reports mentioning nothing.
    fn window(groups: &[(usize, Vec<Entity>)], rest: usize) -> Vec<Vec<Entity>> {
        let mut out = Vec::new();
        for (n, es) in groups {
            out.extend(std::iter::repeat_n(es.clone(), *n));
        }
        out.extend(std::iter::repeat_n(Vec::new(), rest));
        out
    }

    fn articles(entities: &[Vec<Entity>]) -> Vec<StoryArticle<'_>> {
        entities
            .iter()
            .enumerate()
            .map(|(id, es)| StoryArticle {
                id,
                title: "",
                text: "",
                outlet: ["a", "b", "c"][id % 3],
                url: None,
                published: 0,
                entities: es,
                language: None,
            })
            .collect()
    }

    #[test]
    fn rising_is_a_share_that_rose_not_a_frequent_name() {
        use EntityKind::*;
        let bg = background(
            4000,
            &[
                ("California", 300),
                ("United States", 400),
                ("Boko Haram", 2),
            ],
        );
        let w = window(
            &[
                (39, vec![entity("California", Location)]),
                (37, vec![entity("United States", Location)]),
                (9, vec![entity("Boko Haram", Organization)]),
                (4, vec![entity("Kankara", Location)]),
                (2, vec![entity("Once", Misc)]),
            ],
            409,
        );
        let t = rising(&articles(&w), &bg, 5);
        let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, vec!["Boko Haram", "Kankara"], "{t:?}");
        assert!(t[0].expected < 1.0 && t[0].score > 0.0);
    }

    #[test]
    fn nothing_rises_without_a_background_week() {
        let w = window(
            &[(9, vec![entity("Boko Haram", EntityKind::Organization)])],
            0,
        );
        let bg = background(10, &[]);
        assert!(!enough_history(&bg));
        assert!(rising(&articles(&w), &bg, 5).is_empty());
    }

    /// Regression: a reader saw "Covid-19" and "Covid" as two trending chips.
    #[test]
    fn regression_covid_and_covid_19_trended_as_two_chips() {
        use EntityKind::*;
        let bg = background(2000, &[("Covid-19", 10), ("Covid", 5), ("Joe Biden", 4)]);
        let w = window(
            &[
                (30, vec![entity("Covid-19", Misc)]),
                (10, vec![entity("COVID", Misc), entity("Covid-19", Misc)]),
                (12, vec![entity("Covid", Misc)]),
                (8, vec![entity("Joe Biden", Person)]),
                (6, vec![entity("Biden", Person)]),
            ],
            134,
        );
        let t = rising(&articles(&w), &bg, 5);
        let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, vec!["Covid-19", "Joe Biden"], "{t:?}");
        assert_eq!(t[0].count, 52, "each report once, under any of the names");
        assert_eq!(t[1].count, 14);
        assert_eq!(trend_key("COVID 19"), trend_key("covid"));
        assert_eq!(trend_key("G7"), "g7");
    }

    #[test]
    fn one_outlets_programme_does_not_trend() {
        let bg = background(600, &[]);
        let patrol = vec![entity("TV Patrol", EntityKind::Misc)];
        let entities = vec![patrol; 12];
        let mut w = articles(&entities);
        for a in &mut w {
            a.outlet = "abscbnnews";
        }
        assert!(rising(&w, &bg, 5).is_empty());
    }
}
