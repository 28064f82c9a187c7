//! The grouping core: weighted sparse feature vectors per article (entities and terms, IDF from
//! the background plus the window with a word-frequency prior, topic damping by coherence) with
//! each feature's kind, window frequency, rarity and title/lead occurrence for the pair scorer,
//! and candidate pairs from an inverted index with capped postings and a time factor.
//! Everything runs in a canonical article order with index tie-breaks, so the result does not
//! depend on input order.

use std::cmp::Ordering;

use super::features::{
    ENTITY_PREFIX, FastMap, TERM_PREFIX, entity_key, for_each_term, lead, outlet_languages,
    prior_doc_frequency,
};
use super::{Background, GroupOptions, StoryArticle};
use crate::model::EntityKind;

/// Words in a typical title and lead, for [`prior_doc_frequency`].
const PRIOR_WORDS: f32 = 40.0;

/// A sparse vector: (feature id, weight), sorted by feature id.
pub(crate) type SparseVec = Vec<(u32, f32)>;

/// Articles turned into unit feature vectors, in canonical order.
pub(crate) struct Prepared<'a> {
    /// Canonical position -> index into the caller's slice.
    pub order: Vec<usize>,
    /// Unit vectors by canonical position.
    pub vecs: Vec<SparseVec>,
    /// Feature id -> namespaced key (`e:…` / `t:…`).
    pub names: Vec<String>,
    /// Feature ids of each article's entities (parallel to `StoryArticle::entities`), by
    /// canonical position.
    pub ents: Vec<Vec<u32>>,
    /// Publication times by canonical position.
    pub times: Vec<i64>,
    /// Outlet ids (interned outlet names) by canonical position.
    pub outlets: Vec<u32>,
    /// Leads ([`lead`]) by canonical position.
    pub leads: Vec<&'a str>,
    /// Titles by canonical position.
    pub titles: Vec<&'a str>,
    /// What each feature is (see [`FeatureKind`]), by feature id.
    pub kinds: Vec<FeatureKind>,
    /// Number of the window's articles with each feature, by feature id.
    pub wdf: Vec<u32>,
    /// Each article's features with where they occur ([`IN_TITLE`], [`IN_LEAD`] bits for
    /// terms and entities alike), sorted by feature id, by canonical position. The pair scorer
    /// reads these: undamped, unweighted evidence.
    pub occurs: Vec<Vec<(u32, u8)>>,
    /// Coherence of each feature ([`coherence`]; 1 for features of fewer than three articles or
    /// when topic damping is off), by feature id.
    pub coh: Vec<f32>,
    /// Rarity of each feature outside the window (IDF over the background and the word-frequency
    /// prior only), by feature id.
    pub rarity: Vec<f32>,
    /// Language of each article (its own, else its outlet's), by canonical position.
    pub languages: Vec<Option<&'a str>>,
}

/// Feature occurs in the title (see [`Prepared::occurs`]).
pub(crate) const IN_TITLE: u8 = 1;
/// Feature occurs in the lead or body (see [`Prepared::occurs`]).
pub(crate) const IN_LEAD: u8 = 2;

/// The kind of a grouping feature: a stemmed word, a number, or an entity of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FeatureKind {
    Term,
    Number,
    Entity(EntityKind),
}

fn term_kind(term: &str) -> FeatureKind {
    if term.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        FeatureKind::Number
    } else {
        FeatureKind::Term
    }
}

/// Canonical order: by time, then by content, then by the caller's id; independent of the order
/// of the input slice.
fn canonical_order(articles: &[StoryArticle]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..articles.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&articles[a], &articles[b]);
        x.published
            .cmp(&y.published)
            .then_with(|| x.title.cmp(y.title))
            .then_with(|| x.outlet.cmp(y.outlet))
            .then_with(|| x.url.cmp(&y.url))
            .then_with(|| x.text.cmp(y.text))
            .then_with(|| x.id.cmp(&y.id))
    });
    order
}

/// The features of a window's articles, interned, before weighting: by canonical position.
struct Interned<'a> {
    names: Vec<String>,
    kinds: Vec<FeatureKind>,
    ents: Vec<Vec<u32>>,
    /// Raw (unweighted by rarity) feature weights, one per feature, sorted by feature id.
    raw: Vec<SparseVec>,
    occurs: Vec<Vec<(u32, u8)>>,
    leads: Vec<&'a str>,
    languages: Vec<Option<&'a str>>,
}

