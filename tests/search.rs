//! Search strategies end to end: a random search and a coarse-to-fine search train real tiny
//! networks; later rounds are planned from the corpus, so a resumed search plans the same runs; bad
//! `[search]` settings are refused before anything is written.

use std::collections::BTreeMap;
use std::path::Path;

use lrcast::corpus::{CorpusStore, CorpusTable};

use crate::common::{entries_under, lrcast, stderr, write};

/// A coarse-to-fine search: 5 draws a round, 3 rounds, narrowed around the best 2 by validation
/// top-1. Policies carry their own drawn parameter (`gamma` of step only).
const SEARCH_RECIPE: &str = r#"
name = "c2f"

[search]
strategy = "coarse_to_fine"
samples = 5
rounds = 3
top_k = 2
seed = 7

[train]
epochs = 2
validation = 0.1

[grid]
task = ["mnist1d:num_samples=600"]
arch = ["mlp:hidden=16"]
policy = ["constant", { name = "step", step_size = "1ep", sweep = { gamma = { uniform = [0.1, 0.9] } } }]
base_lr = { log_uniform = [1e-3, 1.0] }
weight_decay = { log_uniform = [1e-6, 1e-2] }
momentum = [0.0, 0.9]
batch_size = { choice = [32, 64] }
seed = [0]

[fit]
holdout = []
"#;

/// Run id → (round, base LR, validation top-1) of every run in the corpus of `c2f` under `root`.
fn corpus_rows(root: &Path, _recipe: &Path) -> BTreeMap<String, (i64, f64, f64)> {
    let store = CorpusStore::new(root, "c2f");
    let table = CorpusTable::from_dataframe(&store.scan_columns(false).unwrap()).unwrap();
    let ids = table.text("run_id").unwrap();
    let round = table.numeric("round").unwrap();
    let lr = table.values("base_lr").unwrap();
    let val = table.numeric("val_top1").unwrap();
    (0..table.len)
        .map(|i| {
            let round = round[i].expect("a searched run has a round") as i64;
            (ids[i].clone(), (round, lr[i], val[i].unwrap_or(-1.0)))
        })
        .collect()
}

