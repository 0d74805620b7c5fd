//! "Will this configuration fail?": a linfa-trees decision tree on the same features, predicting
//! whether a run ends diverged or collapsed (final loss at or above a uniform guess) instead of
//! trained. Its probabilities are the training failure rates of its leaves (add-one smoothed;
//! linfa's tree only gives the majority class), and it prints as rules.

use std::collections::HashMap;

use linfa::prelude::*;
use linfa_trees::{DecisionTree, TreeNode};
use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Depth of the tree: deep enough for "LR above x with policy y", shallow enough to read.
const MAX_DEPTH: usize = 4;
/// Fewest training runs in a leaf.
const MIN_LEAF: f32 = 3.0;

/// A fitted failure classifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DivergenceTree {
    tree: DecisionTree<f64, usize>,
    /// Failure probability of each leaf, keyed by its path from the root (`L`/`R` per split).
    leaf_probability: HashMap<String, f64>,
    /// Training failure rate, for a leaf no training run reached.
    base_rate: f64,
}

impl PartialEq for DivergenceTree {
    fn eq(&self, other: &Self) -> bool {
        self.leaf_probability == other.leaf_probability && self.base_rate == other.base_rate
    }
}

/// The leaf path of `row` (`L` where the feature is below the split value, as linfa routes).
fn path(node: &TreeNode<f64, usize>, row: ArrayView1<f64>) -> String {
    let mut out = String::new();
    let mut node = node;
    while !node.is_leaf() {
        let (feature, value, _) = node.split();
        let [left, right] = [0, 1].map(|k| node.children()[k].as_deref());
        let (step, next) = if row[feature] < value {
            ('L', left)
        } else {
            ('R', right)
        };
        out.push(step);
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    out
}

/// Extra weight of a failed run (see [`DivergenceTree::fit`]); f32 still tells `n · (1 + 1e-4)`
/// from `n` for any node of up to 10⁵ runs.
const TIE_BREAK: f32 = 1e-4;

impl DivergenceTree {
    /// Fit on rows `x` with `failed[i]` = run `i` diverged or collapsed.
    pub fn fit(x: ArrayView2<f64>, failed: &[bool]) -> Result<Self> {
        if x.nrows() < 2 {
            return Err(Error::Fit("divergence tree: fewer than 2 runs".into()));
        }
        let labels: Array1<usize> = failed.iter().map(|&f| usize::from(f)).collect();
        // linfa-trees names a node's class by iterating a HashMap (random order per process) and
        // then merges sibling leaves of the same class, so a node with as many failed runs as
        // trained ones made the tree, and its leaves, differ from run to run. Failed runs weigh a
        // hair more, so no node ties.
        let weights: Array1<f32> = failed
            .iter()
            .map(|&f| if f { 1.0 + TIE_BREAK } else { 1.0 })
            .collect();
        let dataset = Dataset::new(x.to_owned(), labels).with_weights(weights);
        let tree = DecisionTree::params()
            .max_depth(Some(MAX_DEPTH))
            .min_weight_leaf(MIN_LEAF)
            .fit(&dataset)
            .map_err(|e| Error::Fit(format!("divergence tree: {e}")))?;
        let mut counts: HashMap<String, (f64, f64)> = HashMap::new();
        for (row, &f) in x.rows().into_iter().zip(failed) {
            let e = counts.entry(path(tree.root_node(), row)).or_default();
            e.0 += f64::from(u8::from(f));
            e.1 += 1.0;
        }
        let leaf_probability = counts
            .into_iter()
            .map(|(p, (k, n))| (p, (k + 1.0) / (n + 2.0)))
            .collect();
        let base_rate = failed.iter().filter(|&&f| f).count() as f64 / failed.len() as f64;
        Ok(Self {
            tree,
            leaf_probability,
            base_rate,
        })
    }

    /// Failure probability of each row.
    pub fn probability(&self, x: ArrayView2<f64>) -> Vec<f64> {
        x.rows()
            .into_iter()
            .map(|row| {
                let p = path(self.tree.root_node(), row);
                *self.leaf_probability.get(&p).unwrap_or(&self.base_rate)
            })
            .collect()
    }

    /// The tree as indented rules, features named by `names`.
    pub fn rules(&self, names: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        self.rules_of(self.tree.root_node(), names, 0, String::new(), &mut out);
        out
    }

    fn rules_of(
        &self,
        node: &TreeNode<f64, usize>,
        names: &[String],
        depth: usize,
        path: String,
        out: &mut Vec<String>,
    ) {
        let indent = "  ".repeat(depth);
        if node.is_leaf() {
            let p = self.leaf_probability.get(&path).unwrap_or(&self.base_rate);
            out.push(format!("{indent}→ P(fail) = {p:.2}"));
            return;
        }
        let (feature, value, _) = node.split();
        let name = names.get(feature).map_or("?", String::as_str);
        for (k, (step, op)) in [('L', "<"), ('R', "≥")].into_iter().enumerate() {
            out.push(format!("{indent}if {name} {op} {value:.4}:"));
            if let Some(child) = node.children()[k].as_deref() {
                self.rules_of(child, names, depth + 1, format!("{path}{step}"), out);
            }
        }
    }
}

/// Scores of failure probabilities against what happened.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassifierScores {
    /// Runs scored.
    pub n: usize,
    /// Share that failed.
    pub failure_rate: f64,
    /// Share classified right at probability 0.5.
    pub accuracy: f64,
    /// Mean negative log-likelihood (probabilities clipped to [1e-6, 1 − 1e-6]).
    pub log_loss: f64,
}

