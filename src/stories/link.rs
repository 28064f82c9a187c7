//! Grouping by learned scores: every candidate pair of reports (from the inverted index) gets
//! the pair scorer's probability of being one story, and groups are then merged greedily, best
//! first, while the merge scorer says they are one story. The merge scorer looks at the whole of
//! both groups, not at one pair: how strongly and how widely their reports are linked (the mean
//! pair probability over all their cross pairs, the strongest link, how many of the smaller
//! group's reports have a strong link into the other), how similar their centroids are, their
//! sizes, outlets and time spans. A bridge report cannot chain two stories (one strong pair in
//! many weak ones does not make a merge), and a diffuse topic cannot snowball (its reports are
//! weakly linked to each other), while a big story whose reports each tell a different angle
//! still comes together through the reports its parts share.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::GroupOptions;
use super::cluster::{Found, Prepared, SparseVec, dense_dot, neighbours, truncate_heaviest};
use super::features::FastMap;
use super::model::Scorer;
use super::pairs::{COHERENT, Class, PAIR_FEATURES, PairContext, pair_features};

/// Number of merge features.
pub(crate) const MERGE_FEATURES: usize = 24;

/// Names of the merge features, in order.
pub(crate) const MERGE_FEATURE_NAMES: [&str; MERGE_FEATURES] = [
    "mean_pair",
    "max_pair",
    "mean_linked_pair",
    "strong_share",
    "linked_share",
    "support",
    "weakest_support",
    "centroid_cosine",
    "linkage",
    "log_smaller",
    "log_larger",
    "shared_outlets",
    "outlets_after",
    "log_gap_hours",
    "sqrt_mean_pair",
    "log_span_hours",
    "one_outlet",
    "country_conflicts",
    "core_names",
    "core_places",
    "core_words",
    "core_broad",
    "core_max",
    "profile_cosine",
];

/// A pair probability at or above this is a strong link.
const STRONG: f32 = 0.5;

/// The candidate pairs of the window with their pair probabilities: for each article, its
/// linked articles (canonical positions, sorted), the probability, and whether the two are set
/// in different countries.
pub(crate) type PairGraph = Vec<Vec<(u32, f32, bool)>>;

/// Index of the country-conflict pair feature.
const COUNTRY_CONFLICT: usize = 28;
/// Indices of the pair features summing the shared names (people, organisations, other
/// names), event words and numbers.
const NAMES: usize = 4;
const WORDS: usize = 10;
const NUMBERS: usize = 12;

/// The link of a pair with features `f` scored by `pair`: its probability and whether the two
/// are set in different countries; `None` when the two share nothing but places (a country, a
/// state, a region, a town, or a word naming one): that says where, not what, so it is no link
/// at all (the two can still end up in one story through the reports they do share an event
/// with).
pub(crate) fn edge(f: &[f32; PAIR_FEATURES], pair: &Scorer) -> Option<(f32, bool)> {
    debug_assert_eq!(
        super::pairs::PAIR_FEATURE_NAMES[COUNTRY_CONFLICT],
        "country_conflict"
    );
    debug_assert_eq!(
        [NAMES, WORDS, NUMBERS].map(|k| super::pairs::PAIR_FEATURE_NAMES[k]),
        ["names", "words", "numbers"]
    );
    if f[NAMES] <= 0.0 && f[WORDS] <= 0.0 && f[NUMBERS] <= 0.0 {
        return None;
    }
    Some((pair.probability(f), f[COUNTRY_CONFLICT] > 0.5))
}

/// Adds the pair `(i, j)` with features `f` scored by `pair` to `graph` (both directions), unless
/// it is no link ([`edge`]).
pub(crate) fn add_edge(
    graph: &mut PairGraph,
    i: u32,
    j: u32,
    f: &[f32; PAIR_FEATURES],
    pair: &Scorer,
) {
    if let Some((prob, conflict)) = edge(f, pair) {
        graph[i as usize].push((j, prob, conflict));
        graph[j as usize].push((i, prob, conflict));
    }
}

