//! `lrcast report`: the figures are well-formed SVG with something drawn, the HTML page is
//! self-contained (no script, nothing fetched) with a caption under every figure, `scores.json`
//! holds the new numbers, and a tiny corpus where every run diverged still gets a report.

use std::path::Path;

use crate::common::{TINY_RECIPE, lrcast, stderr, write};

/// Whether `text` is well-formed markup: one root `<svg>`, every tag closed in order (a tiny
/// checker; no XML crate is a dependency).
fn well_formed_svg(text: &str) -> Result<(), String> {
    let start = text.find("<svg").ok_or("no <svg")?;
    let body = &text[start..];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        rest = &rest[open..];
        if rest.starts_with("<!--") {
            let end = rest.find("-->").ok_or("unclosed comment")?;
            rest = &rest[end + 3..];
            continue;
        }
        let end = rest.find('>').ok_or("unclosed tag")?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            if stack.is_empty() {
                if !rest.trim().is_empty() {
                    return Err(format!(
                        "text after the root: {:?}",
                        &rest[..rest.len().min(40)]
                    ));
                }
                return Ok(());
            }
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().ok_or("empty tag")?;
            stack.push(name.to_string());
        }
    }
    Err(format!("unclosed elements {stack:?}"))
}

/// Elements that draw data (the white background is one `<rect>`).
fn drawn_elements(svg: &str) -> usize {
    ["<polyline", "<circle", "<polygon", "<path", "<line"]
        .iter()
        .map(|t| svg.matches(t).count())
        .sum::<usize>()
        + svg.matches("<rect").count().saturating_sub(1)
}

fn check_report(dir: &Path, experiment: &str) -> (String, String, serde_json::Value) {
    let report = dir.join("reports").join(experiment);
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    let scores: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("scores.json")).unwrap())
            .unwrap();
    // Every figure file: well-formed SVG with something drawn.
    let figures: Vec<_> = std::fs::read_dir(report.join("figures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for path in &figures {
        let svg = std::fs::read_to_string(path).unwrap();
        well_formed_svg(&svg).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(drawn_elements(&svg) > 0, "{} draws nothing", path.display());
        assert!(
            !svg.contains("NaN") && !svg.contains("inf\""),
            "{}",
            path.display()
        );
        // Linked from the Markdown with a caption.
        let name = path.file_name().unwrap().to_str().unwrap();
        let link = format!("](figures/{name})");
        let at = md
            .find(&link)
            .unwrap_or_else(|| panic!("{name} not linked in report.md"));
        let after = &md[at..];
        let caption = after.lines().nth(2).unwrap_or_default();
        assert!(
            caption.starts_with("*Figure "),
            "{name}: caption {caption:?}"
        );
    }
    // Self-contained HTML: no script, nothing fetched, a caption under every figure.
    assert!(html.ends_with("</html>\n"));
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script"), "script in report.html");
    for attr in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "href='http",
        "url(http",
    ] {
        assert!(
            !lower.contains(attr),
            "external reference `{attr}` in report.html"
        );
    }
    assert!(
        !lower.contains("<img"),
        "report.html should inline its figures"
    );
    let inline = html.matches("<svg").count();
    assert_eq!(inline, figures.len(), "one inline SVG per figure file");
    assert_eq!(html.matches("<figure").count(), inline);
    for figure in html.split("<figure").skip(1) {
        let figure = &figure[..figure.find("</figure>").expect("closed figure")];
        assert!(
            figure.contains("<figcaption><b>Figure "),
            "figure without caption"
        );
    }
    (html, md, scores)
}

