//! Raw recipe types, exactly as written in `experiments/NAME.toml` (serde, unknown keys rejected).
//! Only [`super::plan::Plan`] — the validated form — reaches the runner.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A whole recipe file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecipe {
    /// Experiment name: names the corpus, model and report directories. Defaults to the file stem.
    pub name: Option<String>,
    /// Free text shown in the report.
    pub description: Option<String>,
    /// The grid of run settings (`[grid]`), or several blocks (`[[grid]]`); every combination of a
    /// block is one run. Optional when the recipe has an `[import]` section.
    pub grid: Option<GridSection>,
    /// Settings shared by every run.
    #[serde(default)]
    pub train: RawTrain,
    /// Predictor settings.
    #[serde(default)]
    pub fit: RawFit,
    /// A sweep table written elsewhere, read into the corpus by `lrcast import`.
    pub import: Option<RawImport>,
    /// How runs are chosen from the grid (`[search]`; every combination when absent).
    pub search: Option<RawSearch>,
    /// A founding study whose analysis the report adds (`[study]`; none when absent).
    pub study: Option<RawStudy>,
}

/// `[study]`: which founding study's analysis the report adds (see `src/report/studies/`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStudy {
    /// `effective-lr`, `lrbench-policies`, `clr-vs-fixed`, `coarse-to-fine` or `lr-find-stability`.
    pub kind: String,
    /// Range tests per task × architecture (`clr-vs-fixed`, `lr-find-stability`); default 10.
    pub lr_find_repeats: Option<i64>,
    /// Steps of each range test; default 100.
    pub lr_find_steps: Option<i64>,
}

/// `[import]`: a sweep table (CSV or Parquet) and how its columns map onto corpus columns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImport {
    /// The table, relative to the recipe file; `.csv` or `.parquet`.
    pub path: String,
    /// `[import.columns]`: corpus column = column of the table.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// `[import.constants]`: corpus column = one value shared by every row.
    #[serde(default)]
    pub constants: BTreeMap<String, toml::Value>,
}

/// `[grid]` or `[[grid]]`, kept as TOML tables until the search strategy is known: under `grid`
/// each block is a [`RawGrid`] of lists; under `random` / `coarse_to_fine` its axes may also be
/// distributions, which [`super::search`] samples into concrete blocks.
#[derive(Debug, Clone)]
pub struct GridSection {
    /// The blocks as written; the plan is the union of their runs.
    tables: Vec<toml::Table>,
    /// Written as `[[grid]]` (blocks are then named `grid[i]` in messages).
    is_array: bool,
}

impl GridSection {
    /// Each block as written, with the name messages use for it: `grid`, or `grid[i]`.
    pub fn tables(&self) -> Vec<(String, &toml::Table)> {
        self.tables
            .iter()
            .enumerate()
            .map(|(i, t)| match self.is_array {
                true => (format!("grid[{i}]"), t),
                false => ("grid".to_string(), t),
            })
            .collect()
    }
}

impl RawGrid {
    /// A block of lists from its table; `Err` is serde's message (unknown key, wrong type).
    pub fn from_table(table: &toml::Table) -> Result<Self, String> {
        RawGrid::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
            e.to_string()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
    }
}

impl<'de> Deserialize<'de> for GridSection {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let shape_error = || {
            D::Error::custom(
                "`grid` is a [grid] table or [[grid]] blocks of lists, e.g. arch = [\"mlp\"]",
            )
        };
        match toml::Value::deserialize(deserializer)? {
            toml::Value::Array(blocks) if !blocks.is_empty() => blocks
                .into_iter()
                .map(|b| match b {
                    toml::Value::Table(t) => Ok(t),
                    _ => Err(shape_error()),
                })
                .collect::<Result<_, _>>()
                .map(|tables| GridSection {
                    tables,
                    is_array: true,
                }),
            toml::Value::Table(t) => Ok(GridSection {
                tables: vec![t],
                is_array: false,
            }),
            _ => Err(shape_error()),
        }
    }
}