/// Score probabilities `p` of failure against outcomes `failed`.
pub fn classifier_scores(failed: &[bool], p: &[f64]) -> ClassifierScores {
    let n = failed.len().max(1) as f64;
    let correct = failed
        .iter()
        .zip(p)
        .filter(|&(&f, &p)| f == (p >= 0.5))
        .count();
    let log_loss = failed
        .iter()
        .zip(p)
        .map(|(&f, &p)| {
            let p = p.clamp(1e-6, 1.0 - 1e-6);
            -(if f { p.ln() } else { (1.0 - p).ln() })
        })
        .sum::<f64>()
        / n;
    ClassifierScores {
        n: failed.len(),
        failure_rate: failed.iter().filter(|&&f| f).count() as f64 / n,
        accuracy: correct as f64 / n,
        log_loss,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn the_tree_learns_an_lr_threshold_and_prints_it() {
        // Runs fail above log10 LR = 0; a second feature is noise.
        let x = Array2::from_shape_fn((40, 2), |(i, j)| {
            if j == 0 {
                -2.0 + 4.0 * i as f64 / 40.0
            } else {
                (i % 3) as f64
            }
        });
        let failed: Vec<bool> = x.column(0).iter().map(|&v| v >= 0.0).collect();
        let tree = DivergenceTree::fit(x.view(), &failed).unwrap();
        let p = tree.probability(x.view());
        let s = classifier_scores(&failed, &p);
        assert_eq!(s.accuracy, 1.0);
        assert!(s.log_loss < 0.2, "{s:?}");
        let rules = tree
            .rules(&["log10(base_lr)".into(), "noise".into()])
            .join("\n");
        assert!(rules.contains("if log10(base_lr) < "), "{rules}");
        let back: DivergenceTree =
            serde_json::from_str(&serde_json::to_string(&tree).unwrap()).unwrap();
        assert_eq!(back.probability(x.view()), p);
    }

    #[test]
    fn a_tied_node_gives_the_same_tree_every_time() {
        // x = 0: 4 of 8 runs failed (a tie); x = 1: 2 of 8. Without the tie-break linfa-trees names
        // the tied leaf's class by hash order and merges it with its sibling about half the time.
        let x = Array2::from_shape_fn((16, 1), |(i, _)| (i / 8) as f64);
        let failed: Vec<bool> = (0..16)
            .map(|i| (i < 8 && i % 2 == 0) || i == 8 || i == 9)
            .collect();
        let first = DivergenceTree::fit(x.view(), &failed)
            .unwrap()
            .probability(x.view());
        assert!(
            (first[0] - 0.5).abs() < 1e-12 && (first[15] - 0.3).abs() < 1e-12,
            "{first:?}"
        );
        for _ in 0..20 {
            let again = DivergenceTree::fit(x.view(), &failed)
                .unwrap()
                .probability(x.view());
            assert_eq!(again, first);
        }
    }
}
