//! Where runs fail: per task × architecture, the outcome counts of every base LR × policy (×
//! weight decay, where it varies) cell, for the failure map.

use serde::{Deserialize, Serialize};

use super::groups::outcome_counts;
use super::runs::{Runs, distinct, fmt_num, sorted_values};

/// One cell of the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureCell {
    /// Row (index into `rows`).
    pub row: usize,
    /// Column (index into `base_lrs`).
    pub column: usize,
    /// Runs.
    pub runs: usize,
    /// Trained.
    pub trained: usize,
    /// Diverged.
    pub diverged: usize,
    /// Collapsed.
    pub collapsed: usize,
}

/// The map of one task × architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureMap {
    /// `task · arch`.
    pub title: String,
    /// Column values (base LRs, increasing).
    pub base_lrs: Vec<f64>,
    /// Row labels: policy, and weight decay where it varies.
    pub rows: Vec<String>,
    /// Cells with runs.
    pub cells: Vec<FailureCell>,
}

/// The failure map of every task × architecture.
pub fn failure_maps(runs: &Runs) -> Vec<FailureMap> {
    let wd_varies = sorted_values(runs.weight_decay.iter().copied()).len() > 1;
    let row_of = |i: usize| {
        if wd_varies {
            format!("{} · wd {}", runs.policy[i], fmt_num(runs.weight_decay[i]))
        } else {
            runs.policy[i].clone()
        }
    };
    let mut out = Vec::new();
    for title in distinct((0..runs.len).map(|i| runs.task_arch(i))) {
        let rows: Vec<usize> = (0..runs.len)
            .filter(|&i| runs.task_arch(i) == title && runs.base_lr[i].is_finite())
            .collect();
        if rows.is_empty() {
            continue;
        }
        let base_lrs = sorted_values(rows.iter().map(|&i| runs.base_lr[i]));
        let mut labels = distinct(rows.iter().map(|&i| row_of(i)));
        labels.sort();
        let mut cells = Vec::new();
        for (r, label) in labels.iter().enumerate() {
            for (c, &lr) in base_lrs.iter().enumerate() {
                let at: Vec<usize> = rows
                    .iter()
                    .copied()
                    .filter(|&i| runs.base_lr[i] == lr && &row_of(i) == label)
                    .collect();
                if at.is_empty() {
                    continue;
                }
                let [trained, diverged, collapsed, _] = outcome_counts(runs, at.iter().copied());
                cells.push(FailureCell {
                    row: r,
                    column: c,
                    runs: at.len(),
                    trained,
                    diverged,
                    collapsed,
                });
            }
        }
        out.push(FailureMap {
            title,
            base_lrs,
            rows: labels,
            cells,
        });
    }
    out
}