/// `[search]`: how runs are chosen from the grid's ranges (`grid` when absent).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSearch {
    /// `grid` (every combination), `random` (`samples` seeded draws) or `coarse_to_fine`.
    #[serde(default = "default_strategy")]
    pub strategy: String,
    /// Configurations drawn per grid block (per round for coarse_to_fine).
    pub samples: Option<i64>,
    /// Seed of the draws.
    #[serde(default)]
    pub seed: i64,
    /// coarse_to_fine: rounds, the first over the full ranges.
    pub rounds: Option<i64>,
    /// coarse_to_fine: configurations whose values bound the next round's ranges.
    pub top_k: Option<i64>,
    /// coarse_to_fine: validation metric that ranks configurations (`val_top1` or `val_loss`).
    pub metric: Option<String>,
    /// Budget: most runs planned (the plan is cut after this many, in order).
    pub max_runs: Option<i64>,
    /// Budget: `generate` starts no new stack after this many hours (rerun to continue).
    pub max_hours: Option<f64>,
}

fn default_strategy() -> String {
    "grid".into()
}

/// `[grid]`: lists whose Cartesian product is the set of runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrid {
    /// Task specs, e.g. `"mnist1d"` or `"mnist1d:num_samples=2000"`.
    #[serde(default = "default_tasks")]
    pub task: Vec<String>,
    /// Architecture specs, e.g. `"mlp:hidden=100;100"`, `"cnn1d:channels=25"`.
    pub arch: Vec<String>,
    /// LR policy specs (`"cosine"`, `"step:step_size=2ep,gamma=0.5"`) or TOML tables (`{ name = "step", gamma = 0.5 }`).
    pub policy: Vec<toml::Value>,
    /// Base learning rates; each is injected into the policy's primary LR parameter (`lr`, or `max_lr` for cyclical ones).
    pub base_lr: Vec<f64>,
    /// L2 weight decay values.
    #[serde(default = "default_weight_decay")]
    pub weight_decay: Vec<f64>,
    /// SGD momentum values.
    #[serde(default = "default_momentum")]
    pub momentum: Vec<f64>,
    /// Batch sizes.
    #[serde(default = "default_batch_size")]
    pub batch_size: Vec<i64>,
    /// Seeds of the weight initialisation (and of the batch order unless `data_seed` is given).
    #[serde(default = "default_seed")]
    pub seed: Vec<i64>,
    /// Seeds of the batch order; without it each run's batch order follows its `seed`.
    pub data_seed: Option<Vec<i64>>,
    /// Training lengths in epochs; without it, `train.epochs`.
    pub epochs: Option<Vec<i64>>,
    /// Optimizers (`sgd`, `adam`, `adamw`); without it, `train.optimizer`.
    pub optimizer: Option<Vec<String>>,
}

/// `[train]`: settings shared by every run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrain {
    /// Passes over the training split.
    #[serde(default = "default_epochs")]
    pub epochs: i64,
    /// Optimizer of every run (`sgd`, `adam`, `adamw`) unless `grid.optimizer` lists several.
    pub optimizer: Option<String>,
    /// SGD: Nesterov momentum.
    #[serde(default)]
    pub nesterov: bool,
    /// SGD: weight decay applied to the weights (SGDW) instead of added to the gradient.
    #[serde(default)]
    pub decoupled_weight_decay: bool,
    /// Adam/AdamW β₂ (β₁ is `grid.momentum`, or the policy's momentum schedule).
    #[serde(default = "default_beta2")]
    pub beta2: f64,
    /// Adam/AdamW ε.
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// Clip gradients to this global L2 norm.
    pub clip_grad_norm: Option<f64>,
    /// Label smoothing of the cross-entropy, in [0, 1).
    #[serde(default)]
    pub label_smoothing: f64,
    /// Fraction of the training split held out for validation, in (0, 0.5].
    pub validation: Option<f64>,
    /// Seed of the validation split.
    #[serde(default)]
    pub validation_seed: i64,
    /// Also record weight norms / effective LR every this many steps (0 = per epoch only).
    #[serde(default)]
    pub trace_every: i64,
    /// A loss above `divergence_factor × ln(classes)` (or NaN/inf) ends a run as diverged.
    #[serde(default = "default_divergence_factor")]
    pub divergence_factor: f64,
    /// Test accuracy whose first attainment is recorded as `steps_to_target`.
    #[serde(default = "default_target_accuracy")]
    pub target_accuracy: f64,
    /// Most runs trained together as one stacked model (`--stack` overrides it); not part of any
    /// run's spec.
    pub stack: Option<i64>,
    /// Memory one stack may use, MiB (`--stack-memory` overrides it); not part of any run's spec.
    pub stack_memory_mib: Option<i64>,
}

