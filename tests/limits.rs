//! Values too large to run, duplicate runs in disguise and values that would be silently changed:
//! each is refused before any work starts (exit 2, a message naming the key and the fix, nothing
//! written — no folder either). Regression tests for the kinds an adversarial run of the binary found
//! (issue 14).

use crate::common::{TINY_RECIPE, entries_under, lrcast, stderr, write};

/// Run lrcast with `args` (the recipe's path replaces `RECIPE`) in a fresh directory holding
/// `recipe_text` (and `extra` files); assert exit 2, every needle in a one-line message, and that
/// the directory holds exactly what it held before.
fn refused(recipe_text: &str, args: &[&str], needles: &[&str], extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "r.toml", recipe_text);
    for name in extra {
        write(dir.path(), name, "");
    }
    let before = entries_under(dir.path());
    let args: Vec<&str> = args
        .iter()
        .map(|a| match *a {
            "RECIPE" => recipe.to_str().unwrap(),
            other => other,
        })
        .collect();
    let out = lrcast(dir.path(), &args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one message: {err}");
    for needle in needles {
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }
    assert_eq!(entries_under(dir.path()), before, "{args:?} left something");
}

fn tiny_with(from: &str, to: &str) -> String {
    assert!(TINY_RECIPE.contains(from), "{from}");
    TINY_RECIPE.replace(from, to)
}

const GENERATE: &[&str] = &["generate", "RECIPE"];

#[test]
fn a_task_too_large_to_generate() {
    refused(
        &tiny_with("num_samples=1000", "num_samples=100000000000"),
        GENERATE,
        &["grid.task", "num_samples", "10..=1000000"],
        &[],
    );
}

#[test]
fn a_run_of_too_many_steps() {
    // 100 000 epochs are allowed, but not at batch 1: 800 million steps.
    refused(
        &tiny_with("epochs = 3", "epochs = 100000")
            .replace("batch_size = [32]", "batch_size = [1]"),
        GENERATE,
        &["grid.batch_size", "steps", "raise the batch size"],
        &[],
    );
}

#[test]
fn a_grid_of_a_billion_runs_is_counted_not_expanded() {
    let values = |n: usize, scale: f64| {
        (1..=n)
            .map(|i| format!("{}", i as f64 * scale))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let recipe = tiny_with(
        "base_lr = [0.003, 0.03, 0.3, 30.0]",
        &format!("base_lr = [{}]", values(1000, 1e-3)),
    )
    .replace(
        "seed = [0]",
        &format!(
            "seed = [{}]",
            (0..1000)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .replace(
        "weight_decay = [0.0]",
        &format!("weight_decay = [{}]", values(1000, 1e-6)),
    );
    refused(
        &recipe,
        GENERATE,
        &["`grid`", "runs", "at most 1000000"],
        &[],
    );
}

#[test]
fn a_policy_nested_too_deep() {
    let deep = format!("{}constant{}", "(".repeat(10_000), ")".repeat(10_000));
    refused(
        &tiny_with("\"constant\", ", &format!("\"{deep}\", ")),
        GENERATE,
        &["nested more than 32 deep"],
        &[],
    );
    refused(
        "",
        &[
            "schedule",
            "--policy",
            &format!("{deep}:lr=0.1"),
            "--steps",
            "3",
        ],
        &["--policy", "nested more than 32 deep"],
        &[],
    );
}

#[test]
fn a_batch_larger_than_the_training_split() {
    refused(
        &tiny_with("batch_size = [32]", "batch_size = [32, 5000]"),
        GENERATE,
        &["grid.batch_size", "5000", "800 training examples"],
        &[],
    );
    for args in [
        &["bench", "--batch-size", "5000"][..],
        &["lr-find", "--batch-size", "5000", "--out", "out"],
    ] {
        refused("", args, &["--batch-size 5000", "1..=4000"], &[]);
    }
}

#[test]
fn bench_and_lr_find_counts_out_of_range() {
    refused(
        "",
        &["bench", "--repeats", "0"],
        &["--repeats 0", "1..=1000"],
        &[],
    );
    refused("", &["bench", "--steps", "0"], &["--steps 0"], &[]);
    refused(
        "",
        &["lr-find", "--num-steps", "100000000000", "--out", "out"],
        &["--num-steps", "10..=1000000"],
        &[],
    );
    refused(
        "",
        &["bench", "--arch", "mlp", "--stack", "100000000"],
        &["--stack 100000000", "MiB"],
        &[],
    );
}

#[test]
fn a_model_larger_than_the_machine() {
    refused(
        &tiny_with(
            "mlp:hidden=32",
            "mlp:hidden=65536;65536;65536;65536;65536;65536;65536;65536",
        ),
        GENERATE,
        &["needs about", "MiB to train, more than this machine's"],
        &[],
    );
}

#[test]
fn negative_zero_is_zero() {
    refused(
        &tiny_with("weight_decay = [0.0]", "weight_decay = [0.0, -0.0]"),
        GENERATE,
        &["grid.weight_decay", "listed twice"],
        &[],
    );
}

#[test]
fn a_policy_spelled_with_and_without_a_default_is_one_run() {
    refused(
        &tiny_with(
            "\"constant\", ",
            "\"constant\", \"step:step_size=1ep\", \"step:step_size=1ep,gamma=0.1\", ",
        ),
        GENERATE,
        &[
            "grid.policy",
            "trains the same schedule as",
            "keep one spelling",
        ],
        &[],
    );
}

#[test]
fn an_experiment_name_too_long_for_a_directory() {
    refused(
        &tiny_with(
            "name = \"tiny\"",
            &format!("name = \"{}\"", "x".repeat(300)),
        ),
        GENERATE,
        &["`name`", "300 characters", "at most 100"],
        &[],
    );
}

#[test]
fn bad_output_places_leave_no_folder_behind() {
    // `models` is a file: refused before the corpus directory is made.
    refused(
        TINY_RECIPE,
        &["pipeline", "RECIPE"],
        &["models is a file", "--root"],
        &["models"],
    );
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_on_a_build_without_it_leaves_no_folder_behind() {
    for command in ["generate", "pipeline"] {
        refused(
            TINY_RECIPE,
            &[command, "RECIPE", "--device", "cuda"],
            &["--features cuda"],
            &[],
        );
    }
}
