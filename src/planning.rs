//! `lrcast plan`: what a recipe (or one shard of it) would train — run counts, the stacks the runner
//! would form, a sample of runs — and about how long it would take, from a few training steps
//! measured on this machine. Nothing is trained to completion and nothing is written.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::corpus::CorpusStore;
use crate::data::Dataset;
use crate::device::ComputeDevice;
use crate::error::Result;
use crate::recipe::shard::Shard;
use crate::recipe::{Plan, RunSpec};
use crate::stacks::{StackOptions, form_stacks};
use crate::train::bench::{Sizes, time_steps};

/// Runs shown from the head of the plan before the seeded spread over the rest.
const SAMPLE_HEAD: usize = 3;

/// Seed of the spread: fixed, so the same plan always shows the same sample.
const SAMPLE_SEED: u64 = 0;

/// Untimed steps before each timing (the first steps allocate buffers).
const WARMUP_STEPS: usize = 2;

/// Steps of the first, short timing of a group; a cheap step is then timed again at more length.
const PROBE_STEPS: usize = 3;

/// Timed milliseconds aimed at per group: enough to average out a step's jitter, short enough that
/// a plan of a few groups is measured in a second or two.
const TARGET_MS_PER_GROUP: f64 = 300.0;

/// Most steps timed per repeat of the longer timing.
const MAX_TIMED_STEPS: usize = 200;

/// Repeats of the longer timing (the median is used).
const REPEATS: usize = 3;

/// No group starts being measured after this many seconds of measuring: a plan with many distinct
/// groups (e.g. a random search over batch sizes) is estimated from the groups measured by then,
/// and says how much it left out.
const MEASURE_BUDGET_SECONDS: f64 = 8.0;

/// What `lrcast plan` found.
#[derive(Debug, Clone, Serialize)]
pub struct PlanSummary {
    /// Experiment name.
    pub experiment: String,
    /// Where the recipe came from.
    pub recipe: String,
    /// Device the runs would train on.
    pub device: String,
    /// The slice of the plan this summary covers, with `--shard`.
    pub shard: Option<ShardSlice>,
    /// Runs in the plan (in the shard, with `--shard`).
    pub runs: usize,
    /// The corpus directory looked at.
    pub corpus: String,
    /// Of `runs`, those whose part file is already in the corpus (`generate` skips them).
    pub done: usize,
    /// Of `runs`, those `generate` would train.
    pub remaining: usize,
    /// Optimizer steps of the remaining runs, summed over runs.
    pub remaining_steps: u64,
    /// Runs per task × architecture, in plan order.
    pub groups: Vec<TaskArchCount>,
    /// The stacks `generate` would form from the remaining runs.
    pub stacks: StackSummary,
    /// A sample of the runs: the first few and a seeded spread over the rest, in plan order.
    pub sample: Vec<SampleRun>,
    /// Time the remaining runs would take, from measured steps.
    pub estimate: Estimate,
}

/// Shard `index` of `count`: runs `first..end` of the plan's `of`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ShardSlice {
    pub index: usize,
    pub count: usize,
    pub first: usize,
    pub end: usize,
    pub of: usize,
}

/// Runs of one task × architecture.
#[derive(Debug, Clone, Serialize)]
pub struct TaskArchCount {
    pub task: String,
    pub arch: String,
    pub runs: usize,
    pub remaining: usize,
    /// Optimizer steps of the remaining runs.
    pub remaining_steps: u64,
}

/// Stacks and their sizes.
#[derive(Debug, Clone, Serialize)]
pub struct StackSummary {
    /// Stacks (a run trained alone is a stack of one).
    pub count: usize,
    /// How many stacks have each size, largest size first.
    pub sizes: Vec<SizeCount>,
}

/// `stacks` stacks of `size` runs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SizeCount {
    pub size: usize,
    pub stacks: usize,
}

/// One run of the sample.
#[derive(Debug, Clone, Serialize)]
pub struct SampleRun {
    /// Position in the plan (in the shard, with `--shard`), from 0.
    pub index: usize,
    pub run_id: String,
    /// Whether its part file is already in the corpus.
    pub done: bool,
    pub task: String,
    pub arch: String,
    /// Policy spec with the base LR injected.
    pub policy: String,
    pub optimizer: String,
    pub base_lr: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub batch_size: usize,
    pub epochs: usize,
    pub seed: u64,
    pub total_steps: u64,
}

