//! The founding studies (issue 15): a tiny version of each study's recipe through `pipeline`
//! (real training, seconds), and the `[study]` section's bad-input paths.

use crate::common::{lrcast, stderr, write};

/// Run the pipeline on `recipe` in a fresh folder and return the parsed `scores.json` and the
/// report folder (kept alive by the returned temp dir).
fn run_study(name: &str, recipe: &str) -> (serde_json::Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "study.toml", recipe);
    let out = lrcast(dir.path(), &["pipeline", path.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "pipeline failed: {}", stderr(&out));
    let report = dir.path().join("reports").join(name);
    let scores: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("scores.json")).unwrap())
            .unwrap();
    let study = &scores["study"];
    assert!(study.is_object(), "scores.json has no study");
    assert!(!study["verdict"].as_str().unwrap().is_empty());
    let findings = study["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    for f in findings {
        let holds = f["holds"].as_str().unwrap();
        assert!(
            ["holds", "partly", "does_not_hold", "cannot_tell"].contains(&holds),
            "{holds}"
        );
        assert!(!f["evidence"].as_str().unwrap().is_empty());
    }
    assert!(!study["numbers"].as_object().unwrap().is_empty());
    assert!(!study["tables"].as_array().unwrap().is_empty());
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    let kind = study["kind"].as_str().unwrap();
    assert!(md.contains(&format!("## Study `{kind}`")), "{md}");
    assert!(html.contains(&format!("Study <code>{kind}</code>")));
    let mut drawn = 0;
    for f in study["figures"].as_array().unwrap() {
        let body = f.as_object().unwrap().values().next().unwrap();
        let file = body["file"].as_str().unwrap();
        let svg = report.join("figures").join(file);
        if svg.exists() {
            drawn += 1;
            let text = std::fs::read_to_string(&svg).unwrap();
            assert!(text.contains("<svg") && text.contains("</svg>"), "{file}");
            assert!(md.contains(&format!("figures/{file}")), "{file} not linked");
        }
    }
    assert!(drawn > 0, "no study figure drawn");
    (scores, dir)
}

fn number(scores: &serde_json::Value, key: &str) -> f64 {
    scores["study"]["numbers"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("no number {key}: {}", scores["study"]["numbers"]))
}

#[test]
fn effective_lr_tiny() {
    let (scores, _dir) = run_study(
        "tiny-effective-lr",
        r#"
name = "tiny-effective-lr"
[study]
kind = "effective-lr"
[grid]
task = ["fashion10k:train_size=256,test_size=128"]
arch = ["resnet:depth=8,width=4"]
policy = ["constant"]
base_lr = [0.1, 2.0]
weight_decay = [0.0, 0.01]
batch_size = [32]
momentum = [0.9]
[train]
epochs = 2
trace_every = 2
[fit]
holdout = []
"#,
    );
    assert_eq!(scores["study"]["kind"], "effective-lr");
    assert!(number(&scores, "cells_traced") >= 1.0);
    assert!(number(&scores, "sawtooth_cells") >= 0.0);
    assert!(number(&scores, "lr=0.1,wd=0.final_effective_lr") > 0.0);
}

#[test]
fn lrbench_policies_tiny() {
    let (scores, _dir) = run_study(
        "tiny-lrbench",
        r#"
name = "tiny-lrbench"
[study]
kind = "lrbench-policies"
[grid]
task = ["digits"]
arch = ["mlp:hidden=16"]
policy = ["fix", "lrb_step:gamma=0.5,l=1ep", "nstep:gamma=0.5,l=1ep;2ep", "lrb_exp:gamma=0.995",
  "inv:gamma=0.01,p=0.75", "lrb_poly:p=1.2", "cos",
  "tri:k0=0.005,l=1ep", "tri2:k0=0.005,l=1ep", "triexp:k0=0.005,gamma=0.995,l=1ep",
  "sin:k0=0.005,l=1ep", "sin2:k0=0.005,l=1ep", "sinexp:k0=0.005,gamma=0.995,l=1ep",
  "plateau:factor=0.5,patience=0"]
base_lr = [0.05]
batch_size = [64]
[train]
epochs = 3
validation = 0.1
[fit]
holdout = []
"#,
    );
    assert_eq!(scores["study"]["kind"], "lrbench-policies");
    assert_eq!(number(&scores, "tri2_comparisons"), 1.0);
    assert_eq!(number(&scores, "cyclical_comparisons"), 1.0);
    // LRBench's table: one row per policy, the 13 and plateau.
    assert_eq!(
        scores["study"]["tables"][0]["rows"]
            .as_array()
            .unwrap()
            .len(),
        14
    );
}

