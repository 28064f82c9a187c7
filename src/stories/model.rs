//! The learned story model: a logistic pair scorer (how likely two reports tell one story,
//! from [`super::pairs`]), a logistic merge scorer (how likely two groups of reports are one
//! story, from [`super::link`]) and the merge threshold. Trained by `digestif train stories`
//! ([`super::train`]) and embedded from `models/stories.json`.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// A logistic regression over standardised features: `p = σ(bias + Σ w_i (x_i − mean_i) / scale_i)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    /// Feature names, in order (checked against the code's features when the model loads).
    pub features: Vec<String>,
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    pub weights: Vec<f64>,
    pub bias: f64,
}

impl Logistic {
    /// The log-odds of `x` (in the order of `features`).
    pub fn log_odds(&self, x: &[f32]) -> f64 {
        let mut z = self.bias;
        for (k, &v) in x.iter().enumerate().take(self.weights.len()) {
            z += self.weights[k] * (v as f64 - self.mean[k]) / self.scale[k];
        }
        z
    }

    /// The probability of `x`.
    pub fn probability(&self, x: &[f32]) -> f32 {
        sigmoid(self.log_odds(x)) as f32
    }
}

/// One node of a regression tree: a split (`x[feature] <= threshold` goes left) or, when
/// `feature` is `u32::MAX`, a leaf with `value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub feature: u32,
    pub threshold: f32,
    pub left: u32,
    pub right: u32,
    pub value: f64,
}

/// Gradient-boosted regression trees with the logistic loss: `p = σ(base + Σ tree(x))`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trees {
    pub features: Vec<String>,
    pub base: f64,
    pub trees: Vec<Vec<Node>>,
    /// The trees laid out for evaluation (built on first use).
    #[serde(skip)]
    flat: OnceLock<FlatTrees>,
}

impl PartialEq for Trees {
    fn eq(&self, o: &Self) -> bool {
        self.features == o.features && self.base == o.base && self.trees == o.trees
    }
}

impl Trees {
    pub fn new(features: Vec<String>, base: f64, trees: Vec<Vec<Node>>) -> Trees {
        Trees {
            features,
            base,
            trees,
            flat: OnceLock::new(),
        }
    }

    pub fn log_odds(&self, x: &[f32]) -> f64 {
        self.base + self.flat.get_or_init(|| FlatTrees::new(&self.trees)).sum(x)
    }
}

/// Trees as complete binary trees of one depth, back to back: each tree is `2^depth - 1` splits
/// (feature, threshold) in breadth-first order and `2^depth` leaves. A leaf above the full
/// depth becomes splits that lead to copies of its value. Evaluation is then a fixed number of
/// steps per tree without a branch on the node kind: the merge scorer weighs every pair of
/// linked groups, and the trees are most of that cost.
#[derive(Debug, Clone)]
struct FlatTrees {
    depth: u32,
    features: Vec<u32>,
    thresholds: Vec<f32>,
    leaves: Vec<f64>,
}

impl FlatTrees {
    fn new(trees: &[Vec<Node>]) -> FlatTrees {
        fn depth_of(t: &[Node], i: usize) -> u32 {
            match t.get(i) {
                Some(n) if n.feature != u32::MAX => {
                    1 + depth_of(t, n.left as usize).max(depth_of(t, n.right as usize))
                }
                _ => 0,
            }
        }
        let depth = trees.iter().map(|t| depth_of(t, 0)).max().unwrap_or(0);
        let splits = (1usize << depth) - 1;
        let mut flat = FlatTrees {
            depth,
            features: Vec::with_capacity(trees.len() * splits),
            thresholds: Vec::with_capacity(trees.len() * splits),
            leaves: Vec::with_capacity(trees.len() * (splits + 1)),
        };
        for t in trees {
            let base = flat.features.len();
            flat.features.resize(base + splits, 0);
            flat.thresholds.resize(base + splits, f32::INFINITY);
            let leaf_base = flat.leaves.len();
            flat.leaves.resize(leaf_base + splits + 1, 0.0);
            flat.fill(t, 0, 0, base, leaf_base);
        }
        flat
    }

    /// Lays out source node `src` at breadth-first position `pos` of the flat tree.
    fn fill(&mut self, t: &[Node], src: usize, pos: usize, base: usize, leaf_base: usize) {
        let splits = (1usize << self.depth) - 1;
        if pos >= splits {
            let value = t.get(src).map_or(0.0, |n| n.value);
            self.leaves[leaf_base + pos - splits] = value;
            return;
        }
        match t.get(src) {
            Some(n) if n.feature != u32::MAX => {
                self.features[base + pos] = n.feature;
                self.thresholds[base + pos] = n.threshold;
                self.fill(t, n.left as usize, 2 * pos + 1, base, leaf_base);
                self.fill(t, n.right as usize, 2 * pos + 2, base, leaf_base);
            }
            _ => {
                // a leaf: both ways lead to its value
                self.fill(t, src, 2 * pos + 1, base, leaf_base);
                self.fill(t, src, 2 * pos + 2, base, leaf_base);
            }
        }
    }

