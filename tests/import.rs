//! `lrcast import`: a sweep table written by another tool becomes a corpus that `fit` and `report`
//! serve unchanged; re-importing adds nothing; every bad table exits 2 and writes nothing.
//!
//! The accuracies below are input data made up by a formula (a sweep table written elsewhere),
//! not results of lrcast.

use std::path::Path;

use lrcast::corpus::{CorpusStore, CorpusTable};
use polars::prelude::*;

use crate::common::{files_under, lrcast, stderr, write};

/// A sweep recipe over `sweep.csv`: the columns a PyTorch / W&B sweep would have.
const RECIPE: &str = r#"
name = "swept"

[import]
path = "sweep.csv"

[import.columns]
task = "dataset"
arch = "model"
policy = "scheduler"
base_lr = "lr"
top1 = "val_acc"
seed = "seed"
epochs = "epochs"
momentum = "momentum"

[import.constants]
steps_per_epoch = 50

[fit]
holdout = ["base_lr"]
quantile = 0.2
"#;

const POLICIES: &[(&str, f64)] = &[
    ("constant", 0.0),
    ("cosine", 0.03),
    // A spec with a comma is quoted, as any CSV writer quotes it.
    ("\"step:step_size=2ep,gamma=0.5\"", 0.015),
];
const LRS: &[f64] = &[0.001, 0.003, 0.01, 0.03, 0.1, 0.3];

/// 3 policies × 6 LRs × `seeds` seeds; accuracy peaks at LR ≈ 0.03. Momentum 0.9 for seed 0 and
/// 0.95 for the others, and not recorded for one row.
fn sweep_csv(seeds: &[u32]) -> String {
    let mut out = String::from("dataset,model,scheduler,lr,seed,epochs,momentum,val_acc\n");
    for &(policy, offset) in POLICIES {
        for &lr in LRS {
            for &seed in seeds {
                let acc =
                    (0.9 - 0.12 * (lr.log10() + 1.5).powi(2) + offset + 0.01 * f64::from(seed))
                        .clamp(0.1, 0.97);
                let momentum = match (seed, lr) {
                    (1, 0.01) if policy == "cosine" => String::new(),
                    (0, _) => "0.9".into(),
                    _ => "0.95".into(),
                };
                out.push_str(&format!(
                    "cifar10,resnet18,{policy},{lr},{seed},10,{momentum},{acc:.4}\n"
                ));
            }
        }
    }
    out
}

fn import(dir: &Path, recipe: &str) -> std::process::Output {
    lrcast(dir, &["import", recipe])
}

