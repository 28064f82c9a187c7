//! Training the story model ([`super::model::StoryModel`]) on labelled windows: the labelled
//! feed snapshots (a window each) and the benchmark sets (UCI headlines, BASIL articles).
//!
//! 1. **Pair scorer.** Every candidate pair of a window (from the inverted index, as grouping
//!    finds them) is an example: one story or not, by the gold labels. Pairs with an item a
//!    careful editor could group either way are left out. A logistic regression is fitted on
//!    all windows, and once more without each window in turn, so that the merge scorer is trained
//!    on pair probabilities of windows the pair scorer has not seen (as on a new day).
//! 2. **Merge scorer.** The agglomeration is run on each window, and every pair of groups it
//!    weighs is an example: one story if most of their cross pairs are (by the gold labels).
//!    The first run merges by the mean pair probability; later runs by the merge scorer of the
//!    run before, so the scorer learns from the groups it will itself build (three rounds, the
//!    examples of all rounds together).
//! 3. **Threshold.** The merge threshold that scores best on the training windows (pairwise
//!    and BCubed F1 of the snapshots, BCubed F1 of the benchmarks).
//!
//! Everything is deterministic: same inputs, same model, byte for byte.

use super::cluster::{Found, Prepared, SparseVec, neighbours, prepare};
use super::eval::{SnapshotLabel, SnapshotScore, bcubed, score_snapshot};
use super::learn::{Examples, TreeOptions, fit, fit_trees};
use super::link::{
    MERGE_FEATURE_NAMES, MERGE_FEATURES, MergeScore, PairGraph, add_edge, agglomerate, pair_graph,
};
use super::model::{MODEL_VERSION, Scorer, StoryModel};
use super::pairs::{PAIR_FEATURE_NAMES, PAIR_FEATURES, PairContext, pair_features};
use super::{Background, GroupOptions, StoryArticle};

/// A labelled window to train or evaluate on.
pub struct TrainWindow<'a> {
    pub name: String,
    pub articles: Vec<StoryArticle<'a>>,
    /// Gold label of each article (by position in `articles`).
    pub labels: Vec<SnapshotLabel>,
    /// One outlet's several items on one event, by position (not a gold story, but one event).
    pub duplicates: Vec<Option<u32>>,
    /// A benchmark set (every item has a gold story), rather than a feed snapshot.
    pub benchmark: bool,
}

/// Training settings.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Total weight of each benchmark set relative to one snapshot.
    pub benchmark_weight: f64,
    /// L2 penalty of both scorers.
    pub l2: f64,
    /// Rounds of merge-scorer training.
    pub rounds: usize,
    /// Merge thresholds tried.
    pub thresholds: Vec<f64>,
    /// Boosted trees rather than logistic regression, for the pair and the merge scorer.
    pub pair_trees: Option<TreeOptions>,
    pub merge_trees: Option<TreeOptions>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            benchmark_weight: 1.0,
            l2: 1e-3,
            rounds: 3,
            thresholds: (4..=16).map(|k| k as f64 * 0.05).collect(),
            pair_trees: None,
            // a merge depends on its features jointly (a strong mean link means little between
            // two big groups of one outlet): boosted trees fit that, a linear scorer cannot
            merge_trees: Some(TreeOptions {
                trees: 100,
                ..TreeOptions::default()
            }),
        }
    }
}

/// A window made ready: its prepared articles, candidate pairs and their features and labels.
struct Ready<'w, 'a> {
    window: &'w TrainWindow<'a>,
    prepared: Prepared<'a>,
    ctx: PairContext,
    /// Candidate pairs (canonical positions, `a < b`) and their features.
    pairs: Vec<(u32, u32)>,
    features: Vec<[f32; PAIR_FEATURES]>,
    /// Identity of each article by canonical position for merge labels: a gold story, one
    /// outlet's event, or the article alone; `None` for an ambiguous item.
    identity: Vec<Option<u64>>,
}

fn identity(w: &TrainWindow<'_>, i: usize) -> Option<u64> {
    match w.labels[i] {
        SnapshotLabel::Story(g) => Some(g as u64),
        SnapshotLabel::Ambiguous => None,
        SnapshotLabel::Unlabelled => Some(match w.duplicates.get(i).copied().flatten() {
            Some(d) => (1 << 32) | d as u64,
            None => (2 << 32) | i as u64,
        }),
    }
}

