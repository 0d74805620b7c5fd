//! Progress of a `generate`: a bar on a terminal, a plain line every [`PLAIN_EVERY`] otherwise,
//! nothing with `--quiet`. The ETA weighs every remaining run by its cost — its steps times the
//! seconds per step measured on finished runs of its architecture — because fast MLP runs finish
//! first and a plain runs-per-second ETA would be wrong by minutes.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::recipe::RunSpec;
use crate::train::TrainOutcome;

/// How often a plain progress line is printed when stderr is not a terminal (a log file, a Slurm
/// job's output).
pub const PLAIN_EVERY: Duration = Duration::from_secs(30);

/// Runs this process wrote, and where: what an interrupt message reports.
static SAVED_RUNS: AtomicUsize = AtomicUsize::new(0);
static CORPUS_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// On Ctrl-C (or SIGTERM, as Slurm sends at a time limit) say how many runs are saved and that a
/// rerun resumes, instead of a bare `^C`; then exit 130. Every finished run is already a complete
/// file, so nothing needs flushing; the run in flight is lost and trained again by the rerun.
pub fn report_interrupts(corpus_dir: &Path) {
    *CORPUS_DIR.lock().expect("interrupt lock") = Some(corpus_dir.to_path_buf());
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // Best effort: without a handler an interrupt still stops lrcast, only silently.
        let _ = ctrlc::set_handler(|| {
            let dir = CORPUS_DIR
                .lock()
                .ok()
                .and_then(|d| d.clone())
                .unwrap_or_default();
            eprintln!(
                "\ninterrupted: {} run(s) finished by this process are saved in {}; the runs in \
                 flight are lost. Run the same command again to resume where it stopped.",
                SAVED_RUNS.load(Ordering::Relaxed),
                dir.display()
            );
            std::process::exit(130);
        });
    });
}

/// Work of a run in units that compare across architectures: steps × batch × activations per
/// example (what a training step computes, roughly). A family not measured yet is priced at the
/// others' seconds per unit, which is closer than their seconds per step (a CNN step costs many
/// MLP steps).
fn work_units(run: &RunSpec) -> u64 {
    let activations = crate::model::stacked::memory::activations_per_example(
        &run.arch,
        &run.task.shape(),
        run.task.num_classes(),
    ) as u64;
    run.total_steps() * run.settings.batch_size as u64 * activations.max(1)
}

/// Seconds per work unit measured so far, and units still to train, per architecture family.
#[derive(Debug, Default)]
struct Costs {
    /// family → (seconds, units) of finished runs.
    measured: HashMap<String, (f64, u64)>,
    /// family → units of the runs still to train.
    remaining: HashMap<String, u64>,
    done: usize,
    todo: usize,
    start: Option<Instant>,
    last_line: Option<Instant>,
}

impl Costs {
    /// Seconds left: each family's remaining units at its measured rate (a family not measured yet
    /// at the mean rate of the others); `None` before the first run finishes.
    fn seconds_left(&self) -> Option<f64> {
        let (secs, steps) = self
            .measured
            .values()
            .fold((0.0, 0u64), |(a, b), (s, n)| (a + s, b + n));
        if steps == 0 {
            return None;
        }
        let mean = secs / steps as f64;
        Some(
            self.remaining
                .iter()
                .map(|(family, &left)| {
                    let rate = self
                        .measured
                        .get(family)
                        .filter(|(_, n)| *n > 0)
                        .map_or(mean, |(s, n)| s / *n as f64);
                    left as f64 * rate
                })
                .sum(),
        )
    }
}

