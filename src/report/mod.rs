//! The extrapolation report as pure data ([`Report`]), built from the corpus and the fit results;
//! exporters turn it into bytes and [`write_all`] puts the files in place.

pub mod html;
pub mod json;
pub mod markdown;
pub mod plot;
pub mod tables;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::corpus::CorpusTable;
use crate::corpus::write_bytes_atomically;
use crate::error::Result;
use crate::predict::{FitReport, SplitResult};

/// Accuracy spread of a group of runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// Group value (an architecture, a policy…).
    pub name: String,
    /// Runs in the group.
    pub runs: usize,
    /// Diverged runs in the group.
    pub diverged: usize,
    /// Collapsed runs in the group (finished at or above a uniform guess's training loss).
    pub collapsed: usize,
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

/// How the best predictor did on one extreme-value holdout, against baselines and a random split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extrapolation {
    /// Protocol, e.g. `extreme:base_lr`, `logo:task+arch+policy`.
    #[serde(default)]
    pub protocol: String,
    /// Hyperparameter held out, for an extreme-value holdout.
    pub hyperparameter: Option<String>,
    /// Best non-baseline model on the protocol (lowest MAE).
    pub best_model: String,
    /// Its MAE on the held-out runs.
    pub best_mae: f64,
    /// Its R² there.
    pub best_r2: Option<f64>,
    /// Its Spearman there.
    #[serde(default)]
    pub best_spearman: Option<f64>,
    /// Best baseline by MAE on the same protocol.
    pub best_baseline: String,
    /// That baseline's MAE.
    pub baseline_mae: f64,
    /// The best Spearman of any baseline there.
    #[serde(default)]
    pub baseline_spearman: Option<f64>,
    /// `beats`, `no better` or `loses` (to the baselines, on error or on ranking).
    #[serde(default)]
    pub verdict: String,
    /// The best model's MAE on the random split of the same size (extreme-value holdouts).
    pub random_split_mae: Option<f64>,
    /// One plain sentence.
    pub sentence: String,
}

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Experiment name.
    pub experiment: String,
    /// Recipe description.
    pub description: String,
    /// lrcast version that wrote it.
    pub lrcast_version: String,
    /// Runs in the corpus.
    pub runs: usize,
    /// Diverged runs.
    pub diverged: usize,
    /// Collapsed runs.
    pub collapsed: usize,
    /// Imported runs whose table recorded no outcome.
    #[serde(default)]
    pub outcome_unknown: usize,
    /// Devices the runs trained on.
    pub devices: Vec<String>,
    /// Total training wall time (s).
    pub train_seconds: f64,
    /// Spread by task.
    pub by_task: Vec<GroupSummary>,
    /// Spread by architecture.
    pub by_arch: Vec<GroupSummary>,
    /// Spread by policy.
    pub by_policy: Vec<GroupSummary>,
    /// Spread by base LR.
    pub by_base_lr: Vec<GroupSummary>,
    /// The best configurations (by final top-1, best first).
    pub best: Vec<BestRun>,
    /// Fit scores.
    pub fit: FitReport,
    /// Extrapolation verdicts, one per holdout.
    pub extrapolation: Vec<Extrapolation>,
    /// Final top-1 by (arch, policy, base LR) for the LR-sensitivity figure: mean over the other settings.
    pub lr_curves: Vec<LrCurve>,
}

/// Mean final top-1 against base LR for one (architecture, policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrCurve {
    /// Architecture spec.
    pub arch: String,
    /// Policy name.
    pub policy: String,
    /// `(base_lr, mean top-1)` sorted by LR.
    pub points: Vec<(f64, f64)>,
}

fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn groups(keys: &[String], top1: &[f64], outcome: &[String]) -> Vec<GroupSummary> {
    let mut by: BTreeMap<&str, (Vec<f64>, usize, usize)> = BTreeMap::new();
    for ((k, &t), o) in keys.iter().zip(top1).zip(outcome) {
        let e = by.entry(k).or_default();
        e.0.push(t);
        e.1 += usize::from(o == "diverged");
        e.2 += usize::from(o == "collapsed");
    }
    by.into_iter()
        .map(|(name, (mut values, diverged, collapsed))| {
            values.sort_by(f64::total_cmp);
            GroupSummary {
                name: name.to_string(),
                runs: values.len(),
                diverged,
                collapsed,
                top1_min: values[0],
                top1_median: median(&values),
                top1_max: values[values.len() - 1],
            }
        })
        .collect()
}