/// The time estimate.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    /// Seconds of training steps of the remaining runs, over the measured groups.
    pub seconds: f64,
    /// Training steps timed (warm-up not counted), over all groups.
    pub measured_steps: usize,
    /// Wall time of the measurement, data loading included.
    pub measuring_seconds: f64,
    /// Groups left unmeasured when the measuring budget ran out (their time is not in `seconds`).
    pub unmeasured_groups: usize,
    /// One entry per (task, architecture, batch size, stack size).
    pub groups: Vec<EstimateGroup>,
    /// What the estimate covers.
    pub note: String,
}

/// Stacks of one (task, architecture, batch size, stack size): one timing serves them all.
#[derive(Debug, Clone, Serialize)]
pub struct EstimateGroup {
    pub task: String,
    pub arch: String,
    pub batch_size: usize,
    pub stack_size: usize,
    pub stacks: usize,
    /// Steps of these stacks (a stack's step trains all its members).
    pub steps: u64,
    /// Measured milliseconds per step of one stack; `None` when not measured.
    pub ms_per_step: Option<f64>,
    /// Steps timed for this group.
    pub measured_steps: usize,
    /// `steps × ms_per_step`, seconds.
    pub seconds: Option<f64>,
}

/// What is asked of `summarize`.
#[derive(Debug, Clone, Copy)]
pub struct PlanOptions {
    /// Only this shard of the plan.
    pub shard: Option<Shard>,
    /// Device the runs would train on (and the steps are timed on).
    pub device: ComputeDevice,
    /// Stacking, as `generate` would do it.
    pub stacking: StackOptions,
    /// Runs in the sample (at least 1).
    pub sample: usize,
}

/// Expand `plan` as `generate` would, against the corpus in `store`, and time a few steps per
/// group of stacks. Reads the corpus's file names only; writes nothing.
pub fn summarize(plan: &Plan, store: &CorpusStore, options: &PlanOptions) -> Result<PlanSummary> {
    let (runs, shard) = match options.shard {
        Some(s) => {
            let range = s.range(plan.runs.len());
            let slice = ShardSlice {
                index: s.index,
                count: s.count,
                first: range.start,
                end: range.end,
                of: plan.runs.len(),
            };
            (&plan.runs[range], Some(slice))
        }
        None => (&plan.runs[..], None),
    };
    let existing = store.existing_run_ids()?;
    let todo: Vec<&RunSpec> = runs
        .iter()
        .filter(|r| !existing.contains(&r.run_id))
        .collect();
    // The same call as the runner's, so the stacks (and a refused --stack) are generate's.
    let stacks = form_stacks(&todo, &options.stacking, options.device)?;
    let estimate = estimate(&stacks, options.device)?;
    Ok(PlanSummary {
        experiment: plan.name.clone(),
        recipe: plan.source.display().to_string(),
        device: options.device.to_string(),
        shard,
        runs: runs.len(),
        corpus: store.runs_dir().display().to_string(),
        done: runs.len() - todo.len(),
        remaining: todo.len(),
        remaining_steps: todo.iter().map(|r| r.total_steps()).sum(),
        groups: task_arch_counts(runs, &existing),
        stacks: stack_summary(&stacks),
        sample: sample_indices(runs.len(), options.sample, SAMPLE_SEED)
            .into_iter()
            .map(|i| sample_run(i, &runs[i], existing.contains(&runs[i].run_id)))
            .collect(),
        estimate,
    })
}

fn task_arch_counts(
    runs: &[RunSpec],
    existing: &std::collections::BTreeSet<String>,
) -> Vec<TaskArchCount> {
    let mut counts: Vec<TaskArchCount> = Vec::new();
    let mut by_key: HashMap<(String, String), usize> = HashMap::new();
    for run in runs {
        let (task, arch) = (run.task.spec_string(), run.arch.spec_string());
        let index = match by_key.get(&(task.clone(), arch.clone())) {
            Some(&i) => i,
            None => {
                by_key.insert((task.clone(), arch.clone()), counts.len());
                counts.push(TaskArchCount {
                    task,
                    arch,
                    runs: 0,
                    remaining: 0,
                    remaining_steps: 0,
                });
                counts.len() - 1
            }
        };
        let count = &mut counts[index];
        count.runs += 1;
        if !existing.contains(&run.run_id) {
            count.remaining += 1;
            count.remaining_steps += run.total_steps();
        }
    }
    counts
}

