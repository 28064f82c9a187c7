//! The grouping core: weighted sparse feature vectors per article (entities and terms, IDF from
//! the background plus the window with a word-frequency prior, topic damping by coherence),
//! candidate pairs from an inverted index with capped postings, agglomeration by group-average
//! similarity with a time factor, and the final cohesion, place and word tests on each story's
//! members ([`member_cohesion`]).
//!
//! Group-average linkage is what keeps unrelated stories apart: a bridge article that mentions
//! both "Russia + doping" and "Russia + gas" can join one of them, but the two clusters only share
//! the low-weight "Russia" feature, so they never merge. The similarity of two clusters is their
//! sums' dot product (less half of what pairs of reports of one outlet contribute) over
//! `(|S_a| |S_b|)^(1-β) (n_a n_b)^β`: β = 0 is the centroid cosine, β = 1 the mean pairwise cosine;
//! see [`GroupOptions::average_linkage`]. Everything runs in a canonical article order with index
//! tie-breaks, so the result does not depend on input order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::features::{
    ENTITY_PREFIX, FastMap, TERM_PREFIX, entity_key, for_each_term, lead, outlet_languages,
    prior_doc_frequency,
};
use super::{Background, GroupOptions, StoryArticle};
use crate::model::EntityKind;

/// Words in a typical title and lead, for [`prior_doc_frequency`].
const PRIOR_WORDS: f32 = 40.0;

/// Distinct first-mention words kept per place entity (see [`Prepared::name_words`]).
const MAX_SURFACES: usize = 8;

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
    /// Feature ids of each article's place entities (kind location), by canonical position.
    pub places: Vec<Vec<u32>>,
    /// Entity feature id -> the term feature ids of the words it is written with: its name's
    /// words ("e:gavin newsom" -> "t:gavin", "t:newsom") and, for a place, the words of its first
    /// mentions ("e:china" -> "t:china", "t:chinese"). See [`member_cohesion`].
    pub name_words: FastMap<u32, Vec<u32>>,
    /// What each feature is (see [`FeatureKind`]), by feature id.
    pub kinds: Vec<FeatureKind>,
    /// Rarity (IDF over the background, the window and the word-frequency prior) by feature id.
    pub idf: Vec<f32>,
    /// Number of the window's articles with each feature, by feature id.
    pub wdf: Vec<u32>,
    /// Each article's features with where they occur ([`IN_TITLE`], [`IN_LEAD`] bits for
    /// terms and entities alike), sorted by feature id, by canonical position. The pair scorer
    /// reads these: undamped, unweighted evidence.
    pub occurs: Vec<Vec<(u32, u8)>>,
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