/// Scores every candidate pair with `pair` and returns the graph. The pairs of each article are
/// scored in parallel (each pair is independent); the graph is then filled in article order, so
/// the result does not depend on the number of threads.
pub(crate) fn pair_graph(
    p: &Prepared<'_>,
    ctx: &PairContext,
    pair: &Scorer,
    opts: &GroupOptions,
) -> PairGraph {
    use rayon::prelude::*;
    let nbrs = neighbours(p, opts);
    let scored: Vec<Vec<(u32, f32, bool)>> = nbrs
        .par_iter()
        .enumerate()
        .map(|(i, list)| {
            let mut f = [0f32; PAIR_FEATURES];
            list.iter()
                .filter(|&&j| (j as usize) > i)
                .filter_map(|&j| {
                    pair_features(p, ctx, i, j as usize, &mut f);
                    edge(&f, pair).map(|(prob, conflict)| (j, prob, conflict))
                })
                .collect()
        })
        .collect();
    let mut graph: PairGraph = vec![Vec::new(); nbrs.len()];
    for (i, row) in scored.into_iter().enumerate() {
        for (j, prob, conflict) in row {
            graph[i].push((j, prob, conflict));
            graph[j as usize].push((i as u32, prob, conflict));
        }
    }
    for l in &mut graph {
        l.sort_unstable_by_key(|e| e.0);
    }
    graph
}

/// A group of reports during agglomeration.
struct Group {
    members: Vec<u32>,
    sum: SparseVec,
    /// (feature, number of members with it), sorted by feature.
    counts: Vec<(u32, u32)>,
    /// Σ (rarity × count)² over `counts`: the squared norm of the group's feature profile
    /// (times the squared size), kept so that comparing two groups reads only the smaller one.
    profile2: f32,
    norm2: f32,
    /// (outlet, reports) sorted by outlet.
    outlets: Vec<(u32, u32)>,
    t0: i64,
    t1: i64,
    stamp: u32,
    alive: bool,
}

/// A weighed merge in the heap: groups `a < b` in the states `sa`, `sb` (their stamps).
struct Cand {
    score: f64,
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
        self.score
            .total_cmp(&o.score)
            .then_with(|| o.a.cmp(&self.a))
            .then_with(|| o.b.cmp(&self.b))
    }
}

/// The merges waiting to be made: weighings that reached the threshold, best first.
#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Cand>,
    /// Pairs of groups (lower id first) with a weighing in the heap, and how many.
    queued: FastMap<(u32, u32), u32>,
    /// The stamps of each pair of groups (lower id first) at its latest weighing.
    weighed: FastMap<(u32, u32), (u32, u32)>,
}

impl Queue {
    fn pop(&mut self) -> Option<Cand> {
        let c = self.heap.pop()?;
        if let Some(k) = self.queued.get_mut(&(c.a, c.b)) {
            *k -= 1;
            if *k == 0 {
                self.queued.remove(&(c.a, c.b));
            }
        }
        Some(c)
    }

    fn is_queued(&self, g: u32, x: u32) -> bool {
        self.queued.contains_key(&(g.min(x), g.max(x)))
    }
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let up = parent[parent[x as usize] as usize];
        parent[x as usize] = up;
        x = up;
    }
    x
}

/// How likely two groups are one story, from their merge features.
pub(crate) type MergeScore<'s> = &'s dyn Fn(&[f32; MERGE_FEATURES]) -> f64;

/// Called with the features of each pair of groups the agglomeration weighs (and their members,
/// as canonical positions): how training collects merge examples.
pub(crate) type Observer<'o> = &'o mut dyn FnMut(&[f32; MERGE_FEATURES], &[u32], &[u32]);

/// The agglomeration state.
struct Agglo<'p, 'a> {
    p: &'p Prepared<'a>,
    ctx: &'p PairContext,
    graph: &'p PairGraph,
    groups: Vec<Group>,
    parent: Vec<u32>,
    max_centroid: usize,
    /// The group spread into `dense_count` and `dense_sum` (`u32::MAX`: none), and the
    /// features written there.
    loaded: u32,
    dense_count: Vec<u32>,
    dense_sum: Vec<f32>,
    touched: Vec<u32>,
}