    /// The sum of the trees' values for `x`.
    fn sum(&self, x: &[f32]) -> f64 {
        let splits = (1usize << self.depth) - 1;
        let mut total = 0f64;
        for (k, leaves) in self.leaves.chunks_exact(splits + 1).enumerate() {
            let (f, th) = (
                &self.features[k * splits..(k + 1) * splits],
                &self.thresholds[k * splits..(k + 1) * splits],
            );
            let mut i = 0usize;
            for _ in 0..self.depth {
                let v = x.get(f[i] as usize).copied().unwrap_or(0.0);
                // `x <= threshold` goes left, as in training (and NaN goes right)
                let left = v <= th[i];
                i = 2 * i + 2 - left as usize;
            }
            total += leaves[i - splits];
        }
        total
    }
}

/// A scorer: logistic regression or boosted trees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Scorer {
    Logistic(Logistic),
    Trees(Trees),
}

impl Scorer {
    pub fn probability(&self, x: &[f32]) -> f32 {
        sigmoid(match self {
            Scorer::Logistic(l) => l.log_odds(x),
            Scorer::Trees(t) => t.log_odds(x),
        }) as f32
    }

    fn features(&self) -> &[String] {
        match self {
            Scorer::Logistic(l) => &l.features,
            Scorer::Trees(t) => &t.features,
        }
    }
}

pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// The whole story model as stored in `models/stories.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoryModel {
    /// Format version; bumped when the features change.
    pub version: u32,
    /// How likely two reports are one story.
    pub pair: Scorer,
    /// How likely two groups of reports are one story.
    pub merge: Scorer,
    /// Groups merge while the merge probability is at least this.
    pub threshold: f64,
    /// What the model was trained on (for the record: inputs and example counts).
    pub trained_on: Vec<String>,
}

/// Version of the model format this code reads.
pub const MODEL_VERSION: u32 = 1;

impl StoryModel {
    /// Parses a model and checks that its features are the ones this code computes.
    pub fn from_json(text: &str) -> Result<StoryModel, String> {
        let m: StoryModel = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if m.version != MODEL_VERSION {
            return Err(format!(
                "model version {} (this build reads {MODEL_VERSION})",
                m.version
            ));
        }
        check(&m.pair, &super::pairs::PAIR_FEATURE_NAMES, "pair")?;
        check(&m.merge, &super::link::MERGE_FEATURE_NAMES, "merge")?;
        Ok(m)
    }

    /// The model as pretty JSON (what `digestif train stories` writes; byte-identical for the
    /// same model).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The model embedded in the binary (`models/stories.json`).
    pub fn embedded() -> &'static StoryModel {
        static MODEL: OnceLock<StoryModel> = OnceLock::new();
        MODEL.get_or_init(|| {
            StoryModel::from_json(include_str!("../../models/stories.json"))
                .unwrap_or_else(|e| panic!("models/stories.json: {e}"))
        })
    }
}

fn check(s: &Scorer, names: &[&str], what: &str) -> Result<(), String> {
    let f = s.features();
    let mut same = f.len() == names.len() && f.iter().zip(names).all(|(a, b)| a == b);
    match s {
        Scorer::Logistic(l) => {
            same &= l.mean.len() == names.len()
                && l.scale.len() == names.len()
                && l.weights.len() == names.len()
                && l.scale.iter().all(|&s| s > 0.0)
        }
        Scorer::Trees(t) => {
            same &= t.trees.iter().all(|tree| {
                tree.iter().all(|n| {
                    n.feature == u32::MAX
                        || ((n.feature as usize) < names.len()
                            && (n.left as usize) < tree.len()
                            && (n.right as usize) < tree.len())
                })
            })
        }
    }
    if same {
        Ok(())
    } else {
        Err(format!(
            "the {what} scorer's features do not match this build's; retrain with `digestif train stories`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_trees_score_as_the_trees_do() {
        let split = |feature, threshold, left, right| Node {
            feature,
            threshold,
            left,
            right,
            value: 0.0,
        };
        let leaf = |value| Node {
            feature: u32::MAX,
            threshold: 0.0,
            left: 0,
            right: 0,
            value,
        };
        // an uneven tree (a leaf at depth 1, splits to depth 3) and a bare leaf
        let t1 = vec![
            split(0, 0.5, 1, 2),
            leaf(-1.0),
            split(1, 2.0, 3, 4),
            leaf(0.25),
            split(0, 0.9, 5, 6),
            leaf(0.5),
            leaf(2.0),
        ];
        let t2 = vec![leaf(0.125)];
        let trees = Trees::new(vec!["a".into(), "b".into()], 0.1, vec![t1, t2]);
        for x in [
            [0.0f32, 0.0],
            [0.5, 9.0],
            [0.7, 1.0],
            [0.7, 3.0],
            [0.95, 3.0],
            [f32::NAN, 3.0],
            [0.95, f32::NAN],
        ] {
            let want = trees.base
                + trees
                    .trees
                    .iter()
                    .map(|t| crate::stories::learn::predict_tree(t, &x))
                    .sum::<f64>();
            assert_eq!(trees.log_odds(&x), want, "{x:?}");
        }
    }
}