/// Feature ids for namespaced keys, assigned in order of first appearance.
#[derive(Default)]
struct Interner {
    ids: FastMap<String, u32>,
    names: Vec<String>,
    kinds: Vec<FeatureKind>,
}

impl Interner {
    fn id(&mut self, key: &str, kind: FeatureKind) -> u32 {
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(key.to_string());
        self.kinds.push(kind);
        self.ids.insert(key.to_string(), id);
        id
    }
}

/// One article's features before interning: namespaced keys back to back in `keys`, each with
/// its end offset, kind, raw weight and where it occurs; entities last, in the order of
/// `StoryArticle::entities`.
#[derive(Default)]
struct Tokens {
    keys: String,
    items: Vec<(usize, FeatureKind, f32, u8)>,
    /// Number of entity items (the last ones).
    entities: usize,
}

impl Tokens {
    fn push(&mut self, prefix: &str, key: &str, kind: FeatureKind, weight: f32, flag: u8) {
        self.keys.push_str(prefix);
        self.keys.push_str(key);
        self.items.push((self.keys.len(), kind, weight, flag));
    }
}

/// The title and lead terms and the entities of article `a` (of language `language`).
fn tokens(
    a: &StoryArticle<'_>,
    lead_text: &str,
    language: Option<&str>,
    opts: &GroupOptions,
) -> Tokens {
    let mut out = Tokens::default();
    let (mut word, mut ekey) = (String::new(), String::new());
    for (part, weight, flag) in [
        (a.title, opts.title_term_weight, IN_TITLE),
        (lead_text, opts.lead_term_weight, IN_LEAD),
    ] {
        for_each_term(part, language, &mut word, |t| {
            out.push(TERM_PREFIX, t, term_kind(t), weight, flag);
        });
    }
    for e in a.entities {
        let w = if e.in_title {
            opts.title_entity_weight
        } else {
            opts.body_entity_weight * (0.5 + 0.5 * e.salience.clamp(0.0, 1.0))
        };
        entity_key(&e.name, &mut ekey);
        let flag = if e.in_title { IN_TITLE } else { IN_LEAD };
        out.push(ENTITY_PREFIX, &ekey, FeatureKind::Entity(e.kind), w, flag);
        out.entities += 1;
    }
    out
}

/// Turns each article (in canonical `order`) into its title and lead terms and its entities,
/// with where they occur and their raw weights. Articles are tokenised in parallel; feature ids
/// are then assigned in canonical order, so they do not depend on the number of threads.
fn intern<'a>(articles: &[StoryArticle<'a>], order: &[usize], opts: &GroupOptions) -> Interned<'a> {
    use rayon::prelude::*;
    let outlet_language = outlet_languages(articles);
    let tokenised: Vec<(&'a str, Option<&'a str>, Tokens)> = order
        .par_iter()
        .map(|&ix| {
            let a = &articles[ix];
            let lead_text = lead(a.text);
            let language = a
                .language
                .or_else(|| outlet_language.get(a.outlet).copied());
            (lead_text, language, tokens(a, lead_text, language, opts))
        })
        .collect();
    let mut interner = Interner::default();
    let mut out = Interned {
        names: Vec::new(),
        kinds: Vec::new(),
        ents: Vec::with_capacity(order.len()),
        raw: Vec::with_capacity(order.len()),
        occurs: Vec::with_capacity(order.len()),
        leads: Vec::with_capacity(order.len()),
        languages: Vec::with_capacity(order.len()),
    };
    for (lead_text, language, t) in tokenised {
        out.leads.push(lead_text);
        out.languages.push(language);
        let mut v: SparseVec = Vec::with_capacity(t.items.len());
        let mut occ: Vec<(u32, u8)> = Vec::with_capacity(t.items.len());
        let mut eids = Vec::with_capacity(t.entities);
        let first_entity = t.items.len() - t.entities;
        let mut start = 0;
        for (k, &(end, kind, weight, flag)) in t.items.iter().enumerate() {
            let id = interner.id(&t.keys[start..end], kind);
            start = end;
            v.push((id, weight));
            occ.push((id, flag));
            if k >= first_entity {
                eids.push(id);
            }
        }
        out.ents.push(eids);
        out.raw.push(one_weight_per_feature(v));
        out.occurs.push(merge_flags(occ));
    }
    out.names = interner.names;
    out.kinds = interner.kinds;
    out
}

