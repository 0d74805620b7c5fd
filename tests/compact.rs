//! `lrcast corpus compact` and `lrcast corpus verify` on tiny real corpora: after compaction every
//! reader sees the same runs (generate trains nothing, fit / report / status / export give the same
//! results), compacting again merges new runs, a compaction cut short between its rename and its
//! removals reads each run once, verify names every kind of damage, and bad input writes nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use lrcast::corpus::CorpusStore;
use serde_json::Value;

use crate::common::{TINY_RECIPE, entries_under, lrcast, stderr, stdout, write};

/// Run `lrcast ARGS` in `dir` and expect success; standard error.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = lrcast(dir, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stderr(&out)
}

/// Run `lrcast ARGS --json` in `dir` (any exit code) and parse its stdout.
fn json(dir: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let out = lrcast(dir, args);
    let value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {} {}", stdout(&out), stderr(&out)));
    (out.status.code(), value)
}

/// What fit, report, status and export say about the corpus under `dir`.
fn results(dir: &Path, recipe: &str) -> (String, String, String, Value) {
    ok(dir, &["-q", "fit", recipe]);
    ok(dir, &["-q", "report", recipe]);
    ok(dir, &["-q", "export", "features", recipe]);
    let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap();
    let (code, mut status) = json(dir, &["status", recipe, "--json"]);
    assert_eq!(code, Some(0));
    // The corpus path status names is the runs directory either way; the rest must be equal.
    status["corpus"] = Value::Null;
    (
        read("models/tiny/fit.json"),
        read("reports/tiny/scores.json"),
        read("models/tiny/features.csv"),
        status,
    )
}

fn store(dir: &Path) -> CorpusStore {
    CorpusStore::new(dir, "tiny")
}

