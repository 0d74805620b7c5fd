//! The answers the report leads with: the best policy and base-LR range per task × architecture
//! (with the seed spread), and what the corpus cannot tell (ranges not covered, task ×
//! architectures with one policy or one seed, settings where every run failed).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::groups::{outcome_counts, outcome_phrase};
use super::runs::{Runs, distinct, fmt_num, sorted_values};
use super::sweeps::Sweep;

/// When a task × architecture has a single seed per configuration, LRs within this top-1 of the
/// best count as equally good (there is no seed spread to measure).
pub const NO_SEED_TOLERANCE: f64 = 0.01;

/// Another policy's best on a task × architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyBest {
    /// Policy name.
    pub policy: String,
    /// Its best configuration's mean top-1 over seeds.
    pub top1: f64,
    /// At this base LR.
    pub base_lr: f64,
}

/// The best setting of one task × architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestSetting {
    /// `task · arch`.
    pub title: String,
    /// Best policy (of the configuration with the highest mean top-1 over seeds).
    pub policy: String,
    /// Its base LR.
    pub base_lr: f64,
    /// Its weight decay.
    pub weight_decay: f64,
    /// Mean final top-1 over its seeds.
    pub top1: f64,
    /// Seeds of that configuration.
    pub seeds: usize,
    /// Pooled standard deviation of top-1 over seeds within the configurations of this task ×
    /// architecture whose seeds all trained (`None` without such a configuration).
    pub seed_sd: Option<f64>,
    /// Top-1 below the best that still counts as equally good: the seed spread, or
    /// [`NO_SEED_TOLERANCE`] without one.
    pub tolerance: f64,
    /// Base LRs of the best policy whose best configuration is within `tolerance` of the best.
    pub lr_values: Vec<f64>,
    /// Every policy's best, best first.
    pub policies: Vec<PolicyBest>,
    /// The sentence.
    pub sentence: String,
}

/// Where every run of a task × architecture × policy failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllFailed {
    /// `task · arch`.
    pub title: String,
    /// Policy name.
    pub policy: String,
    /// Base LRs at which every run diverged or collapsed.
    pub base_lrs: Vec<f64>,
    /// Diverged runs there.
    pub diverged: usize,
    /// Collapsed runs there.
    pub collapsed: usize,
}

/// What the corpus cannot tell.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Gaps {
    /// Range covered by each swept hyperparameter: `(name, min, max, values)`.
    pub coverage: Vec<(String, f64, f64, usize)>,
    /// Task × architectures trained with one policy only.
    pub one_policy: Vec<String>,
    /// Task × architectures with one seed per configuration.
    pub one_seed: Vec<String>,
    /// Settings where every run failed.
    pub all_failed: Vec<AllFailed>,
    /// Task × architectures where no run trained.
    pub nothing_trained: Vec<String>,
    /// The statements.
    pub sentences: Vec<String>,
}

/// Mean top-1 per configuration (policy spec and weight decay; seeds pooled) of `rows`.
fn configurations(runs: &Runs, rows: &[usize]) -> Vec<(usize, f64, Vec<f64>)> {
    let mut by: BTreeMap<(String, u64), Vec<usize>> = BTreeMap::new();
    for &i in rows {
        by.entry((runs.policy_spec[i].clone(), runs.weight_decay[i].to_bits()))
            .or_default()
            .push(i);
    }
    by.into_values()
        .map(|at| {
            let top1: Vec<f64> = at.iter().map(|&i| runs.top1[i]).collect();
            let mean = top1.iter().sum::<f64>() / top1.len() as f64;
            (at[0], mean, top1)
        })
        .collect()
}

