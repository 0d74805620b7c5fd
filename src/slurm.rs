//! `lrcast slurm`: ready-to-submit Slurm batch scripts for one recipe — a job array whose tasks
//! each generate one shard of the plan, a job that fits and reports once every task has succeeded,
//! and `submit.sh`, which submits the two with the dependency between them.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::recipe::Plan;
use crate::recipe::shard::Shard;

/// File names written into the output directory.
pub const GENERATE_SCRIPT: &str = "generate.sbatch";
pub const FIT_REPORT_SCRIPT: &str = "fit_report.sbatch";
pub const SUBMIT_SCRIPT: &str = "submit.sh";
/// Where the jobs' output goes: Slurm does not create it, and a job whose output directory is
/// missing fails without a word, so lrcast creates it (and `submit.sh` again).
pub const LOGS_DIR: &str = "logs";

/// What the command line asked for, unchecked.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Tasks of the job array (one shard each).
    pub array: usize,
    pub partition: Option<&'a str>,
    pub time: Option<&'a str>,
    pub cpus_per_task: u32,
    pub mem: Option<&'a str>,
    /// The recipe as given (relative to the working directory).
    pub recipe: &'a Path,
    /// `--root` as given.
    pub root: &'a Path,
    /// `--out` as given; default `ROOT/slurm/NAME`.
    pub out: Option<&'a Path>,
    /// The lrcast binary the jobs run.
    pub binary: &'a Path,
}

/// A checked request: every value the scripts hold, paths absolute.
#[derive(Debug, Clone, PartialEq)]
pub struct SlurmJob {
    pub experiment: String,
    /// Runs in the plan.
    pub runs: usize,
    pub array: usize,
    pub partition: Option<String>,
    pub time: Option<String>,
    pub cpus_per_task: u32,
    pub mem: Option<String>,
    pub binary: String,
    pub recipe: String,
    pub root: String,
    /// The directory the scripts are written to.
    pub out: String,
}

fn bad(flag: &str, value: impl std::fmt::Display, message: impl Into<String>) -> Error {
    Error::BadArgument {
        flag: flag.into(),
        value: value.to_string(),
        message: message.into(),
    }
}

impl SlurmJob {
    /// Check every value against the plan before anything is written.
    pub fn new(plan: &Plan, request: &Request<'_>) -> Result<Self> {
        let runs = plan.runs.len();
        if runs == 0 {
            return Err(Error::recipe_value(
                &plan.source,
                "grid",
                "(no runs)",
                "the recipe has no runs to train (its runs are imported); run `lrcast import`, \
                 `lrcast fit` and `lrcast report` directly",
            ));
        }
        if request.array == 0 {
            return Err(bad(
                "--array",
                0,
                format!("give the number of array tasks, 1 to {runs} (the plan's runs)"),
            ));
        }
        if request.array > runs {
            // A task beyond the run count would get an empty shard and hold a node for nothing.
            return Err(bad(
                "--array",
                request.array,
                format!(
                    "the plan of `{}` has {runs} runs, so at most {runs} array tasks have work; \
                     use --array {runs} or fewer",
                    plan.name
                ),
            ));
        }
        if request.cpus_per_task == 0 {
            return Err(bad("--cpus-per-task", 0, "give at least 1 CPU per task"));
        }
        if let Some(p) = request.partition {
            check_partition(p)?;
        }
        if let Some(t) = request.time {
            check_time(t)?;
        }
        if let Some(m) = request.mem {
            check_mem(m)?;
        }
        let absolute = |flag: &str, path: &Path| -> Result<PathBuf> {
            std::path::absolute(path).map_err(|e| bad(flag, path.display(), e.to_string()))
        };
        let recipe = absolute("RECIPE", request.recipe)?;
        let root = absolute("--root", request.root)?;
        let out = match request.out {
            Some(out) => absolute("--out", out)?,
            None => root.join("slurm").join(&plan.name),
        };
        if out.exists() && !out.is_dir() {
            return Err(bad(
                "--out",
                out.display(),
                "is a file; give a directory for the scripts",
            ));
        }
        if root.exists() && !root.is_dir() {
            return Err(bad(
                "--root",
                root.display(),
                "is a file; give the directory that holds (or will hold) datasets/, models/ and reports/",
            ));
        }
        let out_flag = if request.out.is_some() {
            "--out"
        } else {
            "--root"
        };
        Ok(Self {
            experiment: plan.name.clone(),
            runs,
            array: request.array,
            partition: request.partition.map(String::from),
            time: request.time.map(String::from),
            cpus_per_task: request.cpus_per_task,
            mem: request.mem.map(String::from),
            binary: script_path("the lrcast binary", request.binary, false)?,
            recipe: script_path("RECIPE", &recipe, false)?,
            root: script_path("--root", &root, false)?,
            // The log directory goes into `#SBATCH --output="…"`, which has no escapes.
            out: script_path(out_flag, &out, true)?,
        })
    }

