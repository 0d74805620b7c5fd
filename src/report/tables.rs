//! The per-protocol score tables as plain cells, shared by the Markdown and HTML exporters.

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