impl Agglo<'_, '_> {
    /// The merge features of groups `x` and `y`.
    fn features(&mut self, x: u32, y: u32) -> [f32; MERGE_FEATURES] {
        let (gx, gy) = (&self.groups[x as usize], &self.groups[y as usize]);
        // the smaller group (ties: the one with the lower first member) is `a`
        let x_small = (gx.members.len(), gx.members[0]) < (gy.members.len(), gy.members[0]);
        let (a, b) = if x_small { (x, y) } else { (y, x) };
        let (na, nb) = (
            self.groups[a as usize].members.len(),
            self.groups[b as usize].members.len(),
        );
        let (mut sum, mut max, mut linked, mut strong) = (0f64, 0f32, 0u32, 0u32);
        let mut conflicts = 0u32;
        let (mut support, mut weakest) = (0f64, f32::INFINITY);
        for k in 0..na {
            let m = self.groups[a as usize].members[k];
            let mut best = 0f32;
            for &(j, prob, conflict) in &self.graph[m as usize] {
                if find(&mut self.parent, j) != b {
                    continue;
                }
                conflicts += conflict as u32;
                sum += prob as f64;
                max = max.max(prob);
                linked += 1;
                strong += (prob >= STRONG) as u32;
                best = best.max(prob);
            }
            support += best as f64;
            weakest = weakest.min(best);
        }
        let pairs = (na * nb) as f64;
        let mean = (sum / pairs) as f32;
        let other = if x == self.loaded { y } else { x };
        let d = dense_dot(&self.dense_sum, &self.groups[other as usize].sum);
        let (ga, gb) = (&self.groups[a as usize], &self.groups[b as usize]);
        let n2 = (ga.norm2 * gb.norm2).sqrt();
        let centroid = if n2 > 0.0 { d / n2 } else { 0.0 };
        let linkage = if n2 > 0.0 {
            d / (n2 * pairs as f32).sqrt()
        } else {
            0.0
        };
        let mut shared_outlets = 0u32;
        let mut outlets_after = gb.outlets.len() as u32;
        for &(o, c) in &ga.outlets {
            match gb.outlets.binary_search_by_key(&o, |e| e.0) {
                Ok(_) => shared_outlets += c,
                Err(_) => outlets_after += 1,
            }
        }
        let core = self.core(a, b, other);
        let (ga, gb) = (&self.groups[a as usize], &self.groups[b as usize]);
        let gap = if ga.t1 < gb.t0 {
            gb.t0 - ga.t1
        } else if gb.t1 < ga.t0 {
            ga.t0 - gb.t1
        } else {
            0
        };
        [
            mean,
            max,
            if linked > 0 {
                (sum / linked as f64) as f32
            } else {
                0.0
            },
            (strong as f64 / pairs) as f32,
            (linked as f64 / pairs) as f32,
            (support / na as f64) as f32,
            if weakest.is_finite() { weakest } else { 0.0 },
            centroid,
            linkage,
            (na as f32).ln(),
            (nb as f32).ln(),
            shared_outlets as f32 / na as f32,
            (outlets_after as f32).min(8.0),
            (gap as f32 / 3600.0).ln_1p(),
            mean.sqrt(),
            ((ga.t1.max(gb.t1) - ga.t0.min(gb.t0)) as f32 / 3600.0).ln_1p(),
            (outlets_after == 1) as u8 as f32,
            if linked > 0 {
                conflicts as f32 / linked as f32
            } else {
                0.0
            },
            core[0].ln_1p(),
            core[1].ln_1p(),
            core[2].ln_1p(),
            core[3],
            core[4],
            core[5],
        ]
    }