#[test]
fn compacted_runs_read_as_parts_and_compacting_again_merges_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let recipe = recipe.to_str().unwrap();
    ok(dir.path(), &["-q", "generate", recipe]);
    let before = results(dir.path(), recipe);
    let (code, report) = json(dir.path(), &["corpus", "verify", recipe, "--json"]);
    assert_eq!(
        (code, &report["problems"]),
        (Some(0), &Value::from(0)),
        "{report}"
    );

    let said = ok(dir.path(), &["corpus", "compact", recipe]);
    assert!(
        said.contains("12 part(s) and 0 compacted file(s) merged"),
        "{said}"
    );
    assert!(store(dir.path()).run_files().unwrap().is_empty());
    assert_eq!(store(dir.path()).compacted_files().unwrap().len(), 1);
    assert_eq!(store(dir.path()).existing_run_ids().unwrap().len(), 12);

    // Every run is done: nothing is trained again, nothing quarantined.
    let said = ok(dir.path(), &["generate", recipe]);
    assert!(
        said.contains("trained 0 runs") && said.contains("skipped 12"),
        "{said}"
    );
    assert!(!dir.path().join("datasets/corpus/tiny/quarantine").exists());
    let after = results(dir.path(), recipe);
    assert_eq!(before.0, after.0, "fit.json");
    assert_eq!(before.1, after.1, "scores.json");
    assert_eq!(before.2, after.2, "features.csv");
    assert_eq!(before.3, after.3, "status");
    let (code, report) = json(dir.path(), &["corpus", "verify", recipe, "--json"]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(
        (report["runs"].as_u64(), report["compacted_files"].as_u64()),
        (Some(12), Some(1))
    );
    assert_eq!(report["cache"], "consistent", "{report}");

    // A second seed: 12 more runs as parts, then one compacted file with all 24.
    let two_seeds = TINY_RECIPE.replace("seed = [0]", "seed = [0, 1]");
    let recipe = write(dir.path(), "tiny.toml", &two_seeds);
    let recipe = recipe.to_str().unwrap();
    let said = ok(dir.path(), &["generate", recipe]);
    assert!(said.contains("trained 12 runs"), "{said}");
    let parts = store(dir.path()).run_files().unwrap();
    assert_eq!(parts.len(), 12);
    let kept: Vec<(PathBuf, Vec<u8>)> = parts
        .iter()
        .map(|p| (p.clone(), std::fs::read(p).unwrap()))
        .collect();
    let said = ok(dir.path(), &["corpus", "compact", recipe]);
    assert!(
        said.contains("12 part(s) and 1 compacted file(s) merged"),
        "{said}"
    );
    assert!(said.contains("(24 runs)"), "{said}");
    assert_eq!(store(dir.path()).compacted_files().unwrap().len(), 1);
    let said = ok(dir.path(), &["corpus", "compact", recipe]);
    assert!(said.contains("nothing to merge"), "{said}");

    // A compaction killed between its rename and its removals: the parts are still there beside
    // the compacted file holding them. Each run is read once; generate trains nothing.
    for (path, bytes) in &kept {
        std::fs::write(path, bytes).unwrap();
    }
    assert_eq!(store(dir.path()).scan().unwrap().height(), 24);
    assert_eq!(store(dir.path()).scan_columns(false).unwrap().height(), 24);
    let (code, status) = json(dir.path(), &["status", recipe, "--json"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        (status["done"].as_u64(), status["remaining"].as_u64()),
        (Some(24), Some(0))
    );
    let said = ok(dir.path(), &["generate", recipe]);
    assert!(said.contains("trained 0 runs"), "{said}");
    let (code, report) = json(dir.path(), &["corpus", "verify", recipe, "--json"]);
    assert_eq!(code, Some(0), "{report}");
    assert!(
        report["notes"]
            .to_string()
            .contains("12 run(s) are both a part and in a compacted file"),
        "{report}"
    );
    ok(dir.path(), &["-q", "fit", recipe]);
    // Compacting again removes the leftovers.
    ok(dir.path(), &["corpus", "compact", recipe]);
    assert!(store(dir.path()).run_files().unwrap().is_empty());
    assert_eq!(store(dir.path()).scan().unwrap().height(), 24);
}

#[test]
fn compaction_keeps_old_and_new_schemas_and_leaves_unreadable_and_claimed_parts() {
    // lrcast 0.1.0's 12 runs and 4 of today's in one compacted file.
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v0_1_0");
    let runs = dir.path().join("datasets/corpus/v0_1_0/runs");
    std::fs::create_dir_all(&runs).unwrap();
    for entry in std::fs::read_dir(fixture.join("corpus/runs")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), runs.join(entry.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(fixture.join("recipe.toml"))
        .unwrap()
        .replace(
            "base_lr = [0.01, 0.1, 1.0]",
            "base_lr = [0.01, 0.1, 1.0, 0.3]",
        );
    let recipe = write(dir.path(), "v0_1_0.toml", &text);
    let recipe = recipe.to_str().unwrap();
    let root = dir.path().to_str().unwrap();
    ok(dir.path(), &["-q", "generate", recipe, "--root", root]);
    let (code, report) = json(
        dir.path(),
        &["corpus", "verify", recipe, "--root", root, "--json"],
    );
    assert_eq!(code, Some(0), "{report}");
    let old = CorpusStore::new(dir.path(), "v0_1_0");
    let parts = old.run_files().unwrap();
    assert_eq!(parts.len(), 16);
    // One part cut short, one claimed by a live generate: both stay parts.
    let bytes = std::fs::read(&parts[0]).unwrap();
    std::fs::write(&parts[0], &bytes[..bytes.len() / 2]).unwrap();
    let claimed = parts[1].file_stem().unwrap().to_string_lossy().into_owned();
    let claims = dir.path().join("datasets/corpus/v0_1_0/claims");
    std::fs::create_dir_all(&claims).unwrap();
    std::fs::write(claims.join(format!("{claimed}.claim")), "host=elsewhere\n").unwrap();
    let out = lrcast(dir.path(), &["corpus", "compact", recipe, "--root", root]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains("14 part(s) and 0 compacted file(s) merged"),
        "{said}"
    );
    assert!(
        said.contains("left 1 part(s) of runs a running `generate` still claims"),
        "{said}"
    );
    let name = parts[0].file_name().unwrap().to_string_lossy();
    assert!(
        said.contains("left 1 file(s) that cannot be read") && said.contains(name.as_ref()),
        "{said}"
    );
    assert_eq!(old.run_files().unwrap(), parts[..2].to_vec());
    let df = old.scan().unwrap();
    assert_eq!(df.height(), 15);
    // Today's columns are null for the old rows inside the compacted file too.
    let cut = parts[0].file_name().unwrap();
    let old_rows = std::fs::read_dir(fixture.join("corpus/runs"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name() != cut)
        .count();
    assert_eq!(df.column("outcome").unwrap().null_count(), old_rows);
    // The truncated part is quarantined and trained again; the compacted runs are not.
    std::fs::remove_dir_all(&claims).unwrap();
    let said = ok(dir.path(), &["generate", recipe, "--root", root]);
    assert!(
        said.contains("trained 1 runs") || said.contains("trained 1 run"),
        "{said}"
    );
    ok(dir.path(), &["-q", "fit", recipe, "--root", root]);
}

/// Set `path`'s modification time `age` ago.
fn age(path: &Path, age: Duration) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - age)
        .unwrap();
}

#[test]
fn verify_names_each_problem_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Runs of a wider grid first: with base_lr 30 dropped from the recipe, three become foreign.
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let recipe = recipe.to_str().unwrap();
    ok(dir.path(), &["-q", "generate", recipe]);
    ok(dir.path(), &["corpus", "compact", recipe]);
    let narrower = TINY_RECIPE.replace(
        "base_lr = [0.003, 0.03, 0.3, 30.0]",
        "base_lr = [0.003, 0.03, 0.3, 3.0]",
    );
    let recipe = write(dir.path(), "tiny.toml", &narrower);
    let recipe = recipe.to_str().unwrap();
    ok(dir.path(), &["-q", "generate", recipe]);
    let (code, _) = json(dir.path(), &["corpus", "verify", recipe, "--json"]);
    assert_eq!(code, Some(1), "the compacted file holds 3 foreign runs");

    let corpus = dir.path().join("datasets/corpus/tiny");
    let parts = store(dir.path()).run_files().unwrap();
    assert_eq!(parts.len(), 3);
    let bytes = std::fs::read(&parts[0]).unwrap();
    std::fs::write(&parts[0], &bytes[..bytes.len() - 10]).unwrap();
    let garbage = corpus.join("runs/0123456789abcdef.parquet");
    std::fs::write(&garbage, b"not a parquet file at all").unwrap();
    // A valid part under another run's name, a stray file, an abandoned temporary file, a fresh
    // one (a writer at work: a note), an expired claim and one held now.
    let misnamed = corpus.join("runs/fedcba9876543210.parquet");
    std::fs::write(&misnamed, std::fs::read(&parts[1]).unwrap()).unwrap();
    let stray = corpus.join("runs/notes.txt");
    std::fs::write(&stray, "mine").unwrap();
    let old_temp = corpus.join("runs/.abc.parquet.tmp-nodea-1-00ff");
    std::fs::write(&old_temp, b"partial").unwrap();
    age(&old_temp, Duration::from_secs(3600));
    std::fs::write(corpus.join(".scalars-cache.parquet.tmp-nodeb-2-00ff"), b"x").unwrap();
    let stale_claim = corpus.join("claims/aaaaaaaaaaaaaaaa.claim");
    std::fs::write(&stale_claim, "host=gone\n").unwrap();
    age(&stale_claim, Duration::from_secs(3600));
    std::fs::write(corpus.join("claims/bbbbbbbbbbbbbbbb.claim"), "host=busy\n").unwrap();
    let listing = entries_under(dir.path());

    let out = lrcast(dir.path(), &["corpus", "verify", recipe]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "cannot be read: 3",
        "foreign: 2",
        "stale temporary files: 1",
        "stale claims: 1",
        "3 run(s) not in the plan",
        "wrong schema: holds run",
        "not a part",
        "aaaaaaaaaaaaaaaa.claim",
        "1 temporary file(s) younger than 15 min",
        "7 problem(s) found",
    ] {
        assert!(text.contains(needle), "`{needle}` not in:\n{text}");
    }
    for path in [&parts[0], &garbage, &misnamed, &stray, &old_temp] {
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(text.contains(name.as_ref()), "{name} not in:\n{text}");
    }
    assert!(
        stderr(&out).contains("7 problem(s) found"),
        "{}",
        stderr(&out)
    );
    let (code, report) = json(dir.path(), &["corpus", "verify", recipe, "--json"]);
    assert_eq!(
        (code, report["problems"].as_u64()),
        (Some(1), Some(7)),
        "{report}"
    );
    assert_eq!(report["unreadable"].as_array().unwrap().len(), 3);
    // Nothing was changed, no cache written.
    assert_eq!(entries_under(dir.path()), listing);
}

