//! The LR (and momentum) schedule of every policy in the corpus, computed from the policy itself
//! for each run length it was trained with, as a multiple of the base LR.

use serde::{Deserialize, Serialize};

use super::runs::{Runs, short};
use crate::schedule::{LrPolicy, PolicySpec, ScheduleContext};

/// Most points kept per schedule (longer runs are sampled evenly).
const MAX_POINTS: usize = 400;

/// One policy's schedule over one run length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicySchedule {
    /// Policy name.
    pub policy: String,
    /// The spec of a run it was computed from (that run's base LR injected).
    pub spec: String,
    /// Tasks trained with this run length.
    pub tasks: Vec<String>,
    /// Optimizer steps in the run.
    pub total_steps: u64,
    /// Optimizer steps per epoch.
    pub steps_per_epoch: u64,
    /// Sampled steps.
    pub steps: Vec<u64>,
    /// LR at those steps divided by the base LR.
    pub lr_factor: Vec<f64>,
    /// Momentum at those steps, for policies that cycle it.
    pub momentum: Option<Vec<f64>>,
}

/// Every distinct schedule (policy × run length × shape) of the corpus; policies whose spec does
/// not parse, or that follow a metric (`plateau`), are left out.
pub fn schedules(runs: &Runs) -> Vec<PolicySchedule> {
    let mut out: Vec<PolicySchedule> = Vec::new();
    let mut tried: Vec<(String, u64, u64)> = Vec::new();
    for i in 0..runs.len {
        let (total, per_epoch) = (runs.total_steps[i], runs.steps_per_epoch[i]);
        if !(total >= 1.0 && per_epoch >= 1.0 && runs.base_lr[i] > 0.0) {
            continue;
        }
        let (total, per_epoch) = (total as u64, per_epoch as u64);
        let key = (runs.policy_spec[i].clone(), total, per_epoch);
        if tried.contains(&key) {
            continue;
        }
        tried.push(key);
        let Some(s) = schedule(runs, i, total, per_epoch) else {
            continue;
        };
        let task = short(&runs.task[i]).to_string();
        match out.iter_mut().find(|o| {
            o.policy == s.policy
                && o.total_steps == s.total_steps
                && o.steps_per_epoch == s.steps_per_epoch
                && same(&o.lr_factor, &s.lr_factor)
                && o.momentum == s.momentum
        }) {
            Some(o) if !o.tasks.contains(&task) => o.tasks.push(task),
            Some(_) => {}
            None => out.push(PolicySchedule {
                tasks: vec![task],
                ..s
            }),
        }
    }
    out.sort_by(|a, b| (a.policy.as_str(), a.total_steps).cmp(&(b.policy.as_str(), b.total_steps)));
    out
}

fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-9 * x.abs().max(1.0))
}

fn schedule(runs: &Runs, i: usize, total: u64, per_epoch: u64) -> Option<PolicySchedule> {
    let spec = PolicySpec::parse(&runs.policy_spec[i]).ok()?;
    let policy = LrPolicy::build(&spec, &ScheduleContext::new(total, per_epoch)).ok()?;
    if policy.is_metric_driven() {
        return None;
    }
    let stride = (total as usize).div_ceil(MAX_POINTS).max(1) as u64;
    let mut steps: Vec<u64> = (0..total).step_by(stride as usize).collect();
    if steps.last() != Some(&(total - 1)) {
        steps.push(total - 1);
    }
    let base = runs.base_lr[i];
    let lr_factor = steps.iter().map(|&t| policy.lr(t) / base).collect();
    let momentum = policy.momentum(0).is_some().then(|| {
        steps
            .iter()
            .map(|&t| policy.momentum(t).unwrap_or(f64::NAN))
            .collect()
    });
    Some(PolicySchedule {
        policy: runs.policy[i].clone(),
        spec: runs.policy_spec[i].clone(),
        tasks: Vec::new(),
        total_steps: total,
        steps_per_epoch: per_epoch,
        steps,
        lr_factor,
        momentum,
    })
}