fn stack_summary(stacks: &[Vec<&RunSpec>]) -> StackSummary {
    let mut by_size: std::collections::BTreeMap<usize, usize> = Default::default();
    for stack in stacks {
        *by_size.entry(stack.len()).or_default() += 1;
    }
    StackSummary {
        count: stacks.len(),
        sizes: by_size
            .into_iter()
            .rev()
            .map(|(size, stacks)| SizeCount { size, stacks })
            .collect(),
    }
}

fn sample_run(index: usize, run: &RunSpec, done: bool) -> SampleRun {
    let s = &run.settings;
    SampleRun {
        index,
        run_id: run.run_id.clone(),
        done,
        task: run.task.spec_string(),
        arch: run.arch.spec_string(),
        policy: run.policy.to_string(),
        optimizer: s.optimizer.kind.name().to_string(),
        base_lr: run.base_lr,
        weight_decay: s.weight_decay,
        momentum: s.momentum,
        batch_size: s.batch_size,
        epochs: s.epochs,
        seed: s.seed,
        total_steps: run.total_steps(),
    }
}

/// `n` of `len` positions, in increasing order: the first [`SAMPLE_HEAD`] and a seeded choice of
/// the rest (every position when `n ≥ len`). The head shows where the plan starts; the spread
/// shows what varies, whatever order the recipe's search produced.
pub fn sample_indices(len: usize, n: usize, seed: u64) -> Vec<usize> {
    if n >= len {
        return (0..len).collect();
    }
    let head = SAMPLE_HEAD.min(n);
    let mut rest: Vec<usize> = (head..len).collect();
    rest.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut chosen: Vec<usize> = (0..head).chain(rest.into_iter().take(n - head)).collect();
    chosen.sort_unstable();
    chosen
}

/// What one timing is of: stacks of the same task (and validation split), architecture, batch
/// size and size cost the same per step.
fn group_key(stack: &[&RunSpec]) -> String {
    let first = stack[0];
    format!(
        "{}|{:?}|{}|{}|{}",
        first.task.spec_string(),
        first.validation,
        first.arch.spec_string(),
        first.settings.batch_size,
        stack.len()
    )
}

/// Time a few steps per group of stacks and multiply by the groups' steps.
fn estimate(stacks: &[Vec<&RunSpec>], device: ComputeDevice) -> Result<Estimate> {
    let start = Instant::now();
    // In order of first appearance, with an index by key (a large plan has many stacks).
    let mut groups: Vec<(&[&RunSpec], EstimateGroup)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for stack in stacks {
        let steps = stack[0].total_steps();
        match index.get(&group_key(stack)) {
            Some(&i) => {
                groups[i].1.stacks += 1;
                groups[i].1.steps += steps;
            }
            None => {
                let first = stack[0];
                index.insert(group_key(stack), groups.len());
                groups.push((
                    stack,
                    EstimateGroup {
                        task: first.task.spec_string(),
                        arch: first.arch.spec_string(),
                        batch_size: first.settings.batch_size,
                        stack_size: stack.len(),
                        stacks: 1,
                        steps,
                        ms_per_step: None,
                        measured_steps: 0,
                        seconds: None,
                    },
                ));
            }
        }
    }
    // Each task's data is loaded once, as the runner does.
    let mut datasets: HashMap<String, Dataset> = HashMap::new();
    let mut unmeasured = 0;
    for (stack, group) in &mut groups {
        if start.elapsed().as_secs_f64() > MEASURE_BUDGET_SECONDS {
            unmeasured += 1;
            continue;
        }
        let first = stack[0];
        let data_key = format!("{};{:?}", first.task.spec_string(), first.validation);
        if !datasets.contains_key(&data_key) {
            let data = first
                .task
                .load(first.validation.map(|v| (v.fraction, v.seed)))?;
            datasets.insert(data_key.clone(), data);
        }
        let data = &datasets[&data_key];
        let (ms, timed) = time_group(device, first, data, stack.len(), group.steps)?;
        group.ms_per_step = Some(ms);
        group.measured_steps = timed;
        group.seconds = Some(ms * group.steps as f64 / 1e3);
    }
    let groups: Vec<EstimateGroup> = groups.into_iter().map(|(_, g)| g).collect();
    let measured_steps = groups.iter().map(|g| g.measured_steps).sum();
    Ok(Estimate {
        seconds: groups.iter().filter_map(|g| g.seconds).sum(),
        measured_steps,
        measuring_seconds: start.elapsed().as_secs_f64(),
        unmeasured_groups: unmeasured,
        note: format!(
            "an estimate from {measured_steps} measured training steps: each group's step \
             (SGD, on this machine now) × the steps its remaining runs take; epoch-end \
             evaluation, data loading and runs that stop early on divergence are not in it"
        ),
        groups,
    })
}

