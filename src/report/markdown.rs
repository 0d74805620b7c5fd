//! Markdown exporter of the [`Report`].

use std::fmt::Write;

use super::tables;
use super::{GroupSummary, Report};

fn group_table(out: &mut String, title: &str, groups: &[GroupSummary]) {
    let _ = writeln!(
        out,
        "| {title} | runs | diverged | collapsed | top-1 min | median | max |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    for g in groups {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {:.3} | {:.3} | {:.3} |",
            g.name, g.runs, g.diverged, g.collapsed, g.top1_min, g.top1_median, g.top1_max
        );
    }
    out.push('\n');
}

/// Render the report as Markdown.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# lrcast report: {}\n", r.experiment);
    if !r.description.is_empty() {
        let _ = writeln!(out, "{}\n", r.description.trim());
    }
    let _ = writeln!(out, "## Extrapolation\n");
    for e in &r.extrapolation {
        let _ = writeln!(out, "- {}", e.sentence);
    }
    if r.extrapolation.is_empty() {
        let _ = writeln!(out, "- No holdout protocol could be scored.");
    }
    out.push('\n');
    for file in ["lr_sensitivity.svg", "holdout_mae.svg"] {
        let _ = writeln!(out, "![{0}](figures/{file})\n", super::plot::caption(file));
    }
    let _ = writeln!(
        out,
        "\n## Corpus\n\n{} runs: {} diverged (non-finite or exploding loss), {} collapsed (finished at or \
         above a uniform guess's training loss), {}the rest trained; on {} in {:.1} s of training time.\n",
        r.runs,
        r.diverged,
        r.collapsed,
        tables::unknown_outcomes(r),
        r.devices.join(", "),
        r.train_seconds
    );
    group_table(&mut out, "task", &r.by_task);
    group_table(&mut out, "architecture", &r.by_arch);
    group_table(&mut out, "policy", &r.by_policy);
    group_table(&mut out, "base LR", &r.by_base_lr);

    let _ = writeln!(out, "## Best configurations\n");
    let _ = writeln!(
        out,
        "| # | top-1 | top-5 | architecture | policy | weight decay | seed | run |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---|---|---:|---:|---|");
    for (i, b) in r.best.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {:.3} | {:.3} | `{}` | `{}` | {} | {} | `{}` |",
            i + 1,
            b.top1,
            b.top5,
            b.arch,
            b.policy,
            b.weight_decay,
            b.seed,
            b.run_id
        );
    }

    let _ = writeln!(
        out,
        "\n## Predictor scores\n\nTarget: final test `{}`. {} features: {}.\n",
        r.fit.target,
        r.fit.features.len(),
        r.fit
            .features
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for split in &r.fit.splits {
        let _ = writeln!(
            out,
            "### `{}` — train {} / test {}{}\n\n{}\n",
            split.split,
            split.n_train,
            split.n_test,
            tables::folds_note(split),
            split.description
        );
        let _ = writeln!(out, "| {} |", tables::SCORE_HEADERS.join(" | "));
        let _ = writeln!(
            out,
            "|---{}|",
            "|---:".repeat(tables::SCORE_HEADERS.len() - 1)
        );
        for m in &split.models {
            let _ = writeln!(
                out,
                "| {} | {} |",
                tables::label(m),
                tables::score_cells(m).join(" | ")
            );
        }
        if let Some(sentence) = tables::divergence_sentence(split) {
            let _ = writeln!(out, "\n{sentence}");
        }
        if let Some((headers, rows)) = tables::per_task_table(split) {
            let _ = writeln!(out, "\n| {} |", headers.join(" | "));
            let _ = writeln!(out, "|---{}|", "|---:".repeat(headers.len() - 1));
            for row in rows {
                let _ = writeln!(out, "| {} |", row.join(" | "));
            }
        }
        out.push('\n');
    }
    if let Some(sentence) = tables::skipped_sentence(&r.fit.skipped) {
        let _ = writeln!(out, "{sentence}\n");
    }
    if let Some(importance) = &r.fit.importance {
        let (sentence, rows) = tables::importance_table(importance);
        let _ = writeln!(out, "## Which hyperparameters matter\n\n{sentence}\n");
        let _ = writeln!(out, "| {} |", tables::IMPORTANCE_HEADERS.join(" | "));
        let _ = writeln!(
            out,
            "|---{}|",
            "|---:".repeat(tables::IMPORTANCE_HEADERS.len() - 1)
        );
        for row in rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out.push('\n');
    }
    if !r.fit.divergence_rules.is_empty() {
        let _ = writeln!(
            out,
            "## Which settings fail\n\nA decision tree (linfa-trees) on the whole corpus: the \
             probability that a run diverges or collapses.\n\n```\n{}\n```\n",
            r.fit.divergence_rules.join("\n")
        );
    }
    let _ = writeln!(
        out,
        "R² is computed against the test set's own mean, so a constant predictor scores ≤ 0; \
         — marks a score that is undefined (constant prediction or constant target).\n\n\
         Figures: `figures/`. Machine-readable scores: `scores.json`. Written by lrcast {}.",
        r.lrcast_version
    );
    out
}
