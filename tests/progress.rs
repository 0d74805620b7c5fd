//! What `generate` tells a user while it runs: plain progress lines when stderr is not a terminal
//! (as in these tests, a log file or a Slurm job), nothing with `--quiet`, and on an interrupt how
//! many runs are saved and that a rerun resumes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TINY_RECIPE, lrcast, stderr, write};

#[test]
fn plain_progress_lines_without_a_terminal_and_none_when_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let out = lrcast(dir.path(), &["generate", recipe.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("12/12 runs trained") && err.contains("runs/s") && err.contains("ETA"),
        "{err}"
    );
    let quiet = tempfile::tempdir().unwrap();
    let recipe = write(quiet.path(), "tiny.toml", TINY_RECIPE);
    let out = lrcast(quiet.path(), &["generate", recipe.to_str().unwrap(), "-q"]);
    assert!(out.status.success());
    assert_eq!(stderr(&out), "");
}

#[test]
fn an_interrupt_says_what_is_saved_and_a_rerun_resumes() {
    // Long enough to be interrupted midway: 8 seeds × the tiny grid, trained alone.
    let recipe_text = TINY_RECIPE
        .replace("seed = [0]", "seed = [0, 1, 2, 3, 4, 5, 6, 7]")
        .replace("epochs = 3", "epochs = 6");
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", &recipe_text);
    let runs = dir.path().join("datasets/corpus/tiny/runs");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lrcast"))
        .args(["generate", recipe.to_str().unwrap(), "--stack", "1"])
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_ARRAY_TASK_COUNT")
        .current_dir(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let parts = || {
        std::fs::read_dir(&runs)
            .map(|d| {
                d.flatten()
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .count()
            })
            .unwrap_or(0)
    };
    while parts() < 2 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the interrupt"
        );
        assert!(start.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGINT, as Ctrl-C sends.
    send_signal(child.id(), 2);
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted:") && err.contains("saved in") && err.contains("resume"),
        "{err}"
    );
    let saved = parts();
    assert!((2..96).contains(&saved), "{saved}");
    let out = lrcast(
        dir.path(),
        &["generate", recipe.to_str().unwrap(), "--stack", "1"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("skipped {saved} already done")),
        "{}",
        stderr(&out)
    );
    assert_eq!(parts(), 96);
}

/// Send `signal` to `pid` with the `kill` command.
fn send_signal(pid: u32, signal: i32) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
