//! The corpus runner: train every run of a plan that the corpus does not hold yet, with one or
//! more workers (`--jobs`) that claim each run before training it — so workers here, in other
//! processes and on other machines sharing the corpus never train a run twice — in stacks of runs
//! trained together, writing each run as soon as its stack finishes (so a killed job loses at most
//! the stacks in flight).
//!
//! A worker forms stacks from the runs not in the corpus, claims each member and trains the members
//! it got (a stack's members differ only in per-member hyperparameters, so any subset trains
//! together). It repeats until a pass claims nothing: then every unfinished run is held by a live
//! worker elsewhere, which will finish it (or whose claim a later `generate` takes over once its
//! lease runs out); the summary counts those runs rather than waiting for them.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::corpus::claims::{Claim, ClaimBook};
use crate::corpus::quarantine::{quarantine_dir, quarantine_unsound};
use crate::corpus::{CorpusStore, RunRecord};
use crate::data::Dataset;
use crate::device::ComputeDevice;
use crate::error::Result;
use crate::jobs::Jobs;
use crate::recipe::{Plan, RunSpec};
use crate::stacks::{StackOptions, form_stacks, form_stacks_spread};
use crate::train::stack_run::{StackMember, train_stack};
use crate::train::{TrainOutcome, train};

/// Progress events, for whoever displays them (from any worker thread).
#[derive(Debug)]
pub enum Event<'a> {
    /// Work is known: of `total` runs, `todo` are not in the corpus.
    Start {
        total: usize,
        todo: &'a [&'a RunSpec],
    },
    /// A stack of `runs` (one run alone, or members trained together) starts training.
    StackStart { runs: &'a [&'a RunSpec] },
    /// Damaged parts were moved to `dir`; their runs train again.
    Quarantined { parts: &'a [String], dir: &'a Path },
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
    /// Runs already in the corpus at the start, skipped.
    pub skipped: usize,
    /// Runs trained by this process.
    pub trained: usize,
    /// Of those, how many diverged.
    pub diverged: usize,
    /// Damaged parts moved to quarantine (their runs trained again).
    pub quarantined: usize,
    /// Runs other workers (processes here or elsewhere) finished while this one ran.
    pub finished_by_others: usize,
    /// Runs still unfinished at the end, claimed by live workers elsewhere.
    pub left_to_others: usize,
    /// Stopped before the plan was done because `search.max_hours` was spent.
    pub out_of_time: bool,
}

/// When this process started generating: `search.max_hours` counts from here, over every round.
fn generation_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Train the missing runs of `plan` into `store` on `device` with `jobs` workers, in stacks formed
/// with `stacking`.
pub fn generate(
    plan: &Plan,
    store: &CorpusStore,
    device: ComputeDevice,
    stacking: &StackOptions,
    jobs: Jobs,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<GenerateSummary> {
    device.check_available()?;
    // Stacks formed (and a too-large explicit stack refused) before anything is written.
    // (A corpus that cannot be listed is reported by the writability check below.)
    let listed = store.existing_run_ids().unwrap_or_default();
    let unlisted: Vec<&RunSpec> = plan
        .runs
        .iter()
        .filter(|r| !listed.contains(&r.run_id))
        .collect();
    let todo_stacks = form_stacks(&unlisted, stacking, device)?;
    let alone = runs_trained_alone(plan, stacking, device).unwrap_or_else(|_| {
        // The whole plan's stacks exceed an explicit --stack's budget where the remaining runs'
        // do not: decide from those.
        singletons(&todo_stacks)
    });
    store.ensure_writable()?;
    store.remove_stale_temp_files()?;
    let shared = Shared {
        plan,
        store,
        device,
        stacking,
        spread: jobs.workers(),
        alone,
        claims: ClaimBook::open(store.dir())?,
        datasets: Mutex::default(),
        sound: Mutex::default(),
        quarantined: Mutex::default(),
        failed: AtomicBool::new(false),
        deadline: plan
            .search_settings
            .max_hours
            .map(|h| generation_start() + Duration::from_secs_f64(h * 3600.0)),
        out_of_time: AtomicBool::new(false),
        on_event,
    };
    // Damaged parts are quarantined here, so their runs count as to do.
    let done = shared.finished()?;
    let todo: Vec<&RunSpec> = plan
        .runs
        .iter()
        .filter(|r| !done.contains(&r.run_id))
        .collect();
    shared.claims.remove_claims_of(|id| done.contains(id));
    on_event(Event::Start {
        total: plan.runs.len(),
        todo: &todo,
    });
    let tallies: Vec<Result<Tally>> = if jobs.workers() == 1 {
        vec![shared.work()]
    } else {
        let pools = jobs.pools()?;
        std::thread::scope(|scope| {
            let workers: Vec<_> = pools
                .iter()
                .map(|pool| scope.spawn(|| pool.install(|| shared.work())))
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("a training worker panicked"))
                .collect()
        })
    };
    let mut total = Tally::default();
    for tally in tallies {
        let tally = tally?;
        total.trained += tally.trained;
        total.diverged += tally.diverged;
    }
    let now_done = store.existing_run_ids()?;
    let left_to_others = todo
        .iter()
        .filter(|r| !now_done.contains(&r.run_id))
        .count();
    Ok(GenerateSummary {
        planned: plan.runs.len(),
        skipped: plan.runs.len() - todo.len(),
        trained: total.trained,
        diverged: total.diverged,
        quarantined: shared.quarantined.lock().expect("lock").len(),
        // Saturating: a run trained twice after a lost claim (a stalled worker) counts here once.
        finished_by_others: todo.len().saturating_sub(total.trained + left_to_others),
        left_to_others,
        out_of_time: shared.out_of_time.load(Ordering::Relaxed),
    })
}

