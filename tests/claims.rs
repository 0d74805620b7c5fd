//! Crash and concurrency safety of `generate`: `kill -9` at several moments, two and three
//! processes on one corpus, claims left by dead and held by live workers, damaged parts, a full
//! disk and unwritable outputs; `--jobs` gives the same runs as one worker.

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use lrcast::corpus::claims::CLAIM_LEASE;
use lrcast::corpus::quarantine::check_part;
use lrcast::corpus::{CorpusStore, CorpusTable};

use crate::common::{TINY_RECIPE, files_under, lrcast, stderr, write};

/// The plan's run ids.
fn plan_ids(recipe: &Path) -> BTreeSet<String> {
    lrcast::recipe::load(recipe)
        .unwrap()
        .runs
        .into_iter()
        .map(|r| r.run_id)
        .collect()
}

/// The corpus's run ids, after checking that every part is sound and no temporary file is left.
fn sound_corpus(root: &Path) -> BTreeSet<String> {
    let store = CorpusStore::new(root, "tiny");
    for part in store.run_files().unwrap() {
        assert_eq!(check_part(&part), Ok(()), "{}", part.display());
    }
    let runs = files_under(&store.runs_dir());
    assert!(
        runs.iter().all(|p| !p.to_string_lossy().contains(".tmp-")),
        "{runs:?}"
    );
    store.existing_run_ids().unwrap()
}

