//! Final accuracy against each swept hyperparameter: per task × architecture and policy, the median
//! over the other settings with its min–max spread, every run with its outcome, and the values the
//! extreme-value holdout of that hyperparameter held out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::groups::{median, outcome_counts};
use super::held_out::HeldOut;
use super::runs::{Runs, distinct, sorted_values};
use crate::corpus::CorpusTable;

/// Run-spec columns that may be swept besides the base LR and the policy parameters.
const CANDIDATES: &[&str] = &[
    "weight_decay",
    "batch_size",
    "epochs",
    "momentum",
    "dropout",
    "label_smoothing",
    "clip_grad_norm",
    "beta2",
    "eps",
];

/// Accuracy at one value of the hyperparameter (one policy, one task × architecture).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// Hyperparameter value.
    pub value: f64,
    /// Median final top-1 over the runs at this value (other settings and seeds).
    pub median: f64,
    /// Lowest.
    pub min: f64,
    /// Highest.
    pub max: f64,
    /// Runs.
    pub runs: usize,
    /// Of which trained.
    pub trained: usize,
    /// Diverged.
    pub diverged: usize,
    /// Collapsed.
    pub collapsed: usize,
}

/// One policy's line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepLine {
    /// Policy name.
    pub policy: String,
    /// Points by increasing value.
    pub points: Vec<SweepPoint>,
}

/// One run as a point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRun {
    /// Hyperparameter value.
    pub value: f64,
    /// Final top-1.
    pub top1: f64,
    /// Policy name.
    pub policy: String,
    /// Outcome class.
    pub outcome: String,
}

/// One task × architecture panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPanel {
    /// `task · arch`.
    pub title: String,
    /// One line per policy.
    pub lines: Vec<SweepLine>,
    /// Every run.
    pub runs: Vec<SweepRun>,
}

/// Accuracy against one hyperparameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// Column, e.g. `base_lr`, `weight_decay`, `p_gamma`.
    pub hyperparameter: String,
    /// Whether the values span decades (drawn on a log axis).
    pub log_x: bool,
    /// Every value in the corpus, sorted.
    pub values: Vec<f64>,
    /// What the extreme-value holdout of this hyperparameter held out, when it ran.
    pub held_out: Option<HeldOut>,
    /// One panel per task × architecture.
    pub panels: Vec<SweepPanel>,
}

/// The hyperparameters the corpus sweeps: the base LR when it takes two values or more, and every
/// other spec column or policy parameter that takes two values among runs of one task ×
/// architecture × policy at the same base LR (so a parameter that follows the base LR, such as a
/// policy's `lr`, or the run length, such as `total_steps`, is not counted).
pub fn swept(table: &CorpusTable, runs: &Runs) -> Vec<String> {
    let mut out = Vec::new();
    if sorted_values(runs.base_lr.iter().copied()).len() >= 2 {
        out.push("base_lr".to_string());
    }
    let params = table
        .numeric
        .keys()
        .filter(|c| crate::corpus::schema::policy_param_of(c).is_some());
    for column in CANDIDATES
        .iter()
        .map(|c| c.to_string())
        .chain(params.cloned())
    {
        let Ok(values) = table.values(&column) else {
            continue;
        };
        let mut seen: BTreeMap<(String, String, String, u64), f64> = BTreeMap::new();
        let varies = (0..runs.len).any(|i| {
            let v = values[i];
            if !v.is_finite() {
                return false;
            }
            let key = (
                runs.task[i].clone(),
                runs.arch[i].clone(),
                runs.policy[i].clone(),
                runs.base_lr[i].to_bits(),
            );
            match seen.get(&key) {
                Some(&w) => w != v,
                None => {
                    seen.insert(key, v);
                    false
                }
            }
        });
        if varies {
            out.push(column);
        }
    }
    out
}

/// Whether `values` (sorted) should be drawn on a log axis: all positive and spanning more than a
/// factor of 20.
pub fn spans_decades(values: &[f64]) -> bool {
    match (values.first(), values.last()) {
        (Some(&lo), Some(&hi)) => lo > 0.0 && hi / lo > 20.0,
        _ => false,
    }
}

/// The sweep of every swept hyperparameter.
pub fn sweeps(table: &CorpusTable, runs: &Runs, held_out: &[HeldOut]) -> Vec<Sweep> {
    swept(table, runs)
        .into_iter()
        .filter_map(|h| {
            let values = table.values(&h).ok()?;
            Some(sweep(&h, &values, runs, held_out))
        })
        .collect()
}

fn sweep(hyperparameter: &str, values: &[f64], runs: &Runs, held_out: &[HeldOut]) -> Sweep {
    let panels_keys = distinct((0..runs.len).map(|i| runs.task_arch(i)));
    let policies = {
        let mut p = distinct(runs.policy.iter().cloned());
        p.sort();
        p
    };
    let mut panels = Vec::new();
    for title in panels_keys {
        let rows: Vec<usize> = (0..runs.len)
            .filter(|&i| runs.task_arch(i) == title && values[i].is_finite())
            .collect();
        if rows.is_empty() {
            continue;
        }
        let mut lines = Vec::new();
        for policy in &policies {
            let mut by_value: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
            for &i in rows.iter().filter(|&&i| &runs.policy[i] == policy) {
                by_value.entry(values[i].to_bits()).or_default().push(i);
            }
            if by_value.is_empty() {
                continue;
            }
            let mut points: Vec<SweepPoint> = by_value
                .into_iter()
                .map(|(bits, at)| {
                    let mut top1: Vec<f64> = at.iter().map(|&i| runs.top1[i]).collect();
                    top1.sort_by(f64::total_cmp);
                    let [trained, diverged, collapsed, _] =
                        outcome_counts(runs, at.iter().copied());
                    SweepPoint {
                        value: f64::from_bits(bits),
                        median: median(&top1),
                        min: top1[0],
                        max: top1[top1.len() - 1],
                        runs: at.len(),
                        trained,
                        diverged,
                        collapsed,
                    }
                })
                .collect();
            points.sort_by(|a, b| a.value.total_cmp(&b.value));
            lines.push(SweepLine {
                policy: policy.clone(),
                points,
            });
        }
        let runs_of = rows
            .iter()
            .map(|&i| SweepRun {
                value: values[i],
                top1: runs.top1[i],
                policy: runs.policy[i].clone(),
                outcome: runs.outcome[i].clone(),
            })
            .collect();
        panels.push(SweepPanel {
            title,
            lines,
            runs: runs_of,
        });
    }
    let all = sorted_values(values.iter().copied());
    Sweep {
        hyperparameter: hyperparameter.to_string(),
        log_x: spans_decades(&all),
        values: all,
        held_out: held_out
            .iter()
            .find(|h| h.protocol == format!("extreme:{hyperparameter}"))
            .cloned(),
        panels,
    }
}
