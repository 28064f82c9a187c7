//! Evidence that two reports tell the same story, as a fixed vector of pair features for the
//! learned pair scorer ([`super::model`]): what they share, by kind and specificity (people,
//! organisations, places below country or state level, broad places, other names, event words,
//! numbers), how rare and how coherent the shared evidence is in the window, what their titles
//! share, whose names one title has that the other lacks, how far apart they were published,
//! and whether they come from one outlet or are in different languages.

use super::cluster::{IN_TITLE, Prepared, dot};
use super::features::{ENTITY_PREFIX, FastMap, TERM_PREFIX, lower_into, stem_in_place};
use super::places::{broad_word, place_info};
use crate::model::EntityKind;

use super::cluster::FeatureKind;

/// Number of pair features.
pub(crate) const PAIR_FEATURES: usize = 31;

/// Names of the pair features, in order (for the model file and training reports).
pub(crate) const PAIR_FEATURE_NAMES: [&str; PAIR_FEATURES] = [
    "cosine",
    "title_cosine",
    "text_cosine",
    "names_title",
    "names",
    "people",
    "places_title",
    "places",
    "broad_places",
    "words_title",
    "words",
    "coherent_words",
    "numbers",
    "max_rarity",
    "best_window_df",
    "topicality",
    "coherence",
    "name_conflict",
    "place_conflict",
    "log_hours",
    "same_outlet",
    "other_language",
    "both_text",
    "log_length",
    "same_outlet_cosine",
    "same_outlet_words_title",
    "same_outlet_names",
    "log_shared",
    "country_conflict",
    "shared_country",
    "questions",
];

/// Coherence below which a shared word counts as a topic word (see
/// `GroupOptions::topic_coherence`).
pub(crate) const COHERENT: f32 = 0.07;

/// Per-article and per-feature facts the pair features need, worked out once per window.
pub(crate) struct PairContext {
    /// Per feature: its class (see [`Class`]).
    class: Vec<Class>,
    /// Per article: norm of its rarity-weighted title features, of all its features.
    title_norm: Vec<f32>,
    all_norm: Vec<f32>,
    /// Per article: whether it has a lead.
    has_text: Vec<bool>,
    /// Per article: the countries its places are in (sorted).
    countries: Vec<Vec<u32>>,
    /// Per article: whether its title is a question (an explainer rather than news).
    question: Vec<bool>,
}

/// What a feature is, as the pair features count it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Person,
    /// An organisation or another name (an event, a law, a product).
    Name,
    /// A place below country or state level.
    Place,
    /// A country, a state or a world region.
    Broad,
    Word,
    Number,
}

impl PairContext {
    /// The class of feature `f`.
    pub(crate) fn class(&self, f: u32) -> Class {
        self.class[f as usize]
    }