    /// What groups `a` and `b` share, each feature weighed by its rarity and by the smaller of
    /// the shares of the two groups' members that have it: names, specific places, coherent
    /// words, broad places (unweighted), the largest single term, and the cosine of the two
    /// groups' rarity-weighted feature shares. One of the two is the loaded group (see
    /// [`Agglo::load`]); `other` is the other one, whose features are read.
    fn core(&self, a: u32, b: u32, other: u32) -> [f32; 6] {
        let (ga, gb) = (&self.groups[a as usize], &self.groups[b as usize]);
        let (na, nb) = (ga.members.len() as f32, gb.members.len() as f32);
        let (n_loaded, n_other) = if other == b { (na, nb) } else { (nb, na) };
        let mut out = [0f32; 6];
        let mut dot = 0f32;
        for &(f, c) in &self.groups[other as usize].counts {
            let fu = f as usize;
            let c_loaded = self.dense_count[fu];
            if c_loaded == 0 {
                continue;
            }
            let (sh_l, sh_o) = (c_loaded as f32 / n_loaded, c as f32 / n_other);
            let r = self.p.rarity[fu];
            dot += r * r * sh_l * sh_o;
            let share = sh_l.min(sh_o);
            let class = self.ctx.class(f);
            let v = r * share;
            match class {
                Class::Person | Class::Name => out[0] += v,
                Class::Place => out[1] += v,
                Class::Word => out[2] += v * (self.p.coh[fu] / COHERENT).min(1.0),
                Class::Broad => out[3] += share,
                Class::Number => out[2] += v,
            }
            if class != Class::Broad {
                out[4] = out[4].max(v);
            }
        }
        let n = (ga.profile2 / (na * na) * gb.profile2 / (nb * nb)).sqrt();
        out[5] = if n > 0.0 { dot / n } else { 0.0 };
        out
    }

    /// Spreads group `g`'s feature counts and centroid into the dense scratch arrays, so that
    /// weighing it against each of its neighbours reads only the neighbour's features.
    fn load(&mut self, g: u32) {
        if self.loaded == g {
            return;
        }
        for &f in &self.touched {
            self.dense_count[f as usize] = 0;
            self.dense_sum[f as usize] = 0.0;
        }
        self.touched.clear();
        self.loaded = u32::MAX;
        let Some(group) = self.groups.get(g as usize) else {
            return;
        };
        for &(f, c) in &group.counts {
            self.dense_count[f as usize] = c;
            self.touched.push(f);
        }
        for &(f, w) in &group.sum {
            self.dense_sum[f as usize] = w;
            self.touched.push(f);
        }
        self.loaded = g;
    }

