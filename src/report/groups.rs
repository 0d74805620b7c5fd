//! Accuracy spread and outcome counts of groups of runs (by task, architecture, policy, base LR),
//! and the best runs: the corpus tables of the report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::runs::Runs;

/// Accuracy spread of a group of runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// Group value (an architecture, a policy…).
    pub name: String,
    /// Runs in the group.
    pub runs: usize,
    /// Runs that trained.
    #[serde(default)]
    pub trained: usize,
    /// Diverged runs in the group.
    pub diverged: usize,
    /// Collapsed runs in the group (finished at or above a uniform guess's training loss).
    pub collapsed: usize,
    /// Runs whose outcome was not recorded (imported).
    #[serde(default)]
    pub unknown: usize,
    /// Lowest final top-1.
    pub top1_min: f64,
    /// Median final top-1.
    pub top1_median: f64,
    /// Highest final top-1.
    pub top1_max: f64,
}

/// One of the best runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestRun {
    /// Run id (file name in the corpus).
    pub run_id: String,
    /// Task spec.
    #[serde(default)]
    pub task: String,
    /// Architecture spec.
    pub arch: String,
    /// Policy spec.
    pub policy: String,
    /// Base LR.
    pub base_lr: f64,
    /// Weight decay.
    pub weight_decay: f64,
    /// Seed.
    pub seed: i64,
    /// Final top-1.
    pub top1: f64,
    /// Final top-5.
    pub top5: f64,
}

/// Median of sorted values (NaN when empty).
pub fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Outcome counts `(trained, diverged, collapsed, unknown)` of `rows`.
pub fn outcome_counts(runs: &Runs, rows: impl IntoIterator<Item = usize>) -> [usize; 4] {
    let mut c = [0; 4];
    for i in rows {
        let k = match runs.outcome[i].as_str() {
            "trained" => 0,
            "diverged" => 1,
            "collapsed" => 2,
            _ => 3,
        };
        c[k] += 1;
    }
    c
}

/// "3 trained, 1 diverged, 0 collapsed" (and "2 of unknown outcome" when any).
pub fn outcome_phrase([trained, diverged, collapsed, unknown]: [usize; 4]) -> String {
    let mut s = format!("{trained} trained, {diverged} diverged, {collapsed} collapsed");
    if unknown > 0 {
        s.push_str(&format!(", {unknown} of unknown outcome"));
    }
    s
}

/// One summary per distinct `keys[i]`, in key order.
pub fn groups(runs: &Runs, keys: &[String]) -> Vec<GroupSummary> {
    let mut by: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        by.entry(k).or_default().push(i);
    }
    by.into_iter()
        .map(|(name, rows)| summary(name, runs, &rows))
        .collect()
}

/// The summary of `rows`.
pub fn summary(name: &str, runs: &Runs, rows: &[usize]) -> GroupSummary {
    let mut values: Vec<f64> = rows.iter().map(|&i| runs.top1[i]).collect();
    values.sort_by(f64::total_cmp);
    let [trained, diverged, collapsed, unknown] = outcome_counts(runs, rows.iter().copied());
    GroupSummary {
        name: name.to_string(),
        runs: rows.len(),
        trained,
        diverged,
        collapsed,
        unknown,
        top1_min: values.first().copied().unwrap_or(f64::NAN),
        top1_median: median(&values),
        top1_max: values.last().copied().unwrap_or(f64::NAN),
    }
}

/// The `n` runs with the highest final top-1, best first.
pub fn best_runs(runs: &Runs, n: usize) -> Vec<BestRun> {
    let mut order: Vec<usize> = (0..runs.len).collect();
    order.sort_by(|&a, &b| runs.top1[b].total_cmp(&runs.top1[a]));
    order
        .into_iter()
        .take(n)
        .map(|i| BestRun {
            run_id: runs.run_id[i].clone(),
            task: runs.task[i].clone(),
            arch: runs.arch[i].clone(),
            policy: runs.policy_spec[i].clone(),
            base_lr: runs.base_lr[i],
            weight_decay: runs.weight_decay[i],
            seed: runs.seed[i] as i64,
            top1: runs.top1[i],
            top5: runs.top5[i],
        })
        .collect()
}
