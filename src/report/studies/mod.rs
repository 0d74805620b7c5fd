//! The founding studies: one file per study, each a pure function from the corpus table (and, where
//! the study reads them, LR range tests run beforehand) to a [`StudyResult`] — its tables, its
//! figures as data, its findings with the numbers behind them and a verdict — that the report shows
//! first and `scores.json` carries in full.

pub mod clr_vs_fixed;
pub mod coarse_to_fine;
pub mod effective_lr;
pub mod lr_find_stability;
pub mod lrbench_policies;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::corpus::CorpusTable;
use crate::error::Result;
use crate::lrfind::RepeatedRangeTest;
use crate::recipe::StudyKind;

/// Whether a claim of the literature holds at this scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Holds {
    /// It holds here.
    Holds,
    /// It holds in some of the cases, not all.
    Partly,
    /// It does not reproduce here.
    DoesNotHold,
    /// The corpus cannot tell (too few runs, nothing trained).
    CannotTell,
}

impl Holds {
    /// How the report writes it.
    pub fn label(self) -> &'static str {
        match self {
            Holds::Holds => "holds",
            Holds::Partly => "holds in part",
            Holds::DoesNotHold => "does not reproduce here",
            Holds::CannotTell => "cannot tell",
        }
    }

    /// `Holds` when `hits` of `n` cases agree with the claim, `Partly` for some, else `DoesNotHold`.
    pub fn of_count(hits: usize, n: usize) -> Self {
        match (hits, n) {
            (_, 0) => Holds::CannotTell,
            (h, n) if h == n => Holds::Holds,
            (0, _) => Holds::DoesNotHold,
            _ => Holds::Partly,
        }
    }
}

/// One claim and what the corpus says about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The claim, as the literature states it.
    pub claim: String,
    /// Whether it holds here.
    pub holds: Holds,
    /// The numbers behind the verdict, in a sentence.
    pub evidence: String,
}

/// A table of text cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyTable {
    /// What the table shows.
    pub title: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

/// One line (or set of points) of a panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Legend label (series with the same label share a colour across panels).
    pub label: String,
    /// `[x, y]` points.
    pub points: Vec<[f64; 2]>,
    /// Draw markers only, no line.
    #[serde(default)]
    pub markers_only: bool,
}

/// One panel of a line figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinePanel {
    /// Panel title.
    pub title: String,
    /// Its series.
    pub series: Vec<Series>,
}

/// Panels of lines (or points) on shared axis kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineFigure {
    /// File name under `figures/`.
    pub file: String,
    /// Title drawn on the figure.
    pub title: String,
    /// Caption in the report.
    pub caption: String,
    /// x axis label.
    pub x_label: String,
    /// y axis label.
    pub y_label: String,
    /// Log-scaled x axis.
    pub log_x: bool,
    /// Log-scaled y axis.
    pub log_y: bool,
    /// The panels.
    pub panels: Vec<LinePanel>,
}

/// One cell of a map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeatCell {
    /// Column.
    pub x: usize,
    /// Row.
    pub y: usize,
    /// Fill colour (RGB).
    pub color: [u8; 3],
    /// Text written in the cell.
    pub text: String,
}

/// A map of cells (rows × columns), each coloured and labelled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeatFigure {
    /// File name under `figures/`.
    pub file: String,
    /// Title drawn on the figure.
    pub title: String,
    /// Caption in the report.
    pub caption: String,
    /// x axis label.
    pub x_label: String,
    /// y axis label.
    pub y_label: String,
    /// Column labels.
    pub x_ticks: Vec<String>,
    /// Row labels (row 0 at the bottom).
    pub y_ticks: Vec<String>,
    /// The cells.
    pub cells: Vec<HeatCell>,
    /// Legend: what each colour means.
    pub legend: Vec<(String, [u8; 3])>,
}

/// A figure of a study, as data; `figures/study.rs` draws it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StudyFigure {
    /// Lines or points in panels.
    Lines(LineFigure),
    /// A coloured map.
    Heat(HeatFigure),
}

