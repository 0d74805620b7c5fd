//! `lrcast status`: how far a recipe's corpus has come — runs planned, done (by outcome) and
//! remaining, parts that cannot be read, runs that are not in the plan — and the time left at the
//! pace of the finished runs. Reads the corpus; trains nothing and writes nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::corpus::CorpusStore;
use crate::corpus::CorpusTable;
use crate::corpus::store::UnreadablePart;
use crate::error::Result;
use crate::planning::human_duration;
use crate::recipe::{Plan, RunSpec};

/// The outcome classes always reported, even at zero.
const OUTCOMES: [&str; 3] = ["trained", "diverged", "collapsed"];

/// What `lrcast status` found.
#[derive(Debug, Clone, Serialize)]
pub struct StatusSummary {
    /// Experiment name.
    pub experiment: String,
    /// Where the recipe came from.
    pub recipe: String,
    /// The corpus directory looked at.
    pub corpus: String,
    /// Runs in the plan.
    pub planned: usize,
    /// Runs of the plan whose part file reads.
    pub done: usize,
    /// Runs of the plan with no part file: what `generate` would train now.
    pub remaining: usize,
    /// Of the done runs, how many ended `trained`, `diverged` or `collapsed` (`unknown` for
    /// imported runs that recorded no outcome).
    pub outcomes: BTreeMap<String, usize>,
    /// Part files (and compacted files) that cannot be read (any run, in the plan or not).
    pub failed: Vec<UnreadablePart>,
    /// Of the failed parts, those of runs in the plan: `generate` moves them to quarantine/ and
    /// trains those runs again.
    pub failed_in_plan: usize,
    /// Part files of runs that are not in the plan (another version of the recipe, or imported).
    pub foreign: usize,
    /// Time left.
    pub time_left: TimeLeft,
}

/// Time left, from the pace of the finished runs.
#[derive(Debug, Clone, Serialize)]
pub struct TimeLeft {
    /// Seconds left; `None` when some remaining run's pace is unknown.
    pub seconds: Option<f64>,
    /// Seconds left over the groups whose pace is known.
    pub known_seconds: f64,
    /// Remaining runs in groups with no finished run yet.
    pub unknown_runs: usize,
    /// One entry per (task, architecture, batch size) with remaining or finished runs.
    pub groups: Vec<Pace>,
    /// How the figure is made.
    pub note: String,
}

/// The pace of one (task, architecture, batch size).
#[derive(Debug, Clone, Serialize)]
pub struct Pace {
    pub task: String,
    pub arch: String,
    pub batch_size: usize,
    /// Finished runs of the plan in this group with a wall time.
    pub finished: usize,
    /// Their wall seconds over the optimizer steps they took.
    pub seconds_per_step: Option<f64>,
    pub remaining_runs: usize,
    /// Optimizer steps of the remaining runs (all of their planned steps).
    pub remaining_steps: u64,
    /// `remaining_steps × seconds_per_step`.
    pub seconds: Option<f64>,
}

/// How far `plan`'s corpus in `store` has come. A missing corpus is empty; nothing is created.
pub fn summarize(plan: &Plan, store: &CorpusStore) -> Result<StatusSummary> {
    let planned: HashMap<&str, &RunSpec> =
        plan.runs.iter().map(|r| (r.run_id.as_str(), r)).collect();
    // Parts and runs of readable compacted files; one that cannot be read is named under `failed`.
    let files: HashSet<String> = store.listing()?.run_ids().into_iter().collect();
    let scan = store.scan_parts_read_only()?;
    let table = match &scan.frame {
        Some(df) => CorpusTable::from_dataframe(df)?,
        None => CorpusTable::default(),
    };
    let ids: Vec<String> = table.text("run_id").map(<[_]>::to_vec).unwrap_or_default();
    // Corpora older than the `outcome` column are classed from `diverged` and the loss.
    let outcomes = table
        .outcomes()
        .unwrap_or_else(|_| vec![crate::corpus::table::UNKNOWN_OUTCOME.to_string(); table.len]);
    let column = |name: &str| table.numeric.get(name).map(Vec::as_slice);
    let (wall, steps_done) = (column("wall_seconds"), column("steps_done"));
    let (diverged_at, diverged) = (column("diverged_at_step"), column("diverged"));
    let value = |col: Option<&[Option<f64>]>, i: usize| col.and_then(|c| c[i]);

    let mut counts: BTreeMap<String, usize> = OUTCOMES.iter().map(|o| (o.to_string(), 0)).collect();
    let mut paces = Paces::default();
    let mut done = 0;
    for (i, id) in ids.iter().enumerate() {
        let Some(run) = planned.get(id.as_str()) else {
            continue;
        };
        done += 1;
        *counts.entry(outcomes[i].clone()).or_default() += 1;
        // Steps the run took: a diverged run stopped early. Older corpora lack `steps_done`.
        let steps = value(steps_done, i)
            .or_else(|| {
                (value(diverged, i) > Some(0.5))
                    .then(|| value(diverged_at, i))
                    .flatten()
            })
            .unwrap_or(run.total_steps() as f64);
        let pace = paces.entry(run);
        if let Some(w) = value(wall, i).filter(|w| w.is_finite() && *w > 0.0)
            && steps > 0.0
        {
            pace.0.finished += 1;
            pace.1 += w;
            pace.2 += steps;
        }
    }
    let remaining: Vec<&RunSpec> = plan
        .runs
        .iter()
        .filter(|r| !files.contains(&r.run_id))
        .collect();
    for run in &remaining {
        let pace = paces.entry(run);
        pace.0.remaining_runs += 1;
        pace.0.remaining_steps += run.total_steps();
    }
    let (mut known, mut unknown_runs) = (0.0, 0);
    let groups: Vec<Pace> = paces
        .groups
        .into_iter()
        .map(|(mut p, wall, steps)| {
            if p.finished > 0 {
                let rate = wall / steps;
                p.seconds_per_step = Some(rate);
                p.seconds = Some(rate * p.remaining_steps as f64);
                known += rate * p.remaining_steps as f64;
            } else {
                unknown_runs += p.remaining_runs;
            }
            p
        })
        .collect();
    let failed_in_plan = scan
        .unreadable
        .iter()
        .filter(|p| {
            p.path
                .file_stem()
                .is_some_and(|s| planned.contains_key(s.to_string_lossy().as_ref()))
        })
        .count();
    Ok(StatusSummary {
        experiment: plan.name.clone(),
        recipe: plan.source.display().to_string(),
        corpus: store.runs_dir().display().to_string(),
        planned: plan.runs.len(),
        done,
        remaining: remaining.len(),
        outcomes: counts,
        failed: scan.unreadable,
        failed_in_plan,
        foreign: files
            .iter()
            .filter(|id| !planned.contains_key(id.as_str()))
            .count(),
        time_left: TimeLeft {
            seconds: (unknown_runs == 0).then_some(known),
            known_seconds: known,
            unknown_runs,
            groups,
            note: "remaining steps × the wall seconds per step of this plan's finished runs of \
                   the same task, architecture and batch size (evaluation, data loading and \
                   stacking included, as they ran); unknown for a group with no finished run yet \
                   (`lrcast plan` measures a few steps instead); runs that will diverge early are \
                   counted in full"
                .into(),
        },
    })
}