    /// The directory the scripts go to.
    pub fn out_dir(&self) -> PathBuf {
        PathBuf::from(&self.out)
    }

    /// The smallest and largest number of runs an array task trains.
    pub fn runs_per_task(&self) -> (usize, usize) {
        let sizes = (0..self.array).map(|index| {
            Shard {
                index,
                count: self.array,
            }
            .range(self.runs)
            .len()
        });
        (sizes.clone().min().unwrap_or(0), sizes.max().unwrap_or(0))
    }

    fn logs(&self) -> String {
        format!("{}/{LOGS_DIR}", self.out.trim_end_matches('/'))
    }

    fn script(&self, name: &str) -> String {
        format!("{}/{name}", self.out.trim_end_matches('/'))
    }

    /// `#SBATCH` lines for the resources both jobs ask for.
    fn resources(&self) -> String {
        let mut lines = format!("#SBATCH --cpus-per-task={}\n", self.cpus_per_task);
        for (flag, value) in [
            ("partition", &self.partition),
            ("time", &self.time),
            ("mem", &self.mem),
        ] {
            if let Some(v) = value {
                lines.push_str(&format!("#SBATCH --{flag}={v}\n"));
            }
        }
        lines
    }

    /// `#SBATCH --output` for a log file name with Slurm's patterns (`%A`, `%a`, `%j`): the
    /// directory's own `%` are doubled so Slurm does not read them as patterns.
    fn output(&self, file: &str) -> String {
        format!(
            "#SBATCH --output=\"{}/{file}\"\n",
            self.logs().replace('%', "%%")
        )
    }

    /// The lines every job runs first: strict shell, lrcast's threads, the root as the working
    /// directory.
    fn prologue(&self) -> String {
        format!(
            "set -euo pipefail\n\
             # lrcast's worker threads (rayon) follow the CPUs Slurm gave the task, not the node's cores.\n\
             export RAYON_NUM_THREADS=\"${{SLURM_CPUS_PER_TASK:-{}}}\"\n\
             mkdir -p -- {root}\n\
             cd -- {root}\n",
            self.cpus_per_task,
            root = sh(&self.root),
        )
    }

    /// `generate.sbatch`: the job array; lrcast picks each task's shard from the Slurm variables.
    pub fn generate_script(&self) -> String {
        format!(
            "#!/bin/bash\n\
             # lrcast slurm: train the {runs} runs of experiment `{name}` as {n} array tasks, one shard each.\n\
             # Each task runs `lrcast generate`, which reads its shard from SLURM_ARRAY_TASK_ID / _MIN / _COUNT\n\
             # and skips runs already in the corpus, so a failed task can be resubmitted alone (--array=I).\n\
             #SBATCH --job-name=lrcast-generate-{name}\n\
             #SBATCH --array=0-{last}\n\
             {resources}{output}\n\
             {prologue}\
             exec {binary} generate {recipe} --root {root}\n",
            runs = self.runs,
            name = self.experiment,
            n = self.array,
            last = self.array - 1,
            resources = self.resources(),
            output = self.output("generate_%A_%a.out"),
            prologue = self.prologue(),
            binary = sh(&self.binary),
            recipe = sh(&self.recipe),
            root = sh(&self.root),
        )
    }