    pub(crate) fn new(p: &Prepared<'_>) -> Self {
        let mut country: Vec<Option<u32>> = vec![None; p.names.len()];
        let mut class: Vec<Class> = p
            .names
            .iter()
            .zip(&p.kinds)
            .enumerate()
            .map(|(f, (name, kind))| match kind {
                FeatureKind::Entity(EntityKind::Person) => Class::Person,
                FeatureKind::Entity(EntityKind::Location) => {
                    let info = place_info(name.strip_prefix(ENTITY_PREFIX).unwrap_or(name));
                    country[f] = info.country;
                    if info.broad {
                        Class::Broad
                    } else {
                        Class::Place
                    }
                }
                FeatureKind::Entity(_) => Class::Name,
                FeatureKind::Term => Class::Word,
                FeatureKind::Number => Class::Number,
            })
            .collect();
        // the words of a place's name ("auckland", "united", "state") and words naming a broad
        // place or its people ("china's", "chinese") are the place again, not an event word
        let mut place_words: FastMap<String, Class> = FastMap::default();
        let mut word = String::new();
        for (name, &c) in p.names.iter().zip(&class) {
            if !matches!(c, Class::Place | Class::Broad) {
                continue;
            }
            let key = name.strip_prefix(ENTITY_PREFIX).unwrap_or(name);
            for w in key.split(|ch: char| !ch.is_alphanumeric()) {
                if w.chars().count() < 2 {
                    continue;
                }
                lower_into(w, &mut word);
                stem_in_place(&mut word);
                let e = place_words.entry(word.clone()).or_insert(c);
                if c == Class::Broad {
                    *e = Class::Broad;
                }
            }
        }
        for (f, name) in p.names.iter().enumerate() {
            if class[f] != Class::Word {
                continue;
            }
            let term = name.strip_prefix(TERM_PREFIX).unwrap_or(name);
            if broad_word(term) {
                class[f] = Class::Broad;
            } else if let Some(&c) = place_words.get(term) {
                class[f] = c;
            }
        }
        let countries = p
            .occurs
            .iter()
            .map(|occ| {
                let mut c: Vec<u32> = occ
                    .iter()
                    .filter_map(|&(f, _)| country[f as usize])
                    .collect();
                c.sort_unstable();
                c.dedup();
                c
            })
            .collect();
        let question = p
            .titles
            .iter()
            .map(|t| t.trim_end().ends_with('?'))
            .collect();
        let mut title_norm = Vec::with_capacity(p.occurs.len());
        let mut all_norm = Vec::with_capacity(p.occurs.len());
        for occ in &p.occurs {
            let (mut t, mut a) = (0f32, 0f32);
            for &(f, flag) in occ {
                let w = p.rarity[f as usize];
                a += w * w;
                if flag & IN_TITLE != 0 {
                    t += w * w;
                }
            }
            title_norm.push(t.sqrt());
            all_norm.push(a.sqrt());
        }
        let has_text = p.leads.iter().map(|l| !l.trim().is_empty()).collect();
        PairContext {
            class,
            title_norm,
            all_norm,
            has_text,
            countries,
            question,
        }
    }
}

/// Sums over the features two articles share.
#[derive(Default)]
struct Shared {
    title_dot: f32,
    all_dot: f32,
    /// Rarity sums: names in both titles, names, people, specific places in both titles,
    /// specific places, words in both titles, words, coherent words, numbers.
    names_title: f32,
    names: f32,
    people: f32,
    places_title: f32,
    places: f32,
    words_title: f32,
    words: f32,
    coherent_words: f32,
    numbers: f32,
    broad: f32,
    /// Over shared features other than broad places: the largest rarity, the window df of
    /// that feature, rarity-weighted sums of ln(1 + window df) and of coherence, their weight,
    /// and their number.
    max_rarity: f32,
    best_wdf: u32,
    topical: f32,
    coherent: f32,
    weight: f32,
    count: u32,
    /// Rarity of one side's title names (people, organisations, other names) and title places
    /// that the other side lacks.
    lack_names: [f32; 2],
    lack_places: [f32; 2],
}

impl Shared {
    fn add(&mut self, p: &Prepared<'_>, class: Class, f: usize, both_title: bool) {
        let r = p.rarity[f];
        self.all_dot += r * r;
        if both_title {
            self.title_dot += r * r;
        }
        match class {
            Class::Person | Class::Name => {
                self.names += r;
                if class == Class::Person {
                    self.people += r;
                }
                if both_title {
                    self.names_title += r;
                }
            }
            Class::Place => {
                self.places += r;
                if both_title {
                    self.places_title += r;
                }
            }
            Class::Broad => self.broad += 1.0,
            Class::Word => {
                self.words += r;
                self.coherent_words += r * (p.coh[f] / COHERENT).min(1.0);
                if both_title {
                    self.words_title += r;
                }
            }
            Class::Number => self.numbers += r,
        }
        if class != Class::Broad {
            if r > self.max_rarity {
                self.max_rarity = r;
                self.best_wdf = p.wdf[f];
            }
            self.topical += r * (p.wdf[f] as f32).ln_1p();
            self.coherent += r * p.coh[f].min(1.0);
            self.weight += r;
            self.count += 1;
        }
    }

