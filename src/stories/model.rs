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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trees {
    pub features: Vec<String>,
    pub base: f64,
    pub trees: Vec<Vec<Node>>,
}

impl Trees {
    pub fn log_odds(&self, x: &[f32]) -> f64 {
        self.base
            + self
                .trees
                .iter()
                .map(|t| super::learn::predict_tree(t, x))
                .sum::<f64>()
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