/// One weight per feature: title and lead occurrences add up, repeats within a part don't.
fn one_weight_per_feature(mut v: SparseVec) -> SparseVec {
    v.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
    let mut merged: SparseVec = Vec::with_capacity(v.len());
    let mut last_w = f32::NAN;
    for (f, w) in v {
        match merged.last_mut() {
            Some(m) if m.0 == f => {
                if w != last_w {
                    m.1 += w;
                    last_w = w;
                }
            }
            _ => {
                merged.push((f, w));
                last_w = w;
            }
        }
    }
    merged
}

/// IDF of each feature over the background and the window, and its rarity outside the window
/// (the background and the prior only, so that the words of a story that many reports of the
/// window tell are not taken for common words). A feature is at least as common as general
/// English usage predicts for `prior_docs` articles (see the option); the document count stays
/// the window's and background's.
fn idf_and_rarity(
    names: &[String],
    wdf: &[u32],
    window_docs: usize,
    bg: &Background,
    opts: &GroupOptions,
) -> (Vec<f32>, Vec<f32>) {
    let prior = opts.prior_docs.max(0.0) as f64;
    let n_docs = (bg.docs() + window_docs as u64) as f64;
    let bg_docs = bg.docs() as f64 + prior;
    names
        .iter()
        .zip(wdf)
        .map(|(k, &d)| {
            let expected = if prior > 0.0 {
                prior * prior_doc_frequency(k, PRIOR_WORDS) as f64
            } else {
                0.0
            };
            let bg_df = bg.df(k);
            let df = (d as u64 + bg_df) as f64 + expected;
            let idf = (1.0 + n_docs / df.max(1.0)).ln() as f32;
            let rarity = (1.0 + bg_docs / (bg_df as f64 + expected + 1.0)).ln() as f32;
            (idf, rarity)
        })
        .unzip()
}

/// Unit vectors: raw weights times IDF, features of one article only down-weighted.
fn weigh(raw: Vec<SparseVec>, wdf: &[u32], idf: &[f32], opts: &GroupOptions) -> Vec<SparseVec> {
    raw.into_iter()
        .map(|v| {
            let mut v: SparseVec = v
                .into_iter()
                .map(|(f, w)| {
                    let shared = if wdf[f as usize] > 1 {
                        1.0
                    } else {
                        opts.unshared_weight
                    };
                    (f, w * shared * idf[f as usize])
                })
                .filter(|&(_, w)| w > 0.0)
                .collect();
            normalise(&mut v);
            v
        })
        .collect()
}

/// Prepares a window for grouping: features, weights, rarities and coherences by canonical
/// position (see [`Prepared`]).
pub(crate) fn prepare<'a>(
    articles: &[StoryArticle<'a>],
    bg: &Background,
    opts: &GroupOptions,
) -> Prepared<'a> {
    let order = canonical_order(articles);
    let it = intern(articles, &order, opts);
    let mut wdf = vec![0u32; it.names.len()];
    for v in &it.raw {
        for &(f, _) in v {
            wdf[f as usize] += 1;
        }
    }
    let (idf, rarity) = idf_and_rarity(&it.names, &wdf, it.raw.len(), bg, opts);
    let times: Vec<i64> = order.iter().map(|&ix| articles[ix].published).collect();
    let titles: Vec<&'a str> = order.iter().map(|&ix| articles[ix].title).collect();
    let mut outlet_ids: FastMap<&str, u32> = FastMap::default();
    let outlets: Vec<u32> = order
        .iter()
        .map(|&ix| {
            let n = outlet_ids.len() as u32;
            *outlet_ids.entry(articles[ix].outlet).or_insert(n)
        })
        .collect();
    let mut vecs = weigh(it.raw, &wdf, &idf, opts);
    let coh = if opts.topic_damping > 0.0 {
        damp_topics(&mut vecs, it.names.len(), opts)
    } else {
        vec![1.0; it.names.len()]
    };
    Prepared {
        order,
        vecs,
        names: it.names,
        ents: it.ents,
        times,
        outlets,
        leads: it.leads,
        titles,
        kinds: it.kinds,
        wdf,
        occurs: it.occurs,
        coh,
        rarity,
        languages: it.languages,
    }
}

