//! Shared helpers: run the binary, write recipes into temporary directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A tiny but real recipe: 12 runs of a 32-unit MLP on 1000 MNIST-1D samples, 3 epochs at batch 32.
pub const TINY_RECIPE: &str = r#"
name = "tiny"
description = "integration-test recipe"

[grid]
task = ["mnist1d:num_samples=1000"]
arch = ["mlp:hidden=32"]
policy = ["constant", "cosine", "step:step_size=1ep,gamma=0.5"]
base_lr = [0.003, 0.03, 0.3, 30.0]
weight_decay = [0.0]
batch_size = [32]
seed = [0]

[train]
epochs = 3

[fit]
holdout = ["base_lr"]
quantile = 0.2
"#;

/// Run `lrcast` with `args` in `cwd`.
pub fn lrcast(cwd: &Path, args: &[&str]) -> Output {
    // A test run inside a Slurm job array must not shard the tests' own generates.
    Command::new(env!("CARGO_BIN_EXE_lrcast"))
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_ARRAY_TASK_COUNT")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run lrcast")
}

/// Write `text` to `dir/name` and return the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `dir`, recursively, relative.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// Every file and directory under `dir`, recursively, relative; directories end in `/`. Bad input
/// must leave no new folder behind, which [`files_under`] cannot see.
pub fn entries_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            let name = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                out.push(format!("{name}/"));
                stack.push(p);
            } else {
                out.push(name);
            }
        }
    }
    out.sort();
    out
}