/// Build the report from the corpus and the fit results.
pub fn build(
    experiment: &str,
    description: &str,
    table: &CorpusTable,
    fit: &FitReport,
) -> Result<Report> {
    let top1 = table.values("top1")?;
    let outcome = table.outcomes()?;
    let count = |class: &str| outcome.iter().filter(|o| *o == class).count();
    let arch = table.text("arch")?;
    let policy = table.text("policy_name")?;
    let base_lr = table.values("base_lr")?;
    let lr_keys: Vec<String> = base_lr.iter().map(|v| format!("{v:e}")).collect();
    let mut by_base_lr = groups(&lr_keys, &top1, &outcome);
    by_base_lr.sort_by(|a, b| {
        let (x, y): (f64, f64) = (a.name.parse().unwrap_or(0.0), b.name.parse().unwrap_or(0.0));
        x.total_cmp(&y)
    });

    let mut order: Vec<usize> = (0..table.len).collect();
    order.sort_by(|&a, &b| top1[b].total_cmp(&top1[a]));
    let weight_decay = table.values("weight_decay")?;
    let seed = table.values("seed")?;
    let top5 = table.values("top5")?;
    let policy_spec = table.text("policy")?;
    let run_id = table.text("run_id")?;
    let best = order
        .iter()
        .take(10)
        .map(|&i| BestRun {
            run_id: run_id[i].clone(),
            arch: arch[i].clone(),
            policy: policy_spec[i].clone(),
            base_lr: base_lr[i],
            weight_decay: weight_decay[i],
            seed: seed[i] as i64,
            top1: top1[i],
            top5: top5[i],
        })
        .collect();

    let mut curves: BTreeMap<(String, String), BTreeMap<u64, (f64, usize)>> = BTreeMap::new();
    for i in 0..table.len {
        let e = curves
            .entry((arch[i].clone(), policy[i].clone()))
            .or_default()
            .entry(base_lr[i].to_bits())
            .or_default();
        e.0 += top1[i];
        e.1 += 1;
    }
    let lr_curves = curves
        .into_iter()
        .map(|((a, p), points)| {
            let mut points: Vec<(f64, f64)> = points
                .into_iter()
                .map(|(lr, (sum, n))| (f64::from_bits(lr), sum / n as f64))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            LrCurve {
                arch: a,
                policy: p,
                points,
            }
        })
        .collect();

    // Imported runs record no device.
    let mut devices: Vec<String> = table
        .text("device")?
        .iter()
        .map(|d| match d.is_empty() {
            true => "an unrecorded device (imported)".to_string(),
            false => d.clone(),
        })
        .collect();
    devices.sort();
    devices.dedup();
    Ok(Report {
        experiment: experiment.to_string(),
        description: description.to_string(),
        lrcast_version: crate::LRCAST_VERSION.into(),
        runs: table.len,
        diverged: count("diverged"),
        collapsed: count("collapsed"),
        outcome_unknown: count(crate::corpus::table::UNKNOWN_OUTCOME),
        devices,
        // Imported runs without a wall time add nothing.
        train_seconds: table
            .values("wall_seconds")?
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0, |a, b| a + b),
        by_task: groups(table.text("task")?, &top1, &outcome),
        by_arch: groups(arch, &top1, &outcome),
        by_policy: groups(policy, &top1, &outcome),
        by_base_lr,
        best,
        extrapolation: extrapolation(fit),
        fit: fit.clone(),
        lr_curves,
    })
}

fn best_by_mae(split: &SplitResult, baseline: bool) -> Option<(&str, &crate::predict::Scores)> {
    split
        .models
        .iter()
        .filter(|m| m.baseline == baseline && !m.reference)
        .filter_map(|m| m.scores.as_ref().map(|s| (m.model.as_str(), s)))
        .min_by(|a, b| a.1.mae.total_cmp(&b.1.mae))
}

/// Spearman differences smaller than this are ties when ranking is weighed.
const SPEARMAN_TIE: f64 = 0.02;