pub(crate) fn prepare<'a>(
    articles: &[StoryArticle<'a>],
    bg: &Background,
    opts: &GroupOptions,
) -> Prepared<'a> {
    let order = canonical_order(articles);
    let mut ids: FastMap<String, u32> = FastMap::default();
    let mut ents: Vec<Vec<u32>> = Vec::with_capacity(articles.len());
    let mut places: Vec<Vec<u32>> = Vec::with_capacity(articles.len());
    // place entity id -> the words of its first mentions other than its name ("Chinese")
    let mut surfaces: FastMap<u32, Vec<String>> = FastMap::default();
    let mut ekey = String::new();
    let mut names: Vec<String> = Vec::new();
    let mut kinds: Vec<FeatureKind> = Vec::new();
    let mut raw: Vec<SparseVec> = Vec::with_capacity(order.len());
    let mut occurs: Vec<Vec<(u32, u8)>> = Vec::with_capacity(order.len());
    let mut intern = |key: &str, kind: FeatureKind, ids: &mut FastMap<String, u32>| -> u32 {
        if let Some(&id) = ids.get(key) {
            return id;
        }
        let id = names.len() as u32;
        names.push(key.to_string());
        kinds.push(kind);
        ids.insert(key.to_string(), id);
        id
    };
    let mut key = String::new();
    let mut word = String::new();
    let mut leads: Vec<&'a str> = Vec::with_capacity(order.len());
    let outlet_language = outlet_languages(articles);
    for &ix in &order {
        let a = &articles[ix];
        leads.push(lead(a.text));
        let language = a
            .language
            .or_else(|| outlet_language.get(a.outlet).copied());
        let mut v: SparseVec = Vec::new();
        let mut occ: Vec<(u32, u8)> = Vec::new();
        for (part, weight, flag) in [
            (a.title, opts.title_term_weight, IN_TITLE),
            (leads[leads.len() - 1], opts.lead_term_weight, IN_LEAD),
        ] {
            for_each_term(part, language, &mut word, |t| {
                key.clear();
                key.push_str(TERM_PREFIX);
                key.push_str(t);
                let id = intern(&key, term_kind(t), &mut ids);
                v.push((id, weight));
                occ.push((id, flag));
            });
        }
        let mut pids = Vec::new();
        let mut eids = Vec::with_capacity(a.entities.len());
        for e in a.entities {
            let w = if e.in_title {
                opts.title_entity_weight
            } else {
                opts.body_entity_weight * (0.5 + 0.5 * e.salience.clamp(0.0, 1.0))
            };
            key.clear();
            key.push_str(ENTITY_PREFIX);
            entity_key(&e.name, &mut ekey);
            key.push_str(&ekey);
            let id = intern(&key, FeatureKind::Entity(e.kind), &mut ids);
            eids.push(id);
            occ.push((id, if e.in_title { IN_TITLE } else { IN_LEAD }));
            if e.kind == EntityKind::Location {
                pids.push(id);
                if let Some(w) = surface_word(a.title, a.text, e.first_offset)
                    && !e.name.contains(w)
                {
                    let list = surfaces.entry(id).or_default();
                    if list.len() < MAX_SURFACES && !list.iter().any(|x| x == w) {
                        list.push(w.to_string());
                    }
                }
            }
            v.push((id, w));
        }
        ents.push(eids);
        places.push(pids);
        // one weight per feature: title and lead occurrences add up, repeats within a part don't
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
        raw.push(merged);
        occurs.push(merge_flags(occ));
    }
    let mut name_words: FastMap<u32, Vec<u32>> = FastMap::default();
    for (id, name) in names.iter().enumerate() {
        let Some(name) = name.strip_prefix(ENTITY_PREFIX) else {
            continue;
        };
        let id = id as u32;
        let mentions = surfaces.get(&id).map(Vec::as_slice).unwrap_or_default();
        let mut ts: Vec<u32> = Vec::new();
        for s in std::iter::once(name).chain(mentions.iter().map(String::as_str)) {
            for_each_term(s, None, &mut word, |t| {
                key.clear();
                key.push_str(TERM_PREFIX);
                key.push_str(t);
                if let Some(&tid) = ids.get(key.as_str()) {
                    ts.push(tid);
                }
            });
        }
        ts.sort_unstable();
        ts.dedup();
        name_words.insert(id, ts);
    }
    let mut wdf = vec![0u32; names.len()];
    for v in &raw {
        for &(f, _) in v {
            wdf[f as usize] += 1;
        }
    }
    // a feature is at least as common as general English usage predicts for `prior_docs`
    // articles (see the option); the document count stays the window's and background's
    let prior = opts.prior_docs.max(0.0) as f64;
    let n_docs = (bg.docs() + raw.len() as u64) as f64;
    let idf: Vec<f32> = names
        .iter()
        .zip(&wdf)
        .map(|(k, &d)| {
            let expected = if prior > 0.0 {
                prior * prior_doc_frequency(k, PRIOR_WORDS) as f64
            } else {
                0.0
            };
            let df = (d as u64 + bg.df(k)) as f64 + expected;
            (1.0 + n_docs / df.max(1.0)).ln() as f32
        })
        .collect();
    let times: Vec<i64> = order.iter().map(|&ix| articles[ix].published).collect();
    let mut outlet_ids: FastMap<&str, u32> = FastMap::default();
    let outlets: Vec<u32> = order
        .iter()
        .map(|&ix| {
            let n = outlet_ids.len() as u32;
            *outlet_ids.entry(articles[ix].outlet).or_insert(n)
        })
        .collect();
    let mut vecs: Vec<SparseVec> = raw
        .into_iter()
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
        .collect();
    if opts.topic_damping > 0.0 {
        damp_topics(&mut vecs, names.len(), opts);
    }
    Prepared {
        order,
        vecs,
        names,
        ents,
        times,
        outlets,
        leads,
        places,
        name_words,
        kinds,
        idf,
        wdf,
        occurs,
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

/// The word at byte `offset` of `title + "\n\n" + text` (an entity's first mention).
fn surface_word<'a>(title: &'a str, text: &'a str, offset: usize) -> Option<&'a str> {
    let rest = if offset < title.len() {
        title.get(offset..)?
    } else {
        text.get(offset.checked_sub(title.len() + 2)?..)?
    };
    let end = rest
        .find(|c: char| !c.is_alphanumeric())
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
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
    let mut dense = vec![0f32; n_features];
    let mut touched: Vec<u32> = Vec::new();
    (0..n_features)
        .map(|f| {
            let list = postings.of(f);
            let n_all = list.len();
            if n_all < 3 {
                return 1.0;
            }
            let n = n_all.min(COHERENCE_SAMPLE);
            // S = sum of the sampled heads without f; mean pairwise dot = (|S|^2 - sum |h|^2) / (n (n-1))
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
            for &g in &touched {
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
        })
        .collect()
}

/// Scales each feature by its coherence (see [`coherence`]) relative to `opts.topic_coherence`
/// (capped at 1, raised to `opts.topic_damping`), then renormalises the vectors.
fn damp_topics(vecs: &mut [SparseVec], n_features: usize, opts: &GroupOptions) {
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

/// The sum of the members' vectors, added up in `dense` (zeroed scratch, zeroed again): linear in
/// the members' features, where merging sorted vectors one by one is quadratic in the members.
fn sum_of(p: &Prepared<'_>, members: &[u32], dense: &mut [f32]) -> SparseVec {
    let mut touched: Vec<u32> = Vec::new();
    for &m in members {
        for &(f, w) in &p.vecs[m as usize] {
            // weights are positive: zero means not seen yet
            if dense[f as usize] == 0.0 {
                touched.push(f);
            }
            dense[f as usize] += w;
        }
    }
    touched.sort_unstable();
    touched
        .into_iter()
        .map(|f| (f, std::mem::take(&mut dense[f as usize])))
        .collect()
}

fn add_into(a: &SparseVec, b: &SparseVec) -> SparseVec {
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

struct Cand {
    sim: f32,
    a: u32,
    b: u32,
    sa: u32,
    sb: u32,
}
impl PartialEq for Cand {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Cand {
    fn cmp(&self, o: &Self) -> Ordering {
        self.sim
            .total_cmp(&o.sim)
            .then_with(|| o.a.cmp(&self.a))
            .then_with(|| o.b.cmp(&self.b))
    }
}

struct Cl {
    members: Vec<u32>,
    sum: SparseVec,
    /// (outlet id, member) pairs, sorted: which reports of each outlet the cluster holds.
    by_outlet: Vec<(u32, u32)>,
    /// Bit `outlet % 256` set for each outlet in `by_outlet`: two clusters whose masks do not
    /// intersect share no outlet, and most candidate pairs are told apart by this alone.
    outlet_mask: [u64; 4],
    norm: f32,
    t0: i64,
    t1: i64,
    nbrs: Vec<u32>,
    stamp: u32,
    alive: bool,
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let p = parent[parent[x as usize] as usize];
        parent[x as usize] = p;
        x = p;
    }
    x
}

/// Candidate neighbours of every article: the `opts.neighbours` most similar others (sparse dot
/// product through the inverted index, skipping features with more than `opts.max_postings`
/// postings), with the time factor applied.
fn neighbours(p: &Prepared<'_>, opts: &GroupOptions) -> Vec<Vec<u32>> {
    let n = p.vecs.len();
    let postings = Postings::new(&p.vecs, p.names.len(), |d, w| (d, w));
    let mut acc = vec![0f32; n];
    let mut shared = vec![0u16; n];
    let mut touched: Vec<u32> = Vec::new();
    let mut nbrs: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut scored: Vec<(f32, u32)> = Vec::new();
    let mut probe: Vec<(u32, f32)> = Vec::new();
    for i in 0..n {
        // probe with the heaviest features only: a pair that matters shares one of them
        probe.clear();
        probe.extend_from_slice(&p.vecs[i]);
        if probe.len() > opts.probe_features {
            probe.select_nth_unstable_by(opts.probe_features - 1, |a, b| {
                b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
            });
            probe.truncate(opts.probe_features);
        }
        for &(f, w) in &probe {
            let list = postings.of(f as usize);
            if list.len() > opts.max_postings {
                continue;
            }
            for &(j, wj) in list {
                if j as usize == i {
                    continue;
                }
                if acc[j as usize] == 0.0 {
                    touched.push(j);
                }
                acc[j as usize] += w * wj;
                shared[j as usize] = shared[j as usize].saturating_add(1);
            }
        }
        scored.clear();
        let ti = p.times[i];
        for &j in &touched {
            let d = acc[j as usize];
            acc[j as usize] = 0.0;
            let common = std::mem::take(&mut shared[j as usize]);
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
        touched.clear();
        let k = opts.neighbours.min(scored.len());
        if k == 0 {
            continue;
        }
        let by_sim = |x: &(f32, u32), y: &(f32, u32)| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1));
        if k < scored.len() {
            scored.select_nth_unstable_by(k - 1, by_sim);
            scored.truncate(k);
        }
        for &(_, j) in &scored {
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

/// Agglomerates articles into clusters: repeatedly merges the pair of neighbouring clusters whose
/// centroids are most similar (cosine times time factor) while that similarity reaches
/// `opts.threshold`.
///
/// The heap holds, per cluster, its best neighbour at the time it was computed (lazy
/// best-neighbour greedy): an entry whose partner has changed since is refreshed when popped.
pub(crate) fn cluster(p: &Prepared<'_>, opts: &GroupOptions) -> Vec<Found> {
    let n = p.vecs.len();
    let nbrs = neighbours(p, opts);
    let mut cls: Vec<Cl> = p
        .vecs
        .iter()
        .zip(nbrs)
        .enumerate()
        .map(|(i, (v, nb))| Cl {
            members: vec![i as u32],
            sum: v.clone(),
            by_outlet: vec![(p.outlets[i], i as u32)],
            outlet_mask: outlet_bit(p.outlets[i]),
            norm: norm(v),
            t0: p.times[i],
            t1: p.times[i],
            nbrs: nb,
            stamp: 0,
            alive: true,
        })
        .collect();
    let mut parent: Vec<u32> = (0..n as u32).collect();
    let mut dense = vec![0f32; p.names.len()];
    let mut dense_x = vec![0f32; p.names.len()];
    let mut heap = BinaryHeap::with_capacity(n);
    for c in 0..n as u32 {
        if let Some(cand) = refresh(p, &mut cls, &mut parent, &mut dense, &mut dense_x, c, opts) {
            heap.push(cand);
        }
    }
    while let Some(c) = heap.pop() {
        let (a, b) = (c.a as usize, c.b as usize);
        if !cls[a].alive || cls[a].stamp != c.sa {
            continue; // the owner changed: it has a newer entry
        }
        if !cls[b].alive || cls[b].stamp != c.sb {
            // the partner changed: re-evaluate the owner's best neighbour
            if let Some(cand) = refresh(
                p,
                &mut cls,
                &mut parent,
                &mut dense,
                &mut dense_x,
                c.a,
                opts,
            ) {
                heap.push(cand);
            }
            continue;
        }
        let (keep, gone) = if a < b { (a, b) } else { (b, a) };
        let cg = std::mem::replace(
            &mut cls[gone],
            Cl {
                members: Vec::new(),
                sum: Vec::new(),
                by_outlet: Vec::new(),
                outlet_mask: [0; 4],
                norm: 0.0,
                t0: 0,
                t1: 0,
                nbrs: Vec::new(),
                stamp: 0,
                alive: false,
            },
        );
        parent[gone] = keep as u32;
        let ck = &mut cls[keep];
        ck.members.extend_from_slice(&cg.members);
        ck.sum = add_into(&ck.sum, &cg.sum);
        truncate_heaviest(&mut ck.sum, opts.max_centroid_features);
        ck.by_outlet = merge_sorted(&ck.by_outlet, &cg.by_outlet);
        for (m, g) in ck.outlet_mask.iter_mut().zip(cg.outlet_mask) {
            *m |= g;
        }
        ck.norm = norm(&ck.sum);
        ck.t0 = ck.t0.min(cg.t0);
        ck.t1 = ck.t1.max(cg.t1);
        ck.stamp += 1;
        ck.nbrs.extend_from_slice(&cg.nbrs);
        if let Some(cand) = refresh(
            p,
            &mut cls,
            &mut parent,
            &mut dense,
            &mut dense_x,
            keep as u32,
            opts,
        ) {
            heap.push(cand);
        }
    }
    let mut out: Vec<Found> = Vec::new();
    let mut scratch: Vec<f32> = Vec::new();
    let tested = opts.cohesion > 0.0 || opts.place_cohesion > 0.0 || opts.word_cohesion > 0.0;
    let min = opts.cohesion * opts.threshold;
    let min_place = opts.place_cohesion * opts.threshold;
    let min_word = opts.word_cohesion * opts.threshold;
    for c in cls.into_iter().filter(|c| c.alive) {
        let mut members = c.members;
        let mut sum = c.sum;
        members.sort_unstable();
        // cohesion test: every member must resemble the rest of its story, and not through one
        // place or one word alone; repeated until no member fails (the rest changes as members
        // leave), and a story left with fewer than two members falls apart
        while tested && members.len() >= 3 {
            for &(f, w) in &sum {
                dense[f as usize] = w;
            }
            let s2: f32 = sum.iter().map(|x| x.1 * x.1).sum();
            let (keep, eject): (Vec<u32>, Vec<u32>) = members.iter().partition(|&&m| {
                let fit = member_cohesion(p, m as usize, &dense, s2, &mut scratch);
                fit.all >= min
                    && (opts.place_cohesion <= 0.0 || fit.beyond_place >= min_place)
                    && (opts.word_cohesion <= 0.0 || fit.beyond_word >= min_word)
            });
            for &(f, _) in &sum {
                dense[f as usize] = 0.0;
            }
            if eject.is_empty() {
                break;
            }
            for m in eject {
                out.push(Found {
                    members: vec![m],
                    sum: p.vecs[m as usize].clone(),
                });
            }
            sum = sum_of(p, &keep, &mut dense);
            members = keep;
        }
        if members.len() == 1 {
            out.push(Found {
                sum: p.vecs[members[0] as usize].clone(),
                members,
            });
        } else if !members.is_empty() {
            out.push(Found { members, sum });
        }
    }
    out
}

/// How well a report fits its story, see [`member_cohesion`].
struct Fit {
    /// Cosine to the rest of the story.
    all: f32,
    /// The same without the place that contributes most.
    beyond_place: f32,
    /// The same without the word (a term that is not part of a name) that contributes most.
    beyond_word: f32,
}

/// How well article `m` fits the story whose sum `S` is loaded in `dense` (`s2 = |S|²`): its
/// cosine to the rest of the story, `cos(v, S − v)`, and the same cosine without the place, and
/// without the everyday word, that contributes most to it.
///
/// A place is one concept however it is written: the entity, the words of its name and the words
/// it is first mentioned by ("China", "china", "chinese"). A report that resembles a story only
/// through a place ("California", "Auckland") is news from that place, not part of that story;
/// one that resembles it only through one word ("booster", "guilty") is on the same subject, not
/// the same event. A name of a person or an organisation is specific enough on its own and is
/// never left out. `contrib` is scratch space.
fn member_cohesion(
    p: &Prepared<'_>,
    m: usize,
    dense: &[f32],
    s2: f32,
    contrib: &mut Vec<f32>,
) -> Fit {
    let v = &p.vecs[m];
    // each feature's share of v · (S − v)
    contrib.clear();
    contrib.extend(v.iter().map(|&(f, w)| w * (dense[f as usize] - w)));
    let shared: f32 = contrib.iter().sum();
    let vv: f32 = v.iter().map(|x| x.1 * x.1).sum();
    let rest = (s2 - 2.0 * (shared + vv) + vv).max(0.0).sqrt();
    let denom = rest * vv.sqrt();
    if denom <= 0.0 {
        return Fit {
            all: 0.0,
            beyond_place: 0.0,
            beyond_word: 0.0,
        };
    }
    let words_of = |e: &u32| p.name_words.get(e).map(Vec::as_slice).unwrap_or_default();
    let at = |f: u32| v.binary_search_by(|x| x.0.cmp(&f)).ok();
    let mut place = 0f32;
    for &e in &p.places[m] {
        let Some(ie) = at(e) else { continue };
        let mut c = contrib[ie];
        for &t in words_of(&e) {
            if let Some(it) = at(t) {
                c += contrib[it];
            }
        }
        place = place.max(c);
    }
    // the largest contribution of a term that is not a word of one of m's names (checked only
    // for a contribution that would be the largest so far: a few times per article)
    let mut word = 0f32;
    for (&(f, _), &c) in v.iter().zip(contrib.iter()) {
        if c > word
            && p.names[f as usize].starts_with(TERM_PREFIX)
            && !p.ents[m].iter().any(|e| words_of(e).contains(&f))
        {
            word = c;
        }
    }
    Fit {
        all: shared / denom,
        beyond_place: (shared - place) / denom,
        beyond_word: (shared - word) / denom,
    }
}

/// Merges two sorted lists into one sorted list.
fn merge_sorted<T: Ord + Copy>(a: &[T], b: &[T]) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Keeps the `k` heaviest features of `v` (still sorted by feature id): the tail (words of one or
/// two reports) barely moves a cosine but makes every similarity with a cluster slower.
fn truncate_heaviest(v: &mut SparseVec, k: usize) {
    if v.len() > k {
        v.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(k);
        v.sort_unstable_by_key(|x| x.0);
    }
}

/// Denominator of the linkage similarity of two clusters whose sums have dot product `d`:
/// `(|S_a| |S_b|)^(1-β) (n_a n_b)^β` with β = `opts.average_linkage`. β = 0 is the cosine of the
/// centroids; β = 1 is the mean pairwise cosine of the members (UPGMA), which unlike the centroid
/// cosine drops for a diffuse cluster whose members point in many directions.
fn linkage_denominator(a: &Cl, b: &Cl, opts: &GroupOptions) -> f32 {
    linkage_denominator_of(a.norm, b.norm, a.members.len(), b.members.len(), opts)
}

/// [`linkage_denominator`] from the sums' norms and the member counts.
fn linkage_denominator_of(
    norm_a: f32,
    norm_b: f32,
    n_a: usize,
    n_b: usize,
    opts: &GroupOptions,
) -> f32 {
    let cos = norm_a * norm_b;
    let beta = opts.average_linkage;
    if beta <= 0.0 {
        return cos;
    }
    let pairs = (n_a * n_b) as f32;
    if beta >= 1.0 {
        return pairs;
    }
    if beta == 0.5 {
        return (cos * pairs).sqrt(); // the default, without two powf per candidate
    }
    cos.powf(1.0 - beta) * pairs.powf(beta)
}

/// The bit of an outlet in [`Cl::outlet_mask`].
fn outlet_bit(outlet: u32) -> [u64; 4] {
    let mut m = [0u64; 4];
    m[(outlet as usize / 64) % 4] = 1 << (outlet % 64);
    m
}

/// The part of the dot product of two clusters' sums that comes from pairs of reports of the same
/// outlet (pairwise dot products of those reports; clusters rarely share many).
fn same_outlet_dot(p: &Prepared<'_>, a: &Cl, b: &Cl) -> f32 {
    if a.outlet_mask
        .iter()
        .zip(&b.outlet_mask)
        .all(|(x, y)| x & y == 0)
    {
        return 0.0;
    }
    let (x, y) = (&a.by_outlet, &b.by_outlet);
    let (mut i, mut j, mut s) = (0, 0, 0.0f32);
    while i < x.len() && j < y.len() {
        match x[i].0.cmp(&y[j].0) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                let o = x[i].0;
                let i_end = i + x[i..].iter().take_while(|e| e.0 == o).count();
                let j_end = j + y[j..].iter().take_while(|e| e.0 == o).count();
                for &(_, m) in &x[i..i_end] {
                    for &(_, n) in &y[j..j_end] {
                        s += dot(&p.vecs[m as usize], &p.vecs[n as usize]);
                    }
                }
                i = i_end;
                j = j_end;
            }
        }
    }
    s
}

/// The lowest linkage similarity (see [`linkage_denominator`]) between clusters `c` (its sum
/// loaded in `dense`) and `x`, given their dot product `d`, when any one member of either is left
/// out. Clusters of more than 64 members are not scanned (one member cannot sway them much).
/// `dense_x` is zeroed scratch space for `x`'s sum, zeroed again on return.
fn leave_one_out(
    p: &Prepared<'_>,
    c: &Cl,
    x: &Cl,
    d: f32,
    dense: &[f32],
    dense_x: &mut [f32],
    opts: &GroupOptions,
) -> f32 {
    let mut worst = d / linkage_denominator(c, x, opts).max(f32::MIN_POSITIVE);
    if c.members.len() > 64 && x.members.len() > 64 {
        return worst;
    }
    for &(f, w) in &x.sum {
        dense_x[f as usize] = w;
    }
    for (side, other, own_is_c) in [(x, c, false), (c, x, true)] {
        if side.members.len() > 64 {
            continue;
        }
        for &m in &side.members {
            let v = &p.vecs[m as usize];
            let vc = dense_dot(dense, v);
            let vx = dense_dot(dense_x, v);
            let vv: f32 = v.iter().map(|e| e.1 * e.1).sum();
            // v's contribution to d is its dot with the other side's sum
            let (contrib, own_dot) = if own_is_c { (vx, vc) } else { (vc, vx) };
            let n_own = (side.norm * side.norm - 2.0 * own_dot + vv).max(0.0).sqrt();
            let denom = linkage_denominator_of(
                n_own,
                other.norm,
                side.members.len() - 1,
                other.members.len(),
                opts,
            );
            let cos = if denom > 0.0 {
                (d - contrib) / denom
            } else {
                0.0
            };
            worst = worst.min(cos);
        }
    }
    for &(f, _) in &x.sum {
        dense_x[f as usize] = 0.0;
    }
    worst
}

/// Recomputes cluster `c`'s neighbour list (current cluster ids, similarity at least
/// `opts.min_edge`, at most `3 * opts.neighbours`) and returns its best neighbour as a heap entry
/// if it reaches the threshold.
fn refresh(
    p: &Prepared<'_>,
    cls: &mut [Cl],
    parent: &mut [u32],
    dense: &mut [f32],
    dense_x: &mut [f32],
    c: u32,
    opts: &GroupOptions,
) -> Option<Cand> {
    let ci = c as usize;
    let mut nb = std::mem::take(&mut cls[ci].nbrs);
    for x in nb.iter_mut() {
        *x = find(parent, *x);
    }
    nb.sort_unstable();
    nb.dedup();
    nb.retain(|&x| x != c);
    let cc = &cls[ci];
    let mut scored: Vec<(f32, u32)> = Vec::with_capacity(nb.len());
    if cc.norm > 0.0 {
        for &(f, w) in &cc.sum {
            dense[f as usize] = w;
        }
        let mut dots: Vec<f32> = Vec::with_capacity(nb.len());
        for &x in &nb {
            let cx = &cls[x as usize];
            if cx.norm == 0.0 {
                continue;
            }
            let mut d = dense_dot(dense, &cx.sum);
            let denom = linkage_denominator(cc, cx, opts);
            let ft = time_factor(cc.t0, cc.t1, cx.t0, cx.t1, opts);
            let mut s = d / denom * ft;
            // the same-outlet discount only lowers a similarity: it is worked out exactly where
            // it can decide a merge; below the threshold it only orders the kept neighbours
            if opts.same_outlet_weight < 1.0 && s >= opts.threshold {
                d -= (1.0 - opts.same_outlet_weight) * same_outlet_dot(p, cc, cx);
                s = d / denom * ft;
            }
            if s >= opts.min_edge {
                scored.push((s, x));
                dots.push(d);
            }
        }
        if opts.robust_merge > 0.0 && cc.members.len() > 1 {
            // the best merge must survive leaving out any single member: a bridge article pulls
            // two stories' centroids together, but alone it must not decide the merge. Checked
            // in order of similarity until one passes; failures stay neighbours below threshold.
            let mut order: Vec<usize> = (0..scored.len())
                .filter(|&i| scored[i].0 >= opts.threshold)
                .collect();
            order.sort_by(|&i, &j| {
                scored[j]
                    .0
                    .total_cmp(&scored[i].0)
                    .then(scored[i].1.cmp(&scored[j].1))
            });
            for i in order {
                let cx = &cls[scored[i].1 as usize];
                if cx.members.len() < 2 {
                    break;
                }
                let ft = time_factor(cc.t0, cc.t1, cx.t0, cx.t1, opts);
                let robust = leave_one_out(p, cc, cx, dots[i], dense, dense_x, opts) * ft;
                if robust >= opts.robust_merge * opts.threshold {
                    break;
                }
                scored[i].0 = opts.threshold * 0.999;
            }
        }
        for &(f, _) in &cc.sum {
            dense[f as usize] = 0.0;
        }
    }
    let by_sim = |x: &(f32, u32), y: &(f32, u32)| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1));
    let cap = opts.neighbours * 3;
    if scored.len() > cap {
        scored.select_nth_unstable_by(cap - 1, by_sim);
        scored.truncate(cap);
    }
    let best = scored.iter().copied().min_by(by_sim);
    let mut kept: Vec<u32> = scored.iter().map(|x| x.1).collect();
    kept.sort_unstable();
    cls[ci].nbrs = kept;
    let (s, x) = best?;
    (s >= opts.threshold).then(|| Cand {
        sim: s,
        a: c,
        b: x,
        sa: cls[ci].stamp,
        sb: cls[x as usize].stamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surface_word_reads_the_mention_in_title_or_text() {
        let (title, text) = (
            "US offers Chinese students code names",
            "Students from China.",
        );
        assert_eq!(surface_word(title, text, 10), Some("Chinese"));
        assert_eq!(
            surface_word(title, text, title.len() + 2 + 14),
            Some("China")
        );
        assert_eq!(surface_word(title, text, title.len() + 1), None);
        assert_eq!(surface_word(title, text, 10_000), None);
        // an offset inside a multi-byte character is not a mention
        assert_eq!(surface_word("Tāmaki Makaurau", "", 2), None);
    }

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