/// The N of "trained N runs" in a generate's status line.
fn trained(out: &Output) -> usize {
    let err = stderr(out);
    let at = err
        .find("trained ")
        .unwrap_or_else(|| panic!("no summary: {err}"));
    err[at + 8..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn generate(dir: &Path, recipe: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lrcast"));
    command
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_ARRAY_TASK_COUNT")
        .arg("generate")
        .arg(recipe)
        .args(extra)
        .current_dir(dir);
    command
}

/// Part files with their modification times and sizes.
fn stamps(root: &Path) -> Vec<(PathBuf, SystemTime, u64)> {
    CorpusStore::new(root, "tiny")
        .run_files()
        .unwrap()
        .into_iter()
        .map(|p| {
            let m = std::fs::metadata(&p).unwrap();
            (p, m.modified().unwrap(), m.len())
        })
        .collect()
}

/// A slower tiny recipe, so that a kill lands between parts: 12 runs trained one at a time.
fn slow_recipe() -> String {
    TINY_RECIPE
        .replace("mnist1d:num_samples=1000", "mnist1d:num_samples=4000")
        .replace("epochs = 3", "epochs = 8")
}

#[test]
fn kill_9_at_several_moments_loses_at_most_the_runs_in_flight() {
    for parts_before_kill in [0, 1, 5] {
        let dir = tempfile::tempdir().unwrap();
        let recipe = write(dir.path(), "tiny.toml", &slow_recipe());
        let plan = plan_ids(&recipe);
        let runs = CorpusStore::new(dir.path(), "tiny").runs_dir();
        let mut child: Child = generate(dir.path(), &recipe, &["--stack", "1", "-q"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait for the moment: its claims directory exists (training started) and enough parts.
        let claims = runs.with_file_name("claims");
        let start = Instant::now();
        loop {
            let parts = CorpusStore::new(dir.path(), "tiny")
                .run_files()
                .map_or(0, |f| f.len());
            if claims.exists() && parts >= parts_before_kill {
                break;
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "generate finished before {parts_before_kill} parts could be caught"
            );
            assert!(start.elapsed() < Duration::from_secs(120), "no progress");
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let survivors = sound_corpus(dir.path());
        assert!(survivors.is_subset(&plan));
        assert!(survivors.len() < plan.len(), "killed before the end");
        let before = stamps(dir.path());
        // Rerun: takes over the dead worker's claims at once (same machine), trains only the
        // rest, rewrites nothing.
        let out = generate(dir.path(), &recipe, &["--stack", "1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            trained(&out),
            plan.len() - survivors.len(),
            "{}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("left to other workers"));
        assert_eq!(sound_corpus(dir.path()), plan);
        let after = stamps(dir.path());
        for part in &before {
            assert!(after.contains(part), "{} rewritten", part.0.display());
        }
        assert_eq!(
            CorpusStore::new(dir.path(), "tiny")
                .scan()
                .unwrap()
                .height(),
            12
        );
        // No claim outlives its run (a temporary file of the killed process may: it goes by age).
        let left: Vec<PathBuf> = files_under(&claims)
            .into_iter()
            .filter(|p| !p.to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

#[test]
fn concurrent_generates_train_every_run_exactly_once() {
    for processes in [2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let recipe = write(dir.path(), "tiny.toml", &slow_recipe());
        let plan = plan_ids(&recipe);
        // Stacks of 2 so that the processes interleave; the third one runs two workers.
        let children: Vec<Child> = (0..processes)
            .map(|k| {
                let jobs = if k == 2 { "2" } else { "1" };
                generate(dir.path(), &recipe, &["--stack", "2", "--jobs", jobs])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        for out in &outs {
            assert!(out.status.success(), "{}", stderr(out));
        }
        let total: usize = outs.iter().map(trained).sum();
        let all: Vec<String> = outs.iter().map(stderr).collect();
        assert_eq!(total, plan.len(), "each run trained once: {all:#?}");
        assert_eq!(sound_corpus(dir.path()), plan);
        assert_eq!(
            CorpusStore::new(dir.path(), "tiny")
                .scan()
                .unwrap()
                .height(),
            12
        );
    }
}

/// A claim file as another worker writes it.
fn claim_text(pid: u32, boot_id: &str, start: u64) -> String {
    let pid_ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    format!(
        "host=elsewhere\npid={pid}\nboot_id={boot_id}\npid_ns={}\nstart={start}\n\
         token=00000000000000aa\nsince=0\n",
        pid_ns.display()
    )
}

#[test]
fn stale_and_dead_claims_are_taken_over_and_live_ones_respected() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let ids: Vec<String> = plan_ids(&recipe).into_iter().collect();
    let claims = dir.path().join("datasets/corpus/tiny/claims");
    std::fs::create_dir_all(&claims).unwrap();
    let claim = |id: &str| claims.join(format!("{id}.claim"));
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let boot_id = boot_id.trim();
    // Live: a worker on another machine renewing its claim, and a live process on this one.
    std::fs::write(claim(&ids[0]), claim_text(1, "another-machine", 0)).unwrap();
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", sleeper.id())).unwrap();
    let start: u64 = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    std::fs::write(claim(&ids[1]), claim_text(sleeper.id(), boot_id, start)).unwrap();
    // Dead: a lease that ran out on another machine, and a process of this machine that is gone
    // (a pid with another start time: it was reused, or never ran).
    std::fs::write(claim(&ids[2]), claim_text(1, "another-machine", 0)).unwrap();
    std::fs::File::options()
        .write(true)
        .open(claim(&ids[2]))
        .unwrap()
        .set_modified(SystemTime::now() - 2 * CLAIM_LEASE)
        .unwrap();
    std::fs::write(claim(&ids[3]), claim_text(sleeper.id(), boot_id, start + 1)).unwrap();

    let out = lrcast(dir.path(), &["generate", recipe.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(trained(&out), 10, "{err}");
    assert!(err.contains("2 left to other workers"), "{err}");
    let done = sound_corpus(dir.path());
    assert!(
        !done.contains(&ids[0]) && !done.contains(&ids[1]),
        "{done:?}"
    );
    assert!(done.contains(&ids[2]) && done.contains(&ids[3]));
    // The live claims stay theirs; the taken-over ones were released with their runs.
    assert!(claim(&ids[0]).exists() && claim(&ids[1]).exists());
    assert!(!claim(&ids[2]).exists() && !claim(&ids[3]).exists());
    // An old claim never makes a run count as done: once its owner is gone, the run is trained.
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    std::fs::File::options()
        .write(true)
        .open(claim(&ids[0]))
        .unwrap()
        .set_modified(SystemTime::now() - 2 * CLAIM_LEASE)
        .unwrap();
    let out = lrcast(dir.path(), &["generate", recipe.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(trained(&out), 2, "{}", stderr(&out));
    assert_eq!(done.len() + 2, sound_corpus(dir.path()).len());
    assert!(
        files_under(&claims).is_empty(),
        "{:?}",
        files_under(&claims)
    );
}

#[test]
fn damaged_parts_are_quarantined_and_trained_again() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let recipe = recipe.to_str().unwrap();
    let out = lrcast(dir.path(), &["generate", recipe, "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let store = CorpusStore::new(dir.path(), "tiny");
    let parts = store.run_files().unwrap();
    let bytes = std::fs::read(&parts[3]).unwrap();
    std::fs::write(&parts[3], &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(&parts[7], b"not a parquet file at all").unwrap();
    // A temporary file of a writer in flight is never touched.
    let in_flight = store.runs_dir().join(".abc.parquet.tmp-nodeb-1-00ff");
    std::fs::write(&in_flight, b"partial").unwrap();
    let before = stamps(dir.path());

    let out = lrcast(dir.path(), &["generate", recipe, "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("moved 2 damaged corpus parts"),
        "{err}"
    );
    for part in [&parts[3], &parts[7]] {
        let name = part.file_name().unwrap().to_string_lossy();
        assert!(warnings[0].contains(name.as_ref()), "{err}");
    }
    let quarantine = dir.path().join("datasets/corpus/tiny/quarantine");
    assert_eq!(files_under(&quarantine).len(), 2);
    assert!(in_flight.exists());
    std::fs::remove_file(&in_flight).unwrap();
    assert_eq!(sound_corpus(dir.path()).len(), 12);
    // The other parts were left as they were; the two damaged runs were trained again.
    let after = stamps(dir.path());
    let kept = before.iter().filter(|p| after.contains(p)).count();
    assert_eq!(kept, 10);
    let out = lrcast(dir.path(), &["fit", recipe, "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("skipped"), "{}", stderr(&out));
}

#[test]
fn jobs_give_the_same_runs_as_one_worker_and_a_resumed_run_its_fresh_value() {
    let mut tables = Vec::new();
    let mut dirs = Vec::new();
    for jobs in ["1", "2"] {
        let dir = tempfile::tempdir().unwrap();
        let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
        let out = lrcast(
            dir.path(),
            &["generate", recipe.to_str().unwrap(), "--jobs", jobs],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(trained(&out), 12, "{}", stderr(&out));
        tables.push(values(dir.path()));
        dirs.push((dir, recipe));
    }
    assert_eq!(tables[0].len(), 12);
    assert_eq!(tables[0], tables[1]);
    // One run of a stack deleted and trained again, now alone in its stack: the same values.
    let (dir, recipe) = &dirs[0];
    let parts = CorpusStore::new(dir.path(), "tiny").run_files().unwrap();
    std::fs::remove_file(&parts[5]).unwrap();
    let out = lrcast(dir.path(), &["generate", recipe.to_str().unwrap()]);
    assert_eq!(trained(&out), 1, "{}", stderr(&out));
    assert_eq!(values(dir.path()), tables[0]);
}

/// Every run's id, final metrics and curves, bit for bit.
fn values(root: &Path) -> Vec<(String, u64, u64, Vec<u64>)> {
    let table =
        CorpusTable::from_dataframe(&CorpusStore::new(root, "tiny").scan().unwrap()).unwrap();
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let mut rows: Vec<_> = table
        .text("run_id")
        .unwrap()
        .iter()
        .zip(table.values("top1").unwrap())
        .zip(table.values("train_loss").unwrap())
        .zip(&table.curves["curve_train_loss"])
        .map(|(((id, top1), loss), curve)| {
            (id.clone(), top1.to_bits(), loss.to_bits(), bits(curve))
        })
        .collect();
    rows.sort();
    rows
}

/// `generate` under a file size limit (`RLIMIT_FSIZE`, which binds root too; SIGXFSZ ignored so
/// writes fail with EFBIG instead of killing the process).
fn generate_with_file_limit(dir: &Path, recipe: &Path, bytes: u64) -> Output {
    let mut command = generate(dir, recipe, &[]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0
                || libc::signal(libc::SIGXFSZ, libc::SIG_IGN) == libc::SIG_ERR
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.output().unwrap()
}

#[test]
fn a_file_size_limit_is_found_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let out = generate_with_file_limit(dir.path(), &recipe, 16 * 1024);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("not writable") && err.contains("File too large") && err.contains("--root"),
        "{err}"
    );
    assert!(!err.contains("trained"), "nothing trained: {err}");
    assert_eq!(files_under(dir.path()), vec![PathBuf::from("tiny.toml")]);
}

/// `generate --root DIR` with DIR on a fresh tmpfs of `size`, in a private mount namespace
/// (`unshare -rm`: no privileges needed where user namespaces are allowed, and nothing to unmount);
/// the tmpfs's content is copied to `copy` afterwards. `None` when this machine cannot mount one.
fn generate_on_small_tmpfs(recipe: &Path, size: &str, copy: &Path) -> Option<Output> {
    let mount_point = tempfile::tempdir().unwrap();
    let script = r#"mount -t tmpfs -o size="$1" tmpfs "$2" || exit 99
"$3" generate "$4" --root "$2" --stack 1; rc=$?; cp -a "$2/." "$5/"; exit $rc"#;
    let out = Command::new("unshare")
        .args(["-rm", "sh", "-c", script, "sh", size])
        .arg(mount_point.path())
        .arg(env!("CARGO_BIN_EXE_lrcast"))
        .arg(recipe)
        .arg(copy)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_ARRAY_TASK_COUNT")
        .output();
    match out {
        Ok(out)
            if out.status.code() == Some(99)
                || out.status.code() == Some(1) && stderr(&out).starts_with("unshare") =>
        {
            eprintln!(
                "skipped: cannot mount a tmpfs in a user namespace here ({})",
                stderr(&out).trim()
            );
            None
        }
        Ok(out) => Some(out),
        Err(e) => {
            eprintln!("skipped: `unshare` cannot run here ({e})");
            None
        }
    }
}

#[test]
fn a_disk_that_fills_up_stops_generate_without_a_partial_part() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    // Full from the start: refused before training, nothing left.
    let copy = dir.path().join("full");
    std::fs::create_dir(&copy).unwrap();
    let Some(out) = generate_on_small_tmpfs(&recipe, "32k", &copy) else {
        return;
    };
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("No space left on device") && err.contains("not writable"),
        "{err}"
    );
    assert!(files_under(&copy).is_empty(), "{:?}", files_under(&copy));
    // Room for the probe and a few parts (≈ 35 KB each), not for 12: fails on a write, exit 1,
    // names the file and the fix; the parts written are whole and a rerun elsewhere completes.
    let copy = dir.path().join("partial");
    std::fs::create_dir(&copy).unwrap();
    let out = generate_on_small_tmpfs(&recipe, "256k", &copy).unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot write")
            && err.contains("No space left on device")
            && err.contains("free space"),
        "{err}"
    );
    let written = sound_corpus(&copy);
    assert!(!written.is_empty() && written.len() < 12, "{written:?}");
    let out = generate(dir.path(), &recipe, &["--root", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(trained(&out), 12 - written.len(), "{}", stderr(&out));
    assert_eq!(sound_corpus(&copy), plan_ids(&recipe));
}

#[test]
fn unwritable_corpus_directories_are_refused_before_training() {
    // A path below a regular file cannot be created, even by root: the corpus root, and the
    // claims directory of an existing corpus.
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    write(dir.path(), "file", "");
    let out = lrcast(
        dir.path(),
        &[
            "generate",
            recipe.to_str().unwrap(),
            "--root",
            "file/out",
            "--jobs",
            "2",
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("file/out") && err.contains("not writable"),
        "{err}"
    );
    std::fs::create_dir_all(dir.path().join("datasets/corpus/tiny/runs")).unwrap();
    write(dir.path(), "datasets/corpus/tiny/claims", "");
    let out = lrcast(dir.path(), &["generate", recipe.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("claims") && err.contains("not writable"),
        "{err}"
    );
    assert!(!err.contains("trained"), "{err}");
    assert!(files_under(&dir.path().join("datasets/corpus/tiny/runs")).is_empty());
}
