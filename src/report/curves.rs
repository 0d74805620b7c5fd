//! Training curves of the best and worst run of each task × architecture: test top-1 and training
//! loss per evaluation, and the weight norm and effective LR of batch-normalised weights where the
//! run recorded them.

use serde::{Deserialize, Serialize};

use super::runs::{Runs, distinct};
use crate::corpus::CorpusTable;

/// The curves of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunCurves {
    /// `best` or `worst`.
    pub role: String,
    /// Run id.
    pub run_id: String,
    /// Policy spec.
    pub policy: String,
    /// Weight decay.
    pub weight_decay: f64,
    /// Seed.
    pub seed: f64,
    /// Outcome class.
    pub outcome: String,
    /// Final top-1.
    pub top1: f64,
    /// Steps at each evaluation.
    pub steps: Vec<f64>,
    /// Test top-1 at each evaluation.
    pub test_top1: Vec<f64>,
    /// Mean training loss of each epoch.
    pub train_loss: Vec<f64>,
    /// Steps of the weight-norm points (the every-N-steps trace when recorded, else evaluations).
    pub norm_steps: Vec<f64>,
    /// Pooled ‖w‖ of the batch-normalised weights.
    pub weight_norm: Vec<f64>,
    /// Effective LR (LR / ‖w‖²).
    pub effective_lr: Vec<f64>,
    /// Spikes of the per-step training loss the run detected (positions are not recorded).
    pub loss_spikes: Option<f64>,
    /// Median interval between them, in steps.
    pub loss_spike_period: Option<f64>,
}

/// Best and worst run of one task × architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PanelCurves {
    /// `task · arch`.
    pub title: String,
    /// The run with the highest final top-1, then the one with the lowest among the runs that did
    /// not diverge (a diverged run stops and has little curve to show).
    pub runs: Vec<RunCurves>,
}

fn curve(table: &CorpusTable, name: &str, i: usize) -> Vec<f64> {
    table
        .curves
        .get(name)
        .and_then(|c| c.get(i))
        .cloned()
        .unwrap_or_default()
}

fn run_curves(table: &CorpusTable, runs: &Runs, i: usize, role: &str) -> RunCurves {
    let trace = curve(table, "trace_steps", i);
    let (norm_steps, weight_norm, effective_lr) = if trace.is_empty() {
        (
            curve(table, "curve_steps", i),
            curve(table, "curve_weight_norm", i),
            curve(table, "curve_effective_lr", i),
        )
    } else {
        (
            trace,
            curve(table, "trace_weight_norm", i),
            curve(table, "trace_effective_lr", i),
        )
    };
    let finite = |v: f64| v.is_finite().then_some(v);
    RunCurves {
        role: role.into(),
        run_id: runs.run_id[i].clone(),
        policy: runs.policy_spec[i].clone(),
        weight_decay: runs.weight_decay[i],
        seed: runs.seed[i],
        outcome: runs.outcome[i].clone(),
        top1: runs.top1[i],
        steps: curve(table, "curve_steps", i),
        test_top1: curve(table, "curve_top1", i),
        train_loss: curve(table, "curve_train_loss", i),
        norm_steps,
        weight_norm,
        effective_lr,
        loss_spikes: finite(runs.loss_spikes[i]),
        loss_spike_period: finite(runs.loss_spike_period[i]),
    }
}

/// Best and worst runs of every task × architecture whose runs recorded curves.
pub fn curves(table: &CorpusTable, runs: &Runs) -> Vec<PanelCurves> {
    if !table.curves.contains_key("curve_top1") {
        return Vec::new();
    }
    let mut out = Vec::new();
    for title in distinct((0..runs.len).map(|i| runs.task_arch(i))) {
        let rows: Vec<usize> = (0..runs.len)
            .filter(|&i| runs.task_arch(i) == title && runs.top1[i].is_finite())
            .collect();
        let best = rows
            .iter()
            .copied()
            .max_by(|&a, &b| runs.top1[a].total_cmp(&runs.top1[b]));
        let worst = rows
            .iter()
            .copied()
            .filter(|&i| runs.outcome[i] != "diverged")
            .min_by(|&a, &b| runs.top1[a].total_cmp(&runs.top1[b]));
        let mut picked = Vec::new();
        if let Some(b) = best {
            picked.push(run_curves(table, runs, b, "best"));
        }
        if let Some(w) = worst.filter(|&w| Some(w) != best) {
            picked.push(run_curves(table, runs, w, "worst"));
        }
        picked.retain(|c| !c.steps.is_empty() && !c.test_top1.is_empty());
        if !picked.is_empty() {
            out.push(PanelCurves {
                title,
                runs: picked,
            });
        }
    }
    out
}
