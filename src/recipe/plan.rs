//! The validated plan: every run of a recipe as a [`RunSpec`] with a stable `run_id`.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::data::Task;
use crate::model::Arch;
use crate::schedule::{LrPolicy, PolicySpec, ScheduleContext};
use crate::train::{OptimizerKind, OptimizerSettings, TrainSettings};

/// Hyperparameters that an extreme-value holdout may be defined on.
pub const HOLDOUT_HYPERPARAMETERS: &[&str] = &["base_lr", "weight_decay", "momentum", "batch_size"];

/// A validated experiment: what to train and how to fit.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Experiment name (directory name of its corpus, models and report).
    pub name: String,
    /// Free text from the recipe.
    pub description: String,
    /// Where the recipe came from (a path, or `<embedded default>`).
    pub source: PathBuf,
    /// The recipe text, saved beside the results.
    pub recipe_text: String,
    /// Every run, in grid order.
    pub runs: Vec<RunSpec>,
    /// Predictor settings.
    pub fit: FitSettings,
    /// The sweep table `lrcast import` reads into the corpus (`[import]`), if any. A plan with one
    /// covers every run of its corpus, not only its grid's.
    pub import: Option<crate::corpus::import::ImportSettings>,
    /// A random or coarse-to-fine search's state (`None` for a grid): later rounds are planned
    /// from the corpus with [`Plan::advance_search`].
    pub search: Option<super::search::SearchState>,
    /// `[search]` as validated (the grid strategy when absent).
    pub search_settings: super::search::SearchSettings,
    /// The founding study whose analysis the report adds, if any (`[study]`).
    pub study: Option<StudySettings>,
    /// How drawn blocks are expanded into runs.
    pub(crate) expansion: super::Expansion,
    /// How `generate` stacks runs unless the command line says otherwise (`[train] stack`,
    /// `stack_memory_mib`).
    pub stacking: RecipeStacking,
}

/// `[train] stack` and `stack_memory_mib`, validated: how runs are stacked unless `--stack` /
/// `--stack-memory` say otherwise. Not part of any run's spec: a member's result does not depend
/// on its stack, so these never change a run id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecipeStacking {
    /// Most members per stack (≥ 1); `None`: sized automatically.
    pub max_members: Option<usize>,
    /// Memory one stack may use, MiB (≥ 1); `None`: the default budget.
    pub memory_budget_mib: Option<u64>,
}

/// Validated `[fit]` settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FitSettings {
    /// Hyperparameters whose extremes are held out (each names a corpus column).
    pub holdout: Vec<String>,
    /// Fraction held out at each end, in (0, 0.5).
    pub quantile: f64,
    /// Seed of the random contrast split.
    pub random_seed: u64,
    /// Ridge penalty.
    pub ridge_alpha: f64,
    /// Elastic-net penalty.
    pub elastic_net_alpha: f64,
    /// Elastic-net L1 share.
    pub l1_ratio: f64,
    /// Protocols asked for by name (`None`: every one the corpus allows).
    #[serde(default)]
    pub protocols: Option<Vec<String>>,
    /// Models asked for by name, beside the baselines (`None`: every model).
    #[serde(default)]
    pub models: Option<Vec<String>>,
}

/// Protocol families a recipe may ask for in `fit.protocols`.
pub const PROTOCOL_NAMES: &[&str] = &[
    "extreme",
    "extreme_trained",
    "random",
    "budget",
    "logo:task+arch+policy",
    "logo:task",
    "logo:arch",
    "logo:policy",
    "kfold",
];

