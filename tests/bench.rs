//! `lrcast bench`: the human table and `--json` lines.

use crate::common::{lrcast, stderr, stdout};

#[test]
fn bench_prints_a_table_or_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "bench",
        "--arch",
        "mlp",
        "--steps",
        "2",
        "--repeats",
        "1",
        "--stack",
        "2",
    ];
    let out = lrcast(dir.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains("ms/step") && lines[0].contains("model-steps/s"),
        "{text}"
    );
    assert_eq!(lines.len(), 3, "header, alone, stack of 2: {text}");
    assert!(lines[2].contains("2 stacked"), "{text}");
    let out = lrcast(dir.path(), &[&args[..], &["--json"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["members"], serde_json::json!(2));
    assert!(rows[0]["ms_per_step_median"].as_f64().unwrap() > 0.0);
}
