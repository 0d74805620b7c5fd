//! `lrcast plan` and `lrcast status` on a tiny real recipe: the counts, the JSON, a corrupt part,
//! and that neither writes anything.

use lrcast::corpus::CorpusStore;
use serde_json::Value;

use crate::common::{TINY_RECIPE, entries_under, lrcast, stderr, stdout, write};

/// Run `lrcast ARGS` in `dir`, expect success, and parse stdout as one JSON object.
fn json(dir: &std::path::Path, args: &[&str]) -> Value {
    let out = lrcast(dir, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

#[test]
fn plan_prints_the_counts_and_the_estimate_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let recipe = recipe.to_str().unwrap();
    let out = lrcast(dir.path(), &["plan", recipe]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "plan `tiny`",
        "  12 runs",
        "mnist1d:num_samples=1000,seed=42,train_split=0.8  mlp:hidden=32    12         12         900",
        "0 of 12 runs already there, 12 to train (900 steps)",
        // The tiny MLPs stack on the CPU: one stack of all twelve.
        "stacks on cpu: 1 (1 of 12 runs)",
        "sample: 10 of 12 runs",
        "sgd step:lr=30,step_size=1ep,gamma=0.5",
        "estimate: ",
        "measured training steps",
    ] {
        assert!(text.contains(needle), "`{needle}` not in:\n{text}");
    }
    // generate's stacking options and shards give generate's stacks.
    let out = lrcast(
        dir.path(),
        &["plan", recipe, "--stack", "5", "--shard", "1/2"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "shard 1/2: runs 6..12 of 12: 6 runs",
        "stacks on cpu: 2 (2 of 3 runs)",
    ] {
        assert!(text.contains(needle), "`{needle}` not in:\n{text}");
    }
    assert_eq!(entries_under(dir.path()), ["tiny.toml"]);
}

/// Run ids and stack sizes of `plan --json` on `recipe_text` with `args`.
fn ids_and_stacks(recipe_text: &str, args: &[&str]) -> (Vec<String>, Vec<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", recipe_text);
    let mut all = vec![
        "plan",
        recipe.to_str().unwrap(),
        "--json",
        "--sample",
        "100",
    ];
    all.extend_from_slice(args);
    let plan = json(dir.path(), &all);
    let ids = plan["sample"].as_array().unwrap().iter();
    let sizes = plan["stacks"]["sizes"].as_array().unwrap().iter();
    (
        ids.map(|r| r["run_id"].as_str().unwrap().to_string())
            .collect(),
        sizes
            .flat_map(|s| {
                let count = s["stacks"].as_u64().unwrap() as usize;
                std::iter::repeat_n(s["size"].as_u64().unwrap(), count)
            })
            .collect(),
    )
}

#[test]
fn the_recipe_sets_the_stack_size_and_budget_and_the_flags_override_it() {
    let keyed = |keys: &str| TINY_RECIPE.replace("epochs = 3", &format!("epochs = 3\n{keys}"));
    let (ids, automatic) = ids_and_stacks(TINY_RECIPE, &[]);
    assert_eq!((ids.len(), automatic), (12, vec![12]));
    // 12 runs by at most 5: three stacks of 4; the run ids do not change.
    let (keyed_ids, sizes) = ids_and_stacks(&keyed("stack = 5"), &[]);
    assert_eq!((&keyed_ids, sizes), (&ids, vec![4, 4, 4]));
    assert_eq!(
        ids_and_stacks(&keyed("stack = 5"), &["--stack", "12"]).1,
        [12]
    );
    assert_eq!(
        ids_and_stacks(&keyed("stack = 5"), &["--stack", "1"]).1,
        [1; 12]
    );
    // One 256-unit member needs about 0.5 MiB at batch 32: a budget of 1 MiB holds one, and the
    // flag overrides the recipe's budget.
    let wide = |text: String| text.replace("mlp:hidden=32", "mlp:hidden=256");
    let (wide_ids, sizes) = ids_and_stacks(&wide(TINY_RECIPE.into()), &[]);
    assert_eq!(sizes, [12]);
    let budget = wide(keyed("stack_memory_mib = 1"));
    let (budget_ids, sizes) = ids_and_stacks(&budget, &[]);
    assert_eq!((&budget_ids, sizes), (&wide_ids, vec![1; 12]));
    assert_eq!(ids_and_stacks(&budget, &["--stack-memory", "64"]).1, [12]);
}

#[test]
fn plan_json_parses_with_its_fields() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let recipe = recipe.to_str().unwrap();
    let plan = json(dir.path(), &["plan", recipe, "--json", "--sample", "4"]);
    assert_eq!(plan["experiment"], "tiny");
    assert_eq!(
        (plan["runs"].as_u64(), plan["remaining"].as_u64()),
        (Some(12), Some(12))
    );
    assert_eq!(plan["done"], 0);
    assert_eq!(plan["remaining_steps"], 900);
    assert_eq!(plan["shard"], Value::Null);
    assert_eq!(plan["groups"].as_array().unwrap().len(), 1);
    assert_eq!(plan["groups"][0]["arch"], "mlp:hidden=32");
    assert_eq!(plan["stacks"]["count"], 1);
    assert_eq!(plan["stacks"]["sizes"][0]["size"], 12);
    let sample = plan["sample"].as_array().unwrap();
    assert_eq!(sample.len(), 4);
    let indices: Vec<u64> = sample
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(&indices[..3], &[0, 1, 2]);
    for run in sample {
        assert_eq!(run["run_id"].as_str().unwrap().len(), 16, "{run}");
        assert_eq!(run["total_steps"], 75);
        assert_eq!(run["batch_size"], 32);
        for key in ["policy", "task", "arch", "optimizer"] {
            assert!(run[key].is_string(), "{key} in {run}");
        }
        for key in ["base_lr", "weight_decay", "momentum", "epochs", "seed"] {
            assert!(run[key].is_number(), "{key} in {run}");
        }
    }
    // The estimate comes from steps really timed: one group, a stack of 12 for 75 steps.
    let estimate = &plan["estimate"];
    assert!(
        estimate["measured_steps"].as_u64().unwrap() > 0,
        "{estimate}"
    );
    assert!(estimate["seconds"].as_f64().unwrap() > 0.0, "{estimate}");
    assert_eq!(estimate["unmeasured_groups"], 0);
    let group = &estimate["groups"][0];
    assert_eq!(
        (group["stack_size"].as_u64(), group["steps"].as_u64()),
        (Some(12), Some(75))
    );
    assert!(group["ms_per_step"].as_f64().unwrap() > 0.0);
    assert!(estimate["note"].as_str().unwrap().contains("estimate from"));
    assert_eq!(entries_under(dir.path()), ["tiny.toml"]);
}

#[test]
fn status_before_and_after_generate_and_with_a_corrupt_part() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let recipe = recipe.to_str().unwrap();
    // No corpus yet: everything remains, the pace is unknown, and no folder appears.
    let before = json(dir.path(), &["status", recipe, "--json"]);
    assert_eq!(
        (&before["planned"], &before["done"], &before["remaining"]),
        (&Value::from(12), &Value::from(0), &Value::from(12))
    );
    assert_eq!(before["time_left"]["seconds"], Value::Null);
    assert_eq!(before["time_left"]["unknown_runs"], 12);
    let out = lrcast(dir.path(), &["status", recipe]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("time left: unknown for 12 run(s)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(entries_under(dir.path()), ["tiny.toml"]);

    // Half of it: the finished runs give the pace of the rest.
    let out = lrcast(dir.path(), &["-q", "generate", recipe, "--shard", "0/2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let half = json(dir.path(), &["status", recipe, "--json"]);
    assert_eq!(
        (half["done"].as_u64(), half["remaining"].as_u64()),
        (Some(6), Some(6))
    );
    assert!(
        half["time_left"]["seconds"].as_f64().unwrap() > 0.0,
        "{half}"
    );
    let plan = json(dir.path(), &["plan", recipe, "--json"]);
    assert_eq!(
        (plan["done"].as_u64(), plan["remaining"].as_u64()),
        (Some(6), Some(6))
    );

    // All of it: done equals the plan, by outcome; LR 30 diverges.
    let out = lrcast(dir.path(), &["-q", "generate", recipe]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listing = entries_under(dir.path());
    let after = json(dir.path(), &["status", recipe, "--json"]);
    assert_eq!(
        (after["done"].as_u64(), after["remaining"].as_u64()),
        (Some(12), Some(0))
    );
    assert_eq!(after["time_left"]["seconds"], 0.0);
    let outcomes = &after["outcomes"];
    let sum: u64 = ["trained", "diverged", "collapsed"]
        .iter()
        .map(|o| outcomes[o].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 12, "{outcomes}");
    assert!(outcomes["diverged"].as_u64().unwrap() >= 1, "{outcomes}");
    assert_eq!(
        (
            after["failed"].as_array().unwrap().len(),
            after["foreign"].as_u64()
        ),
        (0, Some(0))
    );

    // A part cut short and a foreign file of garbage: both counted and named, never fatal.
    let parts = CorpusStore::new(dir.path(), "tiny").run_files().unwrap();
    let bytes = std::fs::read(&parts[3]).unwrap();
    std::fs::write(&parts[3], &bytes[..bytes.len() / 2]).unwrap();
    let garbage = parts[0].with_file_name("0123456789abcdef.parquet");
    std::fs::write(&garbage, b"not a parquet file").unwrap();
    let listing_corrupt = entries_under(dir.path());
    let broken = json(dir.path(), &["status", recipe, "--json"]);
    let failed: Vec<&str> = broken["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(failed.len(), 2, "{broken}");
    for part in [&parts[3], &garbage] {
        let name = part.file_name().unwrap().to_string_lossy();
        assert!(
            failed.iter().any(|p| p.ends_with(name.as_ref())),
            "{name}: {failed:?}"
        );
    }
    assert_eq!(broken["failed_in_plan"], 1);
    assert_eq!(broken["foreign"], 1);
    // The truncated run is neither done nor remaining: generate skips a run whose file exists.
    assert_eq!(
        (broken["done"].as_u64(), broken["remaining"].as_u64()),
        (Some(11), Some(0))
    );
    let out = lrcast(dir.path(), &["status", recipe]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("failed     2 part(s)") && text.contains("0123456789abcdef.parquet"),
        "{text}"
    );
    assert!(text.contains("foreign    1 run(s)"), "{text}");
    // Status wrote nothing (no scalar cache either).
    assert_ne!(listing, listing_corrupt);
    assert_eq!(entries_under(dir.path()), listing_corrupt);
}

#[test]
fn both_commands_are_in_the_help() {
    let dir = tempfile::tempdir().unwrap();
    let out = lrcast(dir.path(), &["--help"]);
    let text = stdout(&out);
    assert!(text.contains("plan ") && text.contains("status "), "{text}");
    let out = lrcast(dir.path(), &["plan", "--help"]);
    for flag in [
        "--shard",
        "--stack",
        "--stack-memory",
        "--sample",
        "--json",
        "--root",
        "--device",
    ] {
        assert!(stdout(&out).contains(flag), "{flag}");
    }
}

#[test]
fn every_corpus_command_defaults_to_the_embedded_experiment() {
    let dir = tempfile::tempdir().unwrap();
    // status needs no recipe, as pipeline: it plans the embedded default (416 runs, none done).
    let status = json(dir.path(), &["status", "--json"]);
    assert_eq!(status["experiment"], "default", "{status}");
    assert_eq!(status["planned"], 416, "{status}");
    // fit without a recipe looks for the default corpus and says how to make it.
    let out = lrcast(dir.path(), &["fit"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("default") && err.contains("generate"), "{err}");
    assert_eq!(entries_under(dir.path()), Vec::<String>::new());
}
