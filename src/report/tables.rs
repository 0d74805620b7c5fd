//! The report's tables as plain cells (headers and rows of text), shared by the Markdown and HTML
//! exporters so that both say the same.

use crate::predict::importance::ImportanceReport;
use crate::predict::{ModelScore, SplitResult};

/// Column headers of a score table.
pub const SCORE_HEADERS: &[&str] = &[
    "model",
    "n",
    "R²",
    "MAE (90 % CI)",
    "RMSE",
    "Spearman (90 % CI)",
    "Kendall",
    "top-1 regret",
    "LR optimum hits",
    "log10 LR error",
    "curve regret",
    "80 % interval coverage",
    "interval width",
];

/// A score, or — where it is undefined.
pub fn opt(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.3}"))
}

/// A score with its bootstrap interval, e.g. `0.047 (0.040 to 0.055)`.
fn with_ci(v: Option<f64>, ci: Option<[f64; 2]>) -> String {
    match (v, ci) {
        (Some(v), Some([lo, hi])) => format!("{v:.3} ({lo:.3} to {hi:.3})"),
        (v, _) => opt(v),
    }
}

/// The per-task table of a split, when its test set holds several tasks: headers (model, then one
/// column per task) and one row per model with `MAE / Spearman` in each task's cell.
pub fn per_task_table(split: &SplitResult) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let tasks: std::collections::BTreeSet<&String> = split
        .models
        .iter()
        .flat_map(|m| m.per_task.keys())
        .collect();
    if tasks.is_empty() {
        return None;
    }
    let mut headers = vec!["model (MAE / Spearman per task)".to_string()];
    headers.extend(tasks.iter().map(|t| t.to_string()));
    let rows = split
        .models
        .iter()
        .filter(|m| !m.per_task.is_empty())
        .map(|m| {
            let mut row = vec![label(m)];
            row.extend(tasks.iter().map(|t| match m.per_task.get(*t) {
                Some(s) => format!("{:.3} / {}", s.mae, opt(s.spearman)),
                None => "—".into(),
            }));
            row
        })
        .collect();
    Some((headers, rows))
}

/// One sentence naming the protocols this corpus could not form, if any.
pub fn skipped_sentence(skipped: &[String]) -> Option<String> {
    (!skipped.is_empty())
        .then(|| format!("Protocols not run on this corpus: {}.", skipped.join("; ")))
}

/// The row label: the model, marked as baseline or reference.
pub fn label(m: &ModelScore) -> String {
    if m.baseline {
        format!("{} (baseline)", m.model)
    } else if m.reference {
        format!("{} (reference)", m.model)
    } else {
        m.model.clone()
    }
}

/// The cells after the label, one per remaining header; a model that could not be fitted gets
/// one cell saying why.
pub fn score_cells(m: &ModelScore) -> Vec<String> {
    let Some(s) = &m.scores else {
        return vec![format!(
            "not fitted: {}",
            m.error.as_deref().unwrap_or("unknown error")
        )];
    };
    let (hits, lr_error, curve_regret) = match &s.optimum {
        Some(o) => (
            format!("{} / {}", o.hits, o.groups),
            format!("{:.2}", o.log10_lr_error),
            format!("{:.3}", o.regret),
        ),
        None => ("—".into(), "—".into(), "—".into()),
    };
    vec![
        s.n.to_string(),
        opt(s.r2),
        with_ci(Some(s.mae), s.ci.map(|c| c.mae)),
        format!("{:.3}", s.rmse),
        with_ci(s.spearman, s.ci.and_then(|c| c.spearman)),
        opt(s.kendall),
        opt(s.regret),
        hits,
        lr_error,
        curve_regret,
        opt(s.coverage),
        opt(s.interval_width),
    ]
}

/// The split's heading suffix: its fold count when it has several.
pub fn folds_note(split: &SplitResult) -> String {
    if split.folds > 1 {
        format!(" ({} folds; mean train size)", split.folds)
    } else {
        String::new()
    }
}

/// "N of unknown outcome (imported without one), " for the corpus sentence, or nothing.
pub fn unknown_outcomes(r: &super::Report) -> String {
    match r.outcome_unknown {
        0 => String::new(),
        n => format!("{n} of unknown outcome (imported without one), "),
    }
}

/// The corpus sentence: runs by outcome, devices and training time.
pub fn corpus_sentence(r: &super::Report) -> String {
    format!(
        "{} runs: {} trained, {} diverged (non-finite or exploding loss), {} collapsed (finished at \
         or above a uniform guess's training loss), {}on {} in {:.1} s of training time.",
        r.runs,
        r.trained,
        r.diverged,
        r.collapsed,
        unknown_outcomes(r),
        r.devices.join(", "),
        r.train_seconds
    )
}

/// Column headers of a group table (after the group's own name).
pub const GROUP_HEADERS: &[&str] = &[
    "runs",
    "trained",
    "diverged",
    "collapsed",
    "unknown",
    "top-1 min",
    "median",
    "max",
];

/// The cells of a group row after its name.
pub fn group_cells(g: &super::GroupSummary) -> Vec<String> {
    vec![
        g.runs.to_string(),
        g.trained.to_string(),
        g.diverged.to_string(),
        g.collapsed.to_string(),
        g.unknown.to_string(),
        format!("{:.3}", g.top1_min),
        format!("{:.3}", g.top1_median),
        format!("{:.3}", g.top1_max),
    ]
}