    fn lack(&mut self, p: &Prepared<'_>, class: Class, f: usize, side: usize) {
        match class {
            Class::Person | Class::Name => self.lack_names[side] += p.rarity[f],
            Class::Place => self.lack_places[side] += p.rarity[f],
            _ => {}
        }
    }
}

/// The pair features of articles `a` and `b` (canonical positions) into `out`.
pub(crate) fn pair_features(
    p: &Prepared<'_>,
    ctx: &PairContext,
    a: usize,
    b: usize,
    out: &mut [f32; PAIR_FEATURES],
) {
    let (x, y) = (&p.occurs[a], &p.occurs[b]);
    let (mut i, mut j) = (0, 0);
    let mut s = Shared::default();
    while i < x.len() || j < y.len() {
        let fx = x.get(i).map(|e| e.0).unwrap_or(u32::MAX);
        let fy = y.get(j).map(|e| e.0).unwrap_or(u32::MAX);
        if fx < fy {
            if x[i].1 & IN_TITLE != 0 {
                s.lack(p, ctx.class[fx as usize], fx as usize, 0);
            }
            i += 1;
        } else if fy < fx {
            if y[j].1 & IN_TITLE != 0 {
                s.lack(p, ctx.class[fy as usize], fy as usize, 1);
            }
            j += 1;
        } else {
            let f = fx as usize;
            let both_title = x[i].1 & IN_TITLE != 0 && y[j].1 & IN_TITLE != 0;
            s.add(p, ctx.class[f], f, both_title);
            i += 1;
            j += 1;
        }
    }
    let ratio = |num: f32, den: f32| if den > 0.0 { num / den } else { 0.0 };
    let same_outlet = (p.outlets[a] == p.outlets[b]) as u8 as f32;
    let cosine = dot(&p.vecs[a], &p.vecs[b]);
    let hours = (p.times[a] - p.times[b]).unsigned_abs() as f32 / 3600.0;
    let names = s.names.ln_1p();
    let words_title = s.words_title.ln_1p();
    *out = [
        cosine,
        ratio(s.title_dot, ctx.title_norm[a] * ctx.title_norm[b]),
        ratio(s.all_dot, ctx.all_norm[a] * ctx.all_norm[b]),
        s.names_title.ln_1p(),
        names,
        s.people.ln_1p(),
        s.places_title.ln_1p(),
        s.places.ln_1p(),
        s.broad,
        words_title,
        s.words.ln_1p(),
        s.coherent_words.ln_1p(),
        s.numbers.ln_1p(),
        s.max_rarity,
        (s.best_wdf as f32).ln_1p(),
        ratio(s.topical, s.weight),
        ratio(s.coherent, s.weight),
        s.lack_names[0].min(s.lack_names[1]).ln_1p(),
        s.lack_places[0].min(s.lack_places[1]).ln_1p(),
        hours.ln_1p(),
        same_outlet,
        match (p.languages[a], p.languages[b]) {
            (Some(la), Some(lb)) => (la != lb) as u8 as f32,
            _ => 0.0,
        },
        (ctx.has_text[a] && ctx.has_text[b]) as u8 as f32,
        (x.len().min(y.len()) as f32).ln_1p(),
        same_outlet * cosine,
        same_outlet * words_title,
        same_outlet * names,
        (s.count as f32).ln_1p(),
        country_conflict(ctx, a, b) as u8 as f32,
        shares_country(ctx, a, b) as u8 as f32,
        (ctx.question[a] as u8 + ctx.question[b] as u8) as f32,
    ];
}

/// Whether both articles are set in known countries and share none.
pub(crate) fn country_conflict(ctx: &PairContext, a: usize, b: usize) -> bool {
    let (x, y) = (&ctx.countries[a], &ctx.countries[b]);
    !x.is_empty() && !y.is_empty() && !shares_country(ctx, a, b)
}

fn shares_country(ctx: &PairContext, a: usize, b: usize) -> bool {
    let (x, y) = (&ctx.countries[a], &ctx.countries[b]);
    x.iter().any(|c| y.binary_search(c).is_ok())
}