/// Whether a pair is one story (`None`: leave the pair out).
fn pair_label(w: &TrainWindow<'_>, a: usize, b: usize) -> Option<bool> {
    use SnapshotLabel::*;
    match (w.labels[a], w.labels[b]) {
        (Ambiguous, _) | (_, Ambiguous) => None,
        (Story(x), Story(y)) => Some(x == y),
        (Story(_), Unlabelled) | (Unlabelled, Story(_)) => Some(false),
        (Unlabelled, Unlabelled) => {
            let (da, db) = (w.duplicates.get(a), w.duplicates.get(b));
            Some(matches!((da, db), (Some(Some(x)), Some(Some(y))) if x == y))
        }
    }
}

fn ready<'w, 'a>(w: &'w TrainWindow<'a>, opts: &GroupOptions) -> Ready<'w, 'a> {
    let prepared = prepare(&w.articles, &Background::new(), opts);
    let ctx = PairContext::new(&prepared);
    let mut pairs = Vec::new();
    let mut features = Vec::new();
    let mut f = [0f32; PAIR_FEATURES];
    for (i, list) in neighbours(&prepared, opts).iter().enumerate() {
        for &j in list {
            if (j as usize) > i {
                pair_features(&prepared, &ctx, i, j as usize, &mut f);
                pairs.push((i as u32, j));
                features.push(f);
            }
        }
    }
    let identity = prepared
        .order
        .iter()
        .map(|&ix| identity(w, w.articles[ix].id))
        .collect();
    Ready {
        window: w,
        prepared,
        ctx,
        pairs,
        features,
        identity,
    }
}

/// Each window's total weight.
fn window_weight(w: &TrainWindow<'_>, opts: &TrainOptions) -> f64 {
    if w.benchmark {
        opts.benchmark_weight
    } else {
        1.0
    }
}

fn pair_examples(r: &Ready<'_, '_>) -> Examples {
    let mut ex = Examples::new(PAIR_FEATURES);
    for (&(a, b), f) in r.pairs.iter().zip(&r.features) {
        let (ia, ib) = (r.prepared.order[a as usize], r.prepared.order[b as usize]);
        let (ida, idb) = (r.window.articles[ia].id, r.window.articles[ib].id);
        if let Some(y) = pair_label(r.window, ida, idb) {
            ex.push(f, y, 1.0);
        }
    }
    ex
}

/// Fits the pair scorer on the given windows (each scaled to its window weight).
fn fit_pairs(sets: &[(&Examples, f64)], opts: &TrainOptions) -> Scorer {
    let mut all = Examples::new(PAIR_FEATURES);
    for (ex, weight) in sets {
        let w = ex.weight();
        if w > 0.0 {
            all.extend(ex, weight / w * 1000.0);
        }
    }
    fit_scorer(&all, &PAIR_FEATURE_NAMES, opts.l2, opts.pair_trees.as_ref())
}

fn fit_scorer(ex: &Examples, names: &[&str], l2: f64, trees: Option<&TreeOptions>) -> Scorer {
    match trees {
        Some(t) => Scorer::Trees(fit_trees(ex, names, t)),
        None => Scorer::Logistic(fit(ex, names, l2)),
    }
}

fn graph_of(r: &Ready<'_, '_>, pair: &Scorer) -> PairGraph {
    let n = r.prepared.vecs.len();
    let mut graph: PairGraph = vec![Vec::new(); n];
    for (&(a, b), f) in r.pairs.iter().zip(&r.features) {
        add_edge(&mut graph, a, b, f, pair);
    }
    for l in &mut graph {
        l.sort_unstable_by_key(|e| e.0);
    }
    graph
}

/// Whether most known cross pairs of two groups are one story (`None`: no known pair).
fn merge_label(identity: &[Option<u64>], a: &[u32], b: &[u32]) -> Option<bool> {
    let (mut good, mut bad) = (0u64, 0u64);
    for &x in a {
        let Some(ix) = identity[x as usize] else {
            continue;
        };
        for &y in b {
            match identity[y as usize] {
                Some(iy) if iy == ix => good += 1,
                Some(_) => bad += 1,
                None => {}
            }
        }
    }
    (good + bad > 0).then_some(good >= bad)
}

/// The partition of a window (ids as in `TrainWindow::articles`, a story number each) and its
/// score.
fn predicted(r: &Ready<'_, '_>, found: &[Found]) -> Vec<usize> {
    let n = r.window.articles.len();
    let mut pred: Vec<usize> = (0..n).collect();
    for (s, f) in found.iter().enumerate() {
        for &m in &f.members {
            pred[r.window.articles[r.prepared.order[m as usize]].id] = n + s;
        }
    }
    pred
}