/// Milliseconds per step of a stack of `members` runs like `run` (alone when 1, as the runner
/// trains a stack of one), and the steps timed: a short timing first, and a longer one (median
/// of [`REPEATS`]) when steps are cheap enough to fit [`TARGET_MS_PER_GROUP`] — never more steps
/// than the group's `planned` steps, so measuring a tiny plan takes no longer than training it.
fn time_group(
    device: ComputeDevice,
    run: &RunSpec,
    data: &Dataset,
    members: usize,
    planned: u64,
) -> Result<(f64, usize)> {
    let stack = (members > 1).then_some(members);
    let sizes = |steps, repeats| Sizes {
        batch_size: run.settings.batch_size,
        warmup: WARMUP_STEPS,
        steps,
        repeats,
        readback_every: crate::train::run::readback_every(device),
    };
    let probe = time_steps(device, &run.arch, data, sizes(PROBE_STEPS, 1), stack)?;
    let ms = probe.ms_per_step_median;
    let steps = ((TARGET_MS_PER_GROUP / ms.max(1e-6)) as usize)
        .min(usize::try_from(planned).unwrap_or(usize::MAX))
        / REPEATS;
    if steps <= PROBE_STEPS {
        return Ok((ms, PROBE_STEPS));
    }
    let steps = steps.min(MAX_TIMED_STEPS);
    let timing = time_steps(device, &run.arch, data, sizes(steps, REPEATS), stack)?;
    Ok((timing.ms_per_step_median, PROBE_STEPS + steps * REPEATS))
}

/// `header` and `rows` as columns two spaces apart, indented by two; the columns numbered in
/// `right` aligned right (numbers).
pub fn aligned_table(header: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(k, (cell, &w))| match right.contains(&k) {
                true => format!("{cell:>w$}"),
                false => format!("{cell:<w$}"),
            })
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// Seconds as `1 h 02 min`, `3 min 05 s`, `4.2 s` or `0.35 s`.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 1.0 {
        return format!("{s:.2} s");
    }
    if s < 60.0 {
        return format!("{s:.1} s");
    }
    let total = s.round() as u64;
    let (h, m, sec) = (total / 3600, total / 60 % 60, total % 60);
    match h {
        0 => format!("{m} min {sec:02} s"),
        _ => format!("{h} h {m:02} min"),
    }
}