/// Headers of the protocol summary.
pub const PROTOCOL_HEADERS: &[&str] = &[
    "protocol",
    "held out",
    "verdict",
    "best model",
    "MAE (90 % CI)",
    "Spearman",
    "best baseline",
    "baseline MAE",
    "best baseline Spearman",
];

/// One row per verdict.
pub fn protocol_rows(r: &super::Report) -> Vec<Vec<String>> {
    r.extrapolation
        .iter()
        .map(|e| {
            let ci = r
                .fit
                .splits
                .iter()
                .find(|s| s.split == e.protocol)
                .and_then(|s| s.models.iter().find(|m| m.model == e.best_model))
                .and_then(|m| m.scores.and_then(|s| s.ci))
                .map(|c| c.mae);
            vec![
                e.protocol.clone(),
                e.held_out.clone(),
                e.verdict.clone(),
                e.best_model.clone(),
                with_ci(Some(e.best_mae), ci),
                opt(e.best_spearman),
                e.best_baseline.clone(),
                format!("{:.3}", e.baseline_mae),
                opt(e.baseline_spearman),
            ]
        })
        .collect()
}

/// Headers of the per-task verdicts.
pub const TASK_VERDICT_HEADERS: &[&str] = &[
    "protocol",
    "task",
    "runs",
    "model MAE (90 % CI)",
    "Spearman",
    "best baseline",
    "baseline MAE",
    "best baseline Spearman",
    "verdict",
];

/// One row per protocol × task.
pub fn task_verdict_rows(r: &super::Report) -> Vec<Vec<String>> {
    r.extrapolation
        .iter()
        .flat_map(|e| {
            e.per_task.iter().map(move |t| {
                vec![
                    format!("{} ({})", e.protocol, e.best_model),
                    t.task.clone(),
                    t.n.to_string(),
                    with_ci(Some(t.mae), t.mae_ci),
                    opt(t.spearman),
                    t.baseline.clone(),
                    format!("{:.3}", t.baseline_mae),
                    opt(t.baseline_spearman),
                    t.verdict.clone(),
                ]
            })
        })
        .collect()
}

/// Headers of the best-runs table.
pub const BEST_HEADERS: &[&str] = &[
    "#",
    "top-1",
    "top-5",
    "task",
    "architecture",
    "policy",
    "weight decay",
    "seed",
    "run",
];

/// One row per best run.
pub fn best_rows(r: &super::Report) -> Vec<Vec<String>> {
    r.best
        .iter()
        .enumerate()
        .map(|(i, b)| {
            vec![
                (i + 1).to_string(),
                format!("{:.3}", b.top1),
                format!("{:.3}", b.top5),
                b.task.clone(),
                b.arch.clone(),
                b.policy.clone(),
                super::runs::fmt_num(b.weight_decay),
                b.seed.to_string(),
                b.run_id.clone(),
            ]
        })
        .collect()
}

/// Everything the "cannot tell" section says, in order.
pub fn gap_sentences(r: &super::Report) -> Vec<String> {
    let mut out = r.gaps.sentences.clone();
    if let Some(s) = skipped_sentence(&r.fit.skipped) {
        out.push(s);
    }
    if let Some(e) = &r.lr_find_error {
        out.push(format!(
            "The LR range test beside the report could not be read: {e}."
        ));
    }
    if out.is_empty() {
        out.push("Nothing beyond the swept ranges themselves.".into());
    }
    out
}

/// One sentence on the failure classifier of a split.
pub fn divergence_sentence(split: &SplitResult) -> Option<String> {
    let d = split.divergence?;
    Some(format!(
        "Failure (diverged or collapsed, {:.0}% of the held-out runs): the decision tree is right \
         on {:.1}% (log loss {:.3}); the constant training failure rate on {:.1}% (log loss {:.3}).",
        100.0 * d.tree.failure_rate,
        100.0 * d.tree.accuracy,
        d.tree.log_loss,
        100.0 * d.base_rate.accuracy,
        d.base_rate.log_loss
    ))
}

/// Column headers of the importance table.
pub const IMPORTANCE_HEADERS: &[&str] = &["hyperparameter", "columns", "MAE increase", "sd"];

/// The importance section: its lead sentence and one row per hyperparameter, largest first.
pub fn importance_table(r: &ImportanceReport) -> (String, Vec<Vec<String>>) {
    let sentence = format!(
        "Permutation importance of `{}` on `{}`: the held-out MAE ({:.3} unshuffled) grows by \
         this much when one hyperparameter's values are shuffled among the test runs of each \
         fold (mean and standard deviation over {} shuffles; every design-matrix column of the \
         hyperparameter moves together).",
        r.model, r.protocol, r.baseline_mae, r.repeats
    );
    let rows = r
        .importances
        .iter()
        .map(|i| {
            vec![
                i.hyperparameter.clone(),
                i.columns.to_string(),
                format!("{:.3}", i.mae_increase),
                format!("{:.3}", i.sd),
            ]
        })
        .collect();
    (sentence, rows)
}
