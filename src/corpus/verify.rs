//! `lrcast corpus verify`: what is wrong with a corpus, found by reading it and changing nothing —
//! parts and compacted files that cannot be read (or are no lrcast run), foreign runs and files,
//! temporary files and claims left by killed writers — and what is merely worth knowing: the
//! quarantine's content, runs held twice, a stale scalar cache (it is derived).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use super::cache;
use super::claims::claim_files;
use super::compact::check_part_frame;
use super::compacted::{COMPACTED_PREFIX, is_finished_name, part_id};
use super::quarantine::quarantine_dir;
use super::store::{CorpusStore, STALE_TEMP_AGE, TEMP_MARKER, read_parts, run_stamps};
use crate::error::Result;
use crate::recipe::Plan;

/// Columns every lrcast run has had since 0.1.0; a Parquet file without them is no run.
const REQUIRED_COLUMNS: [&str; 5] = ["run_id", "task", "arch", "policy", "top1"];

/// Runs named per foreign compacted file before the rest is counted.
const NAMED_RUNS: usize = 5;

/// One file and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub path: PathBuf,
    pub reason: String,
}

/// What `lrcast corpus verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub experiment: String,
    /// The corpus directory looked at.
    pub corpus: String,
    /// Readable per-run parts.
    pub parts: usize,
    /// Readable compacted files.
    pub compacted_files: usize,
    /// Distinct runs readable (parts and compacted files together).
    pub runs: usize,
    /// Runs in the plan, and how many of them are among the readable runs.
    pub planned: usize,
    pub planned_done: usize,
    /// Problems: parts and compacted files that cannot be read, or are not lrcast runs.
    pub unreadable: Vec<Finding>,
    /// Problems: runs not in the plan, and files in `runs/` or `compacted/` that are no part.
    pub foreign: Vec<Finding>,
    /// Problems: temporary files older than the stale age (abandoned by a killed writer).
    pub stale_temp_files: Vec<Finding>,
    /// Problems: claims whose lease expired (their worker is gone).
    pub stale_claims: Vec<Finding>,
    /// Note: damaged parts `generate` moved aside earlier (their runs were trained again).
    pub quarantined: Vec<PathBuf>,
    /// The scalar cache: `absent`, `consistent`, or why it is stale (a note: it is derived).
    pub cache: String,
    /// Other notes (nothing wrong).
    pub notes: Vec<String>,
    /// Number of problems: the exit code is 1 when it is not 0.
    pub problems: usize,
}

/// Read `paths` as `fit` reads them: the unreadable ones go into `report`, the others come back
/// with their frames.
fn read_readable<'p>(
    paths: &'p [PathBuf],
    report: &mut VerifyReport,
) -> Vec<(&'p PathBuf, DataFrame)> {
    let (frames, unreadable) = read_parts(paths, false);
    let bad: HashSet<PathBuf> = unreadable.iter().map(|u| u.path.clone()).collect();
    report
        .unreadable
        .extend(unreadable.into_iter().map(|u| Finding {
            path: u.path,
            reason: u.message,
        }));
    paths
        .iter()
        .filter(|p| !bad.contains(*p))
        .zip(frames)
        .collect()
}