/// One verdict per protocol (the random contrast splits are quoted in their extreme holdout's),
/// weighing error and ranking together: the best model beats the baselines only when its MAE's
/// bootstrap interval lies below the best baseline's MAE and it ranks the held-out runs no worse
/// than any baseline; it loses when its interval lies above, or when a baseline ranks better.
fn extrapolation(fit: &FitReport) -> Vec<Extrapolation> {
    let mut out = Vec::new();
    for split in &fit.splits {
        if split.split.starts_with("random:") {
            continue;
        }
        let hyperparameter = split
            .split
            .strip_prefix("extreme:")
            .or_else(|| split.split.strip_prefix("extreme_trained:"))
            .map(str::to_string);
        let (Some((model, s)), Some((baseline, b))) =
            (best_by_mae(split, false), best_by_mae(split, true))
        else {
            continue;
        };
        let baseline_spearman = split
            .models
            .iter()
            .filter(|m| m.baseline)
            .filter_map(|m| m.scores.as_ref().and_then(|s| s.spearman))
            .reduce(f64::max);
        let (beats_error, loses_error) = match s.ci {
            Some(ci) => (ci.mae[1] < b.mae, ci.mae[0] > b.mae),
            None => (s.mae < b.mae - 0.01, s.mae > b.mae + 0.01),
        };
        let loses_ranking = match (s.spearman, baseline_spearman) {
            (Some(m), Some(bb)) => m < bb - SPEARMAN_TIE,
            (None, Some(_)) => true,
            _ => false,
        };
        let fmt_rho = |v: Option<f64>| v.map_or("undefined".to_string(), |v| format!("{v:.2}"));
        // A constant chance-level guess (1 / classes) as good as the model's interval says the
        // held-out runs are mostly ones that never learned: no better than guessing, whatever the
        // baselines do.
        let chance = split
            .models
            .iter()
            .find(|m| m.model == "chance")
            .and_then(|m| m.scores.map(|s| s.mae))
            .filter(|&c| c <= s.ci.map_or(s.mae, |ci| ci.mae[1]));
        let (verdict, comparison) = if loses_error || loses_ranking {
            let how = match (loses_error, loses_ranking) {
                (true, true) => "on error and on ranking",
                (true, false) => "on error",
                _ => "on ranking",
            };
            ("loses", format!("loses to the baselines {how}"))
        } else if let Some(c) = chance {
            (
                "no better",
                format!(
                    "is no better than a constant chance-level guess (MAE {c:.3}): most held-out \
                     runs never learned"
                ),
            )
        } else if beats_error {
            (
                "beats",
                "beats every baseline on error and ranks no worse".into(),
            )
        } else {
            (
                "no better",
                "is no better than the best baseline (its MAE interval covers the baseline's)"
                    .into(),
            )
        };
        let random_split_mae = hyperparameter.as_ref().and_then(|h| {
            fit.splits
                .iter()
                .find(|r| r.split == format!("random:{h}"))
                .and_then(|r| r.models.iter().find(|m| m.model == model))
                .and_then(|m| m.scores.map(|s| s.mae))
        });
        let interpolation = match (&split.split, random_split_mae) {
            (name, Some(r)) if name.starts_with("extreme:") => format!(
                " On a random split of the same size it reaches MAE {r:.3}, so extrapolating \
                 costs {:+.3}.",
                s.mae - r
            ),
            _ => String::new(),
        };
        let ci = s.ci.map_or(String::new(), |c| {
            format!(" (90 % CI {:.3}–{:.3})", c.mae[0], c.mae[1])
        });
        let twin = split
            .models
            .iter()
            .find(|m| m.model == "twin_seed")
            .and_then(|m| m.scores.map(|s| s.mae))
            .map_or(String::new(), |t| {
                format!(" The twin-seed noise reference is MAE {t:.3}.")
            });
        let sentence = format!(
            "`{}` ({} held-out runs): the best predictor, {model}, has MAE {:.3}{ci} and Spearman \
             {}; the best baseline, {baseline}, MAE {:.3}, and the best baseline ranking \
             Spearman {}. {model} {comparison}.{interpolation}{twin}",
            split.split,
            split.n_test,
            s.mae,
            fmt_rho(s.spearman),
            b.mae,
            fmt_rho(baseline_spearman),
        );
        out.push(Extrapolation {
            protocol: split.split.clone(),
            hyperparameter,
            best_model: model.to_string(),
            best_mae: s.mae,
            best_r2: s.r2,
            best_spearman: s.spearman,
            best_baseline: baseline.to_string(),
            baseline_mae: b.mae,
            baseline_spearman,
            verdict: verdict.into(),
            random_split_mae,
            sentence,
        });
    }
    out
}