#[test]
fn the_report_is_self_contained_with_captioned_valid_figures_and_every_number() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(
        dir.path(),
        "tiny.toml",
        &TINY_RECIPE.replace("seed = [0]", "seed = [0, 1]"),
    );
    let out = lrcast(dir.path(), &["pipeline", recipe.to_str().unwrap()]);
    assert!(out.status.success(), "pipeline failed: {}", stderr(&out));
    // Without a range test the report has no lr-find figure and says nothing about it.
    assert!(!dir.path().join("reports/tiny/figures/lr_find.svg").exists());
    // With one beside the report, the report draws it.
    let out = lrcast(
        dir.path(),
        &[
            "lr-find",
            "--task",
            "mnist1d:num_samples=1000",
            "--arch",
            "mlp:hidden=32",
            "--batch-size",
            "32",
            "--num-steps",
            "40",
            "--repeats",
            "2",
            "--out",
            "reports/tiny/lr_find",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = lrcast(dir.path(), &["-q", "report", recipe.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (html, md, scores) = check_report(dir.path(), "tiny");
    for figure in [
        "lr_sensitivity.svg",
        "holdout_mae.svg",
        "predictions.svg",
        "failures.svg",
        "schedules.svg",
        "curves.svg",
        "lr_find.svg",
        "importance.svg",
    ] {
        assert!(
            dir.path()
                .join("reports/tiny/figures")
                .join(figure)
                .exists(),
            "{figure} missing"
        );
    }
    // The answers come first.
    let best = md.find("## Best policy and base LR").unwrap();
    assert!(best < md.find("## Corpus").unwrap());
    assert!(html.contains("How well the predictor extrapolates"));
    assert!(md.contains("What the corpus cannot tell"));
    // Held-out values and runs, not a percentage.
    assert!(
        md.contains("base_lr ≤ 0.003 or ≥ 30 (values 0.003, 30):"),
        "{md}"
    );
    // The numbers behind the new sections and figures.
    let best = &scores["best_settings"][0];
    assert!(best["top1"].as_f64().unwrap() > 0.3, "{best}");
    assert!(best["seed_sd"].as_f64().is_some(), "{best}");
    assert!(!best["lr_values"].as_array().unwrap().is_empty());
    assert_eq!(
        scores["trained"].as_u64().unwrap()
            + scores["diverged"].as_u64().unwrap()
            + scores["collapsed"].as_u64().unwrap(),
        24
    );
    let held = &scores["held_out"][0];
    assert_eq!(held["protocol"], "extreme:base_lr");
    assert_eq!(held["of"], 24);
    assert_eq!(held["runs"], 12);
    assert!(
        scores["extrapolation"][0]["held_out"]
            .as_str()
            .unwrap()
            .contains("of 24 runs")
    );
    let sweep = &scores["sweeps"][0];
    assert_eq!(sweep["hyperparameter"], "base_lr");
    assert_eq!(sweep["log_x"], true);
    assert_eq!(sweep["panels"][0]["runs"].as_array().unwrap().len(), 24);
    assert_eq!(scores["schedules"].as_array().unwrap().len(), 3);
    assert_eq!(
        scores["failure_maps"][0]["cells"].as_array().unwrap().len(),
        12
    );
    assert_eq!(scores["curves"][0]["runs"].as_array().unwrap().len(), 2);
    assert_eq!(
        scores["lr_find"]["test"]["curves"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    for split in scores["fit"]["splits"].as_array().unwrap() {
        let p = &split["predictions"];
        let rows = p["rows"].as_array().unwrap();
        let held_out = rows.iter().filter(|r| r["held_out"] == true).count();
        assert_eq!(
            held_out as u64,
            split["n_test"].as_u64().unwrap(),
            "{}",
            split["split"]
        );
        assert!(
            rows.iter()
                .all(|r| r["predicted"].as_f64().unwrap().is_finite())
        );
    }
}

#[test]
fn a_corpus_where_every_run_diverged_still_gets_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = r#"
name = "doomed"

[grid]
task = ["mnist1d:num_samples=1000"]
arch = ["mlp:hidden=16"]
policy = ["constant"]
base_lr = [30.0, 100.0, 300.0]
batch_size = [32]
seed = [0, 1]

[train]
epochs = 2

[fit]
holdout = ["base_lr"]
quantile = 0.2
"#;
    let recipe = write(dir.path(), "doomed.toml", recipe);
    let out = lrcast(dir.path(), &["pipeline", recipe.to_str().unwrap()]);
    assert!(out.status.success(), "pipeline failed: {}", stderr(&out));
    let (_, md, scores) = check_report(dir.path(), "doomed");
    assert_eq!(scores["diverged"], 6, "{}", scores["diverged"]);
    assert!(scores["best_settings"].as_array().unwrap().is_empty());
    assert!(
        md.contains("No task × architecture has a run that trained"),
        "{md}"
    );
    assert!(md.contains("no run trained"), "{md}");
    assert!(md.contains("Trained with one policy only"), "{md}");
}
