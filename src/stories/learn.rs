//! Fitting a weighted, L2-regularised logistic regression by Newton's method: deterministic
//! (fixed summation order, no randomness), so training gives the same model byte for byte.

use super::model::{Logistic, sigmoid};

/// Examples for [`fit`]: rows of `dims` features, back to back.
#[derive(Debug, Default, Clone)]
pub(crate) struct Examples {
    pub dims: usize,
    pub x: Vec<f32>,
    pub y: Vec<bool>,
    pub w: Vec<f64>,
}

impl Examples {
    pub fn new(dims: usize) -> Self {
        Examples {
            dims,
            ..Default::default()
        }
    }

    pub fn push(&mut self, x: &[f32], y: bool, w: f64) {
        debug_assert_eq!(x.len(), self.dims);
        self.x.extend_from_slice(x);
        self.y.push(y);
        self.w.push(w);
    }

    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.dims..(i + 1) * self.dims]
    }

    /// Appends `other`, its weights scaled by `scale`.
    pub fn extend(&mut self, other: &Examples, scale: f64) {
        self.x.extend_from_slice(&other.x);
        self.y.extend_from_slice(&other.y);
        self.w.extend(other.w.iter().map(|w| w * scale));
    }

    /// Sum of the weights.
    pub fn weight(&self) -> f64 {
        self.w.iter().sum()
    }
}

