//! Every bad input exits with code 2, names the file / key / value and the fix, and writes nothing.

use crate::common::{TINY_RECIPE, entries_under, lrcast, stderr, write};

/// Run `generate` on `recipe_text` in a fresh directory; assert exit 2, that stderr contains every
/// needle, and that nothing but the recipe is left behind.
fn rejects(recipe_text: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "bad.toml", recipe_text);
    let out = lrcast(dir.path(), &["generate", recipe.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one message: {err}");
    for needle in needles {
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }
    assert_eq!(entries_under(dir.path()), ["bad.toml"]);
}

fn tiny_with(from: &str, to: &str) -> String {
    assert!(TINY_RECIPE.contains(from), "{from}");
    TINY_RECIPE.replace(from, to)
}

#[test]
fn missing_recipe_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = lrcast(dir.path(), &["generate", "nope.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("nope.toml") && err.contains("experiments/default.toml"),
        "{err}"
    );
    assert!(entries_under(dir.path()).is_empty());
}

#[test]
fn invalid_toml_reports_line_and_column() {
    rejects(
        &tiny_with("epochs = 3", "epochs = = 2"),
        &["bad.toml:", ":15:"],
    );
}

#[test]
fn unknown_key() {
    rejects(
        &tiny_with("epochs = 3", "epochs = 2\nepoch_count = 3"),
        &["bad.toml", "epoch_count"],
    );
}

#[test]
fn wrong_type() {
    rejects(
        &tiny_with("epochs = 3", "epochs = \"two\""),
        &["bad.toml", "epochs"],
    );
}

#[test]
fn non_positive_learning_rate() {
    rejects(
        &tiny_with(
            "base_lr = [0.003, 0.03, 0.3, 30.0]",
            "base_lr = [0.003, 0.0, 0.3]",
        ),
        &["grid.base_lr", "0", "positive"],
    );
}

#[test]
fn non_positive_epochs() {
    rejects(
        &tiny_with("epochs = 3", "epochs = 0"),
        &["train.epochs", "positive"],
    );
}

#[test]
fn empty_grid() {
    rejects(
        &tiny_with("arch = [\"mlp:hidden=32\"]", "arch = []"),
        &["grid.arch", "empty"],
    );
}

#[test]
fn unknown_architecture() {
    rejects(
        &tiny_with("arch = [\"mlp:hidden=32\"]", "arch = [\"transformer\"]"),
        &["grid.arch", "transformer", "mlp, cnn1d"],
    );
}

#[test]
fn unknown_policy_name() {
    rejects(
        &tiny_with("\"cosine\", ", "\"cosin\", "),
        &["grid.policy[1]", "cosin", "cosine"],
    );
}

#[test]
fn holdout_quantile_outside_range() {
    rejects(
        &tiny_with("quantile = 0.2", "quantile = 0.5"),
        &["fit.quantile", "(0, 0.5)"],
    );
    rejects(
        &tiny_with("quantile = 0.2", "quantile = 0"),
        &["fit.quantile"],
    );
}

#[test]
fn a_holdout_on_a_constant_hyperparameter_and_unknown_fit_keys() {
    // weight_decay has one value in the tiny grid: nothing to hold out at its extremes.
    rejects(
        &tiny_with("holdout = [\"base_lr\"]", "holdout = [\"weight_decay\"]"),
        &["weight_decay", "fit.holdout"],
    );
    rejects(
        &tiny_with("quantile = 0.2", "quantile = 0.2\nprotocols = [\"loto\"]"),
        &["fit.protocols", "loto", "logo:task"],
    );
    rejects(
        &tiny_with("quantile = 0.2", "quantile = 0.2\nmodels = [\"gp\"]"),
        &["fit.models", "gp", "random_forest"],
    );
}

#[test]
fn output_directory_not_writable() {
    // A path below a regular file can never be created, even by root.
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    write(dir.path(), "file", "");
    let out = lrcast(
        dir.path(),
        &["pipeline", recipe.to_str().unwrap(), "--root", "file/out"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("file/out") && err.contains("not writable"),
        "{err}"
    );
    assert_eq!(entries_under(dir.path()), ["file", "tiny.toml"]);
}

#[test]
fn unknown_device() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let out = lrcast(
        dir.path(),
        &["generate", recipe.to_str().unwrap(), "--device", "tpu"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--device tpu"));
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_without_the_feature_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let out = lrcast(
        dir.path(),
        &["generate", recipe.to_str().unwrap(), "--device", "cuda"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--features cuda"), "{}", stderr(&out));
}

#[test]
fn fit_before_generate_says_what_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    for command in [&["fit"][..], &["export", "features"]] {
        let mut args = command.to_vec();
        args.push(recipe.to_str().unwrap());
        let out = lrcast(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("lrcast generate"), "{}", stderr(&out));
        assert!(
            !dir.path().join("models").exists(),
            "{command:?} left a folder"
        );
    }
}

#[test]
fn unknown_optimizer_lists_the_valid_ones() {
    rejects(
        &tiny_with("epochs = 3", "epochs = 3\noptimizer = \"rmsprop\""),
        &["train.optimizer", "rmsprop", "sgd, adam, adamw"],
    );
    rejects(
        &tiny_with("seed = [0]", "seed = [0]\noptimizer = [\"sgd\", \"lion\"]"),
        &["grid.optimizer", "lion", "sgd, adam, adamw"],
    );
}

#[test]
fn optimizer_given_twice_or_with_sgd_only_settings() {
    rejects(
        &tiny_with("epochs = 3", "epochs = 3\noptimizer = \"adam\"\n[grid2]")
            .replace("[grid2]", "")
            .replace("seed = [0]", "seed = [0]\noptimizer = [\"sgd\"]"),
        &["train.optimizer", "one place"],
    );
    rejects(
        &tiny_with(
            "epochs = 3",
            "epochs = 3\noptimizer = \"adam\"\nnesterov = true",
        ),
        &["train.nesterov", "sgd only"],
    );
}

#[test]
fn adam_betas_outside_the_unit_interval() {
    rejects(
        &tiny_with(
            "epochs = 3",
            "epochs = 3\noptimizer = \"adamw\"\nbeta2 = 1.0",
        ),
        &["train.beta2", "[0, 1)"],
    );
    rejects(
        &tiny_with("seed = [0]", "seed = [0]\nmomentum = [1.2]"),
        &["grid.momentum", "β₁", "[0, 1)"],
    );
}

#[test]
fn validation_fraction_outside_its_range() {
    for bad in ["0.0", "0.6", "-0.1"] {
        rejects(
            &tiny_with("epochs = 3", &format!("epochs = 3\nvalidation = {bad}")),
            &["train.validation", "(0, 0.5]"],
        );
    }
}

#[test]
fn label_smoothing_clipping_and_trace_out_of_range() {
    rejects(
        &tiny_with("epochs = 3", "epochs = 3\nlabel_smoothing = 1.0"),
        &["train.label_smoothing", "[0, 1)"],
    );
    rejects(
        &tiny_with("epochs = 3", "epochs = 3\nclip_grad_norm = 0.0"),
        &["train.clip_grad_norm", "positive"],
    );
    rejects(
        &tiny_with("epochs = 3", "epochs = 3\ntrace_every = -1"),
        &["train.trace_every"],
    );
}

#[test]
fn unknown_task_and_architecture_list_the_valid_names() {
    rejects(
        &tiny_with(
            "task = [\"mnist1d:num_samples=1000\"]",
            "task = [\"imagenet\"]",
        ),
        &["grid.task", "imagenet", "digits", "fashion10k", "cifar10"],
    );
    rejects(
        &tiny_with("arch = [\"mlp:hidden=32\"]", "arch = [\"vit\"]"),
        &["grid.arch", "vit", "mlp, cnn1d, cnn2d, resnet"],
    );
}

#[test]
fn an_image_architecture_on_a_sequence_task_is_rejected() {
    rejects(
        &tiny_with("arch = [\"mlp:hidden=32\"]", "arch = [\"cnn2d\"]"),
        &[
            "grid.arch",
            "cnn2d",
            "[C, H, W]",
            "valid architectures for it: mlp, cnn1d",
        ],
    );
    rejects(
        &tiny_with("task = [\"mnist1d:num_samples=1000\"]", "task = [\"wine\"]")
            .replace("arch = [\"mlp:hidden=32\"]", "arch = [\"resnet:depth=8\"]"),
        &[
            "grid.arch",
            "resnet",
            "wine",
            "valid architectures for it: mlp",
        ],
    );
}

#[test]
fn train_size_larger_than_the_data_and_dropout_out_of_range() {
    rejects(
        &tiny_with(
            "task = [\"mnist1d:num_samples=1000\"]",
            "task = [\"digits:train_size=99999\"]",
        ),
        &["grid.task", "train_size=99999", "1..=1438"],
    );
    rejects(
        &tiny_with(
            "arch = [\"mlp:hidden=32\"]",
            "arch = [\"mlp:hidden=32,dropout=1.0\"]",
        ),
        &["grid.arch", "dropout", "[0, 1)"],
    );
}

#[test]
fn a_dataset_directory_without_the_expected_files() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("mnist-data");
    std::fs::create_dir(&data_dir).unwrap();
    let text = tiny_with(
        "task = [\"mnist1d:num_samples=1000\"]",
        &format!("task = [\"mnist:path={}\"]", data_dir.display()),
    );
    let recipe = write(dir.path(), "bad.toml", &text);
    let out = lrcast(dir.path(), &["generate", recipe.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("mnist-data") && err.contains("train-images-idx3-ubyte"),
        "{err}"
    );
    assert!(!dir.path().join("datasets").exists(), "nothing written");
}

#[test]
fn a_corrupt_or_truncated_dataset_file() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("cifar");
    std::fs::create_dir(&data_dir).unwrap();
    // Six batch files; the first is cut off in the middle of a record.
    for name in [
        "data_batch_2",
        "data_batch_3",
        "data_batch_4",
        "data_batch_5",
        "test_batch",
    ] {
        std::fs::write(data_dir.join(format!("{name}.bin")), vec![1u8; 3073]).unwrap();
    }
    std::fs::write(data_dir.join("data_batch_1.bin"), vec![1u8; 3073 + 100]).unwrap();
    let text = tiny_with(
        "task = [\"mnist1d:num_samples=1000\"]",
        &format!("task = [\"cifar10:path={}\"]", data_dir.display()),
    );
    let recipe = write(dir.path(), "bad.toml", &text);
    let out = lrcast(dir.path(), &["generate", recipe.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("data_batch_1.bin") && err.contains("3073"),
        "{err}"
    );
    assert!(!dir.path().join("datasets").exists(), "nothing written");
}

#[test]
fn too_many_epochs_are_refused_before_training() {
    rejects(
        &tiny_with("epochs = 3", "epochs = 1000000"),
        &["train.epochs", "up to 100000"],
    );
    rejects(
        &tiny_with("seed = [0]", "seed = [0]\nepochs = [2, 1000000]"),
        &["grid.epochs", "up to 100000"],
    );
}

/// `generate` with extra arguments on `recipe_text`: exit 2, the needles, nothing written.
fn rejects_args(recipe_text: &str, args: &[&str], needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", recipe_text);
    let mut all = vec!["generate", recipe.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = lrcast(dir.path(), &all);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    for needle in needles {
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }
    assert_eq!(entries_under(dir.path()), ["tiny.toml"]);
}

#[test]
fn a_stack_of_zero_runs() {
    rejects_args(
        TINY_RECIPE,
        &["--stack", "0"],
        &["--stack 0", "at least one member"],
    );
    rejects_args(
        TINY_RECIPE,
        &["--stack-memory", "0"],
        &["--stack-memory 0", "positive"],
    );
}

#[test]
fn a_recipe_stack_of_zero_runs_or_no_memory() {
    for (key, needles) in [
        ("stack = 0", ["train.stack", "at least one member"]),
        ("stack = -3", ["train.stack", "stack = 1"]),
        (
            "stack_memory_mib = 0",
            ["train.stack_memory_mib", "positive"],
        ),
        ("stack_memory_mib = -1", ["train.stack_memory_mib", "2048"]),
    ] {
        rejects(
            &tiny_with("epochs = 3", &format!("epochs = 3\n{key}")),
            &needles,
        );
    }
    rejects(
        &tiny_with("epochs = 3", "epochs = 3\nstack = \"all\""),
        &["bad.toml", "stack"],
    );
}

#[test]
fn a_recipe_stack_over_the_memory_budget() {
    // As below, with the size and the budget from the recipe.
    rejects(
        &tiny_with("mlp:hidden=32", "mlp:hidden=256")
            .replace("epochs = 3", "epochs = 3\nstack = 12\nstack_memory_mib = 1"),
        &[
            "train.stack 12",
            "memory budget of 1 MiB",
            "train.stack 1 or less",
        ],
    );
}

#[test]
fn a_stack_over_the_memory_budget() {
    // One 256-unit member needs about 0.5 MiB at batch 32: a budget of 1 MiB holds one.
    rejects_args(
        &tiny_with("mlp:hidden=32", "mlp:hidden=256"),
        &["--stack", "12", "--stack-memory", "1"],
        &[
            "--stack 12",
            "memory budget of 1 MiB",
            "make --stack 1 or less",
            "mlp:hidden=256",
        ],
    );
}

#[test]
fn predict_with_bad_queries_says_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let base = ["--task", "mnist1d", "--arch", "mlp"];
    let run = |extra: &[&str]| {
        let mut args = vec!["predict"];
        args.extend(extra);
        args.extend(base);
        lrcast(dir.path(), &args)
    };
    // No model directory.
    let out = run(&["--model", "models/none", "--policy", "cosine:lr=0.1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("lrcast fit"), "{}", stderr(&out));
    // A model directory whose models.json is not one.
    let models = dir.path().join("models/x");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::write(models.join("models.json"), "{}").unwrap();
    std::fs::write(models.join("recipe.toml"), TINY_RECIPE).unwrap();
    let out = run(&["--model", "models/x", "--policy", "cosine:lr=0.1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("refit"), "{}", stderr(&out));
}

#[test]
fn slurm_with_bad_values_writes_nothing() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (TINY_RECIPE, &["--array", "0"], &["--array 0", "1 to 12"]),
        (
            TINY_RECIPE,
            &["--array", "13"],
            &["--array 13", "12 runs", "--array 12 or fewer"],
        ),
        (
            TINY_RECIPE,
            &["--array", "2", "--time", "1:xx"],
            &["--time 1:xx", "1:30:00"],
        ),
        (
            TINY_RECIPE,
            &["--array", "2", "--mem", "4Q"],
            &["--mem 4Q", "e.g. 4G"],
        ),
        (
            TINY_RECIPE,
            &["--array", "2", "--cpus-per-task", "0"],
            &["--cpus-per-task 0", "at least 1"],
        ),
        (
            TINY_RECIPE,
            &["--array", "2", "--partition", "a b"],
            &["--partition a b", "sinfo"],
        ),
        (
            TINY_RECIPE,
            &["--array", "2", "--out", "say \"hi\""],
            &["--out", "#SBATCH --output"],
        ),
        (
            TINY_RECIPE,
            &["--array", "2", "--root", "tiny.toml"],
            &["--root", "is a file"],
        ),
        (
            &tiny_with("epochs = 3", "epochs = 0"),
            &["--array", "2"],
            &["tiny.toml", "epochs"],
        ),
    ];
    for (recipe_text, args, needles) in cases {
        let dir = tempfile::tempdir().unwrap();
        let recipe = write(dir.path(), "tiny.toml", recipe_text);
        let mut all = vec!["slurm", recipe.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = lrcast(dir.path(), &all);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one message: {err}");
        for needle in *needles {
            assert!(err.contains(needle), "{args:?}: `{needle}` not in: {err}");
        }
        assert_eq!(entries_under(dir.path()), ["tiny.toml"], "{args:?}");
    }
}

#[test]
fn zero_or_too_many_workers() {
    rejects_args(
        TINY_RECIPE,
        &["--jobs", "0"],
        &["--jobs 0", "at least one worker", "--jobs 1"],
    );
    rejects_args(
        TINY_RECIPE,
        &["--jobs", "100000"],
        &["--jobs 100000", "cores", "pass --jobs"],
    );
}

#[test]
fn plan_and_status_refuse_bad_flags_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let recipe = recipe.to_str().unwrap();
    write(dir.path(), "file", "");
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["plan", "nope.toml"],
            &["nope.toml", "experiments/default.toml"],
        ),
        (
            &["status", "nope.toml"],
            &["nope.toml", "experiments/default.toml"],
        ),
        (
            &["plan", recipe, "--shard", "3/2"],
            &["--shard 3/2", "0 ≤ I < N"],
        ),
        (&["plan", recipe, "--shard", "x"], &["--shard x", "I/N"]),
        (
            &["plan", recipe, "--sample", "0"],
            &["--sample 0", "--sample 1 or more"],
        ),
        (&["plan", recipe, "--stack", "0"], &["--stack 0", "pass 1"]),
        (
            &["plan", recipe, "--stack-memory", "0"],
            &["--stack-memory 0"],
        ),
        (&["plan", recipe, "--device", "tpu"], &["--device tpu"]),
        (
            &["plan", recipe, "--root", "file"],
            &["--root file", "not a directory"],
        ),
        (
            &["status", recipe, "--root", "file"],
            &["--root file", "not a directory"],
        ),
    ];
    for (args, needles) in cases {
        let out = lrcast(dir.path(), args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        for needle in *needles {
            assert!(err.contains(needle), "{args:?}: `{needle}` not in {err}");
        }
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(entries_under(dir.path()), ["file", "tiny.toml"], "{args:?}");
    }
}