impl StudyFigure {
    /// File name under `figures/`.
    pub fn file(&self) -> &str {
        match self {
            StudyFigure::Lines(f) => &f.file,
            StudyFigure::Heat(f) => &f.file,
        }
    }

    /// Caption.
    pub fn caption(&self) -> &str {
        match self {
            StudyFigure::Lines(f) => &f.caption,
            StudyFigure::Heat(f) => &f.caption,
        }
    }
}

/// What a study found: shown first in the report, every number in `scores.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyResult {
    /// The study (`[study] kind`).
    pub kind: StudyKind,
    /// Section title.
    pub title: String,
    /// The scale it ran at (runs, steps, data), measured from the corpus.
    pub scale: String,
    /// The verdict in two sentences.
    pub verdict: String,
    /// Each claim with its verdict and numbers.
    pub findings: Vec<Finding>,
    /// Tables.
    pub tables: Vec<StudyTable>,
    /// Figures (data).
    pub figures: Vec<StudyFigure>,
    /// The headline numbers by name (finite values only).
    pub numbers: BTreeMap<String, f64>,
}

/// A range test repeated over seeds for one task × architecture of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRangeTest {
    /// Task spec, as in the corpus.
    pub task: String,
    /// Architecture spec, as in the corpus.
    pub arch: String,
    /// The repeated test.
    pub test: RepeatedRangeTest,
}

/// What the analyses read besides the corpus.
#[derive(Debug, Clone, Default)]
pub struct StudyInputs {
    /// Range tests per task × architecture (only for studies that read them).
    pub range_tests: Vec<GroupRangeTest>,
}

/// Run the analysis of `kind` on the corpus `table`.
pub fn analyse(kind: StudyKind, table: &CorpusTable, inputs: &StudyInputs) -> Result<StudyResult> {
    let runs = StudyRuns::from_table(table)?;
    Ok(match kind {
        StudyKind::EffectiveLr => effective_lr::analyse(&runs),
        StudyKind::LrbenchPolicies => lrbench_policies::analyse(&runs),
        StudyKind::ClrVsFixed => clr_vs_fixed::analyse(&runs, inputs),
        StudyKind::CoarseToFine => coarse_to_fine::analyse(&runs),
        StudyKind::LrFindStability => lr_find_stability::analyse(&runs, inputs),
    })
}

/// The corpus columns the studies read, one vector per column (NaN / empty where absent).
#[derive(Debug, Clone, Default)]
pub struct StudyRuns {
    /// Runs.
    pub len: usize,
    /// Text columns by name.
    text: BTreeMap<String, Vec<String>>,
    /// Numeric columns by name.
    numbers: BTreeMap<String, Vec<f64>>,
    /// List columns by name.
    curves: BTreeMap<String, Vec<Vec<f64>>>,
    /// `trained`, `diverged`, `collapsed` or `unknown`.
    pub outcome: Vec<String>,
}

impl StudyRuns {
    /// Pull the columns out of the table.
    pub fn from_table(table: &CorpusTable) -> Result<Self> {
        let numbers = table
            .numeric
            .iter()
            .map(|(k, v)| (k.clone(), v.iter().map(|x| x.unwrap_or(f64::NAN)).collect()))
            .collect();
        Ok(StudyRuns {
            len: table.len,
            text: table.text.clone(),
            numbers,
            curves: table.curves.clone(),
            outcome: table.outcomes()?,
        })
    }

    /// Text cell (empty when the column is absent).
    pub fn s(&self, column: &str, i: usize) -> &str {
        self.text.get(column).map_or("", |c| c[i].as_str())
    }

    /// Numeric cell (NaN when absent or null).
    pub fn x(&self, column: &str, i: usize) -> f64 {
        self.numbers.get(column).map_or(f64::NAN, |c| c[i])
    }

    /// List cell (empty when absent).
    pub fn c(&self, column: &str, i: usize) -> &[f64] {
        self.curves.get(column).map_or(&[], |c| c[i].as_slice())
    }