/// The best setting of every task × architecture with a run that trained.
pub fn best_settings(runs: &Runs) -> Vec<BestSetting> {
    let mut out = Vec::new();
    for title in distinct((0..runs.len).map(|i| runs.task_arch(i))) {
        let rows: Vec<usize> = (0..runs.len)
            .filter(|&i| runs.task_arch(i) == title && runs.top1[i].is_finite())
            .collect();
        let configs = configurations(runs, &rows);
        let Some(&(best_row, best, ref best_top1)) =
            configs.iter().max_by(|a, b| a.1.total_cmp(&b.1))
        else {
            continue;
        };
        if outcome_counts(runs, rows.iter().copied())[0] == 0 {
            continue;
        }
        // Pooled variance over seeds, configurations with at least two seeds that all trained (a
        // configuration on the edge of divergence would make the noise look larger than it is).
        let all_trained = |row: usize| {
            rows.iter().all(|&i| {
                runs.policy_spec[i] != runs.policy_spec[row]
                    || runs.weight_decay[i] != runs.weight_decay[row]
                    || runs.outcome[i] == "trained"
            })
        };
        let (mut ss, mut dof) = (0.0, 0usize);
        for (row, mean, top1) in &configs {
            if top1.len() > 1 && all_trained(*row) {
                ss += top1.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
                dof += top1.len() - 1;
            }
        }
        let seed_sd = (dof > 0).then(|| (ss / dof as f64).sqrt());
        let tolerance = seed_sd.unwrap_or(NO_SEED_TOLERANCE);
        let policy = runs.policy[best_row].clone();
        let lr_values = sorted_values(
            configs
                .iter()
                .filter(|(r, mean, _)| runs.policy[*r] == policy && *mean >= best - tolerance)
                .map(|(r, _, _)| runs.base_lr[*r]),
        );
        let mut policies: Vec<PolicyBest> =
            distinct(configs.iter().map(|c| runs.policy[c.0].clone()))
                .into_iter()
                .filter_map(|p| {
                    configs
                        .iter()
                        .filter(|c| runs.policy[c.0] == p)
                        .max_by(|a, b| a.1.total_cmp(&b.1))
                        .map(|c| PolicyBest {
                            policy: p.clone(),
                            top1: c.1,
                            base_lr: runs.base_lr[c.0],
                        })
                })
                .collect();
        policies.sort_by(|a, b| b.top1.total_cmp(&a.top1));
        let spread = match seed_sd {
            Some(sd) => format!(
                "{} (mean of {} seeds; seed sd {sd:.3}, pooled over the configurations that \
                 trained)",
                fmt3(best),
                best_top1.len(),
            ),
            None => format!("{} (one seed: no seed spread measured)", fmt3(best)),
        };
        let range = match lr_values.as_slice() {
            [] => String::new(),
            [v] => format!(
                " No other base LR of {policy} comes within {tolerance:.3} of it (base LR {} only).",
                fmt_num(*v)
            ),
            vs => format!(
                " Base LRs {}–{} of {policy} ({}) come within {tolerance:.3} of it{}.",
                fmt_num(vs[0]),
                fmt_num(vs[vs.len() - 1]),
                vs.iter()
                    .map(|&v| fmt_num(v))
                    .collect::<Vec<_>>()
                    .join(", "),
                if seed_sd.is_some() {
                    " (one seed sd)"
                } else {
                    ""
                }
            ),
        };
        let others: Vec<String> = policies
            .iter()
            .filter(|p| p.policy != policy)
            .map(|p| format!("{} {} at {}", p.policy, fmt3(p.top1), fmt_num(p.base_lr)))
            .collect();
        let others = if others.is_empty() {
            " It is the only policy trained here.".to_string()
        } else {
            format!(" Best of the other policies: {}.", others.join(", "))
        };
        let sentence = format!(
            "`{title}`: {policy} at base LR {} (weight decay {}) reaches top-1 {spread}.{range}{others}",
            fmt_num(runs.base_lr[best_row]),
            fmt_num(runs.weight_decay[best_row]),
        );
        out.push(BestSetting {
            title,
            policy,
            base_lr: runs.base_lr[best_row],
            weight_decay: runs.weight_decay[best_row],
            top1: best,
            seeds: best_top1.len(),
            seed_sd,
            tolerance,
            lr_values,
            policies,
            sentence,
        });
    }
    out
}

fn fmt3(v: f64) -> String {
    format!("{v:.3}")
}