/// Verify the corpus of `plan` in `store`, reading only.
pub fn verify(plan: &Plan, store: &CorpusStore) -> Result<VerifyReport> {
    let planned: HashSet<&str> = plan.runs.iter().map(|r| r.run_id.as_str()).collect();
    // A recipe with [import] owns every run of its corpus: none is foreign.
    let any_run_belongs = plan.import.is_some();
    let listing = store.listing()?;
    let mut report = VerifyReport {
        experiment: plan.name.clone(),
        corpus: store.dir().display().to_string(),
        parts: 0,
        compacted_files: 0,
        runs: 0,
        planned: plan.runs.len(),
        planned_done: 0,
        unreadable: Vec::new(),
        foreign: Vec::new(),
        stale_temp_files: Vec::new(),
        stale_claims: Vec::new(),
        quarantined: Vec::new(),
        cache: "absent".into(),
        notes: Vec::new(),
        problems: 0,
    };

    // Parts: each read as fit reads it, then checked to be the run its name says.
    let mut part_ids: BTreeSet<String> = BTreeSet::new();
    for (path, df) in read_readable(&listing.parts, &mut report) {
        match check_part_frame(path, &df).and_then(|()| required_columns(&df)) {
            Ok(()) => {
                let id = part_id(path).unwrap_or_default();
                if !any_run_belongs && !planned.contains(id.as_str()) {
                    report.foreign.push(Finding {
                        path: path.clone(),
                        reason: format!("run `{id}` is not in the plan (an earlier version of the recipe, or another recipe's run)"),
                    });
                }
                part_ids.insert(id);
            }
            Err(reason) => report.unreadable.push(Finding {
                path: path.clone(),
                reason: format!("wrong schema: {reason}"),
            }),
        }
    }
    report.parts = part_ids.len();

    // Compacted files: each read whole (scalars), with unique run ids.
    let compacted: Vec<PathBuf> = listing.compacted.iter().map(|c| c.path.clone()).collect();
    let mut runs = part_ids.clone();
    let (mut in_both, mut in_two_compacted) = (0, 0);
    let mut seen_compacted: HashSet<String> = HashSet::new();
    for (path, df) in read_readable(&compacted, &mut report) {
        let ids = match required_columns(&df).and_then(|()| compacted_ids(&df)) {
            Ok(ids) => ids,
            Err(reason) => {
                report.unreadable.push(Finding {
                    path: path.clone(),
                    reason: format!("wrong schema: {reason}"),
                });
                continue;
            }
        };
        report.compacted_files += 1;
        let mut foreign: Vec<&String> = Vec::new();
        for id in &ids {
            in_both += usize::from(part_ids.contains(id));
            in_two_compacted += usize::from(!seen_compacted.insert(id.clone()));
            if !any_run_belongs && !planned.contains(id.as_str()) {
                foreign.push(id);
            }
        }
        if !foreign.is_empty() {
            let named: Vec<String> = foreign
                .iter()
                .take(NAMED_RUNS)
                .map(|s| format!("`{s}`"))
                .collect();
            let more = foreign.len().saturating_sub(NAMED_RUNS);
            report.foreign.push(Finding {
                path: path.clone(),
                reason: format!(
                    "{} run(s) not in the plan: {}{}",
                    foreign.len(),
                    named.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ),
            });
        }
        runs.extend(ids);
    }
    report.runs = runs.len();
    report.planned_done = runs
        .iter()
        .filter(|id| planned.contains(id.as_str()))
        .count();
    if in_both > 0 {
        report.notes.push(format!(
            "{in_both} run(s) are both a part and in a compacted file (a compaction was interrupted \
             before it removed the parts; they are read once): `lrcast corpus compact` removes the \
             parts"
        ));
    }
    if in_two_compacted > 0 {
        report.notes.push(format!(
            "{in_two_compacted} run(s) are in two compacted files (read once): `lrcast corpus \
             compact` merges them"
        ));
    }
    if any_run_belongs {
        report.notes.push(
            "the recipe has [import]: every run of its corpus belongs to it, none is foreign"
                .into(),
        );
    }

    stray_files(store, &mut report);
    temp_files(store, &mut report);
    for claim in claim_files(store.dir()) {
        if claim.expired {
            report.stale_claims.push(Finding {
                path: claim.path,
                reason: format!(
                    "lease of run `{}` expired (its worker is gone; the next `generate` takes the \
                     run over)",
                    claim.run_id
                ),
            });
        }
    }
    report.quarantined = entries(&quarantine_dir(store.dir()));
    report.cache = cache_state(store, &listing, &runs);
    report.problems = report.unreadable.len()
        + report.foreign.len()
        + report.stale_temp_files.len()
        + report.stale_claims.len();
    Ok(report)
}

/// `Ok` when `df` has every column of [`REQUIRED_COLUMNS`].
fn required_columns(df: &DataFrame) -> std::result::Result<(), String> {
    let missing: Vec<&str> = REQUIRED_COLUMNS
        .iter()
        .copied()
        .filter(|c| df.column(c).is_err())
        .collect();
    match missing.is_empty() {
        true => Ok(()),
        false => Err(format!("no column {}", missing.join(", "))),
    }
}

/// The run ids of a compacted file's frame, which must all be present and distinct.
fn compacted_ids(df: &DataFrame) -> std::result::Result<Vec<String>, String> {
    let ids = df
        .column("run_id")
        .and_then(|c| c.str().cloned())
        .map_err(|_| "run_id is not a text column".to_string())?;
    if ids.null_count() > 0 {
        return Err("a row has no run_id".into());
    }
    let ids: Vec<String> = ids.iter().flatten().map(str::to_string).collect();
    let distinct: HashSet<&String> = ids.iter().collect();
    if distinct.len() != ids.len() {
        return Err(format!(
            "{} rows hold only {} runs",
            ids.len(),
            distinct.len()
        ));
    }
    Ok(ids)
}