    /// `fit_report.sbatch`: fit and report, submitted by `submit.sh` with
    /// `--dependency=afterok:<array job>`.
    pub fn fit_report_script(&self) -> String {
        format!(
            "#!/bin/bash\n\
             # lrcast slurm: fit the predictors and write the report of experiment `{name}`.\n\
             # submit.sh submits it with --dependency=afterok:<generate array job>: it starts once\n\
             # every array task has succeeded, and is cancelled if one fails.\n\
             #SBATCH --job-name=lrcast-fit-report-{name}\n\
             #SBATCH --kill-on-invalid-dep=yes\n\
             {resources}{output}\n\
             {prologue}\
             {binary} fit {recipe} --root {root}\n\
             exec {binary} report {recipe} --root {root}\n",
            name = self.experiment,
            resources = self.resources(),
            output = self.output("fit_report_%j.out"),
            prologue = self.prologue(),
            binary = sh(&self.binary),
            recipe = sh(&self.recipe),
            root = sh(&self.root),
        )
    }

    /// `submit.sh`: submit the array, then fit + report after it; print both job ids.
    pub fn submit_script(&self) -> String {
        let logs = sh(&self.logs());
        format!(
            "#!/bin/bash\n\
             # lrcast slurm: submit experiment `{name}`: the generate job array ({n} tasks), then fit + report\n\
             # once every task has succeeded. Run it from any directory: bash {submit}\n\
             set -euo pipefail\n\
             # Slurm does not create the log directory; a job whose log cannot be opened fails silently.\n\
             mkdir -p -- {logs}\n\
             # --parsable prints JOBID or JOBID;CLUSTER.\n\
             array=$(sbatch --parsable {generate})\n\
             array=${{array%%;*}}\n\
             final=$(sbatch --parsable --dependency=afterok:\"$array\" {fit_report})\n\
             final=${{final%%;*}}\n\
             printf 'generate: job array %s, {n} tasks (logs: %s/generate_%s_<task>.out)\\n' \"$array\" {logs} \"$array\"\n\
             printf 'fit + report: job %s, after every task of job %s succeeds (log: %s/fit_report_%s.out)\\n' \"$final\" \"$array\" {logs} \"$final\"\n\
             printf 'watch: squeue -j %s,%s\\n' \"$array\" \"$final\"\n",
            name = self.experiment,
            n = self.array,
            submit = sh(&self.script(SUBMIT_SCRIPT)),
            generate = sh(&self.script(GENERATE_SCRIPT)),
            fit_report = sh(&self.script(FIT_REPORT_SCRIPT)),
        )
    }

    /// The command that submits everything.
    pub fn submit_command(&self) -> String {
        format!("bash {}", sh(&self.script(SUBMIT_SCRIPT)))
    }

    /// Write the three scripts (executable) and the log directory; return what was written.
    pub fn write(&self) -> Result<Vec<PathBuf>> {
        let out = self.out_dir();
        crate::corpus::ensure_writable_dir(&out)?;
        let logs = out.join(LOGS_DIR);
        crate::corpus::ensure_writable_dir(&logs)?;
        let mut written = Vec::new();
        for (name, text) in [
            (GENERATE_SCRIPT, self.generate_script()),
            (FIT_REPORT_SCRIPT, self.fit_report_script()),
            (SUBMIT_SCRIPT, self.submit_script()),
        ] {
            let path = out.join(name);
            crate::corpus::write_atomically(&path, |file| {
                use std::io::Write;
                file.write_all(text.as_bytes())?;
                executable(file)
            })?;
            written.push(path);
        }
        written.push(logs);
        Ok(written)
    }
}