/// `90 s`, `12 min 5 s`, `3 h 20 min`.
pub fn duration_text(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// The progress display of one `generate` pass.
pub struct Progress {
    bar: ProgressBar,
    /// Plain lines instead of a bar (not a terminal).
    plain: bool,
    quiet: bool,
    name: String,
    costs: Mutex<Costs>,
    /// The stack in flight: the step counter when it started, its steps and members.
    stack: Arc<Mutex<Option<(u64, u64, usize)>>>,
    /// Stops the thread that redraws the stack's steps.
    stop: Arc<AtomicBool>,
}

/// How often the stack's steps are redrawn on a terminal.
const TICK: Duration = Duration::from_millis(250);

impl Progress {
    /// A display for the experiment `name`; drawn on stderr when it is a terminal.
    pub fn new(name: &str, quiet: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = if quiet || !terminal {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
        } else {
            ProgressBar::new(0)
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} runs {prefix} {msg}",
            )
            .expect("valid template"),
        );
        let stack: Arc<Mutex<Option<(u64, u64, usize)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        if terminal && !quiet {
            let (bar, stack, stop) = (bar.clone(), stack.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some((from, steps, members)) = *stack.lock().expect("progress lock") {
                        let done = crate::train::STEPS_TRAINED.load(Ordering::Relaxed) - from;
                        let what = match members {
                            1 => "run".to_string(),
                            k => format!("stack of {k}"),
                        };
                        bar.set_prefix(format!("· {what}: step {}/{steps} ·", done.min(steps)));
                    }
                    std::thread::sleep(TICK);
                }
            });
        }
        Self {
            bar,
            plain: !terminal,
            quiet,
            name: name.to_string(),
            costs: Mutex::default(),
            stack,
            stop,
        }
    }

    /// A stack (or a run alone) starts training.
    pub fn stack_start(&self, runs: &[&RunSpec]) {
        let steps = runs.first().map_or(0, |r| r.total_steps());
        let from = crate::train::STEPS_TRAINED.load(Ordering::Relaxed);
        *self.stack.lock().expect("progress lock") = Some((from, steps, runs.len()));
    }

    /// The runs to train are known.
    pub fn start<'a>(&self, todo: impl IntoIterator<Item = &'a RunSpec>) {
        let mut costs = self.costs.lock().expect("progress lock");
        for run in todo {
            *costs
                .remaining
                .entry(run.arch.family().to_string())
                .or_default() += work_units(run);
            costs.todo += 1;
        }
        costs.last_line = Some(Instant::now());
        costs.start = Some(Instant::now());
        self.bar.set_length(costs.todo as u64);
    }

    /// A run finished and was written.
    pub fn run_done(&self, run: &RunSpec, outcome: &TrainOutcome) {
        SAVED_RUNS.fetch_add(1, Ordering::Relaxed);
        let mut costs = self.costs.lock().expect("progress lock");
        let family = run.arch.family().to_string();
        let units = work_units(run);
        // A run alone that diverged stopped early: its seconds cover the steps it took. A stacked
        // member's seconds are its share of the whole stack's run.
        let trained = match outcome.stack_size {
            1 => units / run.total_steps().max(1) * outcome.steps.max(1),
            _ => units,
        };
        let entry = costs.measured.entry(family.clone()).or_default();
        entry.0 += outcome.wall_seconds;
        entry.1 += trained.max(1);
        if let Some(left) = costs.remaining.get_mut(&family) {
            *left = left.saturating_sub(units);
        }
        costs.done += 1;
        let elapsed = costs
            .start
            .map_or(0.0, |t| t.elapsed().as_secs_f64())
            .max(1e-9);
        let rate = costs.done as f64 / elapsed;
        let eta = costs.seconds_left().map_or("—".to_string(), duration_text);
        self.bar.set_message(format!(
            "{rate:.2} runs/s, ETA {eta} · {} {} lr={} → top-1 {:.3}{}",
            run.arch.family(),
            run.lr_policy.name(),
            run.base_lr,
            outcome.final_metrics.top1,
            if outcome.diverged { " (diverged)" } else { "" }
        ));
        self.bar.inc(1);
        let due = costs.last_line.is_none_or(|t| t.elapsed() >= PLAIN_EVERY);
        if self.plain && !self.quiet && (due || costs.done == costs.todo) {
            costs.last_line = Some(Instant::now());
            eprintln!(
                "generate `{}`: {}/{} runs trained, {rate:.2} runs/s, {} elapsed, ETA {eta}",
                self.name,
                costs.done,
                costs.todo,
                duration_text(elapsed)
            );
        }
    }

    /// Print `line` above the bar (or plainly).
    pub fn println(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Remove the bar.
    pub fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eta_weighs_each_family_by_its_measured_cost() {
        let mut costs = Costs::default();
        assert_eq!(costs.seconds_left(), None);
        costs.measured.insert("mlp".into(), (1.0, 1000));
        costs.measured.insert("cnn2d".into(), (10.0, 1000));
        costs.remaining.insert("mlp".into(), 2000);
        costs.remaining.insert("cnn2d".into(), 1000);
        // Unmeasured families go at the mean rate (11 s / 2000 units).
        costs.remaining.insert("resnet".into(), 2000);
        let left = costs.seconds_left().unwrap();
        assert!((left - (2.0 + 10.0 + 11.0)).abs() < 1e-9, "{left}");
        assert_eq!(duration_text(42.4), "42 s");
        assert_eq!(duration_text(725.0), "12 min 5 s");
        assert_eq!(duration_text(12_000.0), "3 h 20 min");
    }
}