/// `[fit]`: predictor and holdout settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFit {
    /// Hyperparameters whose extreme values form the test set, one holdout each.
    #[serde(default = "default_holdout")]
    pub holdout: Vec<String>,
    /// Fraction held out at each end (top and bottom), in (0, 0.5).
    #[serde(default = "default_quantile")]
    pub quantile: f64,
    /// Seed of the random contrast split.
    #[serde(default)]
    pub random_seed: i64,
    /// Penalty of the ridge model (on standardised features).
    #[serde(default = "default_ridge_alpha")]
    pub ridge_alpha: f64,
    /// Penalty of the elastic net (on standardised features).
    #[serde(default = "default_elastic_net_alpha")]
    pub elastic_net_alpha: f64,
    /// L1 share of the elastic-net penalty, in [0, 1].
    #[serde(default = "default_l1_ratio")]
    pub l1_ratio: f64,
    /// Protocols to run (default: every one the corpus allows; one it does not allow is then an
    /// error rather than skipped).
    #[serde(default)]
    pub protocols: Option<Vec<String>>,
    /// Models to fit beside the baselines (default: all).
    #[serde(default)]
    pub models: Option<Vec<String>>,
}

impl Default for RawTrain {
    fn default() -> Self {
        Self {
            epochs: default_epochs(),
            optimizer: None,
            nesterov: false,
            decoupled_weight_decay: false,
            beta2: default_beta2(),
            eps: default_eps(),
            clip_grad_norm: None,
            label_smoothing: 0.0,
            validation: None,
            validation_seed: 0,
            trace_every: 0,
            divergence_factor: default_divergence_factor(),
            target_accuracy: default_target_accuracy(),
            stack: None,
            stack_memory_mib: None,
        }
    }
}

impl Default for RawFit {
    fn default() -> Self {
        Self {
            holdout: default_holdout(),
            quantile: default_quantile(),
            random_seed: 0,
            ridge_alpha: default_ridge_alpha(),
            elastic_net_alpha: default_elastic_net_alpha(),
            l1_ratio: default_l1_ratio(),
            protocols: None,
            models: None,
        }
    }
}

fn default_tasks() -> Vec<String> {
    vec!["mnist1d".into()]
}
fn default_weight_decay() -> Vec<f64> {
    vec![0.0]
}
fn default_momentum() -> Vec<f64> {
    vec![0.9]
}
fn default_batch_size() -> Vec<i64> {
    vec![128]
}
fn default_seed() -> Vec<i64> {
    vec![0]
}
fn default_epochs() -> i64 {
    5
}
fn default_beta2() -> f64 {
    0.999
}
fn default_eps() -> f64 {
    1e-8
}
fn default_divergence_factor() -> f64 {
    10.0
}
fn default_target_accuracy() -> f64 {
    0.5
}
fn default_holdout() -> Vec<String> {
    vec!["base_lr".into()]
}
fn default_quantile() -> f64 {
    0.1
}
fn default_ridge_alpha() -> f64 {
    0.01
}
fn default_elastic_net_alpha() -> f64 {
    0.001
}
fn default_l1_ratio() -> f64 {
    0.5
}