/// One fully specified training run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// First 16 hex digits of the SHA-256 of [`RunSpec::canonical`]: stable across versions and machines.
    pub run_id: String,
    /// Task.
    pub task: Task,
    /// Architecture.
    pub arch: Arch,
    /// Policy spec with the base LR injected.
    pub policy: PolicySpec,
    /// The policy, validated and resolved for this run's length.
    pub lr_policy: LrPolicy,
    /// The grid's base LR (the value of the policy's primary LR parameter).
    pub base_lr: f64,
    /// Training settings.
    pub settings: TrainSettings,
    /// Validation split carved from the training data, if any.
    pub validation: Option<ValidationSplit>,
    /// Optimizer steps per epoch.
    pub steps_per_epoch: u64,
    /// Round of a random (0) or coarse-to-fine search that planned the run; `None` for a grid.
    /// Not part of the id: the same configuration is the same run whichever round drew it.
    pub round: Option<u32>,
}

/// A validation split: `fraction` of the training split, chosen with its own `seed`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValidationSplit {
    /// Fraction of the training examples moved to validation, in (0, 0.5].
    pub fraction: f64,
    /// Seed of the choice (the same for every run of a task, so all runs see one split).
    pub seed: u64,
}

impl RunSpec {
    /// Build a run and its id. `policy` must already carry the base LR.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        task: Task,
        arch: Arch,
        policy: PolicySpec,
        lr_policy: LrPolicy,
        base_lr: f64,
        settings: TrainSettings,
        validation: Option<ValidationSplit>,
        steps_per_epoch: u64,
    ) -> Self {
        let mut run = Self {
            run_id: String::new(),
            task,
            arch,
            policy,
            lr_policy,
            base_lr,
            settings,
            validation,
            steps_per_epoch,
            round: None,
        };
        let digest = Sha256::digest(run.canonical().as_bytes());
        run.run_id = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        run
    }

    /// Canonical text of everything that determines the run's result (f64 printed shortest-round-trip).
    ///
    /// The first twelve fields are lrcast 0.1's. Every field added since is appended only when it
    /// differs from the default that reproduces 0.1's behaviour, so the ids of existing runs (and
    /// their corpora) stay valid; a field that changes what a run trains changes its id.
    pub fn canonical(&self) -> String {
        let s = &self.settings;
        let o = &s.optimizer;
        let mut text = format!(
            "task={};arch={};policy={};optimizer={};momentum={};nesterov={};weight_decay={};\
             batch_size={};epochs={};seed={};divergence_factor={};target_accuracy={}",
            self.task.spec_string(),
            self.arch.spec_string(),
            self.policy,
            o.kind.name(),
            s.momentum,
            o.nesterov,
            s.weight_decay,
            s.batch_size,
            s.epochs,
            s.seed,
            s.divergence_factor,
            s.target_accuracy,
        );
        let defaults = OptimizerSettings::default();
        let mut extra = |key: &str, value: String| text.push_str(&format!(";{key}={value}"));
        if s.data_seed != s.seed {
            extra("data_seed", s.data_seed.to_string());
        }
        if o.decoupled_weight_decay && o.kind == OptimizerKind::Sgd {
            extra("decoupled_weight_decay", "true".into());
        }
        if o.kind != OptimizerKind::Sgd {
            if o.beta2 != defaults.beta2 {
                extra("beta2", o.beta2.to_string());
            }
            if o.eps != defaults.eps {
                extra("eps", o.eps.to_string());
            }
        }
        if let Some(max_norm) = o.clip_grad_norm {
            extra("clip_grad_norm", max_norm.to_string());
        }
        if s.label_smoothing != 0.0 {
            extra("label_smoothing", s.label_smoothing.to_string());
        }
        if let Some(v) = self.validation {
            extra("validation", v.fraction.to_string());
            extra("validation_seed", v.seed.to_string());
        }
        if s.trace_every != 0 {
            extra("trace_every", s.trace_every.to_string());
        }
        if self.lr_policy.phase_horizon_changed() {
            // A `>>` phase's default horizon is now its own length, not the run's (lrcast 0.8).
            extra("phase_horizons", "phase".into());
        }
        text
    }

    /// What the run trains with every default filled in: [`canonical`](Self::canonical) with the
    /// policy spec replaced by the resolved policy (its name and every parameter, defaults and
    /// horizons included). Two runs with equal keys train the same thing.
    pub fn resolved_key(&self) -> String {
        let policy = format!("policy={}", self.policy);
        let resolved = format!(
            "policy={}{:?}",
            self.lr_policy.name(),
            self.lr_policy
                .hyperparameters()
                .iter()
                .map(|(k, v)| (k, v + 0.0))
                .collect::<Vec<_>>()
        );
        self.canonical().replacen(&policy, &resolved, 1)
    }

    /// Validation examples of the run.
    pub fn n_val(&self) -> usize {
        self.validation.map_or(0, |v| {
            crate::data::validation_size(self.task.train_size(), v.fraction)
        })
    }

    /// Total optimizer steps of an uninterrupted run.
    pub fn total_steps(&self) -> u64 {
        self.steps_per_epoch * self.settings.epochs as u64
    }
}