#[test]
fn bad_input_to_verify_and_compact_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let recipe = recipe.to_str().unwrap();
    let file = write(dir.path(), "a-file", "");
    let file = file.to_str().unwrap();
    let listing = entries_under(dir.path());
    for args in [
        vec!["corpus", "verify", "missing.toml"],
        vec!["corpus", "compact", "missing.toml"],
        vec!["corpus", "verify", recipe, "--root", file],
        vec!["corpus", "compact", recipe, "--root", file],
        vec!["corpus", "verify", recipe, "--bogus"],
        vec!["corpus", "shrink", recipe],
    ] {
        let out = lrcast(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty());
    }
    assert!(
        stderr(&lrcast(dir.path(), &["corpus", "compact", "missing.toml"]))
            .contains("missing.toml")
    );
    assert!(
        stderr(&lrcast(
            dir.path(),
            &["corpus", "verify", recipe, "--root", file]
        ))
        .contains("--root")
    );
    // No corpus yet: verify finds nothing wrong and compact nothing to merge; neither writes.
    let out = lrcast(dir.path(), &["corpus", "verify", recipe]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(ok(dir.path(), &["corpus", "compact", recipe]).contains("nothing to merge"));
    assert_eq!(entries_under(dir.path()), listing);
    let help = stdout(&lrcast(dir.path(), &["corpus", "verify", "--help"])).replace('\n', " ");
    assert!(help.contains("1 when problems were found"), "{help}");
}