/// Paces by (task, architecture, batch size) in order of first appearance, each with the wall
/// seconds and steps of its finished runs summed so far.
#[derive(Default)]
struct Paces {
    groups: Vec<(Pace, f64, f64)>,
    index: HashMap<String, usize>,
}

impl Paces {
    /// The entry of `run`'s group, created on first use.
    fn entry(&mut self, run: &RunSpec) -> &mut (Pace, f64, f64) {
        let (task, arch) = (run.task.spec_string(), run.arch.spec_string());
        let key = format!("{task}|{arch}|{}", run.settings.batch_size);
        let next = self.groups.len();
        let i = *self.index.entry(key).or_insert(next);
        if i == next {
            self.groups.push((
                Pace {
                    task,
                    arch,
                    batch_size: run.settings.batch_size,
                    finished: 0,
                    seconds_per_step: None,
                    remaining_runs: 0,
                    remaining_steps: 0,
                    seconds: None,
                },
                0.0,
                0.0,
            ));
        }
        &mut self.groups[i]
    }
}

impl StatusSummary {
    /// The summary as text for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = self.write_text(&mut out);
        out
    }

    fn write_text(&self, out: &mut String) -> std::fmt::Result {
        writeln!(
            out,
            "status `{}` ({}), corpus {}",
            self.experiment, self.recipe, self.corpus
        )?;
        writeln!(out, "  planned    {}", self.planned)?;
        // The three classes in their natural order, then any other (`unknown`) that occurs.
        let outcomes: Vec<String> = OUTCOMES
            .iter()
            .map(|name| format!("{name} {}", self.outcomes.get(*name).unwrap_or(&0)))
            .chain(
                self.outcomes
                    .iter()
                    .filter(|(name, n)| !OUTCOMES.contains(&name.as_str()) && **n > 0)
                    .map(|(name, n)| format!("{name} {n}")),
            )
            .collect();
        writeln!(out, "  done       {}  ({})", self.done, outcomes.join(", "))?;
        writeln!(out, "  remaining  {}", self.remaining)?;
        writeln!(
            out,
            "  failed     {} part(s) that cannot be read{}",
            self.failed.len(),
            match self.failed_in_plan {
                0 => String::new(),
                n => format!(
                    ", {n} of them in the plan (`lrcast generate` moves them to quarantine/ and \
                     trains those runs again)"
                ),
            }
        )?;
        for part in &self.failed {
            writeln!(out, "    {}: {}", part.path.display(), part.message)?;
        }
        writeln!(
            out,
            "  foreign    {} run(s) in the corpus that are not in the plan",
            self.foreign
        )?;
        let t = &self.time_left;
        match (t.seconds, self.remaining) {
            (_, 0) => writeln!(out, "time left: none, every planned run has a part file")?,
            (Some(s), _) => writeln!(out, "time left: about {}", human_duration(s))?,
            (None, _) => writeln!(
                out,
                "time left: unknown for {} run(s) in groups with no finished run yet{}",
                t.unknown_runs,
                if t.known_seconds > 0.0 {
                    format!(
                        ", plus about {} for the others",
                        human_duration(t.known_seconds)
                    )
                } else {
                    String::new()
                }
            )?,
        }
        if self.remaining > 0 {
            writeln!(out, "  ({})", t.note)?;
        }
        for g in t.groups.iter().filter(|g| g.remaining_runs > 0) {
            let pace = match (g.seconds_per_step, g.seconds) {
                (Some(rate), Some(s)) => format!(
                    "{:.3} ms/step from {} finished run(s) → {}",
                    rate * 1e3,
                    g.finished,
                    human_duration(s)
                ),
                _ => "no finished run yet → unknown".into(),
            };
            writeln!(
                out,
                "  {} · {} · batch {}: {} run(s), {} steps left; {pace}",
                g.task, g.arch, g.batch_size, g.remaining_runs, g.remaining_steps
            )?;
        }
        Ok(())
    }
}
