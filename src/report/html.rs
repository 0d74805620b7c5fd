//! HTML exporter of the [`Report`]: one self-contained page with the SVG figures inlined.

use std::fmt::Write;

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

fn opt(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.3}"))
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
         or above a uniform guess's training loss), the rest trained; on {} in {:.1} s of training time.</p>",
        r.runs,
        r.diverged,
        r.collapsed,
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
            "<h3><code>{}</code> — train {} / test {}</h3><p>{}</p>\
             <table><tr><th>model</th><th>R²</th><th>MAE</th><th>RMSE</th><th>Spearman</th></tr>",
            esc(&split.split),
            split.n_train,
            split.n_test,
            esc(&split.description)
        );
        for m in &split.models {
            let class = if m.baseline {
                " class=\"baseline\""
            } else {
                ""
            };
            let name = if m.baseline {
                format!("{} (baseline)", m.model)
            } else {
                m.model.clone()
            };
            match &m.scores {
                Some(s) => {
                    let _ = write!(
                        out,
                        "<tr{class}><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
                        esc(&name),
                        opt(s.r2),
                        s.mae,
                        s.rmse,
                        opt(s.spearman)
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        "<tr{class}><td>{}</td><td colspan=\"4\">not fitted: {}</td></tr>",
                        esc(&name),
                        esc(m.error.as_deref().unwrap_or("unknown error"))
                    );
                }
            }
        }
        out.push_str("</table>\n");
    }
    let _ = writeln!(
        out,
        "<p>— marks an undefined score. Machine-readable: <code>scores.json</code>. Written by lrcast {}.</p></body></html>",
        esc(&r.lrcast_version)
    );
    out
}
