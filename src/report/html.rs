//! HTML exporter of the [`Report`]: one self-contained page with the SVG figures inlined.

use std::fmt::Write;

use super::tables;
use super::{GroupSummary, Report};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
th:first-child,td:first-child{text-align:left}code{background:#f4f4f4;padding:0 .2em}\
.verdict{background:#eef5ff;border-left:4px solid #1f77b4;padding:.6em 1em;margin:.5em 0}.baseline{color:#666}";

/// Escape text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn group_table(out: &mut String, title: &str, groups: &[GroupSummary]) {
    let _ = write!(
        out,
        "<table><tr><th>{}</th><th>runs</th><th>diverged</th><th>collapsed</th><th>top-1 min</th><th>median</th><th>max</th></tr>",
        esc(title)
    );
    for g in groups {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            esc(&g.name),
            g.runs,
            g.diverged,
            g.collapsed,
            g.top1_min,
            g.top1_median,
            g.top1_max
        );
    }
    out.push_str("</table>\n");
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

/// Render the report as HTML, inlining `figures` (`(name, svg)`).
pub fn render(r: &Report, figures: &[(String, String)]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>lrcast report: {0}</title>\
         <style>{STYLE}</style></head><body>\n<h1>lrcast report: {0}</h1>\n<p>{1}</p>\n<h2>Extrapolation</h2>\n",
        esc(&r.experiment),
        esc(r.description.trim())
    );
    for e in &r.extrapolation {
        let _ = writeln!(out, "<p class=\"verdict\">{}</p>", esc(&e.sentence));
    }
    for (name, svg) in figures {
        // Drop the XML prolog, if any, so the SVG embeds cleanly.
        let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
        let _ = writeln!(
            out,
            "<figure>{body}<figcaption>{}</figcaption></figure>",
            esc(name)
        );
    }
    let _ = writeln!(
        out,
        "<h2>Corpus</h2>\n<p>{} runs: {} diverged (non-finite or exploding loss), {} collapsed (finished at \
         or above a uniform guess's training loss), {}the rest trained; on {} in {:.1} s of training time.</p>",
        r.runs,
        r.diverged,
        r.collapsed,
        tables::unknown_outcomes(r),
        esc(&r.devices.join(", ")),
        r.train_seconds
    );
    group_table(&mut out, "task", &r.by_task);
    group_table(&mut out, "architecture", &r.by_arch);
    group_table(&mut out, "policy", &r.by_policy);
    group_table(&mut out, "base LR", &r.by_base_lr);
    out.push_str("<h2>Best configurations</h2>\n<table><tr><th>#</th><th>top-1</th><th>top-5</th><th>architecture</th><th>policy</th><th>weight decay</th><th>seed</th><th>run</th></tr>");
    for (i, b) in r.best.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{:.3}</td><td>{:.3}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            i + 1,
            b.top1,
            b.top5,
            esc(&b.arch),
            esc(&b.policy),
            b.weight_decay,
            b.seed,
            esc(&b.run_id)
        );
    }
    out.push_str("</table>\n<h2>Predictor scores</h2>\n");
    let _ = writeln!(
        out,
        "<p>Target: final test <code>{}</code>; {} features.</p>",
        esc(&r.fit.target),
        r.fit.features.len()
    );
    for split in &r.fit.splits {
        let _ = write!(
            out,
            "<h3><code>{}</code> — train {} / test {}{}</h3><p>{}</p><table><tr>",
            esc(&split.split),
            split.n_train,
            split.n_test,
            tables::folds_note(split),
            esc(&split.description)
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
    if let Some(sentence) = tables::skipped_sentence(&r.fit.skipped) {
        let _ = writeln!(out, "<p>{}</p>", esc(&sentence));
    }
    if let Some(importance) = &r.fit.importance {
        let (sentence, rows) = tables::importance_table(importance);
        let _ = write!(
            out,
            "<h2>Which hyperparameters matter</h2><p>{}</p>",
            esc(&sentence)
        );
        plain_table(&mut out, tables::IMPORTANCE_HEADERS, &rows);
    }
    if !r.fit.divergence_rules.is_empty() {
        let _ = writeln!(
            out,
            "<h2>Which settings fail</h2><p>A decision tree (linfa-trees) on the whole corpus: \
             the probability that a run diverges or collapses.</p><pre>{}</pre>",
            esc(&r.fit.divergence_rules.join("\n"))
        );
    }
    let _ = writeln!(
        out,
        "<p>— marks an undefined score. Machine-readable: <code>scores.json</code>. Written by lrcast {}.</p></body></html>",
        esc(&r.lrcast_version)
    );
    out
}