/// The schedule context of a run: its length in steps (the validation split, if any, comes out of
/// the training split first).
pub fn schedule_context(
    task: &Task,
    validation: Option<ValidationSplit>,
    batch_size: usize,
    epochs: usize,
) -> ScheduleContext {
    let n = task.train_size();
    let n = n - validation.map_or(0, |v| crate::data::validation_size(n, v.fraction));
    let steps_per_epoch = n.div_ceil(batch_size) as u64;
    ScheduleContext {
        total_steps: steps_per_epoch * epochs as u64,
        steps_per_epoch,
    }
}

/// Build the policy for a run: inject `base_lr` and resolve against the run's length.
pub fn policy_for_run(
    spec: &PolicySpec,
    base_lr: f64,
    ctx: &ScheduleContext,
) -> Result<(PolicySpec, LrPolicy), crate::schedule::PolicyError> {
    let spec = match spec.primary_lr_key() {
        Some(key) => spec.with_param(key, base_lr),
        None => spec.clone(),
    };
    let policy = LrPolicy::build(&spec, ctx)?;
    Ok((spec, policy))
}

/// The founding studies a recipe's `[study]` section can name; each has its analysis in
/// `src/report/studies/<name>.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StudyKind {
    /// Effective LR = LR/‖w‖² of a batch-norm ResNet over LR × weight decay, and the sawtooth.
    EffectiveLr,
    /// LRBench's 13 policies (+ plateau): its table and its two findings.
    LrbenchPolicies,
    /// Smith: triangular2 and 1cycle against the best fixed LR; range-test bounds.
    ClrVsFixed,
    /// Cyclical-LR MLP: coarse-to-fine search, then wider, snapshot ensemble and dropout.
    CoarseToFine,
    /// The range test's suggestion over seeds against the grid's best LR.
    LrFindStability,
}

impl StudyKind {
    /// Every study, in documentation order.
    pub const ALL: [StudyKind; 5] = [
        StudyKind::EffectiveLr,
        StudyKind::LrbenchPolicies,
        StudyKind::ClrVsFixed,
        StudyKind::CoarseToFine,
        StudyKind::LrFindStability,
    ];

    /// Name as written in `[study] kind`.
    pub fn name(self) -> &'static str {
        match self {
            StudyKind::EffectiveLr => "effective-lr",
            StudyKind::LrbenchPolicies => "lrbench-policies",
            StudyKind::ClrVsFixed => "clr-vs-fixed",
            StudyKind::CoarseToFine => "coarse-to-fine",
            StudyKind::LrFindStability => "lr-find-stability",
        }
    }

    /// Whether the analysis reads LR range tests (run by `report` through the library).
    pub fn needs_range_tests(self) -> bool {
        matches!(self, StudyKind::ClrVsFixed | StudyKind::LrFindStability)
    }
}

/// `[study]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct StudySettings {
    /// Which study.
    pub kind: StudyKind,
    /// Range tests (seeds) per task × architecture.
    pub lr_find_repeats: usize,
    /// Steps of each range test.
    pub lr_find_steps: usize,
}