/// Sorts `(feature, flag)` pairs by feature and ORs the flags of repeats.
fn merge_flags(mut occ: Vec<(u32, u8)>) -> Vec<(u32, u8)> {
    occ.sort_unstable();
    let mut out: Vec<(u32, u8)> = Vec::with_capacity(occ.len());
    for (f, flag) in occ {
        match out.last_mut() {
            Some(last) if last.0 == f => last.1 |= flag,
            _ => out.push((f, flag)),
        }
    }
    out
}

/// Per feature: the mean cosine between the articles that contain it, leaving the feature itself
/// out (1 for features in fewer than 3 articles). An event's features ("submarine", "Petito")
/// occur in articles that resemble each other beyond that feature; a topic's ("Covid") and
/// everyday words ("week", "tests") in articles that have little else in common.
///
/// Estimated cheaply: each article by its `COHERENCE_FEATURES` heaviest features (its head), and a
/// feature in more than `COHERENCE_SAMPLE` articles by that many of them, evenly spread.
fn coherence(vecs: &[SparseVec], n_features: usize) -> Vec<f32> {
    const COHERENCE_FEATURES: usize = 12;
    const COHERENCE_SAMPLE: usize = 48;
    // each article's heaviest features, back to back
    let mut head_start: Vec<usize> = Vec::with_capacity(vecs.len() + 1);
    let mut heads: SparseVec = Vec::with_capacity(vecs.len() * COHERENCE_FEATURES);
    let mut scratch: SparseVec = Vec::new();
    for v in vecs {
        head_start.push(heads.len());
        scratch.clear();
        scratch.extend_from_slice(v);
        truncate_heaviest(&mut scratch, COHERENCE_FEATURES);
        heads.extend_from_slice(&scratch);
    }
    head_start.push(heads.len());
    let head = |d: u32| &heads[head_start[d as usize]..head_start[d as usize + 1]];
    let postings = Postings::new(vecs, n_features, |d, _| d);
    use rayon::prelude::*;
    (0..n_features)
        .into_par_iter()
        .map_init(
            || (vec![0f32; n_features], Vec::<u32>::new()),
            |(dense, touched), f| {
                let list = postings.of(f);
                let n_all = list.len();
                if n_all < 3 {
                    return 1.0;
                }
                let n = n_all.min(COHERENCE_SAMPLE);
                // S = sum of the sampled heads without f; mean pairwise dot =
                // (|S|^2 - sum |h|^2) / (n (n-1))
                let mut self_sq = 0f32;
                for k in 0..n {
                    let d = list[k * n_all / n];
                    for &(g, w) in head(d) {
                        if g as usize == f {
                            continue;
                        }
                        if dense[g as usize] == 0.0 {
                            touched.push(g);
                        }
                        dense[g as usize] += w;
                        self_sq += w * w;
                    }
                }
                let mut s_sq = 0f32;
                for &g in touched.iter() {
                    s_sq += dense[g as usize] * dense[g as usize];
                    dense[g as usize] = 0.0;
                }
                touched.clear();
                let mean_self = self_sq / n as f32;
                let pair = (s_sq - self_sq).max(0.0) / (n * (n - 1)) as f32;
                if mean_self > 0.0 {
                    pair / mean_self
                } else {
                    1.0
                }
            },
        )
        .collect()
}

/// Scales each feature by its coherence (see [`coherence`]) relative to `opts.topic_coherence`
/// (capped at 1, raised to `opts.topic_damping`), then renormalises the vectors. Returns the
/// coherences.
fn damp_topics(vecs: &mut [SparseVec], n_features: usize, opts: &GroupOptions) -> Vec<f32> {
    let coh = coherence(vecs, n_features);
    let factor: Vec<f32> = coh
        .iter()
        .map(|&c| {
            (c / opts.topic_coherence)
                .clamp(0.0, 1.0)
                .powf(opts.topic_damping)
        })
        .collect();
    for v in vecs.iter_mut() {
        for x in v.iter_mut() {
            x.1 *= factor[x.0 as usize];
        }
        v.retain(|x| x.1 > 0.0);
        normalise(v);
    }
    coh
}

/// An inverted index in one allocation: the entries of feature `f` are
/// `items[start[f]..start[f + 1]]`, in article order.
struct Postings<T> {
    start: Vec<usize>,
    items: Vec<T>,
}

