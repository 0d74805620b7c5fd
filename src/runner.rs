//! The corpus runner: train every run of a plan that the corpus does not hold yet, in stacks of runs
//! trained together, writing each run as soon as its stack finishes (so a killed job loses at most
//! the stack in flight).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::corpus::{CorpusStore, RunRecord};
use crate::data::Dataset;
use crate::device::ComputeDevice;
use crate::error::Result;
use crate::recipe::{Plan, RunSpec};
use crate::stacks::{StackOptions, form_stacks};
use crate::train::stack_run::{StackMember, train_stack};
use crate::train::{TrainOutcome, train};

/// Progress events, for whoever displays them.
#[derive(Debug)]
pub enum Event<'a> {
    /// Work is known: `todo` of `total` runs need training.
    Start { total: usize, todo: usize },
    /// A run finished and was written.
    RunDone {
        run: &'a RunSpec,
        outcome: &'a TrainOutcome,
    },
}

/// What a `generate` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Runs in the plan.
    pub planned: usize,
    /// Runs already in the corpus, skipped.
    pub skipped: usize,
    /// Runs trained now.
    pub trained: usize,
    /// Of those, how many diverged.
    pub diverged: usize,
    /// Stopped before the plan was done because `search.max_hours` was spent.
    pub out_of_time: bool,
}

/// When this process started generating: `search.max_hours` counts from here, over every round.
fn generation_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Train the missing runs of `plan` into `store` on `device`, in stacks formed with `stacking`.
pub fn generate(
    plan: &Plan,
    store: &CorpusStore,
    device: ComputeDevice,
    stacking: &StackOptions,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<GenerateSummary> {
    // Everything that can be refused is checked before the corpus directory is created.
    device.check_available()?;
    store.check_writable()?;
    store.remove_stale_temp_files()?;
    let done = store.existing_run_ids()?;
    let todo: Vec<&RunSpec> = plan
        .runs
        .iter()
        .filter(|r| !done.contains(&r.run_id))
        .collect();
    // Formed (and a too-large explicit stack refused) before anything is trained.
    let stacks = form_stacks(&todo, stacking, device)?;
    if !todo.is_empty() {
        store.ensure_writable()?;
    }
    on_event(Event::Start {
        total: plan.runs.len(),
        todo: todo.len(),
    });
    let deadline = plan
        .search_settings
        .max_hours
        .map(|h| generation_start() + Duration::from_secs_f64(h * 3600.0));
    let mut datasets: HashMap<String, Dataset> = HashMap::new();
    let (mut diverged, mut trained) = (0, 0);
    for stack in &stacks {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(GenerateSummary {
                planned: plan.runs.len(),
                skipped: plan.runs.len() - todo.len(),
                trained,
                diverged,
                out_of_time: true,
            });
        }
        let first = stack[0];
        let key = format!("{};{:?}", first.task.spec_string(), first.validation);
        if !datasets.contains_key(&key) {
            let data = first
                .task
                .load(first.validation.map(|v| (v.fraction, v.seed)))?;
            datasets.insert(key.clone(), data);
        }
        let data = &datasets[&key];
        let outcomes = if stack.len() == 1 {
            vec![train(
                device,
                &first.arch,
                data,
                &first.lr_policy,
                &first.settings,
            )?]
        } else {
            let members: Vec<StackMember<'_>> = stack
                .iter()
                .map(|run| StackMember {
                    policy: &run.lr_policy,
                    settings: &run.settings,
                })
                .collect();
            train_stack(device, &first.arch, data, &members)?
        };
        let finished_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        for (run, outcome) in stack.iter().zip(&outcomes) {
            store.write(&RunRecord::new(&plan.name, run, outcome, finished_at))?;
            diverged += usize::from(outcome.diverged);
            trained += 1;
            on_event(Event::RunDone { run, outcome });
        }
    }
    Ok(GenerateSummary {
        planned: plan.runs.len(),
        skipped: plan.runs.len() - todo.len(),
        trained,
        diverged,
        out_of_time: false,
    })
}
