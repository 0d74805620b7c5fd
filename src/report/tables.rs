//! The per-protocol score tables as plain cells, shared by the Markdown and HTML exporters.

use crate::predict::{ModelScore, SplitResult};

/// Column headers of a score table.
pub const SCORE_HEADERS: &[&str] = &[
    "model",
    "n",
    "R²",
    "MAE",
    "RMSE",
    "Spearman",
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
        format!("{:.3}", s.mae),
        format!("{:.3}", s.rmse),
        opt(s.spearman),
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
