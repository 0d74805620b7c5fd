//! Markdown exporter of the [`Report`]: the same content as the HTML page, figures linked as
//! `figures/*.svg` with their captions.

use std::fmt::Write;

use super::figures::{Figure, Section};
use super::tables;
use super::{GroupSummary, Report};

fn table<H: AsRef<str>>(out: &mut String, headers: &[H], rows: &[Vec<String>]) {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let _ = writeln!(
        out,
        "| {} |",
        headers
            .iter()
            .map(|h| cell(h.as_ref()))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(
        out,
        "|---{}|",
        "|---:".repeat(headers.len().saturating_sub(1))
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| {} |",
            row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
        );
    }
    out.push('\n');
}

fn group_table(out: &mut String, title: &str, groups: &[GroupSummary]) {
    let mut headers = vec![title];
    headers.extend(tables::GROUP_HEADERS);
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| {
            let mut row = vec![format!("`{}`", g.name)];
            row.extend(tables::group_cells(g));
            row
        })
        .collect();
    table(out, &headers, &rows);
}

fn figures(out: &mut String, figures: &[Figure], section: Section) {
    for f in figures.iter().filter(|f| f.section == section) {
        match (&f.svg, f.number) {
            (Some(_), Some(n)) => {
                let _ = writeln!(
                    out,
                    "![Figure {n}](figures/{})\n\n*Figure {n}.* {}\n",
                    f.file, f.caption
                );
            }
            _ => {
                let _ = writeln!(out, "*{}*\n", f.caption);
            }
        }
    }
}

fn list(out: &mut String, items: &[String]) {
    for i in items {
        let _ = writeln!(out, "- {i}");
    }
    out.push('\n');
}

/// The founding study: verdict, scale, findings, tables and figures.
fn study_section(out: &mut String, s: &super::studies::StudyResult, all: &[Figure]) {
    let _ = writeln!(out, "## Study `{}`: {}\n", s.kind.name(), s.title);
    let _ = writeln!(out, "**Verdict.** {}\n\n*Scale:* {}\n", s.verdict, s.scale);
    list(
        out,
        &s.findings
            .iter()
            .map(|f| format!("*{}* — **{}**: {}", f.claim, f.holds.label(), f.evidence))
            .collect::<Vec<_>>(),
    );
    for t in &s.tables {
        let _ = writeln!(out, "{}:\n", t.title);
        table(out, &t.headers, &t.rows);
    }
    figures(out, all, Section::Study);
}

/// Render the report as Markdown, linking `all` figures.
pub fn render(r: &Report, all: &[Figure]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# lrcast report: {}\n", r.experiment);
    if !r.description.is_empty() {
        let _ = writeln!(out, "{}\n", r.description.trim());
    }
    let _ = writeln!(out, "{}\n", tables::corpus_sentence(r));
    if let Some(study) = &r.study {
        study_section(&mut out, study, all);
    }
    let _ = writeln!(out, "## Best policy and base LR per task × architecture\n");
    if r.best_settings.is_empty() {
        let _ = writeln!(
            out,
            "No task × architecture has a run that trained: there is no best setting to name.\n"
        );
    } else {
        list(
            &mut out,
            &r.best_settings
                .iter()
                .map(|b| b.sentence.clone())
                .collect::<Vec<_>>(),
        );
    }
    figures(&mut out, all, Section::Best);
    let _ = writeln!(out, "## How well the predictor extrapolates\n");
    if r.extrapolation.is_empty() {
        let _ = writeln!(out, "- No holdout protocol could be scored.\n");
    } else {
        list(
            &mut out,
            &r.extrapolation
                .iter()
                .map(|e| e.sentence.clone())
                .collect::<Vec<_>>(),
        );
        table(
            &mut out,
            tables::PROTOCOL_HEADERS,
            &tables::protocol_rows(r),
        );
        let rows = tables::task_verdict_rows(r);
        if !rows.is_empty() {
            let _ = writeln!(
                out,
                "The same verdict inside each protocol, task by task:\n"
            );
            table(&mut out, tables::TASK_VERDICT_HEADERS, &rows);
        }
    }
    figures(&mut out, all, Section::Extrapolation);
    let _ = writeln!(out, "## What the corpus cannot tell\n");
    list(&mut out, &tables::gap_sentences(r));
    figures(&mut out, all, Section::Gaps);

    let _ = writeln!(out, "## Corpus\n\n{}\n", tables::corpus_sentence(r));
    group_table(&mut out, "task", &r.by_task);
    group_table(&mut out, "architecture", &r.by_arch);
    group_table(&mut out, "policy", &r.by_policy);
    group_table(&mut out, "base LR", &r.by_base_lr);
    figures(&mut out, all, Section::Corpus);
    let _ = writeln!(out, "## Best runs\n");
    table(&mut out, tables::BEST_HEADERS, &tables::best_rows(r));

    let _ = writeln!(out, "## Which hyperparameters matter\n");
    if let Some(importance) = &r.fit.importance {
        let (sentence, rows) = tables::importance_table(importance);
        let _ = writeln!(out, "{sentence}\n");
        figures(&mut out, all, Section::Importance);
        table(&mut out, tables::IMPORTANCE_HEADERS, &rows);
    } else {
        figures(&mut out, all, Section::Importance);
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
        "## Predictor scores\n\nTarget: final test `{}`. {} features: {}.\n",
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
        let held = r
            .held_out
            .iter()
            .find(|h| h.protocol == split.split)
            .map_or(String::new(), |h| format!(" Held out: {}.", h.sentence));
        let _ = writeln!(
            out,
            "### `{}` — train {} / test {}{}\n\n{}{held}\n",
            split.split,
            split.n_train,
            split.n_test,
            tables::folds_note(split),
            split.description
        );
        let rows: Vec<Vec<String>> = split
            .models
            .iter()
            .map(|m| {
                let mut row = vec![tables::label(m)];
                row.extend(tables::score_cells(m));
                row
            })
            .collect();
        table(&mut out, tables::SCORE_HEADERS, &rows);
        if let Some(sentence) = tables::divergence_sentence(split) {
            let _ = writeln!(out, "{sentence}\n");
        }
        if let Some((headers, rows)) = tables::per_task_table(split) {
            table(&mut out, &headers, &rows);
        }
    }
    let _ = writeln!(
        out,
        "R² is computed against the test set's own mean, so a constant predictor scores ≤ 0; \
         — marks a score that is undefined (constant prediction or constant target).\n\n\
         Figures: `figures/`. Every number of this report is in `scores.json`. Written by lrcast {}.",
        r.lrcast_version
    );
    out
}
