//! The extrapolation verdicts: per protocol (and per task inside it), does the best predictor beat,
//! match or lose to the baselines, weighing error and ranking together.

use serde::{Deserialize, Serialize};

use super::held_out::HeldOut;
use crate::predict::{FitReport, ModelScore, Scores, SplitResult};

/// How the best predictor did on one protocol, against baselines and a random split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extrapolation {
    /// Protocol, e.g. `extreme:base_lr`, `logo:task+arch+policy`.
    #[serde(default)]
    pub protocol: String,
    /// Hyperparameter held out, for an extreme-value holdout.
    pub hyperparameter: Option<String>,
    /// What was held out, in values and runs.
    #[serde(default)]
    pub held_out: String,
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
    /// The same verdict restricted to each task of the test set (when it holds several).
    #[serde(default)]
    pub per_task: Vec<TaskVerdict>,
    /// One plain sentence.
    pub sentence: String,
}

/// The verdict of a protocol's best model on the held-out runs of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskVerdict {
    /// Task spec.
    pub task: String,
    /// Held-out runs of the task.
    pub n: usize,
    /// The model's MAE there.
    pub mae: f64,
    /// Its 90 % bootstrap interval.
    pub mae_ci: Option<[f64; 2]>,
    /// Its Spearman there.
    pub spearman: Option<f64>,
    /// Best baseline by MAE on the task.
    pub baseline: String,
    /// That baseline's MAE.
    pub baseline_mae: f64,
    /// The best baseline Spearman on the task.
    pub baseline_spearman: Option<f64>,
    /// `beats`, `no better` or `loses`.
    pub verdict: String,
    /// Why, in words.
    pub comparison: String,
}

fn best_by_mae(split: &SplitResult, baseline: bool) -> Option<(&str, &Scores)> {
    split
        .models
        .iter()
        .filter(|m| m.baseline == baseline && !m.reference)
        .filter_map(|m| m.scores.as_ref().map(|s| (m.model.as_str(), s)))
        .min_by(|a, b| a.1.mae.total_cmp(&b.1.mae))
}

/// Spearman differences smaller than this are ties when ranking is weighed.
const SPEARMAN_TIE: f64 = 0.02;

/// The verdict of scores `s` against the best baseline MAE `baseline_mae`, the best baseline
/// Spearman and a chance-level MAE: it beats the baselines only when its MAE's bootstrap interval
/// lies below the baseline's MAE and it ranks no worse than any baseline; it loses when its
/// interval lies above, or when a baseline ranks better; a chance-level constant as good as its
/// interval makes it no better, whatever the baselines do.
fn weigh(
    s: &Scores,
    baseline_mae: f64,
    baseline_spearman: Option<f64>,
    chance_mae: Option<f64>,
) -> (&'static str, String) {
    let (beats_error, loses_error) = match s.ci {
        Some(ci) => (ci.mae[1] < baseline_mae, ci.mae[0] > baseline_mae),
        None => (s.mae < baseline_mae - 0.01, s.mae > baseline_mae + 0.01),
    };
    let loses_ranking = match (s.spearman, baseline_spearman) {
        (Some(m), Some(b)) => m < b - SPEARMAN_TIE,
        (None, Some(_)) => true,
        _ => false,
    };
    let chance = chance_mae.filter(|&c| c <= s.ci.map_or(s.mae, |ci| ci.mae[1]));
    if loses_error || loses_ranking {
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
            "is no better than the best baseline (its MAE interval covers the baseline's)".into(),
        )
    }
}

fn fmt_rho(v: Option<f64>) -> String {
    v.map_or("undefined".to_string(), |v| format!("{v:.2}"))
}

/// The per-task verdicts of `model` on `split`.
fn per_task(split: &SplitResult, model: &ModelScore) -> Vec<TaskVerdict> {
    let mut out = Vec::new();
    for (task, s) in &model.per_task {
        let of_task = |m: &ModelScore| m.per_task.get(task).copied();
        let Some((baseline, b)) = split
            .models
            .iter()
            .filter(|m| m.baseline)
            .filter_map(|m| of_task(m).map(|s| (m.model.as_str(), s)))
            .min_by(|a, b| a.1.mae.total_cmp(&b.1.mae))
        else {
            continue;
        };
        let baseline_spearman = split
            .models
            .iter()
            .filter(|m| m.baseline)
            .filter_map(|m| of_task(m).and_then(|s| s.spearman))
            .reduce(f64::max);
        let chance = split
            .models
            .iter()
            .find(|m| m.model == "chance")
            .and_then(|m| of_task(m).map(|s| s.mae));
        let (verdict, comparison) = weigh(s, b.mae, baseline_spearman, chance);
        out.push(TaskVerdict {
            task: task.clone(),
            n: s.n,
            mae: s.mae,
            mae_ci: s.ci.map(|c| c.mae),
            spearman: s.spearman,
            baseline: baseline.to_string(),
            baseline_mae: b.mae,
            baseline_spearman,
            verdict: verdict.into(),
            comparison,
        });
    }
    out
}