/// Fits `P(y) = σ(b + w·z)` on standardised features `z` with an L2 penalty `l2/2 |w|²` per
/// unit of example weight (the bias is not penalised).
pub(crate) fn fit(ex: &Examples, names: &[&str], l2: f64) -> Logistic {
    let d = ex.dims;
    let n = ex.len();
    let total_w = ex.weight().max(f64::MIN_POSITIVE);
    // standardisation
    let mut mean = vec![0f64; d];
    for i in 0..n {
        for (k, &v) in ex.row(i).iter().enumerate() {
            mean[k] += ex.w[i] * v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= total_w);
    let mut var = vec![0f64; d];
    for i in 0..n {
        for (k, &v) in ex.row(i).iter().enumerate() {
            var[k] += ex.w[i] * (v as f64 - mean[k]).powi(2);
        }
    }
    let scale: Vec<f64> = var
        .iter()
        .map(|v| {
            let s = (v / total_w).sqrt();
            if s > 1e-9 { s } else { 1.0 }
        })
        .collect();
    let z = |i: usize, k: usize| (ex.row(i)[k] as f64 - mean[k]) / scale[k];
    // Newton's method on (bias, weights): gradient and Hessian of the mean weighted loss
    let m = d + 1;
    let mut beta = vec![0f64; m];
    for _ in 0..50 {
        let mut grad = vec![0f64; m];
        let mut hess = vec![0f64; m * m];
        let mut zi = vec![0f64; m];
        for i in 0..n {
            zi[0] = 1.0;
            for k in 0..d {
                zi[k + 1] = z(i, k);
            }
            let eta: f64 = beta.iter().zip(&zi).map(|(b, x)| b * x).sum();
            let p = sigmoid(eta);
            let wi = ex.w[i] / total_w;
            let r = wi * (p - if ex.y[i] { 1.0 } else { 0.0 });
            let h = wi * (p * (1.0 - p)).max(1e-12);
            for a in 0..m {
                grad[a] += r * zi[a];
                let ha = h * zi[a];
                for b in a..m {
                    hess[a * m + b] += ha * zi[b];
                }
            }
        }
        for a in 1..m {
            grad[a] += l2 * beta[a];
            hess[a * m + a] += l2;
        }
        for a in 0..m {
            for b in 0..a {
                hess[a * m + b] = hess[b * m + a];
            }
        }
        let Some(step) = solve(&mut hess, &grad, m) else {
            break;
        };
        let mut change = 0f64;
        for a in 0..m {
            beta[a] -= step[a];
            change = change.max(step[a].abs());
        }
        if change < 1e-9 {
            break;
        }
    }
    Logistic {
        features: names.iter().map(|s| s.to_string()).collect(),
        mean: mean.iter().map(|&v| round(v)).collect(),
        scale: scale.iter().map(|&v| round(v)).collect(),
        weights: beta[1..].iter().map(|&v| round(v)).collect(),
        bias: round(beta[0]),
    }
}

/// Rounds to 9 significant digits, so the stored model does not carry float noise.
pub(crate) fn round(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return if v.is_finite() { 0.0 } else { v };
    }
    let digits = 9 - v.abs().log10().ceil() as i32;
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// Solves `A x = b` for a symmetric positive definite `A` (`m × m`, overwritten) by Cholesky.
fn solve(a: &mut [f64], b: &[f64], m: usize) -> Option<Vec<f64>> {
    for j in 0..m {
        let mut s = a[j * m + j];
        for k in 0..j {
            s -= a[j * m + k] * a[j * m + k];
        }
        if s <= 0.0 || !s.is_finite() {
            return None;
        }
        let l = s.sqrt();
        a[j * m + j] = l;
        for i in j + 1..m {
            let mut t = a[i * m + j];
            for k in 0..j {
                t -= a[i * m + k] * a[j * m + k];
            }
            a[i * m + j] = t / l;
        }
    }
    let mut y = vec![0f64; m];
    for i in 0..m {
        let mut t = b[i];
        for k in 0..i {
            t -= a[i * m + k] * y[k];
        }
        y[i] = t / a[i * m + i];
    }
    let mut x = vec![0f64; m];
    for i in (0..m).rev() {
        let mut t = y[i];
        for k in i + 1..m {
            t -= a[k * m + i] * x[k];
        }
        x[i] = t / a[i * m + i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_fit_separates_and_is_deterministic() {
        // y = 1 when x0 + noise-free x1 / 2 > 1
        let mut ex = Examples::new(2);
        for i in 0..200 {
            let a = (i % 20) as f32 / 10.0;
            let b = (i / 20) as f32 / 5.0;
            ex.push(&[a, b], a + b / 2.0 > 1.0, 1.0);
        }
        let m1 = fit(&ex, &["a", "b"], 1e-3);
        let m2 = fit(&ex, &["a", "b"], 1e-3);
        assert_eq!(m1, m2);
        assert!(m1.probability(&[1.9, 1.0]) > 0.9);
        assert!(m1.probability(&[0.1, 0.2]) < 0.1);
        assert!(m1.weights[0] > m1.weights[1] && m1.weights[1] > 0.0);
    }
}

/// Settings of [`fit_trees`].
#[derive(Debug, Clone)]
pub struct TreeOptions {
    pub trees: usize,
    pub depth: usize,
    pub learning_rate: f64,
    /// L2 penalty on leaf values (in units of example weight, after weights sum to the count).
    pub lambda: f64,
    /// Least Hessian weight in a leaf.
    pub min_child: f64,
    /// Most candidate thresholds per feature.
    pub bins: usize,
}

impl Default for TreeOptions {
    fn default() -> Self {
        TreeOptions {
            trees: 150,
            depth: 3,
            learning_rate: 0.1,
            lambda: 1.0,
            min_child: 5.0,
            bins: 32,
        }
    }
}

/// Candidate split thresholds of feature `k`: weighted quantiles of its distinct values.
fn thresholds(ex: &Examples, k: usize, bins: usize) -> Vec<f32> {
    let mut v: Vec<(f32, f64)> = (0..ex.len()).map(|i| (ex.row(i)[k], ex.w[i])).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = v.iter().map(|x| x.1).sum();
    let mut out: Vec<f32> = Vec::new();
    let mut acc = 0f64;
    let mut next = total / bins as f64;
    for w in v.windows(2) {
        acc += w[0].1;
        if w[0].0 != w[1].0 && acc >= next {
            // split between the two values
            out.push(w[0].0 + (w[1].0 - w[0].0) / 2.0);
            while next <= acc {
                next += total / bins as f64;
            }
        }
    }
    out
}

/// Fits gradient-boosted regression trees with the logistic loss (second-order steps,
/// histogram splits on weighted-quantile thresholds). Deterministic.
pub(crate) fn fit_trees(ex: &Examples, names: &[&str], o: &TreeOptions) -> super::model::Trees {
    use super::model::{Node, Trees};
    let n = ex.len();
    let d = ex.dims;
    // weights normalised to mean 1
    let total_w = ex.weight().max(f64::MIN_POSITIVE);
    let w: Vec<f64> = ex.w.iter().map(|x| x * n as f64 / total_w).collect();
    let cuts: Vec<Vec<f32>> = (0..d).map(|k| thresholds(ex, k, o.bins)).collect();
    // binned features: bin b means value in (cuts[b-1], cuts[b]]
    let bin_of: Vec<u8> = (0..n)
        .flat_map(|i| {
            let row = ex.row(i);
            (0..d)
                .map(|k| cuts[k].partition_point(|&c| c < row[k]) as u8)
                .collect::<Vec<_>>()
        })
        .collect();
    let pos: f64 = (0..n).filter(|&i| ex.y[i]).map(|i| w[i]).sum();
    let prior = (pos / n as f64).clamp(1e-6, 1.0 - 1e-6);
    let base = (prior / (1.0 - prior)).ln();
    let mut margin = vec![base; n];
    let mut trees: Vec<Vec<Node>> = Vec::with_capacity(o.trees);
    let mut g = vec![0f64; n];
    let mut h = vec![0f64; n];
    for _ in 0..o.trees {
        for i in 0..n {
            let p = sigmoid(margin[i]);
            g[i] = w[i] * (p - if ex.y[i] { 1.0 } else { 0.0 });
            h[i] = w[i] * (p * (1.0 - p)).max(1e-12);
        }
        let mut nodes: Vec<Node> = Vec::new();
        let all: Vec<u32> = (0..n as u32).collect();
        grow(&mut nodes, &all, 0, &bin_of, d, &cuts, &g, &h, o);
        for (i, m) in margin.iter_mut().enumerate() {
            *m += predict_tree(&nodes, ex.row(i));
        }
        trees.push(nodes);
    }
    Trees::new(
        names.iter().map(|s| s.to_string()).collect(),
        round(base),
        trees,
    )
}

/// Grows the subtree of `rows` at `depth` into `nodes`; returns its index.
#[allow(clippy::too_many_arguments)]
fn grow(
    nodes: &mut Vec<super::model::Node>,
    rows: &[u32],
    depth: usize,
    bin_of: &[u8],
    d: usize,
    cuts: &[Vec<f32>],
    g: &[f64],
    h: &[f64],
    o: &TreeOptions,
) -> usize {
    use super::model::Node;
    let (gs, hs): (f64, f64) = rows.iter().fold((0.0, 0.0), |a, &i| {
        (a.0 + g[i as usize], a.1 + h[i as usize])
    });
    let here = nodes.len();
    let leaf_value = round(-gs / (hs + o.lambda) * o.learning_rate);
    nodes.push(Node {
        feature: u32::MAX,
        threshold: 0.0,
        left: 0,
        right: 0,
        value: leaf_value,
    });
    if depth >= o.depth || hs < 2.0 * o.min_child {
        return here;
    }
    let parent_score = gs * gs / (hs + o.lambda);
    let mut best: Option<(f64, usize, usize)> = None; // gain, feature, bin
    let mut hist_g: Vec<f64> = Vec::new();
    let mut hist_h: Vec<f64> = Vec::new();
    for k in 0..d {
        let nb = cuts[k].len() + 1;
        if nb < 2 {
            continue;
        }
        hist_g.clear();
        hist_g.resize(nb, 0.0);
        hist_h.clear();
        hist_h.resize(nb, 0.0);
        for &i in rows {
            let b = bin_of[i as usize * d + k] as usize;
            hist_g[b] += g[i as usize];
            hist_h[b] += h[i as usize];
        }
        let (mut gl, mut hl) = (0f64, 0f64);
        for b in 0..nb - 1 {
            gl += hist_g[b];
            hl += hist_h[b];
            let (gr, hr) = (gs - gl, hs - hl);
            if hl < o.min_child || hr < o.min_child {
                continue;
            }
            let gain = gl * gl / (hl + o.lambda) + gr * gr / (hr + o.lambda) - parent_score;
            if gain > 1e-9 && best.is_none_or(|(bg, _, _)| gain > bg) {
                best = Some((gain, k, b));
            }
        }
    }
    let Some((_, k, b)) = best else {
        return here;
    };
    let (left_rows, right_rows): (Vec<u32>, Vec<u32>) = rows
        .iter()
        .partition(|&&i| (bin_of[i as usize * d + k] as usize) <= b);
    let left = grow(nodes, &left_rows, depth + 1, bin_of, d, cuts, g, h, o);
    let right = grow(nodes, &right_rows, depth + 1, bin_of, d, cuts, g, h, o);
    nodes[here] = Node {
        feature: k as u32,
        threshold: cuts[k][b],
        left: left as u32,
        right: right as u32,
        value: 0.0,
    };
    here
}

/// The value of one tree for `x`.
pub(crate) fn predict_tree(nodes: &[super::model::Node], x: &[f32]) -> f64 {
    let mut i = 0usize;
    loop {
        let n = &nodes[i];
        if n.feature == u32::MAX {
            return n.value;
        }
        i = if x[n.feature as usize] <= n.threshold {
            n.left as usize
        } else {
            n.right as usize
        };
    }
}