/// Ids of the runs that the plan's own stacking trains alone: they train alone whatever subset a
/// worker gets, and every other run trains on the stacked path even when its claimed stack has
/// one member, so a run's result does not depend on the worker count or on what was done before
/// (a stacked member's result does not depend on its stack's size; alone it differs by float
/// rounding).
fn runs_trained_alone(
    plan: &Plan,
    stacking: &StackOptions,
    device: ComputeDevice,
) -> Result<HashSet<String>> {
    let all: Vec<&RunSpec> = plan.runs.iter().collect();
    Ok(singletons(&form_stacks(&all, stacking, device)?))
}

fn singletons(stacks: &[Vec<&RunSpec>]) -> HashSet<String> {
    stacks
        .iter()
        .filter(|s| s.len() == 1)
        .map(|s| s[0].run_id.clone())
        .collect()
}

/// What one worker trained.
#[derive(Debug, Default)]
struct Tally {
    trained: usize,
    diverged: usize,
}

/// What the workers of one `generate` share.
struct Shared<'a> {
    plan: &'a Plan,
    store: &'a CorpusStore,
    device: ComputeDevice,
    stacking: &'a StackOptions,
    /// Workers: a group of stackable runs is split into at least this many stacks where it can be,
    /// so that every worker finds a stack to claim.
    spread: usize,
    alone: HashSet<String>,
    claims: ClaimBook,
    datasets: Mutex<HashMap<String, Arc<Dataset>>>,
    /// Parts already checked sound (checked once per process).
    sound: Mutex<HashSet<String>>,
    quarantined: Mutex<Vec<String>>,
    /// Set by a worker that failed, so the others stop after their stack.
    failed: AtomicBool,
    /// `search.max_hours` from the start of generation: no stack is started after it.
    deadline: Option<Instant>,
    /// Set when the deadline stopped a worker.
    out_of_time: AtomicBool,
    on_event: &'a (dyn Fn(Event<'_>) + Sync),
}