/// Scores of a set of windows: snapshots pooled, benchmarks by BCubed F1.
#[derive(Debug, Clone, Default)]
pub struct WindowScores {
    pub snapshots: SnapshotScore,
    /// (name, BCubed F1) of each benchmark window.
    pub benchmarks: Vec<(String, f64)>,
    /// (name, score) of each snapshot window.
    pub per_snapshot: Vec<(String, SnapshotScore)>,
}

impl WindowScores {
    /// What training maximises: the mean of the snapshots' pairwise and BCubed F1, with the
    /// benchmarks' BCubed F1 at a quarter weight each.
    fn objective(&self) -> f64 {
        let (_, _, pw) = self.snapshots.pairwise();
        let (_, _, b3) = self.snapshots.bcubed();
        let snaps = if self.snapshots.members > 0 {
            (pw + b3) / 2.0
        } else {
            0.0
        };
        snaps + self.benchmarks.iter().map(|b| b.1 * 0.25).sum::<f64>()
    }
}

fn score_window(r: &Ready<'_, '_>, found: &[Found], scores: &mut WindowScores) {
    let pred = predicted(r, found);
    if r.window.benchmark {
        let gold: Vec<SnapshotLabel> = r.window.labels.clone();
        let (_, _, f1) = bcubed(&pred, &gold);
        scores.benchmarks.push((r.window.name.clone(), f1));
    } else {
        let s = score_snapshot(&r.window.labels, &pred);
        scores.snapshots.add(&s);
        scores.per_snapshot.push((r.window.name.clone(), s));
    }
}

/// The merge scorer's examples from one run of the agglomeration over a window, with the run's
/// score function and threshold.
/// With `score` `None` the run follows the gold labels (the expert: merges exactly the groups
/// that are mostly one story), so the scorer also sees the big, right groups it should build.
fn rollout(
    r: &Ready<'_, '_>,
    graph: &PairGraph,
    score: Option<MergeScore<'_>>,
    threshold: f64,
    opts: &GroupOptions,
) -> Examples {
    let mut ex = Examples::new(MERGE_FEATURES);
    // the observer sees each pair of groups just before it is scored
    let label = std::cell::Cell::new(0.0f64);
    // a group grows only: its lowest member and size name one state of it, so each pair of
    // group states is one example however often it is weighed
    let mut seen: std::collections::HashSet<(u32, usize, u32, usize)> = Default::default();
    let mut observe = |f: &[f32; MERGE_FEATURES], a: &[u32], b: &[u32]| {
        let ka = (a.iter().min().copied().unwrap_or(0), a.len());
        let kb = (b.iter().min().copied().unwrap_or(0), b.len());
        let key = if ka < kb {
            (ka.0, ka.1, kb.0, kb.1)
        } else {
            (kb.0, kb.1, ka.0, ka.1)
        };
        let y = merge_label(&r.identity, a, b);
        label.set(if y == Some(true) { 1.0 } else { 0.0 });
        if !seen.insert(key) {
            return;
        }
        if let Some(y) = y {
            ex.push(f, y, 1.0);
        }
    };
    let expert = |_: &[f32; MERGE_FEATURES]| label.get();
    agglomerate(
        &r.prepared,
        &r.ctx,
        graph,
        score.unwrap_or(&expert),
        threshold,
        Some(&mut observe),
        opts,
    );
    ex
}