    /// `task · arch` of run `i`.
    pub fn group(&self, i: usize) -> String {
        format!(
            "{} · {}",
            super::runs::short(self.s("task", i)),
            self.s("arch", i)
        )
    }

    /// Task name without its options.
    pub fn task_name(&self, i: usize) -> &str {
        let t = self.s("task", i);
        t.split(':').next().unwrap_or(t)
    }

    /// Selection score of run `i`: validation top-1 where recorded (never the test split), else
    /// test top-1.
    pub fn select_score(&self, i: usize) -> f64 {
        let v = self.x("val_top1", i);
        if v.is_finite() { v } else { self.x("top1", i) }
    }

    /// Whether the runs were selected on a validation split.
    pub fn selected_on_validation(&self) -> bool {
        (0..self.len).any(|i| self.x("val_top1", i).is_finite())
    }
}

/// Mean of finite values (NaN when none).
pub fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (s, n) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

/// Sample standard deviation of finite values (0 for one, NaN for none).
pub fn std(values: &[f64]) -> f64 {
    let v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    match v.len() {
        0 => f64::NAN,
        1 => 0.0,
        n => {
            let m = v.iter().sum::<f64>() / n as f64;
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        }
    }
}

/// Element-wise mean of curves (as long as the shortest).
pub fn mean_curve(curves: &[&[f64]]) -> Vec<f64> {
    let n = curves.iter().map(|c| c.len()).min().unwrap_or(0);
    (0..n).map(|k| mean(curves.iter().map(|c| c[k]))).collect()
}

/// Three decimals, or — when not finite.
pub fn f3(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "—".into()
    }
}

/// A number as a reader writes it (`0.001`, `5e-4`), or —.
pub fn num(v: f64) -> String {
    if v.is_finite() {
        super::runs::fmt_num(v)
    } else {
        "—".into()
    }
}

/// Three significant digits in scientific notation, or —.
pub fn sci(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2e}")
    } else {
        "—".into()
    }
}

/// Groups of run indices by a key, in first-seen order.
pub fn group_by<K: PartialEq + Clone>(n: usize, key: impl Fn(usize) -> K) -> Vec<(K, Vec<usize>)> {
    let mut out: Vec<(K, Vec<usize>)> = Vec::new();
    for i in 0..n {
        let k = key(i);
        match out.iter_mut().find(|(g, _)| *g == k) {
            Some((_, v)) => v.push(i),
            None => out.push((k, vec![i])),
        }
    }
    out
}

/// A white-to-blue colour for `t` in [0, 1].
pub fn blue(t: f64) -> [u8; 3] {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    [mix(247.0, 31.0), mix(251.0, 119.0), mix(255.0, 180.0)]
}

/// Insert `value` under `name` when finite.
pub fn put(numbers: &mut BTreeMap<String, f64>, name: impl Into<String>, value: f64) {
    if value.is_finite() {
        numbers.insert(name.into(), value);
    }
}

/// The scale sentence every study starts from: runs, groups, steps and outcomes.
pub fn scale_sentence(runs: &StudyRuns) -> String {
    let steps: Vec<f64> = (0..runs.len).map(|i| runs.x("total_steps", i)).collect();
    let lo = steps
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let hi = steps
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let tasks = super::runs::distinct((0..runs.len).map(|i| runs.s("task", i).to_string()));
    let archs = super::runs::distinct((0..runs.len).map(|i| runs.s("arch", i).to_string()));
    let wall: f64 = (0..runs.len)
        .map(|i| runs.x("wall_seconds", i))
        .filter(|v| v.is_finite())
        .sum();
    let failed = runs.outcome.iter().filter(|o| *o != "trained").count();
    format!(
        "{} runs on {} ({}), {} steps each{}; {} did not train (diverged or collapsed); {:.0} s of \
         training on the CPU.",
        runs.len,
        tasks
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", "),
        archs
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", "),
        num(lo),
        if hi > lo {
            format!(" up to {}", num(hi))
        } else {
            String::new()
        },
        failed,
        wall
    )
}
