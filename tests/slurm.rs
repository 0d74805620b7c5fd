//! `lrcast slurm` end to end: the scripts it writes, and a real job array on a private
//! single-node Slurm cluster (tests/slurm_cluster.rs) that trains a tiny recipe shard by shard,
//! then fits and reports in the dependent job.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use lrcast::corpus::CorpusStore;

use crate::common::{TINY_RECIPE, files_under, lrcast, stderr, stdout, write};
use crate::slurm_cluster::{PACKAGES, SlurmCluster};

/// The cluster, or `None` with the reason printed; with LRCAST_REQUIRE_SLURM=1 (CI) a cluster
/// that cannot start is a failure, because a skipped scale-out test is not a pass.
fn cluster_or_skip() -> Option<SlurmCluster> {
    match SlurmCluster::start() {
        Ok(cluster) => Some(cluster),
        Err(why) if std::env::var("LRCAST_REQUIRE_SLURM").as_deref() == Ok("1") => {
            panic!("LRCAST_REQUIRE_SLURM=1 but no Slurm cluster could start: {why}")
        }
        Err(why) => {
            // Straight to the stream, not eprintln!: the test harness hides what passing tests
            // print, and a skip must be seen.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED the Slurm test: {why}\n(it needs the packages {PACKAGES}; CI sets \
                 LRCAST_REQUIRE_SLURM=1 to make this a failure)"
            );
            None
        }
    }
}

/// Every log the jobs wrote, for failure messages.
fn job_logs(logs: &Path) -> String {
    files_under(logs)
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(logs.join(f)).unwrap_or_default();
            format!("--- {}\n{text}", f.display())
        })
        .collect()
}

/// The number after `marker` in `text` (a job id in submit.sh's output).
fn number_after<'a>(text: &'a str, marker: &str) -> &'a str {
    let rest = &text[text.find(marker).expect(marker) + marker.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    assert!(end > 0, "no number after `{marker}` in {text}");
    &rest[..end]
}

#[test]
fn slurm_writes_executable_scripts_that_bash_parses() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write(dir.path(), "tiny.toml", TINY_RECIPE);
    let out = lrcast(
        dir.path(),
        &["slurm", recipe.to_str().unwrap(), "--array", "5"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let scripts = dir.path().join("slurm/tiny");
    let printed = stdout(&out);
    assert!(
        printed.contains("12 runs as 5 array tasks (2–3 runs each)"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("bash '{}/submit.sh'", scripts.display())),
        "{printed}"
    );
    for name in ["generate.sbatch", "fit_report.sbatch", "submit.sh"] {
        let path = scripts.join(name);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{name} is not executable");
        let check = std::process::Command::new("bash")
            .arg("-n")
            .arg(&path)
            .output()
            .unwrap();
        assert!(check.status.success(), "{name}: {}", stderr(&check));
    }
    assert!(scripts.join("logs").is_dir());
    // Nothing else: no corpus, models or report yet.
    let written: BTreeSet<_> = files_under(dir.path()).into_iter().collect();
    assert_eq!(written.len(), 4, "{written:?}");
}

#[test]
fn slurm_job_array_generates_the_plan_then_fits_and_reports() {
    let Some(cluster) = cluster_or_skip() else {
        return;
    };
    let base = tempfile::tempdir().unwrap();
    // A root with a space and a quote: the scripts must quote every path.
    let root = base.path().join("my runs/it's");
    std::fs::create_dir_all(&root).unwrap();
    write(&root, "tiny.toml", TINY_RECIPE);
    let out = lrcast(
        base.path(),
        &[
            "slurm",
            "my runs/it's/tiny.toml",
            "--array",
            "4",
            "--root",
            "my runs/it's",
            "--time",
            "10",
        ],
    );
    assert!(out.status.success(), "lrcast slurm: {}", stderr(&out));
    let scripts = root.join("slurm/tiny");
    let logs = scripts.join("logs");

    // Submit from another directory: the scripts hold absolute paths.
    let submit = cluster
        .command("bash")
        .arg(scripts.join("submit.sh"))
        .current_dir("/")
        .output()
        .unwrap();
    let printed = stdout(&submit);
    assert!(
        submit.status.success(),
        "submit.sh: {printed}{}",
        stderr(&submit)
    );
    let array = number_after(&printed, "job array ");
    let last = number_after(&printed, "fit + report: job ");

    let waited = cluster.wait_until_idle(Duration::from_secs(600));
    let jobs: Vec<String> = [array, last]
        .iter()
        .flat_map(|id| cluster.show_job(id))
        .collect();
    let context = format!(
        "{}\njobs:\n{}\n{}",
        waited.err().unwrap_or_default(),
        jobs.join("\n"),
        job_logs(&logs)
    );
    // Four array tasks and the dependent job, each completed with exit code 0.
    assert_eq!(jobs.len(), 5, "{context}");
    for job in &jobs {
        assert!(
            job.contains("JobState=COMPLETED") && job.contains("ExitCode=0:0"),
            "{context}"
        );
    }
    let tasks = jobs
        .iter()
        .filter(|j| j.contains(&format!("ArrayJobId={array} ")))
        .count();
    assert_eq!(tasks, 4, "{context}");
    // The dependent job started after the last task ended (ISO times compare as text).
    let field = |job: &str, key: &str| {
        job.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} not in {job}"))
            .to_string()
    };
    let final_job = jobs
        .iter()
        .find(|j| j.starts_with(&format!("JobId={last} ")))
        .unwrap_or_else(|| panic!("job {last} not listed: {context}"));
    let tasks_end = jobs
        .iter()
        .filter(|j| j.contains(&format!("ArrayJobId={array} ")))
        .map(|j| field(j, "EndTime="))
        .max()
        .unwrap();
    assert!(field(final_job, "StartTime=") >= tasks_end, "{context}");

    // Each task trained its own shard, read from the Slurm variables.
    for task in 0..4 {
        let log = std::fs::read_to_string(logs.join(format!("generate_{array}_{task}.out")))
            .unwrap_or_else(|e| panic!("log of task {task}: {e}\n{context}"));
        assert!(log.contains(&format!("shard {task}/4: 3 of")), "{log}");
    }
    assert!(
        logs.join(format!("fit_report_{last}.out")).exists(),
        "{context}"
    );

    // The corpus holds exactly the plan's runs: none missing, none twice, no temporary file.
    let plan = lrcast::recipe::load(&root.join("tiny.toml")).unwrap();
    let planned: BTreeSet<String> = plan.runs.iter().map(|r| r.run_id.clone()).collect();
    assert_eq!(planned.len(), 12);
    let store = CorpusStore::new(&root, "tiny");
    assert_eq!(store.existing_run_ids().unwrap(), planned, "{context}");
    let df = store.scan().unwrap();
    assert_eq!(df.height(), 12, "{context}");
    let table = lrcast::corpus::CorpusTable::from_dataframe(&df).unwrap();
    let ids: BTreeSet<String> = table.text("run_id").unwrap().iter().cloned().collect();
    assert_eq!(ids, planned);
    assert!(
        files_under(&root)
            .iter()
            .all(|p| !p.to_string_lossy().contains(".tmp-")),
        "{:?}",
        files_under(&root)
    );

    // The dependent job fitted and reported.
    assert!(root.join("models/tiny/fit.json").is_file(), "{context}");
    let html = std::fs::read_to_string(root.join("reports/tiny/report.html")).unwrap();
    assert!(html.ends_with("</html>\n"));
}