/// Values as "≥ x" when they are the top end of `all`, else listed.
fn value_set(values: &[f64], all: &[f64]) -> String {
    let k = values.len();
    if k > 1 && all.len() > k && all[all.len() - k..] == *values {
        format!("≥ {}", fmt_num(values[0]))
    } else if k > 1 && all.len() > k && all[..k] == *values {
        format!("≤ {}", fmt_num(values[k - 1]))
    } else {
        values
            .iter()
            .map(|&v| fmt_num(v))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What the corpus cannot tell.
pub fn gaps(runs: &Runs, sweeps: &[Sweep]) -> Gaps {
    let mut g = Gaps::default();
    for s in sweeps {
        if let (Some(&lo), Some(&hi)) = (s.values.first(), s.values.last()) {
            g.coverage
                .push((s.hyperparameter.clone(), lo, hi, s.values.len()));
        }
    }
    if !g.coverage.is_empty() {
        g.sentences.push(format!(
            "Swept ranges: {}. Nothing is measured outside them, and between grid values only \
             the predictor's interpolation speaks.",
            g.coverage
                .iter()
                .map(|(h, lo, hi, n)| format!("{h} {}–{} ({n} values)", fmt_num(*lo), fmt_num(*hi)))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    let all_lrs = sorted_values(runs.base_lr.iter().copied());
    for title in distinct((0..runs.len).map(|i| runs.task_arch(i))) {
        let rows: Vec<usize> = (0..runs.len)
            .filter(|&i| runs.task_arch(i) == title)
            .collect();
        let policies = distinct(rows.iter().map(|&i| runs.policy[i].clone()));
        if policies.len() == 1 {
            g.one_policy.push(title.clone());
        }
        let mut per_config: BTreeMap<(String, u64), usize> = BTreeMap::new();
        for &i in &rows {
            *per_config
                .entry((runs.policy_spec[i].clone(), runs.weight_decay[i].to_bits()))
                .or_default() += 1;
        }
        if per_config.values().all(|&n| n == 1) {
            g.one_seed.push(title.clone());
        }
        let counts = outcome_counts(runs, rows.iter().copied());
        if counts[0] == 0 && counts[3] == 0 {
            g.nothing_trained.push(title.clone());
            g.sentences.push(format!(
                "`{title}`: no run trained ({}): the corpus says nothing about good settings there.",
                outcome_phrase(counts)
            ));
            continue;
        }
        let lrs_here = sorted_values(rows.iter().map(|&i| runs.base_lr[i]));
        for policy in &policies {
            let mut failed = Vec::new();
            let (mut d, mut c) = (0, 0);
            for &lr in &lrs_here {
                let at: Vec<usize> = rows
                    .iter()
                    .copied()
                    .filter(|&i| &runs.policy[i] == policy && runs.base_lr[i] == lr)
                    .collect();
                let [t, dv, cl, u] = outcome_counts(runs, at.iter().copied());
                if !at.is_empty() && t == 0 && u == 0 {
                    failed.push(lr);
                    d += dv;
                    c += cl;
                }
            }
            if !failed.is_empty() {
                g.all_failed.push(AllFailed {
                    title: title.clone(),
                    policy: policy.clone(),
                    base_lrs: failed,
                    diverged: d,
                    collapsed: c,
                });
            }
        }
        let here: Vec<String> = g
            .all_failed
            .iter()
            .filter(|a| a.title == title)
            .map(|a| {
                format!(
                    "{} at base LR {} ({} diverged, {} collapsed)",
                    a.policy,
                    value_set(&a.base_lrs, &all_lrs),
                    a.diverged,
                    a.collapsed
                )
            })
            .collect();
        if !here.is_empty() {
            g.sentences.push(format!(
                "`{title}`: every run failed for {}; the accuracy there is that of a failed run, \
                 not a trend to extrapolate.",
                here.join("; ")
            ));
        }
    }
    if !g.one_policy.is_empty() {
        g.sentences.push(format!(
            "Trained with one policy only, so no policy comparison: {}.",
            g.one_policy
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !g.one_seed.is_empty() {
        g.sentences.push(format!(
            "One seed per configuration, so no seed spread is measured (base LRs within {} \
             top-1 of the best are then counted as equally good): {}.",
            NO_SEED_TOLERANCE,
            g.one_seed
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    g
}
