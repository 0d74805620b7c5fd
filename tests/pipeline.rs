//! End to end with real training: pipeline on a tiny recipe, outputs parse, rerun trains nothing.

use lrcast::corpus::CorpusStore;
use lrcast::corpus::CorpusTable;
use lrcast::predict::SavedModels;

use crate::common::{TINY_RECIPE, files_under, lrcast, stderr, write};

#[test]
fn tiny_pipeline_end_to_end_then_resume_trains_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let out = lrcast(dir.path(), &["pipeline", recipe.to_str().unwrap()]);
    assert!(out.status.success(), "pipeline failed: {}", stderr(&out));

    // Corpus: one Parquet file per run, all readable, one row each, with the documented columns.
    let store = CorpusStore::new(dir.path(), "tiny");
    let files = store.run_files().unwrap();
    assert_eq!(files.len(), 12);
    let df = store.scan().unwrap();
    assert_eq!(df.height(), 12);
    for column in lrcast::corpus::schema::COLUMNS {
        assert!(
            df.column(column.name).is_ok(),
            "missing column {}",
            column.name
        );
    }
    let table = CorpusTable::from_dataframe(&df).unwrap();
    let top1 = table.values("top1").unwrap();
    assert!(top1.iter().all(|v| (0.0..=1.0).contains(v)));
    // Real training: the best run beats chance (10%) clearly, and LR 30 diverges.
    assert!(top1.iter().cloned().fold(0.0, f64::max) > 0.3, "{top1:?}");
    let diverged = table.values("diverged").unwrap();
    let base_lr = table.values("base_lr").unwrap();
    assert!(
        diverged
            .iter()
            .zip(&base_lr)
            .any(|(&d, &lr)| d > 0.5 && lr == 30.0),
        "LR 30 should diverge"
    );
    // Per-epoch curves: one entry per epoch for runs that did not diverge.
    for (curve, &d) in table.curves["curve_top1"].iter().zip(&diverged) {
        if d < 0.5 {
            assert_eq!(curve.len(), 3);
        }
    }

    // Models: saved, loadable, and they predict finite accuracies for the corpus rows.
    let saved = SavedModels::load(&dir.path().join("models/tiny/models.json")).unwrap();
    for (name, _) in &saved.models {
        let p = saved.predict(name, &table).unwrap();
        assert_eq!(p.len(), 12);
        assert!(p.iter().all(|v| v.is_finite()), "{name}: {p:?}");
    }

    // Report: markdown and JSON exist and parse; scores are finite (or null where undefined).
    let report_dir = dir.path().join("reports/tiny");
    let md = std::fs::read_to_string(report_dir.join("report.md")).unwrap();
    assert!(md.contains("## Predictor scores") && md.contains("extreme:base_lr"));
    let html = std::fs::read_to_string(report_dir.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.ends_with("</html>\n"));
    let scores: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("scores.json")).unwrap())
            .unwrap();
    let splits = scores["fit"]["splits"].as_array().unwrap();
    let names: Vec<&str> = splits
        .iter()
        .map(|s| s["split"].as_str().unwrap())
        .collect();
    // One task and architecture: leave-one-task-out and -architecture-out have one group and are
    // absent; task × arch × policy and policy have a fold per policy.
    assert_eq!(
        names,
        [
            "extreme:base_lr",
            "extreme_trained:base_lr",
            "random:base_lr",
            "logo:task+arch+policy",
            "logo:policy",
            "kfold:5"
        ]
    );
    // The protocols this corpus cannot form are named with the reason.
    let skipped: Vec<&str> = scores["fit"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for name in ["budget:epochs", "logo:task", "logo:arch"] {
        assert!(
            skipped.iter().any(|s| s.starts_with(&format!("{name}:"))),
            "{name} not among the skipped protocols {skipped:?}"
        );
    }
    assert!(md.contains("Protocols not run on this corpus"));
    for split in splits {
        for model in split["models"].as_array().unwrap() {
            let s = &model["scores"];
            if model["model"] == "twin_seed" && s.is_null() {
                continue; // one seed: no twins to compare with
            }
            assert!(s.is_object(), "model not fitted: {model}");
            for key in ["mae", "rmse"] {
                assert!(s[key].as_f64().unwrap().is_finite(), "{key} in {model}");
            }
            for key in ["r2", "spearman", "kendall", "regret"] {
                assert!(s[key].is_null() || s[key].as_f64().unwrap().is_finite());
            }
        }
        if split["split"] == "logo:task+arch+policy" {
            let boosted = split["models"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["model"] == "boosted_trees")
                .unwrap();
            let optimum = &boosted["scores"]["optimum"];
            assert_eq!(optimum["groups"], 3, "{optimum}");
            // Every model gets a conformal interval calibrated on the other folds, and scores
            // with bootstrap intervals.
            for model in split["models"].as_array().unwrap() {
                if model["reference"] == true {
                    continue;
                }
                let s = &model["scores"];
                let coverage = s["coverage"].as_f64().unwrap();
                assert!((0.0..=1.0).contains(&coverage), "{model}");
                assert!(s["interval_width"].as_f64().unwrap() >= 0.0, "{model}");
                let mae = s["ci"]["mae"].as_array().unwrap();
                assert!(
                    mae[0].as_f64().unwrap() <= mae[1].as_f64().unwrap(),
                    "{model}"
                );
            }
        }
    }
    assert!(!scores["extrapolation"].as_array().unwrap().is_empty());
    for figure in ["lr_sensitivity.svg", "holdout_mae.svg"] {
        let svg = std::fs::read_to_string(report_dir.join("figures").join(figure)).unwrap();
        assert!(svg.contains("<svg"), "{figure}");
    }
    // The exported design matrix: one row per run, lrcast's features, the target and one fold
    // column per protocol.
    let out = lrcast(
        dir.path(),
        &["export", "features", recipe.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(dir.path().join("models/tiny/features.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 13);
    let header = lines[0];
    assert!(
        header.starts_with("\"run_id\",\"log10(base_lr)\""),
        "{header}"
    );
    assert!(header.contains("\"top1\"") && header.contains("\"fold:logo:task+arch+policy\""));
    assert!(
        lines[1].matches("\"test\"").count() + lines[1].matches("\"train\"").count() >= 2,
        "extreme and random splits label every row (the trained-extremes split may leave one \
         out): {}",
        lines[1]
    );

    // predict: every saved model, the lead one first, a failure probability, and a warning when
    // the LR lies outside the training range.
    let query = [
        "--model",
        "models/tiny",
        "--task",
        "mnist1d:num_samples=1000",
        "--arch",
        "mlp:hidden=32",
    ];
    let mut args = vec!["predict", "--policy", "cosine:lr=0.03", "--json"];
    args.extend(query);
    let out = lrcast(dir.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let answers: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let answer = &answers[0];
    assert_eq!(answer["base_lr"], 0.03);
    assert_eq!(
        answer["predictions"].as_array().unwrap().len(),
        saved.models.len()
    );
    assert_eq!(
        answer["predictions"][0]["model"].as_str(),
        saved.best_model.as_deref()
    );
    let p = answer["failure_probability"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p));
    assert!(
        answer["warnings"].as_array().unwrap().is_empty(),
        "{answer}"
    );
    let mut args = vec!["predict", "--policy", "cosine", "--set", "base_lr=100"];
    args.extend(query);
    let out = lrcast(dir.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("base_lr = 100 is outside the training range"),
        "{}",
        stderr(&out)
    );
    // recommend: ranked by the lead model, best first.
    let mut args = vec!["recommend", "--lrs", "5", "--top", "4", "--json"];
    args.extend(query);
    let out = lrcast(dir.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let ranked: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tops: Vec<f64> = ranked
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["predictions"][0]["top1"].as_f64().unwrap())
        .collect();
    assert_eq!(tops.len(), 4);
    assert!(tops.windows(2).all(|w| w[0] >= w[1]), "{tops:?}");
    // Bad queries: exit 2 with what to fix.
    for (extra, needle) in [
        (&["--policy", "cosine"][..], "no learning rate"),
        (
            &["--policy", "cosine:lr=0.1", "--set", "colour=red"],
            "valid: base_lr",
        ),
        (
            &["--policy", "cosine:lr=0.1", "--set", "batch_size=3.5"],
            "whole number",
        ),
        (&["--policy", "cosnie:lr=0.1"], "cosine"),
    ] {
        let mut args = vec!["predict"];
        args.extend(extra);
        args.extend(query);
        let out = lrcast(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{extra:?}: {}", stderr(&out));
    }
    let out = lrcast(
        dir.path(),
        &[
            "predict",
            "--model",
            "models/tiny",
            "--task",
            "nosuchtask",
            "--arch",
            "mlp",
            "--policy",
            "cosine:lr=0.1",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // A training budget in steps instead of epochs; not both, and not zero.
    let mut args = vec!["recommend", "--lrs", "3", "--budget-steps", "60", "--json"];
    args.extend(query);
    let out = lrcast(dir.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    for extra in [
        &["--budget-steps", "0"][..],
        &["--budget-steps", "60", "--set", "epochs=2"][..],
    ] {
        let mut args = vec!["recommend"];
        args.extend(extra);
        args.extend(query);
        let out = lrcast(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("budget"), "{}", stderr(&out));
    }
    // Models written in another format are refused with the way out.
    let models_json = dir.path().join("models/tiny/models.json");
    let text = std::fs::read_to_string(&models_json).unwrap();
    let older = text.replacen("\"format\":2", "\"format\":1", 1);
    assert_ne!(older, text, "models.json records its format");
    std::fs::write(&models_json, older).unwrap();
    let mut args = vec!["predict", "--policy", "cosine:lr=0.03"];
    args.extend(query);
    let out = lrcast(dir.path(), &args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("model format 1") && stderr(&out).contains("lrcast fit"),
        "{}",
        stderr(&out)
    );
    // A recipe may choose its protocols; one the corpus cannot form is an error saying why.
    let chosen = recipe.with_file_name("chosen.toml");
    let with = |protocols: &str| {
        std::fs::write(
            &chosen,
            TINY_RECIPE.replace(
                "quantile = 0.2",
                &format!("quantile = 0.2\nprotocols = {protocols}"),
            ),
        )
        .unwrap();
        lrcast(dir.path(), &["fit", chosen.to_str().unwrap(), "-q"])
    };
    let out = with(r#"["logo:task"]"#);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("logo:task") && stderr(&out).contains("one task"),
        "{}",
        stderr(&out)
    );
    let out = with(r#"["kfold", "logo:policy"]"#);
    assert!(out.status.success(), "{}", stderr(&out));
    let fit: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("models/tiny/fit.json")).unwrap(),
    )
    .unwrap();
    let names: Vec<&str> = fit["splits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["split"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["logo:policy", "kfold:5"]);
    assert_eq!(with(r#"["nonsense"]"#).status.code(), Some(2));
    // And its models, beside the baselines and references.
    let only = |models: &str| {
        std::fs::write(
            &chosen,
            TINY_RECIPE.replace(
                "quantile = 0.2",
                &format!("quantile = 0.2\nmodels = {models}"),
            ),
        )
        .unwrap();
        lrcast(dir.path(), &["fit", chosen.to_str().unwrap(), "-q"])
    };
    let out = only(r#"["ols"]"#);
    assert!(out.status.success(), "{}", stderr(&out));
    // An edited recipe replacing earlier outputs is said, with both hashes.
    assert!(
        stderr(&out).contains("the recipe changed since models/tiny was written"),
        "{}",
        stderr(&out)
    );
    assert!(dir.path().join("models/tiny/recipe.toml").exists());
    // A report from the original recipe over models of the edited one says so.
    let out = lrcast(dir.path(), &["report", recipe.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("was fitted on another version of the recipe"),
        "{}",
        stderr(&out)
    );
    assert!(dir.path().join("reports/tiny/recipe.toml").exists());
    let fit: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("models/tiny/fit.json")).unwrap(),
    )
    .unwrap();
    let fitted: Vec<&str> = fit["splits"][0]["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["baseline"] == false && m["reference"] == false)
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert_eq!(fitted, ["ols"]);
    let out = only(r#"["gpt"]"#);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("fit.models"), "{}", stderr(&out));

    // No temporary file is left anywhere.
    assert!(
        files_under(dir.path())
            .iter()
            .all(|p| !p.to_string_lossy().contains(".tmp-"))
    );

    // A second generate trains nothing and loses nothing.
    let before = files_under(&store.runs_dir());
    let out = lrcast(dir.path(), &["generate", recipe.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("trained 0 runs"), "{}", stderr(&out));
    assert_eq!(files_under(&store.runs_dir()), before);
}

#[test]
fn generate_is_deterministic_for_a_recipe() {
    let recipe_text = TINY_RECIPE
        .replace(
            r#"policy = ["constant", "cosine", "step:step_size=1ep,gamma=0.5"]"#,
            r#"policy = ["cosine"]"#,
        )
        .replace(
            "base_lr = [0.003, 0.03, 0.3, 30.0]",
            "base_lr = [0.03, 0.1, 0.3]",
        );
    let mut results = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let recipe = write(dir.path(), "tiny.toml", &recipe_text);
        let out = lrcast(dir.path(), &["-q", "generate", recipe.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let table =
            CorpusTable::from_dataframe(&CorpusStore::new(dir.path(), "tiny").scan().unwrap())
                .unwrap();
        results.push((
            table.text("run_id").unwrap().to_vec(),
            table.values("top1").unwrap(),
            table.curves["curve_train_loss"].clone(),
        ));
    }
    assert_eq!(results[0], results[1]);
}

/// Per run: id, top-1, final training loss, stack size, diverged (1 or 0).
type ResultRow = (String, f64, f64, f64, f64);

/// `generate` of `recipe_text` (experiment `name`) with `args` in a fresh directory: per run (by
/// id) its results.
fn generated_rows(recipe_text: &str, name: &str, args: &[&str]) -> Vec<ResultRow> {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "recipe.toml", recipe_text);
    let mut all = vec!["-q", "generate", recipe.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = lrcast(dir.path(), &all);
    assert!(out.status.success(), "{}", stderr(&out));
    let table =
        CorpusTable::from_dataframe(&CorpusStore::new(dir.path(), name).scan().unwrap()).unwrap();
    let mut rows: Vec<ResultRow> = table
        .text("run_id")
        .unwrap()
        .iter()
        .zip(table.values("top1").unwrap())
        .zip(table.values("train_loss").unwrap())
        .zip(table.values("stack_size").unwrap())
        .zip(table.values("diverged").unwrap())
        .map(|((((id, top1), loss), size), diverged)| (id.clone(), top1, loss, size, diverged))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// The same runs alone and stacked: same ids and, within float rounding, the same results.
fn assert_same_results(alone: &[ResultRow], stacked: &[ResultRow], sizes: (f64, f64)) {
    assert_eq!(alone.len(), stacked.len());
    for (a, s) in alone.iter().zip(stacked) {
        assert_eq!(a.0, s.0, "same run ids");
        assert_eq!(a.4, s.4, "diverged {a:?} vs {s:?}");
        assert_eq!((a.3, s.3), sizes, "stack sizes");
        assert!((a.1 - s.1).abs() <= 0.01, "top-1 {a:?} vs {s:?}");
        assert!(
            (a.2 - s.2).abs() <= 1e-3 * (1.0 + a.2.abs()) || (a.2.is_nan() && s.2.is_nan()),
            "final train loss {a:?} vs {s:?}"
        );
    }
}

#[test]
fn stacked_and_alone_generate_the_same_corpus() {
    let keyed = TINY_RECIPE.replace("epochs = 3", "epochs = 3\nstack = 5");
    let alone = generated_rows(TINY_RECIPE, "tiny", &["--stack", "1"]);
    let stacked = generated_rows(TINY_RECIPE, "tiny", &["--stack", "5"]);
    assert_eq!(alone.len(), 12);
    // 12 runs in stacks of at most 5: three of 4.
    assert_same_results(&alone, &stacked, (1.0, 4.0));
    assert_eq!(
        generated_rows(&keyed, "tiny", &[]),
        stacked,
        "the recipe's stack size stacks as the flag does"
    );
}

/// Tiny ResNets (batch norm) on 256 Fashion-MNIST images; LR 1e4 diverges.
const TINY_RESNET_RECIPE: &str = r#"
name = "tiny-resnet"
[grid]
task = ["fashion10k:train_size=256,test_size=128"]
arch = ["resnet:depth=8,width=2"]
policy = ["constant", "cosine"]
base_lr = [0.01, 0.1, 1e4]
batch_size = [32]
seed = [0, 1]
data_seed = [0]
[train]
epochs = 2
validation = 0.25
[fit]
holdout = []
"#;

#[test]
fn stacked_and_alone_resnets_generate_the_same_corpus() {
    let alone = generated_rows(TINY_RESNET_RECIPE, "tiny-resnet", &["--stack", "1"]);
    // On the CPU ResNets train alone unless a size is asked for.
    assert_eq!(
        generated_rows(TINY_RESNET_RECIPE, "tiny-resnet", &[]),
        alone
    );
    let stacked = generated_rows(TINY_RESNET_RECIPE, "tiny-resnet", &["--stack", "12"]);
    assert_eq!(alone.len(), 12);
    let diverged = alone.iter().filter(|r| r.4 == 1.0).count();
    assert_eq!(
        diverged, 4,
        "the runs at LR 1e4 diverge and leave the stack"
    );
    assert_same_results(&alone, &stacked, (1.0, 12.0));
}

#[test]
fn fit_reads_the_scalar_cache_only_where_it_matches_the_part_files() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let recipe = recipe.to_str().unwrap();
    let out = lrcast(dir.path(), &["pipeline", recipe, "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let corpus = dir.path().join("datasets/corpus/tiny");
    assert!(corpus.join("scalars-cache.parquet").exists());
    let fit_json = dir.path().join("models/tiny/fit.json");
    let first = std::fs::read_to_string(&fit_json).unwrap();
    // From the cache: the same scores.
    let out = lrcast(dir.path(), &["fit", recipe, "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&fit_json).unwrap(), first);
    // A part removed by hand leaves the cache too; a corrupt cache is rebuilt from the parts.
    let parts = CorpusStore::new(dir.path(), "tiny").run_files().unwrap();
    std::fs::remove_file(&parts[0]).unwrap();
    let out = lrcast(dir.path(), &["fit", recipe, "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let fit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fit_json).unwrap()).unwrap();
    assert_eq!(fit["n_runs"], 11);
    std::fs::write(corpus.join("scalars-cache.parquet"), b"not parquet").unwrap();
    let out = lrcast(dir.path(), &["fit", recipe, "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let fit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fit_json).unwrap()).unwrap();
    assert_eq!(fit["n_runs"], 11);
}

#[test]
fn shards_together_generate_exactly_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let recipe = recipe.to_str().unwrap();
    let ids = |root: &std::path::Path| -> Vec<String> {
        CorpusStore::new(root, "tiny")
            .existing_run_ids()
            .unwrap()
            .into_iter()
            .collect()
    };
    // Shard 0 of 2 by flag, shard 1 of 2 as the second task of a Slurm job array starting at 1.
    let out = lrcast(dir.path(), &["generate", recipe, "--shard", "0/2", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let first = ids(dir.path());
    assert_eq!(first.len(), 6);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lrcast"))
        .args(["generate", recipe, "-q"])
        .current_dir(dir.path())
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let both = ids(dir.path());
    assert_eq!(both.len(), 12);
    // The same ids as one unsharded generate.
    let whole = tempfile::tempdir().unwrap();
    let recipe_whole = write(whole.path(), "tiny.toml", TINY_RECIPE);
    let out = lrcast(
        whole.path(),
        &["generate", recipe_whole.to_str().unwrap(), "-q"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ids(whole.path()), both);
    // A shard that does not exist is refused before anything runs.
    let out = lrcast(dir.path(), &["generate", recipe, "--shard", "2/2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--shard 2/2"), "{}", stderr(&out));
}

#[test]
fn a_corrupt_part_is_named_and_skipped_never_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let recipe = recipe.to_str().unwrap();
    let out = lrcast(dir.path(), &["generate", recipe, "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A part cut short, as a full disk or an interrupted copy leaves it.
    let parts = CorpusStore::new(dir.path(), "tiny").run_files().unwrap();
    let bytes = std::fs::read(&parts[3]).unwrap();
    std::fs::write(&parts[3], &bytes[..bytes.len() / 2]).unwrap();
    for command in ["fit", "report"] {
        let out = lrcast(dir.path(), &[command, recipe, "-q"]);
        assert!(out.status.success(), "{command}: {}", stderr(&out));
        let err = stderr(&out);
        let name = parts[3].file_name().unwrap().to_string_lossy();
        assert!(
            err.contains("skipped 1 of 12 corpus parts") && err.contains(name.as_ref()),
            "{command}: {err}"
        );
    }
    let fit: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("models/tiny/fit.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(fit["n_runs"], 11);
}