impl Shared<'_> {
    /// Ids of the runs with a sound part or in a compacted file; damaged parts are moved to
    /// quarantine (and reported). Compacted files are never moved (each holds many runs): one that
    /// cannot be read stops the run with an error naming it.
    fn finished(&self) -> Result<HashSet<String>> {
        let id = |p: &PathBuf| {
            p.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let unchecked: Vec<PathBuf> = {
            let sound = self.sound.lock().expect("lock");
            self.store
                .run_files()?
                .into_iter()
                .filter(|p| !sound.contains(&id(p)))
                .collect()
        };
        let moved = quarantine_unsound(self.store.dir(), &unchecked)?;
        if !moved.is_empty() {
            let parts: Vec<String> = moved
                .iter()
                .map(|(path, why)| {
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    format!("{name} ({why})")
                })
                .collect();
            (self.on_event)(Event::Quarantined {
                parts: &parts,
                dir: &quarantine_dir(self.store.dir()),
            });
            self.quarantined.lock().expect("lock").extend(parts);
        }
        let mut sound = self.sound.lock().expect("lock");
        for path in &unchecked {
            if !moved.iter().any(|(m, _)| m == path) {
                sound.insert(id(path));
            }
        }
        // Parts listed before compacted files: `compact` renames its file into place before it
        // removes a part, so a part gone from this listing is in the next one.
        let present = self.store.run_files()?;
        let compacted = self.store.compacted_run_ids()?;
        let mut done: HashSet<String> = present
            .iter()
            .map(id)
            .filter(|r| sound.contains(r))
            .collect();
        done.extend(compacted);
        Ok(done)
    }

    /// One worker: passes over the unfinished runs until a pass finds none it can claim.
    fn work(&self) -> Result<Tally> {
        let result = self.passes();
        if result.is_err() {
            self.failed.store(true, Ordering::Relaxed);
        }
        result
    }

    fn passes(&self) -> Result<Tally> {
        let mut tally = Tally::default();
        loop {
            let done = self.finished()?;
            let todo: Vec<&RunSpec> = self
                .plan
                .runs
                .iter()
                .filter(|r| !done.contains(&r.run_id))
                .collect();
            let stacks = form_stacks_spread(&todo, self.stacking, self.device, self.spread)?;
            let mut progressed = false;
            for stack in stacks {
                if self.failed.load(Ordering::Relaxed) {
                    return Ok(tally);
                }
                if self.deadline.is_some_and(|d| Instant::now() >= d) {
                    self.out_of_time.store(true, Ordering::Relaxed);
                    return Ok(tally);
                }
                let (mine, claimed) = self.claim(&stack)?;
                progressed |= claimed;
                if mine.is_empty() {
                    continue;
                }
                (self.on_event)(Event::StackStart { runs: &mine });
                let result = self.train_and_write(&mine, &mut tally);
                for run in &mine {
                    self.claims.release(&run.run_id);
                }
                result?;
            }
            if !progressed {
                return Ok(tally);
            }
        }
    }

    /// The members of `stack` this worker claims and that are still unfinished (another worker
    /// may have written one just before the claim), and whether any claim was acquired at all.
    fn claim<'r>(&self, stack: &[&'r RunSpec]) -> Result<(Vec<&'r RunSpec>, bool)> {
        let (mut mine, mut claimed) = (Vec::new(), false);
        for &run in stack {
            if self.claims.try_claim(&run.run_id)? == Claim::HeldByOther {
                continue;
            }
            claimed = true;
            if self.store.has_run(&run.run_id)? {
                self.claims.release(&run.run_id);
            } else {
                mine.push(run);
            }
        }
        Ok((mine, claimed))
    }

    /// The dataset of `run` (loaded once per process).
    fn dataset(&self, run: &RunSpec) -> Result<Arc<Dataset>> {
        let key = format!("{};{:?}", run.task.spec_string(), run.validation);
        let mut datasets = self.datasets.lock().expect("lock");
        if let Some(data) = datasets.get(&key) {
            return Ok(data.clone());
        }
        let data = Arc::new(
            run.task
                .load(run.validation.map(|v| (v.fraction, v.seed)))?,
        );
        datasets.insert(key, data.clone());
        Ok(data)
    }

    /// Train the claimed members of one stack and write each run, releasing its claim once its
    /// part is in place.
    fn train_and_write(&self, runs: &[&RunSpec], tally: &mut Tally) -> Result<()> {
        let data = self.dataset(runs[0])?;
        let (alone, stacked): (Vec<&RunSpec>, Vec<&RunSpec>) =
            runs.iter().partition(|r| self.alone.contains(&r.run_id));
        let mut trained: Vec<(&RunSpec, TrainOutcome)> = Vec::new();
        for run in alone {
            let outcome = train(self.device, &run.arch, &data, &run.lr_policy, &run.settings)?;
            trained.push((run, outcome));
        }
        if !stacked.is_empty() {
            let members: Vec<StackMember<'_>> = stacked
                .iter()
                .map(|run| StackMember {
                    policy: &run.lr_policy,
                    settings: &run.settings,
                })
                .collect();
            let outcomes = train_stack(self.device, &stacked[0].arch, &data, &members)?;
            trained.extend(stacked.into_iter().zip(outcomes));
        }
        let finished_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        for (run, outcome) in &trained {
            self.store
                .write(&RunRecord::new(&self.plan.name, run, outcome, finished_at))?;
            self.claims.release(&run.run_id);
            tally.trained += 1;
            tally.diverged += usize::from(outcome.diverged);
            (self.on_event)(Event::RunDone { run, outcome });
        }
        Ok(())
    }
}