#[test]
fn clr_vs_fixed_tiny() {
    let (scores, _dir) = run_study(
        "tiny-clr",
        r#"
name = "tiny-clr"
[study]
kind = "clr-vs-fixed"
lr_find_repeats = 2
lr_find_steps = 30
[[grid]]
task = ["mnist1d:num_samples=800"]
arch = ["mlp:hidden=32"]
policy = ["constant"]
base_lr = [0.01, 0.1]
batch_size = [32]
[[grid]]
task = ["mnist1d:num_samples=800"]
arch = ["mlp:hidden=32"]
policy = ["triangular2:base_lr=0.001,step_size_up=1ep", "onecycle"]
base_lr = [0.1, 0.3]
batch_size = [32]
[train]
epochs = 4
validation = 0.1
[fit]
holdout = []
"#,
    );
    assert_eq!(scores["study"]["kind"], "clr-vs-fixed");
    let g = "mnist1d · mlp:hidden=32";
    assert!(number(&scores, &format!("{g}.fixed.top1")) > 0.0);
    assert!(number(&scores, &format!("{g}.range_test.upper")) > 0.0);
    assert!(
        scores["study"]["numbers"]
            .get(format!("{g}.triangular2.top1"))
            .is_some()
    );
}

#[test]
fn coarse_to_fine_tiny() {
    let (scores, _dir) = run_study(
        "tiny-c2f",
        r#"
name = "tiny-c2f"
[study]
kind = "coarse-to-fine"
[search]
strategy = "coarse_to_fine"
samples = 3
rounds = 2
top_k = 2
metric = "val_top1"
[grid]
task = ["digits"]
arch = ["mlp:hidden=16", "mlp:hidden=64", "mlp:hidden=16,dropout=0.3"]
policy = [{ name = "triangular", base_lr = 0.001, sweep = { step_size_up = { choice = [12, 24] } } }]
base_lr = [0.1]
weight_decay = { log_uniform = [1e-5, 1e-2] }
epochs = { choice = [2, 4] }
batch_size = [64]
[train]
validation = 0.1
[fit]
holdout = []
"#,
    );
    assert_eq!(scores["study"]["kind"], "coarse-to-fine");
    assert!(number(&scores, "baseline.test_top1") > 0.1);
    for variant in ["more_hidden_units", "snapshot_ensemble", "dropout"] {
        assert!(
            number(&scores, &format!("{variant}.test_top1")) > 0.0,
            "{variant}"
        );
    }
    // Two search rounds.
    assert_eq!(
        scores["study"]["tables"][0]["rows"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn lr_find_stability_tiny() {
    let (scores, _dir) = run_study(
        "tiny-lrf",
        r#"
name = "tiny-lrf"
[study]
kind = "lr-find-stability"
lr_find_repeats = 3
lr_find_steps = 30
[grid]
task = ["digits"]
arch = ["mlp:hidden=16"]
policy = ["constant"]
base_lr = [0.01, 0.1, 1.0]
batch_size = [64]
[train]
epochs = 2
[fit]
holdout = []
"#,
    );
    assert_eq!(scores["study"]["kind"], "lr-find-stability");
    assert_eq!(number(&scores, "groups"), 1.0);
    assert!(number(&scores, "digits · mlp:hidden=16.valley.geometric_mean") > 0.0);
    assert_eq!(number(&scores, "digits · mlp:hidden=16.grid_best_lr"), 0.1);
}

#[test]
fn bad_study_kind_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (section, needle) in [
        ("[study]\nkind = \"sawtooth\"\n", "study.kind"),
        ("[study]\nkind = \"effective-lr\"\nrepeats = 3\n", "repeats"),
        (
            "[study]\nkind = \"lr-find-stability\"\nlr_find_repeats = 0\n",
            "study.lr_find_repeats",
        ),
        ("[study]\nlr_find_steps = 50\n", "kind"),
    ] {
        let recipe = format!(
            "name = \"bad\"\n{section}[grid]\narch = [\"mlp:hidden=8\"]\npolicy = [\"constant\"]\nbase_lr = [0.1]\n[fit]\nholdout = []\n"
        );
        let path = write(dir.path(), "bad.toml", &recipe);
        let out = lrcast(dir.path(), &["pipeline", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{section}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{section}: {}", stderr(&out));
        assert!(
            !dir.path().join("datasets").exists(),
            "bad input left a corpus behind"
        );
    }
    let out = lrcast(
        dir.path(),
        &["pipeline", write(dir.path(), "bad.toml", "name = \"bad\"\n[study]\nkind = \"sawtooth\"\n[grid]\narch = [\"mlp\"]\npolicy = [\"constant\"]\nbase_lr = [0.1]\n").to_str().unwrap()],
    );
    assert!(
        stderr(&out).contains(
            "effective-lr, lrbench-policies, clr-vs-fixed, coarse-to-fine, lr-find-stability"
        ),
        "{}",
        stderr(&out)
    );
}