impl PlanSummary {
    /// The summary as text for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = self.write_text(&mut out);
        out
    }

    fn write_text(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "plan `{}` ({})", self.experiment, self.recipe)?;
        match &self.shard {
            Some(s) => writeln!(
                out,
                "  shard {}/{}: runs {}..{} of {}: {} runs",
                s.index, s.count, s.first, s.end, s.of, self.runs
            )?,
            None => writeln!(out, "  {} runs", self.runs)?,
        }
        let rows: Vec<Vec<String>> = self
            .groups
            .iter()
            .map(|g| {
                vec![
                    g.task.clone(),
                    g.arch.clone(),
                    g.runs.to_string(),
                    g.remaining.to_string(),
                    g.remaining_steps.to_string(),
                ]
            })
            .collect();
        out.push_str(&aligned_table(
            &["task", "arch", "runs", "remaining", "steps left"],
            &rows,
            &[2, 3, 4],
        ));
        writeln!(
            out,
            "corpus {}: {} of {} runs already there, {} to train ({} steps)",
            self.corpus, self.done, self.runs, self.remaining, self.remaining_steps
        )?;
        let sizes: Vec<String> = self
            .stacks
            .sizes
            .iter()
            .map(|s| {
                let runs = if s.size == 1 { "run" } else { "runs" };
                format!("{} of {} {runs}", s.stacks, s.size)
            })
            .collect();
        match sizes.is_empty() {
            true => writeln!(out, "stacks on {}: none", self.device)?,
            false => writeln!(
                out,
                "stacks on {}: {} ({})",
                self.device,
                self.stacks.count,
                sizes.join(", ")
            )?,
        }
        if !self.sample.is_empty() {
            let which = match self.sample.len() {
                n if n == self.runs => "all of them".to_string(),
                n if n <= SAMPLE_HEAD => format!("the first {n}"),
                _ => format!("the first {SAMPLE_HEAD} and a seeded spread"),
            };
            writeln!(
                out,
                "sample: {} of {} runs ({which})",
                self.sample.len(),
                self.runs,
            )?;
            let header = [
                "#", "run_id", "done", "task", "arch", "policy", "base_lr", "wd", "mom", "batch",
                "epochs", "seed", "steps",
            ];
            let rows: Vec<Vec<String>> = self
                .sample
                .iter()
                .map(|r| {
                    vec![
                        r.index.to_string(),
                        r.run_id.clone(),
                        if r.done { "yes" } else { "no" }.into(),
                        r.task.clone(),
                        r.arch.clone(),
                        format!("{} {}", r.optimizer, r.policy),
                        r.base_lr.to_string(),
                        r.weight_decay.to_string(),
                        r.momentum.to_string(),
                        r.batch_size.to_string(),
                        r.epochs.to_string(),
                        r.seed.to_string(),
                        r.total_steps.to_string(),
                    ]
                })
                .collect();
            out.push_str(&aligned_table(&header, &rows, &[0, 6, 7, 8, 9, 10, 11, 12]));
        }
        let e = &self.estimate;
        if self.remaining == 0 {
            return writeln!(out, "estimate: nothing left to train");
        }
        writeln!(
            out,
            "estimate: {} for the {} remaining runs on {}{}",
            human_duration(e.seconds),
            self.remaining,
            self.device,
            match e.unmeasured_groups {
                0 => String::new(),
                n => format!(
                    " — at least: {n} of {} groups were not measured within {MEASURE_BUDGET_SECONDS} s",
                    e.groups.len()
                ),
            }
        )?;
        writeln!(
            out,
            "  ({}; measured in {:.1} s)",
            e.note, e.measuring_seconds
        )?;
        let rows: Vec<Vec<String>> = e
            .groups
            .iter()
            .map(|g| {
                let (ms, time) = match (g.ms_per_step, g.seconds) {
                    (Some(ms), Some(s)) => (format!("{ms:.3}"), human_duration(s)),
                    _ => ("not measured".into(), "?".into()),
                };
                vec![
                    g.task.clone(),
                    g.arch.clone(),
                    g.batch_size.to_string(),
                    g.stack_size.to_string(),
                    g.stacks.to_string(),
                    g.steps.to_string(),
                    ms,
                    time,
                ]
            })
            .collect();
        out.push_str(&aligned_table(
            &[
                "task",
                "arch",
                "batch",
                "stack size",
                "stacks",
                "steps",
                "ms/step",
                "time",
            ],
            &rows,
            &[2, 3, 4, 5, 6, 7],
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_holds_the_head_and_a_seeded_spread_in_order() {
        assert_eq!(sample_indices(5, 10, 0), vec![0, 1, 2, 3, 4]);
        assert_eq!(sample_indices(100, 2, 0), vec![0, 1]);
        let picked = sample_indices(1000, 10, 0);
        assert_eq!(picked.len(), 10);
        assert_eq!(&picked[..3], &[0, 1, 2]);
        assert!(picked.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(picked, sample_indices(1000, 10, 0), "seeded");
        assert!(picked[3..].iter().any(|&i| i > 500), "spread: {picked:?}");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(4.24), "4.2 s");
        assert_eq!(human_duration(0.351), "0.35 s");
        assert_eq!(human_duration(185.0), "3 min 05 s");
        assert_eq!(human_duration(3720.0), "1 h 02 min");
    }
}
