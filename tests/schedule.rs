//! `lrcast schedule`: printed sequences, formats, the plot, the policy list, and bad input (exit 2).

use crate::common::{lrcast, stderr, stdout};

#[test]
fn prints_csv_with_momentum_when_the_policy_cycles_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = lrcast(
        dir.path(),
        &[
            "schedule",
            "--policy",
            "onecycle:max_lr=0.1",
            "--steps",
            "10",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "step,lr,momentum");
    assert_eq!(lines.len(), 11);
    // OneCycleLR starts at max_lr / div_factor (25) with max momentum, peaks at max_lr with base momentum.
    let first: Vec<f64> = lines[1].split(',').map(|v| v.parse().unwrap()).collect();
    assert!((first[1] - 0.004).abs() < 1e-15 && first[2] == 0.95);
    let peak: Vec<f64> = lines[3].split(',').map(|v| v.parse().unwrap()).collect();
    assert_eq!((peak[1], peak[2]), (0.1, 0.85));
}

#[test]
fn json_and_epoch_units_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let out = lrcast(
        dir.path(),
        &[
            "schedule",
            "--policy",
            "step:lr=1,step_size=2ep,gamma=0.5",
            "--steps",
            "12",
            "--steps-per-epoch",
            "3",
            "--format",
            "json",
            "--plot",
            "plots/step.svg",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let lr: Vec<f64> = json["lr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(
        lr,
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    );
    assert!(json["momentum"].is_null());
    // Parameters keep their types: the step size is an integer count of steps.
    assert_eq!(json["parameters"]["step_size"], serde_json::json!(6));
    assert_eq!(json["parameters"]["gamma"], serde_json::json!(0.5));
    let svg = std::fs::read_to_string(dir.path().join("plots/step.svg")).unwrap();
    assert!(svg.contains("<svg"));
}

#[test]
fn json_prints_words_and_flags_as_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "onecycle:max_lr=0.1,anneal_strategy=linear,three_phase=true";
    let out = lrcast(
        dir.path(),
        &[
            "schedule", "--policy", spec, "--steps", "20", "--format", "json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let p = &json["parameters"];
    assert_eq!(p["anneal_strategy"], serde_json::json!("linear"));
    assert_eq!(p["three_phase"], serde_json::json!(true));
    assert_eq!(p["total_steps"], serde_json::json!(20));
    // The predictor's numeric view is still there, under `features`.
    assert_eq!(json["features"]["three_phase"], serde_json::json!(1.0));
}

#[test]
fn composed_warmup_then_cosine() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "linear:lr=0.1,start_factor=0.1,total_iters=5 @ 5 >> cosine:lr=0.1,t_max=10";
    let out = lrcast(dir.path(), &["schedule", "--policy", spec, "--steps", "15"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lr: Vec<f64> = stdout(&out)
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert!((lr[0] - 0.01).abs() < 1e-15);
    assert_eq!(lr[5], 0.1);
    assert!(lr[6] < 0.1 && lr[14] < lr[6]);
}

#[test]
fn list_shows_every_policy_from_the_parser_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = lrcast(dir.path(), &["schedule", "--list"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for info in lrcast::schedule::policy_table() {
        assert!(text.contains(info.name), "{} missing", info.name);
    }
    assert!(text.contains("| key") && text.contains("Spec grammar"));
}

/// `lrcast schedule --policy SPEC --steps STEPS` fails with exit 2 and a message containing `needles`.
fn rejects(spec: &str, steps: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = lrcast(
        dir.path(),
        &["schedule", "--policy", spec, "--steps", steps],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{spec}: {err}");
    assert!(
        stdout(&out).is_empty(),
        "{spec}: printed output before failing"
    );
    for needle in needles {
        assert!(err.contains(needle), "{spec}: `{needle}` not in {err}");
    }
}

#[test]
fn bad_specs_exit_2_naming_the_key_and_range() {
    rejects("cosin:lr=0.1", "10", &["cosin", "did you mean `cosine`"]);
    rejects("step:lr=0.1,step_size=3,gama=0.5", "10", &["gama", "gamma"]);
    rejects("step:lr=0.1", "10", &["step_size"]);
    rejects("step:lr=abc,step_size=3", "10", &["lr", "abc"]);
    rejects("step:lr=0.1;0.2,step_size=3", "10", &["lr"]);
    rejects("constant:lr=0", "10", &["lr", "(0, inf)"]);
    rejects("constant:lr=-1", "10", &["lr"]);
    rejects("step:lr=0.1,step_size=0", "10", &["step_size", "[1, inf)"]);
    rejects(
        "triangular:base_lr=0.1,max_lr=0.01,step_size_up=5",
        "10",
        &["max_lr", "base_lr"],
    );
    rejects("onecycle:max_lr=0.1,pct_start=1.5", "10", &["pct_start"]);
    rejects("onecycle:max_lr=0.1,total_steps=5", "10", &["total_steps"]);
    rejects("cosine_restarts:lr=0.1,t_0=5,t_mult=0.5", "10", &["t_mult"]);
    rejects("exp:lr=0.1,gamma=0", "10", &["gamma"]);
    rejects("cosine:lr=0.1", "0", &["--steps", "at least 1"]);
}
