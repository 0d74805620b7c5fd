//! What each holdout protocol held out, in hyperparameter values and in runs ("base_lr ≤ 0.003 or
//! ≥ 1: 104 of 416 runs"), recomputed from the corpus with the fit's own settings and rules.

use serde::{Deserialize, Serialize};

use super::runs::{Runs, fmt_num, sorted_values};
use crate::corpus::CorpusTable;
use crate::predict::holdout::{self, quantile};
use crate::predict::{FitReport, SplitResult};

/// The held-out part of one protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    /// Protocol.
    pub protocol: String,
    /// Hyperparameter of an extreme-value holdout.
    pub hyperparameter: Option<String>,
    /// Largest held-out value at the low end (held out: values ≤ this).
    pub low: Option<f64>,
    /// Smallest held-out value at the high end (held out: values ≥ this).
    pub high: Option<f64>,
    /// Every held-out value of the hyperparameter.
    pub values: Vec<f64>,
    /// Held-out runs (pooled over folds).
    pub runs: usize,
    /// Runs in the corpus.
    pub of: usize,
    /// Runs neither trained on nor tested (failed runs at the extremes of `extreme_trained`).
    pub left_out: usize,
    /// The plain statement.
    pub sentence: String,
}

/// One statement per protocol of `fit`, in its order.
pub fn held_out(table: &CorpusTable, runs: &Runs, fit: &FitReport) -> Vec<HeldOut> {
    fit.splits
        .iter()
        .map(|s| of_split(table, runs, fit, s))
        .collect()
}

fn of_split(table: &CorpusTable, runs: &Runs, fit: &FitReport, split: &SplitResult) -> HeldOut {
    let n = runs.len;
    let mut out = HeldOut {
        protocol: split.split.clone(),
        hyperparameter: None,
        low: None,
        high: None,
        values: Vec::new(),
        runs: split.n_test,
        of: n,
        left_out: 0,
        sentence: format!("{}: {} of {n} runs", split.description, split.n_test),
    };
    let q = fit.settings.quantile;
    let (kind, name) = split.split.split_once(':').unwrap_or((&split.split, ""));
    match kind {
        "extreme" | "extreme_trained" => {
            let Ok(values) = table.values(name) else {
                return out;
            };
            let trained: Vec<bool> = runs
                .outcome
                .iter()
                .map(|o| o != "diverged" && o != "collapsed")
                .collect();
            let split_rows = if kind == "extreme" {
                holdout::extreme_value_split(name, &values, q)
            } else {
                holdout::extreme_trained_split(name, &values, &trained, q)
            };
            let Ok(rows) = split_rows else {
                return out;
            };
            let fold = &rows.folds[0];
            // The same quantiles the split used, to tell the low end from the high end.
            let present: Vec<f64> = values
                .iter()
                .zip(&trained)
                .filter(|(v, t)| !v.is_nan() && (kind == "extreme" || **t))
                .map(|(v, _)| *v)
                .collect();
            let (lo_q, hi_q) = (quantile(&present, q), quantile(&present, 1.0 - q));
            let held = sorted_values(fold.test.iter().map(|&i| values[i]));
            out.low = held.iter().copied().filter(|&v| v <= lo_q).reduce(f64::max);
            out.high = held.iter().copied().filter(|&v| v >= hi_q).reduce(f64::min);
            out.hyperparameter = Some(name.to_string());
            out.runs = fold.test.len();
            out.left_out = n - fold.test.len() - fold.train.len();
            let ends = match (out.low, out.high) {
                (Some(l), Some(h)) => format!("{name} ≤ {} or ≥ {}", fmt_num(l), fmt_num(h)),
                (Some(l), None) => format!("{name} ≤ {}", fmt_num(l)),
                (None, Some(h)) => format!("{name} ≥ {}", fmt_num(h)),
                (None, None) => name.to_string(),
            };
            let values_text = held
                .iter()
                .map(|&v| fmt_num(v))
                .collect::<Vec<_>>()
                .join(", ");
            out.sentence = if kind == "extreme_trained" {
                format!(
                    "{ends} (values {values_text}) among the runs that trained: {} of {n} runs; \
                     the {} failed runs at those values are in neither training nor test",
                    out.runs, out.left_out
                )
            } else {
                format!("{ends} (values {values_text}): {} of {n} runs", out.runs)
            };
            out.values = held;
        }
        "random" => {
            out.sentence = format!(
                "a seeded random {} of {n} runs, whole configurations (all seeds) together, as \
                 many as `extreme:{name}` holds out",
                split.n_test
            );
        }
        "budget" => {
            out.sentence = format!("the longest training budget: {} of {n} runs", split.n_test);
        }
        "logo" => {
            out.sentence = format!(
                "each of the {} {} groups in turn: every one of the {} runs held out once, with \
                 its whole group",
                split.folds,
                name.replace('+', " × "),
                split.n_test
            );
        }
        "kfold" => {
            out.sentence = format!(
                "{} folds of whole configurations: every one of the {} runs held out once, \
                 configurations like it (other LRs, policies) in training",
                split.folds, split.n_test
            );
        }
        _ => {}
    }
    out
}