/// Files in `runs/` and `compacted/` that are neither runs nor temporary files.
fn stray_files(store: &CorpusStore, report: &mut VerifyReport) {
    for (dir, what) in [
        (store.runs_dir(), "a part"),
        (store.compacted_dir(), "a compacted file"),
    ] {
        for path in entries(&dir) {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if name.contains(TEMP_MARKER) {
                continue;
            }
            let known = is_finished_name(&name)
                && (what == "a part" || name.starts_with(COMPACTED_PREFIX))
                && path.is_file();
            if !known {
                report.foreign.push(Finding {
                    reason: format!("not {what} (only lrcast's own files belong here)"),
                    path,
                });
            }
        }
    }
}

/// Temporary files: those older than [`STALE_TEMP_AGE`] are problems, fresh ones a note.
fn temp_files(store: &CorpusStore, report: &mut VerifyReport) {
    let mut fresh = 0;
    for dir in store.temp_dirs() {
        for path in entries(&dir) {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if !name.contains(TEMP_MARKER) {
                continue;
            }
            let age = fs::symlink_metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok());
            match age {
                Some(age) if age > STALE_TEMP_AGE => report.stale_temp_files.push(Finding {
                    reason: format!(
                        "temporary file {} min old, abandoned by a killed writer (`generate` \
                         removes those older than {} min)",
                        age.as_secs() / 60,
                        STALE_TEMP_AGE.as_secs() / 60
                    ),
                    path,
                }),
                _ => fresh += 1,
            }
        }
    }
    if fresh > 0 {
        report.notes.push(format!(
            "{fresh} temporary file(s) younger than {} min: a writer may be at work",
            STALE_TEMP_AGE.as_secs() / 60
        ));
    }
}

/// Whether the scalar cache matches the corpus, read without saving.
fn cache_state(
    store: &CorpusStore,
    listing: &super::compacted::Listing,
    runs: &BTreeSet<String>,
) -> String {
    let path = store.dir().join(cache::CACHE_FILE);
    if !path.exists() {
        return "absent (derived: `fit` writes it)".into();
    }
    let stamps: HashMap<String, cache::Stamp> = run_stamps(listing);
    match cache::load(&path, &stamps) {
        None => "unreadable (derived: the next `fit` writes it anew)".into(),
        Some((df, stale)) => {
            let covered = cache::run_ids(&df);
            let missing = runs.iter().filter(|id| !covered.contains(*id)).count();
            match (stale, missing) {
                (false, 0) => "consistent".into(),
                _ => format!(
                    "stale: {missing} run(s) not in it{} (derived: the next `fit` brings it up to \
                     date)",
                    if stale {
                        ", rows of files changed or gone"
                    } else {
                        ""
                    }
                ),
            }
        }
    }
}

/// The entries of `dir`, sorted (none when it is absent).
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

impl VerifyReport {
    /// The report as text for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = self.write_text(&mut out);
        out
    }

    fn write_text(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "verify `{}`, corpus {}", self.experiment, self.corpus)?;
        writeln!(
            out,
            "  {} run(s) readable: {} part(s), {} compacted file(s); {} of {} planned runs",
            self.runs, self.parts, self.compacted_files, self.planned_done, self.planned
        )?;
        let sections: [(&str, &[Finding]); 4] = [
            ("cannot be read", &self.unreadable),
            ("foreign", &self.foreign),
            ("stale temporary files", &self.stale_temp_files),
            ("stale claims", &self.stale_claims),
        ];
        for (title, findings) in sections {
            writeln!(out, "  {title}: {}", findings.len())?;
            for f in findings {
                writeln!(out, "    {}: {}", f.path.display(), f.reason)?;
            }
        }
        writeln!(
            out,
            "  quarantine: {} file(s){}",
            self.quarantined.len(),
            if self.quarantined.is_empty() {
                ""
            } else {
                " (damaged parts moved aside by `generate`, their runs trained again; inspect or delete)"
            }
        )?;
        for path in &self.quarantined {
            writeln!(out, "    {}", path.display())?;
        }
        writeln!(out, "  scalar cache: {}", self.cache)?;
        for note in &self.notes {
            writeln!(out, "  note: {note}")?;
        }
        match self.problems {
            0 => writeln!(out, "ok: nothing is wrong"),
            n => writeln!(out, "{n} problem(s) found"),
        }
    }
}
