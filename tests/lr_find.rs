//! `lrcast lr-find`: real range tests on a tiny MLP, outputs, spread over repeats, bad input.

use crate::common::{files_under, lrcast, stderr, stdout};

#[test]
fn range_test_writes_csv_svg_json_and_reports_the_spread() {
    let dir = tempfile::tempdir().unwrap();
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
            "--repeats",
            "3",
            "--out",
            "lrf",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("valley") && text.contains("3 repeat(s)"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("lrf/lr_find.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["curves"].as_array().unwrap().len(), 3);
    let valley = json["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["suggestion"] == "valley")
        .unwrap();
    let values: Vec<f64> = valley["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(values.len(), 3);
    assert!(
        values.iter().all(|&v| (1e-7..=10.0).contains(&v)),
        "{values:?}"
    );
    assert!(valley["std_log10"].as_f64().unwrap() >= 0.0);
    let csv = std::fs::read_to_string(dir.path().join("lrf/lr_find.csv")).unwrap();
    assert!(csv.starts_with("repeat,seed,step,lr,loss,smoothed_loss"));
    assert!(
        std::fs::read_to_string(dir.path().join("lrf/lr_find.svg"))
            .unwrap()
            .contains("<svg")
    );
}

#[test]
fn default_output_goes_under_root() {
    let dir = tempfile::tempdir().unwrap();
    let out = lrcast(
        dir.path(),
        &[
            "lr-find",
            "--task",
            "mnist1d:num_samples=500",
            "--arch",
            "mlp:hidden=8",
            "--batch-size",
            "32",
            "--num-steps",
            "30",
            "--root",
            "elsewhere",
            "-q",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let files = files_under(dir.path());
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("elsewhere/reports/lr-find/lr_find.json")),
        "{files:?}"
    );
}

#[test]
fn bad_range_test_arguments_exit_2_and_write_nothing() {
    for args in [
        &["--start-lr", "0"][..],
        &["--end-lr", "1e-9"],
        &["--beta", "1.5"],
        &["--num-steps", "3"],
        &["--ramp", "cubic"],
        &["--suggestion", "best"],
        &["--repeats", "0"],
        &["--arch", "vgg"],
        &["--task", "cifar"],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut all = vec!["lr-find", "--out", "lrf"];
        all.extend_from_slice(args);
        let out = lrcast(dir.path(), &all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(args[0]), "{args:?}: {}", stderr(&out));
        assert!(
            files_under(dir.path()).is_empty(),
            "{args:?} left output behind"
        );
    }
}