#[cfg(unix)]
fn executable(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn executable(_: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

/// One shell word: single quotes, each `'` written as `'\''`.
fn sh(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A path as it goes into the scripts: UTF-8 and no control characters; with `in_directive`, also
/// none of the characters `#SBATCH --output="…"` cannot hold.
fn script_path(flag: &str, path: &Path, in_directive: bool) -> Result<String> {
    let Some(text) = path.to_str() else {
        return Err(bad(
            flag,
            path.display(),
            "is not valid UTF-8, which a batch script cannot name reliably; use another path",
        ));
    };
    if text.chars().any(char::is_control) {
        return Err(bad(
            flag,
            text.escape_debug(),
            "contains a control character (e.g. a newline); use another path",
        ));
    }
    if in_directive && text.contains(['"', '\\']) {
        return Err(bad(
            flag,
            text,
            "contains `\"` or `\\`, which an #SBATCH --output line cannot hold; choose another \
             directory for the scripts with --out",
        ));
    }
    Ok(text.to_string())
}

/// Slurm's time formats: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`, or `infinite` /
/// `unlimited`.
fn check_time(text: &str) -> Result<()> {
    if ["infinite", "unlimited"]
        .iter()
        .any(|w| text.eq_ignore_ascii_case(w))
    {
        return Ok(());
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (days, rest) = match text.split_once('-') {
        Some((d, rest)) => (Some(d), rest),
        None => (None, text),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    if days.is_some_and(|d| !digits(d)) || parts.len() > 3 || !parts.iter().all(|p| digits(p)) {
        return Err(bad(
            "--time",
            text,
            "not a Slurm time limit; use minutes (90), hours:minutes:seconds (1:30:00) or \
             days-hours[:minutes[:seconds]] (2-00), or `infinite`",
        ));
    }
    Ok(())
}

/// Slurm's memory per node: a whole number with an optional unit K, M (the default), G or T.
fn check_mem(text: &str) -> Result<()> {
    let number = text.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    let ok = !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && text.len() - number.len() <= 1;
    if !ok {
        return Err(bad(
            "--mem",
            text,
            "not a Slurm memory size; use a whole number with an optional unit K, M (the \
             default), G or T, e.g. 4G",
        ));
    }
    Ok(())
}

/// A partition name or a comma-separated list of them.
fn check_partition(text: &str) -> Result<()> {
    let ok = !text.is_empty()
        && text.split(',').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        });
    if !ok {
        return Err(bad(
            "--partition",
            text,
            "not a partition name; use letters, digits, '-', '_' and '.', several separated \
             by commas (see `sinfo -s`)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(runs: usize) -> Plan {
        let text = r#"
name = "t"
[grid]
task = ["mnist1d"]
arch = ["mlp"]
policy = ["constant"]
base_lr = [0.1]
seed = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
[fit]
holdout = []
"#;
        let mut plan = crate::recipe::parse(text, Path::new("t.toml"), "t").unwrap();
        plan.runs.truncate(runs);
        plan
    }

    fn request<'a>(array: usize) -> Request<'a> {
        Request {
            array,
            partition: Some("cpu,short"),
            time: Some("1-02:00"),
            cpus_per_task: 4,
            mem: Some("4G"),
            recipe: Path::new("/data/my recipes/it's.toml"),
            root: Path::new("/data/my runs"),
            out: None,
            binary: Path::new("/opt/lr cast/lrcast"),
        }
    }

    #[test]
    fn scripts_name_the_array_the_dependency_and_quoted_paths() {
        let job = SlurmJob::new(&plan(12), &request(4)).unwrap();
        assert_eq!(job.out, "/data/my runs/slurm/t");
        assert_eq!(job.runs_per_task(), (3, 3));
        let generate = job.generate_script();
        for line in [
            "#SBATCH --array=0-3\n",
            "#SBATCH --cpus-per-task=4\n",
            "#SBATCH --partition=cpu,short\n",
            "#SBATCH --time=1-02:00\n",
            "#SBATCH --mem=4G\n",
            "#SBATCH --output=\"/data/my runs/slurm/t/logs/generate_%A_%a.out\"\n",
            "export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-4}\"\n",
            "cd -- '/data/my runs'\n",
            "exec '/opt/lr cast/lrcast' generate '/data/my recipes/it'\\''s.toml' --root '/data/my runs'\n",
        ] {
            assert!(generate.contains(line), "{line:?} not in\n{generate}");
        }
        // Every #SBATCH line comes before the first command, or sbatch ignores it.
        let first_command = generate.find("set -euo").unwrap();
        assert!(generate.rfind("#SBATCH").unwrap() < first_command);
        let fit = job.fit_report_script();
        assert!(!fit.contains("--array"));
        for line in [
            "#SBATCH --kill-on-invalid-dep=yes\n",
            "#SBATCH --output=\"/data/my runs/slurm/t/logs/fit_report_%j.out\"\n",
            "'/opt/lr cast/lrcast' fit '/data/my recipes/it'\\''s.toml' --root '/data/my runs'\n",
            "exec '/opt/lr cast/lrcast' report '/data/my recipes/it'\\''s.toml' --root '/data/my runs'\n",
        ] {
            assert!(fit.contains(line), "{line:?} not in\n{fit}");
        }
        let submit = job.submit_script();
        for line in [
            "array=$(sbatch --parsable '/data/my runs/slurm/t/generate.sbatch')\n",
            "final=$(sbatch --parsable --dependency=afterok:\"$array\" '/data/my runs/slurm/t/fit_report.sbatch')\n",
            "mkdir -p -- '/data/my runs/slurm/t/logs'\n",
        ] {
            assert!(submit.contains(line), "{line:?} not in\n{submit}");
        }
        assert_eq!(
            job.submit_command(),
            "bash '/data/my runs/slurm/t/submit.sh'"
        );
    }

    #[test]
    fn optional_resources_are_left_to_the_cluster_and_percent_signs_are_escaped() {
        let mut r = request(5);
        (r.partition, r.time, r.mem) = (None, None, None);
        r.out = Some(Path::new("/scratch/100%/s"));
        let job = SlurmJob::new(&plan(12), &r).unwrap();
        assert_eq!(job.runs_per_task(), (2, 3));
        let generate = job.generate_script();
        assert!(!generate.contains("--partition") && !generate.contains("--time"));
        assert!(!generate.contains("--mem"));
        assert!(generate.contains("--output=\"/scratch/100%%/s/logs/generate_%A_%a.out\""));
        assert!(
            job.submit_script()
                .contains("sbatch --parsable '/scratch/100%/s/generate.sbatch'")
        );
    }

    #[test]
    fn bad_values_name_the_flag() {
        let plan = plan(12);
        let err = |r: Request<'_>| SlurmJob::new(&plan, &r).unwrap_err().to_string();
        assert!(err(request(0)).starts_with("--array 0"));
        assert!(err(request(13)).contains("at most 12"));
        assert!(SlurmJob::new(&plan, &request(12)).is_ok());
        for time in ["1:xx", "", "1:2:3:4", "-1", "1-", "1h"] {
            let r = Request {
                time: Some(time),
                ..request(2)
            };
            assert!(err(r).starts_with("--time"), "{time}");
        }
        for time in ["90", "1:30:00", "2-00", "2-1:30", "0-0:0:1", "INFINITE"] {
            let r = Request {
                time: Some(time),
                ..request(2)
            };
            assert!(SlurmJob::new(&plan, &r).is_ok(), "{time}");
        }
        for mem in ["4Q", "G", "1.5G", "4GB", ""] {
            let r = Request {
                mem: Some(mem),
                ..request(2)
            };
            assert!(err(r).starts_with("--mem"), "{mem}");
        }
        for partition in ["a b", "", "a,", "x;y"] {
            let r = Request {
                partition: Some(partition),
                ..request(2)
            };
            assert!(err(r).starts_with("--partition"), "{partition}");
        }
        let r = Request {
            cpus_per_task: 0,
            ..request(2)
        };
        assert!(err(r).starts_with("--cpus-per-task 0"));
        let r = Request {
            out: Some(Path::new("/tmp/say \"hi\"")),
            ..request(2)
        };
        assert!(err(r).starts_with("--out"));
    }
}