/// Where the report goes.
pub fn report_dir(root: &Path, experiment: &str) -> PathBuf {
    root.join("reports").join(experiment)
}

/// Write `report.md`, `report.html`, `scores.json` and the figures into `dir`, each atomically.
pub fn write_all(dir: &Path, report: &Report) -> Result<Vec<PathBuf>> {
    crate::corpus::ensure_writable_dir(&dir.join("figures"))?;
    let figures = plot::figures(report)?;
    let mut written = Vec::new();
    for (name, svg) in &figures {
        let path = dir.join("figures").join(name);
        write_bytes_atomically(&path, svg.as_bytes())?;
        written.push(path);
    }
    for (name, bytes) in [
        ("report.md", markdown::render(report)),
        ("report.html", html::render(report, &figures)),
        ("scores.json", json::render(report)),
    ] {
        let path = dir.join(name);
        write_bytes_atomically(&path, bytes.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::scores::{ScoreIntervals, score};
    use crate::predict::{ModelScore, SplitResult};

    fn model(name: &str, kind: &str, mae: f64, spearman: f64) -> ModelScore {
        let mut s = score(&[0.1, 0.5, 0.9], &[0.1, 0.5, 0.9]);
        s.mae = mae;
        s.spearman = Some(spearman);
        s.ci = Some(ScoreIntervals {
            resamples: 200,
            mae: [mae - 0.01, mae + 0.01],
            rmse: [0.0, 1.0],
            r2: None,
            spearman: None,
        });
        ModelScore {
            model: name.into(),
            baseline: kind == "baseline",
            reference: kind == "reference",
            scores: Some(s),
            error: None,
            interval_half_width: None,
            per_task: Default::default(),
        }
    }

    fn split(name: &str, models: Vec<ModelScore>) -> SplitResult {
        SplitResult {
            split: name.into(),
            description: String::new(),
            n_train: 10,
            n_test: 3,
            folds: 1,
            divergence: None,
            models,
        }
    }

    #[test]
    fn the_verdict_weighs_error_ranking_and_chance() {
        let fit = FitReport {
            experiment: "t".into(),
            n_runs: 13,
            target: "top1".into(),
            features: Vec::new(),
            settings: crate::recipe::FitSettings {
                holdout: Vec::new(),
                quantile: 0.1,
                random_seed: 0,
                ridge_alpha: 1.0,
                elastic_net_alpha: 1.0,
                l1_ratio: 0.5,
                protocols: None,
                models: None,
            },
            splits: vec![
                split(
                    "logo:arch",
                    vec![
                        model("mean", "baseline", 0.2, 0.5),
                        model("rf", "", 0.05, 0.9),
                    ],
                ),
                // Lower error, but the baseline ranks the held-out runs better.
                split(
                    "logo:task",
                    vec![
                        model("mean", "baseline", 0.2, 0.6),
                        model("rf", "", 0.1, 0.3),
                    ],
                ),
                // Far below the baseline, but a chance-level constant does as well.
                split(
                    "extreme:base_lr",
                    vec![
                        model("mean", "baseline", 0.3, 0.5),
                        model("rf", "", 0.11, 0.8),
                        model("chance", "reference", 0.115, 0.0),
                    ],
                ),
            ],
            divergence_rules: Vec::new(),
            skipped: Vec::new(),
            importance: None,
        };
        let verdicts: Vec<(String, String)> = extrapolation(&fit)
            .into_iter()
            .map(|e| (e.protocol, e.verdict))
            .collect();
        let expect = |p: &str, v: &str| (p.to_string(), v.to_string());
        assert_eq!(
            verdicts,
            [
                expect("logo:arch", "beats"),
                expect("logo:task", "loses"),
                expect("extreme:base_lr", "no better")
            ]
        );
    }
}
