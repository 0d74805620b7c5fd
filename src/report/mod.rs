//! The extrapolation report as pure data ([`Report`]), built from the corpus and the fit results;
//! exporters turn it into bytes and [`write_all`] puts the files in place.

pub mod curves;
pub mod failures;
pub mod figures;
pub mod findings;
pub mod groups;
pub mod held_out;
pub mod html;
pub mod json;
pub mod lr_find;
pub mod markdown;
pub mod runs;
pub mod schedules;
pub mod studies;
pub mod sweeps;
pub mod tables;
pub mod verdict;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::corpus::CorpusTable;
use crate::corpus::write_bytes_atomically;
use crate::error::Result;
use crate::predict::FitReport;
pub use groups::{BestRun, GroupSummary};
pub use verdict::Extrapolation;

/// Everything the report shows; `scores.json` is this, so every number of the report is in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Experiment name.
    pub experiment: String,
    /// Recipe description.
    pub description: String,
    /// lrcast version that wrote it.
    pub lrcast_version: String,
    /// Runs in the corpus.
    pub runs: usize,
    /// Runs that trained.
    #[serde(default)]
    pub trained: usize,
    /// Diverged runs.
    pub diverged: usize,
    /// Collapsed runs.
    pub collapsed: usize,
    /// Imported runs whose table recorded no outcome.
    #[serde(default)]
    pub outcome_unknown: usize,
    /// Devices the runs trained on.
    pub devices: Vec<String>,
    /// Total training wall time (s).
    pub train_seconds: f64,
    /// The best policy and base-LR range of each task × architecture.
    #[serde(default)]
    pub best_settings: Vec<findings::BestSetting>,
    /// What the corpus cannot tell.
    #[serde(default)]
    pub gaps: findings::Gaps,
    /// What each protocol held out, in values and runs.
    #[serde(default)]
    pub held_out: Vec<held_out::HeldOut>,
    /// Spread by task.
    pub by_task: Vec<GroupSummary>,
    /// Spread by architecture.
    pub by_arch: Vec<GroupSummary>,
    /// Spread by policy.
    pub by_policy: Vec<GroupSummary>,
    /// Spread by base LR.
    pub by_base_lr: Vec<GroupSummary>,
    /// The best configurations (by final top-1, best first).
    pub best: Vec<BestRun>,
    /// Fit scores (with the best model's per-run predictions on each protocol).
    pub fit: FitReport,
    /// Extrapolation verdicts, one per holdout.
    pub extrapolation: Vec<Extrapolation>,
    /// The LR and momentum schedule of every policy.
    #[serde(default)]
    pub schedules: Vec<schedules::PolicySchedule>,
    /// Final top-1 against every swept hyperparameter.
    #[serde(default)]
    pub sweeps: Vec<sweeps::Sweep>,
    /// Outcome counts per base LR × policy cell of each task × architecture.
    #[serde(default)]
    pub failure_maps: Vec<failures::FailureMap>,
    /// Training curves of the best and worst runs.
    #[serde(default)]
    pub curves: Vec<curves::PanelCurves>,
    /// The LR range test found beside the report, if any.
    #[serde(default)]
    pub lr_find: Option<lr_find::LrFind>,
    /// Why a range test beside the report could not be read, if it could not.
    #[serde(default)]
    pub lr_find_error: Option<String>,
    /// The founding study of the recipe's `[study]` section, if any.
    #[serde(default)]
    pub study: Option<studies::StudyResult>,
}

/// Build the report from the corpus, the fit results and the range test found beside the report
/// (see [`lr_find::load`]).
pub fn build(
    experiment: &str,
    description: &str,
    table: &CorpusTable,
    fit: &FitReport,
    lr_find: std::result::Result<Option<lr_find::LrFind>, String>,
) -> Result<Report> {
    let runs = runs::Runs::from_table(table)?;
    let [trained, diverged, collapsed, unknown] = groups::outcome_counts(&runs, 0..runs.len);
    let lr_keys: Vec<String> = runs.base_lr.iter().map(|v| format!("{v:e}")).collect();
    let mut by_base_lr = groups::groups(&runs, &lr_keys);
    by_base_lr.sort_by(|a, b| {
        let (x, y): (f64, f64) = (a.name.parse().unwrap_or(0.0), b.name.parse().unwrap_or(0.0));
        x.total_cmp(&y)
    });
    for g in &mut by_base_lr {
        g.name = runs::fmt_num(g.name.parse().unwrap_or(f64::NAN));
    }
    // Imported runs record no device.
    let mut devices: Vec<String> = table
        .text("device")
        .map(<[String]>::to_vec)
        .unwrap_or_default()
        .iter()
        .map(|d| match d.is_empty() {
            true => "an unrecorded device (imported)".to_string(),
            false => d.clone(),
        })
        .collect();
    devices.sort();
    devices.dedup();
    let held_out = held_out::held_out(table, &runs, fit);
    let sweeps = sweeps::sweeps(table, &runs, &held_out);
    let (lr_find, lr_find_error) = match lr_find {
        Ok(found) => (found, None),
        Err(e) => (None, Some(e)),
    };
    Ok(Report {
        experiment: experiment.to_string(),
        description: description.to_string(),
        lrcast_version: crate::LRCAST_VERSION.into(),
        runs: runs.len,
        trained,
        diverged,
        collapsed,
        outcome_unknown: unknown,
        devices,
        // Imported runs without a wall time add nothing.
        train_seconds: table
            .values("wall_seconds")
            .unwrap_or_default()
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0, |a, b| a + b),
        best_settings: findings::best_settings(&runs),
        gaps: findings::gaps(&runs, &sweeps),
        by_task: groups::groups(&runs, &runs.task),
        by_arch: groups::groups(&runs, &runs.arch),
        by_policy: groups::groups(&runs, &runs.policy),
        by_base_lr,
        best: groups::best_runs(&runs, 10),
        extrapolation: verdict::extrapolation(fit, &held_out),
        held_out,
        fit: fit.clone(),
        schedules: schedules::schedules(&runs),
        sweeps,
        failure_maps: failures::failure_maps(&runs),
        curves: curves::curves(table, &runs),
        lr_find,
        lr_find_error,
        study: None,
    })
}

/// Where the report goes.
pub fn report_dir(root: &Path, experiment: &str) -> PathBuf {
    root.join("reports").join(experiment)
}

/// Write `report.md`, `report.html`, `scores.json` and the figures into `dir`, each atomically.
pub fn write_all(dir: &Path, report: &Report) -> Result<Vec<PathBuf>> {
    crate::corpus::ensure_writable_dir(&dir.join("figures"))?;
    let figures = figures::all(report)?;
    let mut written = Vec::new();
    for f in &figures {
        if let Some(svg) = &f.svg {
            let path = dir.join("figures").join(&f.file);
            write_bytes_atomically(&path, svg.as_bytes())?;
            written.push(path);
        }
    }
    for (name, bytes) in [
        ("report.md", markdown::render(report, &figures)),
        ("report.html", html::render(report, &figures)),
        ("scores.json", json::render(report)),
    ] {
        let path = dir.join(name);
        write_bytes_atomically(&path, bytes.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}