#[test]
fn a_csv_sweep_imports_once_and_fits_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "sweep.csv", &sweep_csv(&[0, 1]));
    write(dir.path(), "sweep.toml", RECIPE);

    let out = import(dir.path(), "sweep.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("36 rows of sweep.csv: imported 36, 0 already"),
        "{}",
        stderr(&out)
    );
    let store = CorpusStore::new(dir.path(), "swept");
    assert_eq!(store.run_files().unwrap().len(), 36);
    let df = store.scan().unwrap();
    for column in lrcast::corpus::schema::COLUMNS {
        assert!(df.column(column.name).is_ok(), "missing {}", column.name);
    }
    let table = CorpusTable::from_dataframe(&df).unwrap();
    // What the table gave is there; what it did not give is null, never 0.
    assert!(
        table
            .numeric("weight_decay")
            .unwrap()
            .iter()
            .all(Option::is_none)
    );
    assert!(
        table
            .numeric("batch_size")
            .unwrap()
            .iter()
            .all(Option::is_none)
    );
    assert_eq!(
        table
            .numeric("momentum")
            .unwrap()
            .iter()
            .filter(|m| m.is_none())
            .count(),
        1
    );
    assert!(
        table
            .values("total_steps")
            .unwrap()
            .iter()
            .all(|&s| s == 500.0)
    );
    let policies = table.text("policy").unwrap();
    assert!(
        policies.contains(&"step:lr=0.1,step_size=2ep,gamma=0.5".to_string()),
        "{policies:?}"
    );
    assert!(
        table
            .text("task_family")
            .unwrap()
            .iter()
            .all(|t| t == "cifar10")
    );
    // The step policy's gamma is a p_ column like any trained run's.
    assert_eq!(
        table.numeric("p_gamma").unwrap().iter().flatten().count(),
        12
    );
    // Ids come from the row's content and are stable across versions (pinned).
    let first = table
        .text("run_id")
        .unwrap()
        .iter()
        .zip(table.text("policy").unwrap())
        .zip(table.values("seed").unwrap())
        .find(|((_, p), s)| *p == "constant:lr=0.001" && *s == 0.0)
        .map(|((id, _), _)| id.clone())
        .unwrap();
    // SHA-256 of `import;policy=constant:lr=0.001;base_lr=0.001;arch=resnet18;epochs=10;
    // momentum=0.9;seed=0;steps_per_epoch=50;task=cifar10`.
    assert_eq!(first, "a4c83e6e46e0daa1");

    // Importing the same table again adds nothing; a table with new rows adds only those.
    let out = import(dir.path(), "sweep.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("imported 0, 36 already"),
        "{}",
        stderr(&out)
    );
    write(dir.path(), "sweep.csv", &sweep_csv(&[0, 1, 2]));
    let out = import(dir.path(), "sweep.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("imported 18, 36 already"),
        "{}",
        stderr(&out)
    );
    assert_eq!(store.run_files().unwrap().len(), 54);

    // fit and report serve the imported corpus unchanged.
    let out = lrcast(dir.path(), &["fit", "sweep.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let fit: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("models/swept/fit.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(fit["n_runs"], 54);
    let features: Vec<&str> = fit["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    // The momentum that one row lacks enters with its indicator; weight decay, never given, not
    // at all.
    assert!(features.contains(&"momentum"), "{features:?}");
    assert!(features.contains(&"missing(momentum)"), "{features:?}");
    assert!(
        !features.iter().any(|f| f.contains("weight_decay")),
        "{features:?}"
    );
    let splits = fit["splits"].as_array().unwrap();
    assert_eq!(splits[0]["split"], "extreme:base_lr");
    for split in splits {
        let scored = split["models"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["scores"]["mae"].as_f64().is_some_and(f64::is_finite))
            .count();
        assert!(scored >= 3, "{split}");
        // No outcome was imported: no failure classifier is scored on made-up labels.
        assert!(split["divergence"].is_null(), "{split}");
    }
    let out = lrcast(dir.path(), &["report", "sweep.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let md = std::fs::read_to_string(dir.path().join("reports/swept/report.md")).unwrap();
    assert!(md.contains("54 of unknown outcome"), "{md}");
}

/// A Parquet table with typed columns (integers, floats, booleans, nulls), policy parameters in
/// their own column, and a recipe that also trains a small grid: fit serves both kinds of runs.
#[test]
fn a_parquet_sweep_and_a_trained_grid_share_one_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let n = 12;
    let lrs: Vec<f64> = vec![
        0.003, 0.003, 0.01, 0.01, 0.03, 0.03, 0.1, 0.1, 0.3, 0.3, 1.0, 1.0,
    ];
    let policy: Vec<&str> = (0..n)
        .map(|i| if i % 2 == 0 { "exp" } else { "cosine" })
        .collect();
    let gamma: Vec<Option<f64>> = (0..n)
        .map(|i| (i % 2 == 0).then_some(if i % 4 == 0 { 0.9 } else { 0.95 }))
        .collect();
    let acc: Vec<f64> = lrs
        .iter()
        .map(|lr| (0.8 - 0.1 * (lr.log10() + 1.5).powi(2)).clamp(0.1, 0.9))
        .collect();
    let diverged: Vec<bool> = lrs.iter().map(|&lr| lr > 0.15).collect();
    let mut df = df!(
        "task" => vec!["mnist1d"; n],
        "arch" => vec!["mlp"; n],
        "policy" => policy,
        "gamma" => gamma,
        "lr" => lrs,
        "seed" => (0..n as i64).collect::<Vec<_>>(),
        "steps" => vec![400i64; n],
        "diverged" => diverged,
        "acc" => acc,
    )
    .unwrap();
    let file = std::fs::File::create(dir.path().join("sweep.parquet")).unwrap();
    ParquetWriter::new(file).finish(&mut df).unwrap();
    write(
        dir.path(),
        "both.toml",
        r#"
name = "both"
[grid]
task = ["mnist1d:num_samples=300"]
arch = ["mlp:hidden=8"]
policy = ["constant"]
base_lr = [0.01, 0.1, 0.5]
[train]
epochs = 1
[import]
path = "sweep.parquet"
[import.columns]
task = "task"
arch = "arch"
policy = "policy"
p_gamma = "gamma"
base_lr = "lr"
seed = "seed"
total_steps = "steps"
diverged = "diverged"
top1 = "acc"
"#,
    );
    let out = import(dir.path(), "both.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = lrcast(dir.path(), &["generate", "both.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table =
        CorpusTable::from_dataframe(&CorpusStore::new(dir.path(), "both").scan().unwrap()).unwrap();
    assert_eq!(table.len, 15);
    let outcomes = table.outcomes().unwrap();
    let policies = table.text("policy").unwrap();
    assert!(
        policies.contains(&"exp:lr=0.01,gamma=0.95".to_string()),
        "{policies:?}"
    );
    let diverged = outcomes.iter().filter(|o| *o == "diverged").count();
    assert!(diverged >= 2, "{outcomes:?}");
    assert!(!outcomes.iter().any(|o| o == "unknown"), "{outcomes:?}");

    let out = lrcast(dir.path(), &["fit", "both.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let fit: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("models/both/fit.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(fit["n_runs"], 15);
    // Every outcome is known here, so the failure classifier is scored.
    assert!(
        fit["splits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| !s["divergence"].is_null())
    );
}

/// Import `csv` with `recipe` in a fresh directory: exit 2, one line naming every needle, and
/// nothing written beside the two inputs.
fn rejects(csv: &str, recipe: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "sweep.csv", csv);
    write(dir.path(), "sweep.toml", recipe);
    let out = import(dir.path(), "sweep.toml");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one message: {err}");
    for needle in needles {
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }
    assert_eq!(
        files_under(dir.path()),
        vec![
            std::path::PathBuf::from("sweep.csv"),
            std::path::PathBuf::from("sweep.toml")
        ]
    );
}

/// The test sweep with line `line` (1 = the header) changed by `f`.
fn sweep_with(line: usize, f: impl Fn(&str) -> String) -> String {
    sweep_csv(&[0, 1])
        .lines()
        .enumerate()
        .map(|(i, l)| if i + 1 == line { f(l) } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_mapped_column_absent_from_the_table_is_named_with_the_tables_columns() {
    rejects(
        &sweep_csv(&[0, 1]),
        &RECIPE.replace("top1 = \"val_acc\"", "top1 = \"accuracy\""),
        &[
            "`accuracy`",
            "top1",
            "dataset, model, scheduler, lr",
            "val_acc",
        ],
    );
}

#[test]
fn a_policy_that_does_not_parse_names_its_row_and_value() {
    // Line 20 is data row 19; the rows before it are fine, and still nothing is written.
    rejects(
        &sweep_with(20, |l| l.replacen("cosine", "cosinus", 1)),
        RECIPE,
        &["row 19", "scheduler", "cosinus", "did you mean `cosine`"],
    );
}

#[test]
fn a_non_numeric_value_names_its_row_and_column() {
    rejects(
        &sweep_with(6, |l| l.replacen(",0.01,", ",0.0l,", 1)),
        RECIPE,
        &["row 5", "`lr`", "`0.0l` is not a number"],
    );
}

#[test]
fn an_accuracy_outside_0_1_is_refused() {
    rejects(
        &sweep_with(3, |l| format!("{},87.5", l.rsplit_once(',').unwrap().0)),
        RECIPE,
        &["row 2", "val_acc", "87.5", "[0, 1]"],
    );
}

#[test]
fn two_rows_of_the_same_run_are_named() {
    rejects(
        &sweep_csv(&[0, 1]),
        &RECIPE
            .replace("seed = \"seed\"\n", "")
            .replace("momentum = \"momentum\"\n", ""),
        &["rows 1 and 2", "same run", "seed"],
    );
}

#[test]
fn an_unknown_key_extension_or_file_is_refused() {
    rejects(
        &sweep_csv(&[0]),
        &RECIPE.replace("momentum = \"momentum\"", "lr_peak = \"lr\""),
        &["import.columns.lr_peak", "p_<policy parameter>"],
    );
    rejects(
        &sweep_csv(&[0]),
        &RECIPE.replace("sweep.csv", "sweep.xlsx"),
        &["import.path", ".csv or .parquet"],
    );
    rejects(
        &sweep_csv(&[0]),
        &RECIPE.replace("sweep.csv", "other.csv"),
        &["other.csv", "relative to the recipe"],
    );
    rejects(
        &sweep_csv(&[0]),
        &RECIPE.replace("steps_per_epoch = 50", ""),
        &["row 1", "run length", "total_steps"],
    );
}

#[test]
fn a_recipe_needs_a_grid_or_an_import_and_import_needs_the_section() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "none.toml", "name = \"none\"\n");
    let out = lrcast(dir.path(), &["import", "none.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("[import]"), "{}", stderr(&out));
    write(dir.path(), "grid.toml", crate::common::TINY_RECIPE);
    let out = lrcast(dir.path(), &["import", "grid.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no [import] section"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("datasets").exists());
}