impl<T: Copy + Default> Postings<T> {
    /// Indexes `vecs` (article `d`'s entry for feature `f` with weight `w` is `entry(d, w)`).
    fn new(vecs: &[SparseVec], n_features: usize, entry: impl Fn(u32, f32) -> T) -> Self {
        let mut start = vec![0usize; n_features + 1];
        for v in vecs {
            for &(f, _) in v {
                start[f as usize + 1] += 1;
            }
        }
        for f in 0..n_features {
            start[f + 1] += start[f];
        }
        let mut fill = start.clone();
        let mut items = vec![T::default(); start[n_features]];
        for (d, v) in vecs.iter().enumerate() {
            for &(f, w) in v {
                items[fill[f as usize]] = entry(d as u32, w);
                fill[f as usize] += 1;
            }
        }
        Postings { start, items }
    }

    fn of(&self, f: usize) -> &[T] {
        &self.items[self.start[f]..self.start[f + 1]]
    }
}

pub(crate) fn normalise(v: &mut SparseVec) {
    let n = norm(v);
    if n > 0.0 {
        for x in v.iter_mut() {
            x.1 /= n;
        }
    }
}

pub(crate) fn norm(v: &SparseVec) -> f32 {
    v.iter().map(|x| x.1 * x.1).sum::<f32>().sqrt()
}

pub(crate) fn dot(a: &SparseVec, b: &SparseVec) -> f32 {
    let (mut i, mut j, mut s) = (0, 0, 0.0f32);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                s += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    s
}

/// Dot product of a dense vector (indexed by feature id) and a sparse one. Four running sums:
/// this is the innermost loop of the agglomeration, and one sum would wait on every addition.
pub(crate) fn dense_dot(dense: &[f32], v: &[(u32, f32)]) -> f32 {
    let mut acc = [0f32; 4];
    let mut chunks = v.chunks_exact(4);
    for c in &mut chunks {
        acc[0] += dense[c[0].0 as usize] * c[0].1;
        acc[1] += dense[c[1].0 as usize] * c[1].1;
        acc[2] += dense[c[2].0 as usize] * c[2].1;
        acc[3] += dense[c[3].0 as usize] * c[3].1;
    }
    for (a, &(f, w)) in acc.iter_mut().zip(chunks.remainder()) {
        *a += dense[f as usize] * w;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// Adds two lists sorted by feature id (sparse vectors of weights, or of counts).
pub(crate) fn add_into<T>(a: &[(u32, T)], b: &[(u32, T)]) -> Vec<(u32, T)>
where
    T: Copy + std::ops::Add<Output = T>,
{
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if j >= b.len() || (i < a.len() && a[i].0 < b[j].0) {
            out.push(a[i]);
            i += 1;
        } else if i >= a.len() || b[j].0 < a[i].0 {
            out.push(b[j]);
            j += 1;
        } else {
            out.push((a[i].0, a[i].1 + b[j].1));
            i += 1;
            j += 1;
        }
    }
    out
}

/// Similarity multiplier for two time spans `[a0, a1]` and `[b0, b1]` (unix seconds): 1 within the
/// grace period, then decaying exponentially with the gap.
pub(crate) fn time_factor(a0: i64, a1: i64, b0: i64, b1: i64, opts: &GroupOptions) -> f32 {
    let gap = if a1 < b0 {
        b0 - a1
    } else if b1 < a0 {
        a0 - b1
    } else {
        0
    };
    let over = gap.saturating_sub(opts.time_grace_secs);
    if over <= 0 {
        1.0
    } else {
        (-(over as f64) / opts.time_scale_secs.max(1.0)).exp() as f32
    }
}

/// One cluster found: canonical positions of its members and the sum of their unit vectors.
pub(crate) struct Found {
    pub members: Vec<u32>,
    pub sum: SparseVec,
}

/// Candidate neighbours of every article: the `opts.neighbours` most similar others (sparse dot
/// product through the inverted index, skipping features with more than `opts.max_postings`
/// postings), with the time factor applied. Each article's probe runs in parallel; the lists are
/// then made symmetric in article order, so the result does not depend on the number of threads.
pub(crate) fn neighbours(p: &Prepared<'_>, opts: &GroupOptions) -> Vec<Vec<u32>> {
    use rayon::prelude::*;
    let n = p.vecs.len();
    let postings = Postings::new(&p.vecs, p.names.len(), |d, w| (d, w));
    let nearest: Vec<Vec<u32>> = (0..n)
        .into_par_iter()
        .map_init(
            || Probe {
                acc: vec![0f32; n],
                shared: vec![0u16; n],
                touched: Vec::new(),
                scored: Vec::new(),
                probe: Vec::new(),
            },
            |probe, i| probe.nearest(p, &postings, i, opts),
        )
        .collect();
    let mut nbrs: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (i, list) in nearest.into_iter().enumerate() {
        for j in list {
            nbrs[i].push(j);
            nbrs[j as usize].push(i as u32);
        }
    }
    for l in &mut nbrs {
        l.sort_unstable();
        l.dedup();
    }
    nbrs
}

/// Scratch space of one thread of [`neighbours`].
struct Probe {
    /// Dot product and number of shared probe features, by article.
    acc: Vec<f32>,
    shared: Vec<u16>,
    touched: Vec<u32>,
    scored: Vec<(f32, u32)>,
    probe: Vec<(u32, f32)>,
}

impl Probe {
    /// The most similar others of article `i` (unsorted).
    fn nearest(
        &mut self,
        p: &Prepared<'_>,
        postings: &Postings<(u32, f32)>,
        i: usize,
        opts: &GroupOptions,
    ) -> Vec<u32> {
        // probe with the heaviest features only: a pair that matters shares one of them
        let probe = &mut self.probe;
        probe.clear();
        probe.extend_from_slice(&p.vecs[i]);
        if probe.len() > opts.probe_features {
            probe.select_nth_unstable_by(opts.probe_features - 1, |a, b| {
                b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
            });
            probe.truncate(opts.probe_features);
        }
        for &(f, w) in probe.iter() {
            let list = postings.of(f as usize);
            if list.len() > opts.max_postings {
                continue;
            }
            for &(j, wj) in list {
                if j as usize == i {
                    continue;
                }
                if self.acc[j as usize] == 0.0 {
                    self.touched.push(j);
                }
                self.acc[j as usize] += w * wj;
                self.shared[j as usize] = self.shared[j as usize].saturating_add(1);
            }
        }
        let scored = &mut self.scored;
        scored.clear();
        let ti = p.times[i];
        for &j in &self.touched {
            let d = self.acc[j as usize];
            self.acc[j as usize] = 0.0;
            let common = std::mem::take(&mut self.shared[j as usize]);
            // One shared word ("car", "travel") is a coincidence, not a story: a link needs at
            // least `min_shared_features` of the article's heaviest features in common.
            if (common as usize) < opts.min_shared_features.min(probe.len()) {
                continue;
            }
            if d < opts.min_edge {
                continue; // the time factor is at most 1
            }
            let tj = p.times[j as usize];
            let mut s = d * time_factor(ti, ti, tj, tj, opts);
            if p.outlets[i] == p.outlets[j as usize] {
                s *= opts.same_outlet_weight;
            }
            if s >= opts.min_edge {
                scored.push((s, j));
            }
        }
        self.touched.clear();
        let k = opts.neighbours.min(scored.len());
        if k == 0 {
            return Vec::new();
        }
        let by_sim = |x: &(f32, u32), y: &(f32, u32)| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1));
        if k < scored.len() {
            scored.select_nth_unstable_by(k - 1, by_sim);
            scored.truncate(k);
        }
        scored.iter().map(|&(_, j)| j).collect()
    }
}