/// Trains the story model on `windows`. `log` receives progress lines.
pub fn train(
    windows: &[TrainWindow<'_>],
    opts: &GroupOptions,
    topts: &TrainOptions,
    log: &mut dyn FnMut(&str),
) -> StoryModel {
    let ready: Vec<Ready> = windows.iter().map(|w| ready(w, opts)).collect();
    let pair_ex: Vec<Examples> = ready.iter().map(pair_examples).collect();
    let weights: Vec<f64> = windows.iter().map(|w| window_weight(w, topts)).collect();
    for (r, ex) in ready.iter().zip(&pair_ex) {
        let pos = ex.y.iter().filter(|&&y| y).count();
        log(&format!(
            "{}: {} articles, {} candidate pairs, {} labelled ({} one story)",
            r.window.name,
            r.window.articles.len(),
            r.pairs.len(),
            ex.len(),
            pos
        ));
    }
    let pair = fit_pairs(
        &pair_ex
            .iter()
            .zip(weights.iter().copied())
            .collect::<Vec<_>>(),
        topts,
    );
    // pair probabilities of each window from a scorer that has not seen it
    let graphs: Vec<PairGraph> = (0..ready.len())
        .map(|k| {
            let others: Vec<(&Examples, f64)> = pair_ex
                .iter()
                .zip(weights.iter().copied())
                .enumerate()
                .filter(|(i, _)| *i != k)
                .map(|(_, x)| x)
                .collect();
            graph_of(&ready[k], &fit_pairs(&others, topts))
        })
        .collect();
    let mut merge_ex = Examples::new(MERGE_FEATURES);
    let mut merge: Option<Scorer> = None;
    for round in 0..topts.rounds {
        for (k, r) in ready.iter().enumerate() {
            let ex = match &merge {
                None => rollout(r, &graphs[k], None, 0.5, opts),
                Some(m) => rollout(r, &graphs[k], Some(&|f| m.probability(f) as f64), 0.5, opts),
            };
            let w = ex.weight();
            if w > 0.0 {
                merge_ex.extend(&ex, weights[k] / w * 1000.0);
            }
        }
        let m = fit_scorer(
            &merge_ex,
            &MERGE_FEATURE_NAMES,
            topts.l2,
            topts.merge_trees.as_ref(),
        );
        log(&format!(
            "merge round {}: {} examples",
            round + 1,
            merge_ex.len()
        ));
        merge = Some(m);
    }
    let merge = merge.unwrap_or_else(|| {
        fit_scorer(
            &merge_ex,
            &MERGE_FEATURE_NAMES,
            topts.l2,
            topts.merge_trees.as_ref(),
        )
    });
    let mut best = (f64::NEG_INFINITY, 0.5);
    for &t in &topts.thresholds {
        let mut scores = WindowScores::default();
        for (k, r) in ready.iter().enumerate() {
            let found = agglomerate(
                &r.prepared,
                &r.ctx,
                &graphs[k],
                &|f| merge.probability(f) as f64,
                t,
                None,
                opts,
            );
            score_window(r, &found, &mut scores);
        }
        let o = scores.objective();
        log(&format!(
            "threshold {t:.2}: {} objective {o:.4}",
            scores.snapshots
        ));
        if o > best.0 + 1e-12 {
            best = (o, t);
        }
    }
    StoryModel {
        version: MODEL_VERSION,
        pair,
        merge,
        threshold: best.1,
        trained_on: windows
            .iter()
            .zip(&pair_ex)
            .map(|(w, ex)| format!("{} ({} pairs)", w.name, ex.len()))
            .collect(),
    }
}

/// Groups a window with `model` and scores it.
pub fn evaluate(
    windows: &[TrainWindow<'_>],
    model: &StoryModel,
    opts: &GroupOptions,
) -> WindowScores {
    let mut scores = WindowScores::default();
    for w in windows {
        let r = ready(w, opts);
        let graph = pair_graph(&r.prepared, &r.ctx, &model.pair, opts);
        let found = agglomerate(
            &r.prepared,
            &r.ctx,
            &graph,
            &|f| model.merge.probability(f) as f64,
            model.threshold,
            None,
            opts,
        );
        score_window(&r, &found, &mut scores);
    }
    scores
}

/// Leave-one-snapshot-out: for each snapshot window, trains on all other windows (the other
/// snapshots and the benchmarks) and scores the snapshot left out.
pub fn leave_one_out(
    windows: &[TrainWindow<'_>],
    opts: &GroupOptions,
    topts: &TrainOptions,
    log: &mut dyn FnMut(&str),
) -> WindowScores {
    let mut scores = WindowScores::default();
    for (k, w) in windows.iter().enumerate() {
        if w.benchmark {
            continue;
        }
        let rest: Vec<TrainWindow> = windows
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != k)
            .map(|(_, x)| TrainWindow {
                name: x.name.clone(),
                articles: x.articles.clone(),
                labels: x.labels.clone(),
                duplicates: x.duplicates.clone(),
                benchmark: x.benchmark,
            })
            .collect();
        let model = train(&rest, opts, topts, &mut |_| {});
        let s = evaluate(std::slice::from_ref(w), &model, opts);
        if let Some((name, sc)) = s.per_snapshot.first() {
            log(&format!("{name}: {sc} (threshold {:.2})", model.threshold));
            scores.snapshots.add(sc);
            scores.per_snapshot.push((name.clone(), *sc));
        }
    }
    scores
}

/// Names of the pair features, in order.
pub fn pair_feature_names() -> &'static [&'static str] {
    &PAIR_FEATURE_NAMES
}

/// One candidate pair of a window: the caller's ids of the two articles and the pair features.
#[derive(Debug, Clone)]
pub struct PairExample {
    pub a: usize,
    pub b: usize,
    pub features: [f32; PAIR_FEATURES],
}

/// The candidate pairs of a window (each once) with their features (development dumps).
pub fn candidate_pairs(
    articles: &[StoryArticle],
    bg: &Background,
    opts: &GroupOptions,
) -> Vec<PairExample> {
    if articles.is_empty() {
        return Vec::new();
    }
    let p = prepare(articles, bg, opts);
    let ctx = PairContext::new(&p);
    let mut out = Vec::new();
    let mut f = [0f32; PAIR_FEATURES];
    for (i, list) in neighbours(&p, opts).iter().enumerate() {
        for &j in list {
            if (j as usize) > i {
                pair_features(&p, &ctx, i, j as usize, &mut f);
                out.push(PairExample {
                    a: articles[p.order[i]].id,
                    b: articles[p.order[j as usize]].id,
                    features: f,
                });
            }
        }
    }
    out
}

/// The grouping vectors of a window's articles (caller's id -> sparse (feature, weight) with
/// feature names), for development dumps.
pub fn article_vectors(
    articles: &[StoryArticle],
    bg: &Background,
    opts: &GroupOptions,
) -> (Vec<String>, Vec<(usize, SparseVec)>) {
    if articles.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let p = prepare(articles, bg, opts);
    let vecs = p
        .vecs
        .iter()
        .enumerate()
        .map(|(i, v)| (articles[p.order[i]].id, v.clone()))
        .collect();
    (p.names.clone(), vecs)
}

/// Development aid: the candidate pairs touching the members of gold story `story` in `w`, with
/// their pair probability under `model`.
pub fn debug_story(
    w: &TrainWindow<'_>,
    model: &StoryModel,
    opts: &GroupOptions,
    story: u32,
) -> String {
    use std::fmt::Write;
    let r = ready(w, opts);
    let mut out = String::new();
    let pos: Vec<usize> = (0..r.prepared.order.len())
        .filter(|&i| w.labels[w.articles[r.prepared.order[i]].id] == SnapshotLabel::Story(story))
        .collect();
    for &i in &pos {
        let a = &w.articles[r.prepared.order[i]];
        let _ = writeln!(out, "#{i} {:.10} | {}", a.outlet, a.title);
    }
    for ((a, b), f) in r.pairs.iter().zip(&r.features) {
        let (a, b) = (*a as usize, *b as usize);
        if !pos.contains(&a) && !pos.contains(&b) {
            continue;
        }
        let la = w.labels[w.articles[r.prepared.order[a]].id];
        let lb = w.labels[w.articles[r.prepared.order[b]].id];
        let _ = writeln!(
            out,
            "{a}-{b} p {:.2} {:?}/{:?} {}",
            model.pair.probability(f),
            la,
            lb,
            f.iter()
                .zip(PAIR_FEATURE_NAMES)
                .filter(|(x, _)| **x != 0.0)
                .map(|(x, n)| format!("{n}={x:.2}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    out
}

/// Development aid: scores of the agglomeration when every merge is decided by the gold labels
/// (the ceiling of the merge scorer).
pub fn oracle(windows: &[TrainWindow<'_>], opts: &GroupOptions) -> WindowScores {
    let mut scores = WindowScores::default();
    for w in windows {
        let r = ready(w, opts);
        let n = r.prepared.vecs.len();
        let mut graph: PairGraph = vec![Vec::new(); n];
        for &(a, b) in &r.pairs {
            graph[a as usize].push((b, 0.5, false));
            graph[b as usize].push((a, 0.5, false));
        }
        for l in &mut graph {
            l.sort_unstable_by_key(|e| e.0);
        }
        // the observer sees each pair weighed before it is scored: remember the label
        let label = std::cell::Cell::new(0.0f64);
        let mut observe = |_: &[f32; MERGE_FEATURES], a: &[u32], b: &[u32]| {
            label.set(match merge_label(&r.identity, a, b) {
                Some(true) => 1.0,
                Some(false) => 0.0,
                None => 0.0,
            });
        };
        let found = agglomerate(
            &r.prepared,
            &r.ctx,
            &graph,
            &|_| label.get(),
            0.5,
            Some(&mut observe),
            opts,
        );
        score_window(&r, &found, &mut scores);
    }
    scores
}