#[test]
fn compacting_beside_a_running_generate_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // 36 runs trained one by one: a few seconds of parts appearing while compactions run.
    let recipe = write(
        dir.path(),
        "tiny.toml",
        &TINY_RECIPE.replace("seed = [0]", "seed = [0, 1, 2]"),
    );
    let recipe = recipe.to_str().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lrcast"))
        .args(["-q", "generate", recipe, "--stack", "1"])
        .current_dir(dir.path())
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_ARRAY_TASK_COUNT")
        .spawn()
        .unwrap();
    let mut compactions = 0;
    while child.try_wait().unwrap().is_none() {
        ok(dir.path(), &["-q", "corpus", "compact", recipe]);
        compactions += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(child.wait().unwrap().success());
    assert!(compactions > 1);
    ok(dir.path(), &["-q", "corpus", "compact", recipe]);
    let said = ok(dir.path(), &["generate", recipe, "--stack", "1"]);
    assert!(said.contains("trained 0 runs"), "{said}");
    let plan: std::collections::BTreeSet<String> = lrcast::recipe::load(Path::new(recipe))
        .unwrap()
        .runs
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(store(dir.path()).existing_run_ids().unwrap(), plan);
    assert_eq!(store(dir.path()).scan().unwrap().height(), 36);
    let (code, report) = json(dir.path(), &["corpus", "verify", recipe, "--json"]);
    assert_eq!(code, Some(0), "{report}");
    assert!(!dir.path().join("datasets/corpus/tiny/quarantine").exists());
}