/// Keeps the `k` heaviest features of `v` (still sorted by feature id): the tail (words of one or
/// two reports) barely moves a cosine but makes every similarity with a cluster slower.
pub(crate) fn truncate_heaviest(v: &mut SparseVec, k: usize) {
    if v.len() > k {
        v.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(k);
        v.sort_unstable_by_key(|x| x.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coherence_tells_an_event_word_from_a_topic_word() {
        // features: 0 = "topic" (in six unrelated articles), 1 = "event" (in three articles that
        // also share 2 and 3), 4.. = each article's own words
        let mut vecs: Vec<SparseVec> = Vec::new();
        for i in 0..3u32 {
            vecs.push(vec![(0, 1.0), (1, 1.0), (2, 1.0), (3, 1.0), (10 + i, 1.0)]);
        }
        for i in 0..3u32 {
            vecs.push(vec![(0, 1.0), (20 + 2 * i, 1.0), (21 + 2 * i, 1.0)]);
        }
        for v in &mut vecs {
            normalise(v);
        }
        let coh = coherence(&vecs, 30);
        assert!(coh[1] > 0.5, "{coh:?}");
        assert!(coh[0] < 0.3, "{coh:?}");
        assert_eq!(
            coh[10], 1.0,
            "a feature of fewer than three articles is left alone"
        );
    }
}
