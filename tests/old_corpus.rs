//! Corpora written by earlier versions stay valid: lrcast 0.1.0's runs keep their ids, resume without
//! training anything, fit, and mix with runs of the current schema.

use std::path::{Path, PathBuf};

use lrcast::corpus::CorpusStore;

use crate::common::{lrcast, stderr, write};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/v0_1_0")
        .join(name)
}

/// A root holding the 12-run corpus that lrcast 0.1.0 wrote from `tests/fixtures/v0_1_0/recipe.toml`.
fn root_with_old_corpus() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("datasets/corpus/v0_1_0/runs");
    std::fs::create_dir_all(&runs).unwrap();
    for entry in std::fs::read_dir(fixture("corpus/runs")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), runs.join(entry.file_name())).unwrap();
    }
    dir
}

#[test]
fn a_corpus_of_lrcast_0_1_0_resumes_without_training_and_fits() {
    let dir = root_with_old_corpus();
    let recipe = fixture("recipe.toml");
    let root = dir.path().to_str().unwrap();
    let out = lrcast(
        dir.path(),
        &["generate", recipe.to_str().unwrap(), "--root", root],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("trained 0 runs") && stderr(&out).contains("skipped 12"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        CorpusStore::new(dir.path(), "v0_1_0")
            .run_files()
            .unwrap()
            .len(),
        12
    );
    let out = lrcast(
        dir.path(),
        &["fit", recipe.to_str().unwrap(), "--root", root],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = lrcast(
        dir.path(),
        &["report", recipe.to_str().unwrap(), "--root", root],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn old_and_new_runs_share_one_corpus() {
    let dir = root_with_old_corpus();
    // One more base LR: 4 new runs written with today's schema beside the 12 old ones.
    let text = std::fs::read_to_string(fixture("recipe.toml"))
        .unwrap()
        .replace(
            "base_lr = [0.01, 0.1, 1.0]",
            "base_lr = [0.01, 0.1, 1.0, 0.3]",
        );
    let recipe = write(dir.path(), "v0_1_0.toml", &text);
    let root = dir.path().to_str().unwrap();
    let out = lrcast(
        dir.path(),
        &["pipeline", recipe.to_str().unwrap(), "--root", root],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("trained 4 runs"), "{}", stderr(&out));
    let df = CorpusStore::new(dir.path(), "v0_1_0").scan().unwrap();
    assert_eq!(df.height(), 16);
    // New columns are null for the old rows and filled for the new ones.
    let outcome = df.column("outcome").unwrap();
    assert_eq!(outcome.null_count(), 12);
}

#[test]
fn status_classes_the_runs_of_lrcast_0_1_0_without_an_outcome_column() {
    let dir = root_with_old_corpus();
    let recipe = fixture("recipe.toml");
    let root = dir.path().to_str().unwrap();
    let before = crate::common::entries_under(dir.path());
    let out = lrcast(
        dir.path(),
        &["status", recipe.to_str().unwrap(), "--root", root, "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (status["done"].as_u64(), status["remaining"].as_u64()),
        (Some(12), Some(0))
    );
    let outcomes = &status["outcomes"];
    let classed: u64 = ["trained", "diverged", "collapsed"]
        .iter()
        .map(|o| outcomes[o].as_u64().unwrap())
        .sum();
    assert_eq!(classed, 12, "{outcomes}");
    assert_eq!(crate::common::entries_under(dir.path()), before);
}