#[test]
fn coarse_to_fine_trains_every_round_and_a_resumed_search_plans_the_same_runs() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "c2f.toml", SEARCH_RECIPE);
    let out = lrcast(dir.path(), &["generate", recipe.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("round 2 of 3 planned"),
        "{}",
        stderr(&out)
    );
    let rows = corpus_rows(dir.path(), &recipe);
    let per_round = |r: i64| rows.values().filter(|v| v.0 == r).count();
    // Each round draws 5 configurations (a repeated draw would be one run, never two).
    assert_eq!(
        (per_round(0), per_round(1), per_round(2)),
        (5, 5, 5),
        "{rows:?}"
    );
    // The later rounds stay inside the range the best of the earlier ones span.
    let lrs = |r: i64| rows.values().filter(move |v| v.0 == r).map(|v| v.1);
    let (lo0, hi0) = (
        lrs(0).fold(f64::INFINITY, f64::min),
        lrs(0).fold(f64::NEG_INFINITY, f64::max),
    );
    assert!(lrs(2).all(|lr| (1e-3..=1.0).contains(&lr)));
    let (lo2, hi2) = (
        lrs(2).fold(f64::INFINITY, f64::min),
        lrs(2).fold(f64::NEG_INFINITY, f64::max),
    );
    assert!(
        hi2 / lo2 < hi0 / lo0,
        "round 2 spans {lo2}..{hi2}, round 0 {lo0}..{hi0}"
    );

    // A search killed after its first round: the later rounds are planned from the corpus again
    // and are the same runs.
    let resumed = tempfile::tempdir().unwrap();
    let recipe2 = write(resumed.path(), "c2f.toml", SEARCH_RECIPE);
    let runs = dir.path().join("datasets/corpus/c2f/runs");
    let runs2 = resumed.path().join("datasets/corpus/c2f/runs");
    std::fs::create_dir_all(&runs2).unwrap();
    for (id, _) in rows.iter().filter(|(_, v)| v.0 == 0) {
        let name = format!("{id}.parquet");
        std::fs::copy(runs.join(&name), runs2.join(&name)).unwrap();
    }
    let out = lrcast(resumed.path(), &["generate", recipe2.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("skipped 5 already done"),
        "{}",
        stderr(&out)
    );
    assert_eq!(corpus_rows(resumed.path(), &recipe2), rows);

    // fit sees every round's runs.
    let out = lrcast(dir.path(), &["fit", recipe.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("fit `c2f`: 15 runs"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_random_search_is_seeded_and_a_time_budget_stops_it() {
    let random = SEARCH_RECIPE
        .replace("strategy = \"coarse_to_fine\"", "strategy = \"random\"")
        .replace("rounds = 3\ntop_k = 2\n", "");
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "c2f.toml", &random);
    let out = lrcast(dir.path(), &["generate", recipe.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = corpus_rows(dir.path(), &recipe);
    assert_eq!(rows.len(), 5);
    assert!(rows.values().all(|v| v.0 == 0));
    // Another seed draws other runs; the same seed the same ones (the test above resumes).
    let other = tempfile::tempdir().unwrap();
    let recipe2 = write(
        other.path(),
        "c2f.toml",
        &random.replace("seed = 7", "seed = 8"),
    );
    let out = lrcast(other.path(), &["generate", recipe2.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows2 = corpus_rows(other.path(), &recipe2);
    assert!(rows2.keys().all(|id| !rows.contains_key(id)));

    // A spent budget stops before the first stack: nothing trained, and a rerun continues.
    let budget = tempfile::tempdir().unwrap();
    let recipe3 = write(
        budget.path(),
        "c2f.toml",
        &random.replace("seed = 7", "seed = 7\nmax_hours = 1e-12"),
    );
    let out = lrcast(budget.path(), &["generate", recipe3.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("max_hours spent"), "{}", stderr(&out));
    assert!(
        !budget
            .path()
            .join("datasets/corpus/c2f/runs")
            .read_dir()
            .unwrap()
            .any(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".parquet")
            })
    );
}

#[test]
fn bad_search_settings_name_the_key_and_write_nothing() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "strategy = \"coarse_to_fine\"",
            "strategy = \"bayes\"",
            &["search.strategy", "grid, random, coarse_to_fine"],
        ),
        ("samples = 5\n", "", &["search.samples", "how many"]),
        ("samples = 5", "samples = 0", &["search.samples", "1..="]),
        ("rounds = 3", "rounds = 1", &["search.rounds", "at least 2"]),
        ("top_k = 2", "top_k = 9", &["search.top_k", "1..=5"]),
        ("seed = 7", "seed = 7\nmax_runs = 0", &["search.max_runs"]),
        (
            "seed = 7",
            "seed = 7\nmax_hours = -1.0",
            &["search.max_hours", "positive"],
        ),
        (
            "validation = 0.1\n",
            "",
            &["coarse_to_fine", "validation = 0.1"],
        ),
        (
            "{ log_uniform = [1e-3, 1.0] }",
            "{ log_uniform = [0.0, 1.0] }",
            &["grid.base_lr", "low > 0"],
        ),
        (
            "{ log_uniform = [1e-3, 1.0] }",
            "{ uniform = [1.0, 1e-3] }",
            &["grid.base_lr", "empty range"],
        ),
        (
            "{ log_uniform = [1e-3, 1.0] }",
            "{ gauss = [1.0, 2.0] }",
            &["grid.base_lr", "unknown distribution"],
        ),
        (
            "{ choice = [32, 64] }",
            "{ uniform = [32, 64] }",
            &["grid.batch_size", "does not fit"],
        ),
        (
            "{ uniform = [0.1, 0.9] }",
            "{ uniform = [0.9, 0.9] }",
            &["grid.policy[1].sweep.gamma", "empty range"],
        ),
        (
            "strategy = \"coarse_to_fine\"",
            "strategy = \"grid\"",
            &["search.samples", "random or coarse_to_fine"],
        ),
    ];
    for (from, to, needles) in cases {
        assert!(SEARCH_RECIPE.contains(from), "{from}");
        let dir = tempfile::tempdir().unwrap();
        let recipe = write(dir.path(), "bad.toml", &SEARCH_RECIPE.replacen(from, to, 1));
        let out = lrcast(dir.path(), &["generate", recipe.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{to}: {err}");
        for needle in *needles {
            assert!(err.contains(needle), "{to}: `{needle}` not in {err}");
        }
        assert_eq!(entries_under(dir.path()), ["bad.toml"]);
    }
    // A distribution in a grid recipe says how to make it a search.
    let grid = SEARCH_RECIPE.replace(
        "[search]\nstrategy = \"coarse_to_fine\"\nsamples = 5\nrounds = 3\ntop_k = 2\nseed = 7\n",
        "",
    );
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "bad.toml", &grid);
    let out = lrcast(dir.path(), &["generate", recipe.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("grid.base_lr") && stderr(&out).contains("strategy = \"random\""),
        "{}",
        stderr(&out)
    );
}
