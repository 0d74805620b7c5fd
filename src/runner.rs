//! The corpus runner: train every run of a plan that the corpus does not hold yet, writing each
//! finished run at once (so a killed job loses at most the run in flight).

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::corpus::{CorpusStore, RunRecord};
use crate::data::Dataset;
use crate::device::ComputeDevice;
use crate::error::Result;
use crate::recipe::{Plan, RunSpec};
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
}

/// Train the missing runs of `plan` into `store` on `device`.
pub fn generate(
    plan: &Plan,
    store: &CorpusStore,
    device: ComputeDevice,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<GenerateSummary> {
    store.ensure_writable()?;
    device.check_available()?;
    store.remove_stale_temp_files()?;
    let done = store.existing_run_ids()?;
    let todo: Vec<&RunSpec> = plan
        .runs
        .iter()
        .filter(|r| !done.contains(&r.run_id))
        .collect();
    on_event(Event::Start {
        total: plan.runs.len(),
        todo: todo.len(),
    });
    let mut datasets: HashMap<String, Dataset> = HashMap::new();
    let mut diverged = 0;
    for run in &todo {
        let key = format!("{};{:?}", run.task.spec_string(), run.validation);
        if !datasets.contains_key(&key) {
            let data = run
                .task
                .load(run.validation.map(|v| (v.fraction, v.seed)))?;
            datasets.insert(key.clone(), data);
        }
        let data = &datasets[&key];
        let outcome = train(device, &run.arch, data, &run.lr_policy, &run.settings)?;
        let finished_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        store.write(&RunRecord::new(&plan.name, run, &outcome, finished_at))?;
        diverged += usize::from(outcome.diverged);
        on_event(Event::RunDone {
            run,
            outcome: &outcome,
        });
    }
    Ok(GenerateSummary {
        planned: plan.runs.len(),
        skipped: plan.runs.len() - todo.len(),
        trained: todo.len(),
        diverged,
    })
}
