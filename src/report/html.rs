//! HTML exporter of the [`Report`]: one self-contained page (inline SVG figures and CSS, no script,
//! nothing fetched), the answers first, then the corpus and the score tables.

use std::fmt::Write;

use super::figures::{Figure, Section};
use super::tables;
use super::{GroupSummary, Report};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1040px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
th:first-child,td:first-child{text-align:left}code{background:#f4f4f4;padding:0 .2em}\
.verdict{background:#eef5ff;border-left:4px solid #1f77b4;padding:.6em 1em;margin:.5em 0}.baseline{color:#666}\
figure{margin:1.2em 0}figure svg{max-width:100%;height:auto}figcaption{font-size:.9em;color:#333;margin-top:.3em}\
.skipped{color:#666;font-style:italic}pre{background:#f8f8f8;padding:.6em;overflow-x:auto}";

/// Escape text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escaped text with `code` spans for backquoted parts.
fn prose(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in esc(s).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// A table of text cells under `headers`.
fn plain_table<H: AsRef<str>>(out: &mut String, headers: &[H], rows: &[Vec<String>]) {
    out.push_str("<table><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", esc(h.as_ref()));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for c in row {
            let _ = write!(out, "<td>{}</td>", esc(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>\n");
}

fn group_table(out: &mut String, title: &str, groups: &[GroupSummary]) {
    let mut headers = vec![title];
    headers.extend(tables::GROUP_HEADERS);
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| {
            let mut row = vec![g.name.clone()];
            row.extend(tables::group_cells(g));
            row
        })
        .collect();
    plain_table(out, &headers, &rows);
}

/// The SVG of a figure ready to inline: no XML prolog, and a viewBox so that it scales.
fn inline_svg(svg: &str) -> String {
    let body = svg.find("<svg").map_or(svg, |i| &svg[i..]);
    if body.contains("viewBox") {
        return body.to_string();
    }
    let attr = |name: &str| -> Option<String> {
        let start = body.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = start + body[start..].find('"')?;
        Some(body[start..end].to_string())
    };
    match (attr("width"), attr("height")) {
        (Some(w), Some(h)) => body.replacen("<svg ", &format!("<svg viewBox=\"0 0 {w} {h}\" "), 1),
        _ => body.to_string(),
    }
}

fn figures(out: &mut String, figures: &[Figure], section: Section) {
    for f in figures.iter().filter(|f| f.section == section) {
        match (&f.svg, f.number) {
            (Some(svg), Some(n)) => {
                let _ = writeln!(
                    out,
                    "<figure id=\"figure-{n}\">{}<figcaption><b>Figure {n}.</b> {}</figcaption></figure>",
                    inline_svg(svg),
                    prose(&f.caption)
                );
            }
            _ => {
                let _ = writeln!(out, "<p class=\"skipped\">{}</p>", prose(&f.caption));
            }
        }
    }
}

fn list(out: &mut String, items: &[String]) {
    out.push_str("<ul>");
    for i in items {
        let _ = write!(out, "<li>{}</li>", prose(i));
    }
    out.push_str("</ul>\n");
}

/// The founding study: verdict, scale, findings, tables (cells as prose: `code` spans) and figures.
fn study_section(out: &mut String, s: &super::studies::StudyResult, all: &[Figure]) {
    let _ = writeln!(
        out,
        "<h2>Study <code>{}</code>: {}</h2>\n<p class=\"verdict\"><b>Verdict.</b> {}</p>\n<p><i>Scale:</i> {}</p>",
        esc(s.kind.name()),
        esc(&s.title),
        prose(&s.verdict),
        prose(&s.scale)
    );
    out.push_str("<ul>");
    for f in &s.findings {
        let _ = write!(
            out,
            "<li><i>{}</i> — <b>{}</b>: {}</li>",
            prose(&f.claim),
            esc(f.holds.label()),
            prose(&f.evidence)
        );
    }
    out.push_str("</ul>\n");
    for t in &s.tables {
        let _ = write!(out, "<p>{}:</p>\n<table><tr>", prose(&t.title));
        for h in &t.headers {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
        out.push_str("</tr>");
        for row in &t.rows {
            out.push_str("<tr>");
            for c in row {
                let _ = write!(out, "<td>{}</td>", prose(c));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>\n");
    }
    figures(out, all, Section::Study);
}

/// Render the report as HTML with `all` figures inlined.
pub fn render(r: &Report, all: &[Figure]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>lrcast report: {0}</title>\
         <style>{STYLE}</style></head><body>\n<h1>lrcast report: {0}</h1>\n<p>{1}</p>\n<p>{2}</p>\n",
        esc(&r.experiment),
        esc(r.description.trim()),
        esc(&tables::corpus_sentence(r))
    );
    if let Some(study) = &r.study {
        study_section(&mut out, study, all);
    }
    out.push_str("<h2>Best policy and base LR per task × architecture</h2>\n");
    if r.best_settings.is_empty() {
        out.push_str("<p>No task × architecture has a run that trained: there is no best setting to name.</p>\n");
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
    out.push_str("<h2>How well the predictor extrapolates</h2>\n");
    for e in &r.extrapolation {
        let _ = writeln!(out, "<p class=\"verdict\">{}</p>", prose(&e.sentence));
    }
    if r.extrapolation.is_empty() {
        out.push_str("<p>No holdout protocol could be scored.</p>\n");
    } else {
        plain_table(
            &mut out,
            tables::PROTOCOL_HEADERS,
            &tables::protocol_rows(r),
        );
        let rows = tables::task_verdict_rows(r);
        if !rows.is_empty() {
            out.push_str("<p>The same verdict inside each protocol, task by task:</p>\n");
            plain_table(&mut out, tables::TASK_VERDICT_HEADERS, &rows);
        }
    }
    figures(&mut out, all, Section::Extrapolation);
    out.push_str("<h2>What the corpus cannot tell</h2>\n");
    list(&mut out, &tables::gap_sentences(r));
    figures(&mut out, all, Section::Gaps);

    let _ = writeln!(
        out,
        "<h2>Corpus</h2>\n<p>{}</p>",
        esc(&tables::corpus_sentence(r))
    );
    group_table(&mut out, "task", &r.by_task);
    group_table(&mut out, "architecture", &r.by_arch);
    group_table(&mut out, "policy", &r.by_policy);
    group_table(&mut out, "base LR", &r.by_base_lr);
    figures(&mut out, all, Section::Corpus);
    out.push_str("<h2>Best runs</h2>\n");
    plain_table(&mut out, tables::BEST_HEADERS, &tables::best_rows(r));

    out.push_str("<h2>Which hyperparameters matter</h2>\n");
    if let Some(importance) = &r.fit.importance {
        let (sentence, rows) = tables::importance_table(importance);
        let _ = writeln!(out, "<p>{}</p>", prose(&sentence));
        figures(&mut out, all, Section::Importance);
        plain_table(&mut out, tables::IMPORTANCE_HEADERS, &rows);
    } else {
        figures(&mut out, all, Section::Importance);
    }
    if !r.fit.divergence_rules.is_empty() {
        let _ = writeln!(
            out,
            "<h2>Which settings fail</h2><p>A decision tree (linfa-trees) on the whole corpus: \
             the probability that a run diverges or collapses.</p><pre>{}</pre>",
            esc(&r.fit.divergence_rules.join("\n"))
        );
    }
    out.push_str("<h2>Predictor scores</h2>\n");
    let _ = writeln!(
        out,
        "<p>Target: final test <code>{}</code>; {} features.</p>",
        esc(&r.fit.target),
        r.fit.features.len()
    );
    for split in &r.fit.splits {
        let held = r
            .held_out
            .iter()
            .find(|h| h.protocol == split.split)
            .map_or(String::new(), |h| format!(" Held out: {}.", h.sentence));
        let _ = write!(
            out,
            "<h3><code>{}</code> — train {} / test {}{}</h3><p>{}{}</p><table><tr>",
            esc(&split.split),
            split.n_train,
            split.n_test,
            tables::folds_note(split),
            esc(&split.description),
            esc(&held)
        );
        for h in tables::SCORE_HEADERS {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
        out.push_str("</tr>");
        for m in &split.models {
            let class = if m.baseline || m.reference {
                " class=\"baseline\""
            } else {
                ""
            };
            let cells = tables::score_cells(m);
            let span = if cells.len() == 1 {
                format!(" colspan=\"{}\"", tables::SCORE_HEADERS.len() - 1)
            } else {
                String::new()
            };
            let _ = write!(out, "<tr{class}><td>{}</td>", esc(&tables::label(m)));
            for c in cells {
                let _ = write!(out, "<td{span}>{}</td>", esc(&c));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>\n");
        if let Some(sentence) = tables::divergence_sentence(split) {
            let _ = writeln!(out, "<p>{}</p>", esc(&sentence));
        }
        if let Some((headers, rows)) = tables::per_task_table(split) {
            plain_table(&mut out, &headers, &rows);
        }
    }
    let _ = writeln!(
        out,
        "<p>R² is computed against the test set's own mean, so a constant predictor scores ≤ 0; \
         — marks an undefined score. Every number of this page is in <code>scores.json</code>. \
         Written by lrcast {}.</p></body></html>",
        esc(&r.lrcast_version)
    );
    out
}