    /// The groups linked to group `g` by a candidate pair.
    fn neighbours_of(&mut self, g: u32) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for k in 0..self.groups[g as usize].members.len() {
            let m = self.groups[g as usize].members[k];
            for &(j, _, _) in &self.graph[m as usize] {
                let r = find(&mut self.parent, j);
                if r != g {
                    out.push(r);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Weighs the merge of groups `g` and `x` (telling `observe`) and queues it if it reaches
    /// `threshold`, unless the two were already weighed as they are now.
    fn weigh(
        &mut self,
        g: u32,
        x: u32,
        score: MergeScore<'_>,
        threshold: f64,
        observe: &mut Option<Observer<'_>>,
        queue: &mut Queue,
    ) {
        let (a, b) = (g.min(x), g.max(x));
        let stamps = (self.groups[a as usize].stamp, self.groups[b as usize].stamp);
        if queue.weighed.insert((a, b), stamps) == Some(stamps) {
            return;
        }
        // spread whichever of the two is spread already (weighing is symmetric)
        let (g, x) = if self.loaded == x { (x, g) } else { (g, x) };
        self.load(g);
        let f = self.features(g, x);
        if let Some(obs) = observe.as_mut() {
            let (ga, gx) = (&self.groups[g as usize], &self.groups[x as usize]);
            obs(&f, &ga.members, &gx.members);
        }
        let s = score(&f);
        if s >= threshold {
            queue.heap.push(Cand {
                score: s,
                a,
                b,
                sa: stamps.0,
                sb: stamps.1,
            });
            *queue.queued.entry((a, b)).or_default() += 1;
        }
    }

    fn merge(&mut self, keep: usize, gone: usize) {
        let g = std::mem::replace(
            &mut self.groups[gone],
            Group {
                members: Vec::new(),
                sum: Vec::new(),
                counts: Vec::new(),
                profile2: 0.0,
                norm2: 0.0,
                outlets: Vec::new(),
                t0: 0,
                t1: 0,
                stamp: 0,
                alive: false,
            },
        );
        self.parent[gone] = keep as u32;
        if self.loaded == keep as u32 || self.loaded == gone as u32 {
            // its counts change: spread it again when next weighed
            self.load(u32::MAX);
        }
        let k = &mut self.groups[keep];
        k.members.extend_from_slice(&g.members);
        k.counts = super::cluster::add_into(&k.counts, &g.counts);
        k.profile2 = profile2(self.p, &k.counts);
        k.sum = super::cluster::add_into(&k.sum, &g.sum);
        truncate_heaviest(&mut k.sum, self.max_centroid);
        k.norm2 = k.sum.iter().map(|x| x.1 * x.1).sum();
        for (o, c) in g.outlets {
            match k.outlets.binary_search_by_key(&o, |e| e.0) {
                Ok(i) => k.outlets[i].1 += c,
                Err(i) => k.outlets.insert(i, (o, c)),
            }
        }
        k.t0 = k.t0.min(g.t0);
        k.t1 = k.t1.max(g.t1);
        k.stamp += 1;
    }
}

/// Agglomerates the window: merges the best-scoring pair of linked groups, best first, while
/// `score` (the merge probability) reaches `threshold`. `observe`, when given, sees every pair of
/// groups weighed. Every linked pair of groups is weighed once at the start. When two groups
/// merge, a neighbour with no merge waiting in the queue is weighed again at once (it may reach
/// the threshold now), while a queued one is weighed again only when its old weighing comes up
/// (lazily: most queued merges of a growing story happen anyway, and weighing each again after
/// every merge of the story was most of the cost). Deterministic: ties break on group ids, which
/// follow the canonical order.
pub(crate) fn agglomerate(
    p: &Prepared<'_>,
    ctx: &PairContext,
    graph: &PairGraph,
    score: MergeScore<'_>,
    threshold: f64,
    mut observe: Option<Observer<'_>>,
    opts: &GroupOptions,
) -> Vec<Found> {
    let n = p.vecs.len();
    let groups: Vec<Group> = (0..n)
        .map(|i| {
            let counts: Vec<(u32, u32)> = p.occurs[i].iter().map(|&(f, _)| (f, 1)).collect();
            Group {
                members: vec![i as u32],
                sum: p.vecs[i].clone(),
                profile2: profile2(p, &counts),
                counts,
                norm2: p.vecs[i].iter().map(|x| x.1 * x.1).sum(),
                outlets: vec![(p.outlets[i], 1)],
                t0: p.times[i],
                t1: p.times[i],
                stamp: 0,
                alive: true,
            }
        })
        .collect();
    let mut ag = Agglo {
        p,
        ctx,
        graph,
        groups,
        parent: (0..n as u32).collect(),
        max_centroid: opts.max_centroid_features,
        loaded: u32::MAX,
        dense_count: vec![0; p.names.len()],
        dense_sum: vec![0.0; p.names.len()],
        touched: Vec::new(),
    };
    let mut queue = Queue::default();
    for (g, edges) in graph.iter().enumerate() {
        for &(x, _, _) in edges {
            if (x as usize) > g {
                ag.weigh(g as u32, x, score, threshold, &mut observe, &mut queue);
            }
        }
    }
    while let Some(c) = queue.pop() {
        let (ra, rb) = (find(&mut ag.parent, c.a), find(&mut ag.parent, c.b));
        if ra == rb {
            continue;
        }
        let (a, b) = (ra.min(rb), ra.max(rb));
        let (ga, gb) = (&ag.groups[a as usize], &ag.groups[b as usize]);
        if (a, b) != (c.a, c.b) || ga.stamp != c.sa || gb.stamp != c.sb {
            // weighed before one of the two grew: weigh them as they are now
            ag.weigh(a, b, score, threshold, &mut observe, &mut queue);
            continue;
        }
        ag.merge(a as usize, b as usize);
        for x in ag.neighbours_of(a) {
            // a pair still queued as it was is weighed again when it comes up
            if queue.is_queued(a, x) || queue.is_queued(b, x) {
                continue;
            }
            ag.weigh(a, x, score, threshold, &mut observe, &mut queue);
        }
    }
    ag.groups
        .into_iter()
        .filter(|g| g.alive)
        .map(|mut g| {
            g.members.sort_unstable();
            Found {
                members: g.members,
                sum: g.sum,
            }
        })
        .collect()
}

/// Σ (rarity × count)² over a group's feature counts.
fn profile2(p: &Prepared<'_>, counts: &[(u32, u32)]) -> f32 {
    counts
        .iter()
        .map(|&(f, c)| (p.rarity[f as usize] * c as f32).powi(2))
        .sum()
}