/// One verdict per protocol (the random contrast splits are quoted in their extreme holdout's).
pub fn extrapolation(fit: &FitReport, held_out: &[HeldOut]) -> Vec<Extrapolation> {
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
        let chance = split
            .models
            .iter()
            .find(|m| m.model == "chance")
            .and_then(|m| m.scores.map(|s| s.mae));
        let (verdict, comparison) = weigh(s, b.mae, baseline_spearman, chance);
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
        let tasks = split
            .models
            .iter()
            .find(|m| m.model == model)
            .map(|m| per_task(split, m))
            .unwrap_or_default();
        let losses: Vec<String> = tasks
            .iter()
            .filter(|t| t.verdict == "loses")
            .map(|t| {
                format!(
                    "`{}` (MAE {:.3} against {} {:.3}, Spearman {} against {})",
                    t.task,
                    t.mae,
                    t.baseline,
                    t.baseline_mae,
                    fmt_rho(t.spearman),
                    fmt_rho(t.baseline_spearman)
                )
            })
            .collect();
        let per_task_sentence = match (tasks.len(), losses.len()) {
            (0, _) => String::new(),
            (n, 0) => format!(" Per task it loses to no baseline in any of the {n} tasks."),
            (n, _) => format!(
                " Per task it loses to a baseline in {} of {n} tasks: {}.",
                losses.len(),
                losses.join("; ")
            ),
        };
        let held = held_out
            .iter()
            .find(|h| h.protocol == split.split)
            .map_or_else(|| split.description.clone(), |h| h.sentence.clone());
        let sentence = format!(
            "`{}` (held out: {held}): the best predictor, {model}, has MAE {:.3}{ci} and Spearman \
             {}; the best baseline, {baseline}, MAE {:.3}, and the best baseline ranking \
             Spearman {}. {model} {comparison}.{interpolation}{twin}{per_task_sentence}",
            split.split,
            s.mae,
            fmt_rho(s.spearman),
            b.mae,
            fmt_rho(baseline_spearman),
        );
        out.push(Extrapolation {
            protocol: split.split.clone(),
            hyperparameter,
            held_out: held,
            best_model: model.to_string(),
            best_mae: s.mae,
            best_r2: s.r2,
            best_spearman: s.spearman,
            best_baseline: baseline.to_string(),
            baseline_mae: b.mae,
            baseline_spearman,
            verdict: verdict.into(),
            random_split_mae,
            per_task: tasks,
            sentence,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::scores::{ScoreIntervals, score};
    use crate::predict::{ModelScore, SplitResult};

    fn scores(mae: f64, spearman: f64) -> Scores {
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
        s
    }

    fn model(name: &str, kind: &str, mae: f64, spearman: f64) -> ModelScore {
        ModelScore {
            model: name.into(),
            baseline: kind == "baseline",
            reference: kind == "reference",
            scores: Some(scores(mae, spearman)),
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
            predictions: None,
        }
    }

    fn fit(splits: Vec<SplitResult>) -> FitReport {
        FitReport {
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
            splits,
            divergence_rules: Vec::new(),
            skipped: Vec::new(),
            importance: None,
        }
    }

    #[test]
    fn the_verdict_weighs_error_ranking_and_chance() {
        let fit = fit(vec![
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
        ]);
        let verdicts: Vec<(String, String)> = extrapolation(&fit, &[])
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

    #[test]
    fn a_loss_to_a_baseline_in_one_task_is_named() {
        let mut rf = model("rf", "", 0.05, 0.9);
        let mut mean = model("mean", "baseline", 0.2, 0.5);
        rf.per_task.insert("a".into(), scores(0.04, 0.9));
        rf.per_task.insert("b".into(), scores(0.10, 0.2));
        mean.per_task.insert("a".into(), scores(0.2, 0.5));
        mean.per_task.insert("b".into(), scores(0.15, 0.6));
        let out = extrapolation(&fit(vec![split("logo:policy", vec![mean, rf])]), &[]);
        let verdicts: Vec<(&str, &str)> = out[0]
            .per_task
            .iter()
            .map(|t| (t.task.as_str(), t.verdict.as_str()))
            .collect();
        assert_eq!(verdicts, [("a", "beats"), ("b", "loses")]);
        assert!(
            out[0]
                .sentence
                .contains("loses to a baseline in 1 of 2 tasks: `b`"),
            "{}",
            out[0].sentence
        );
    }
}
