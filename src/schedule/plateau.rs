//! The metric-driven `plateau` policy: `PlateauState`, PyTorch's ReduceLROnPlateau as a value the
//! trainer owns.
//!
//! Design: a plateau LR is not a function of the step but of the metric history, so it cannot hide
//! behind `LrPolicy::lr(t)`. `LrPolicy::plateau_state()` hands the trainer a fresh `PlateauState`;
//! the trainer calls [`PlateauState::observe`] once per epoch with the validation metric and uses
//! [`PlateauState::lr`] for the following epoch. The state is plain data (serde), and
//! [`PlateauState::replay`] rebuilds it from the per-epoch metrics a run already records, so a
//! resumed run gets the same LRs as an uninterrupted one. Prefer `replay` for resuming: a JSON round
//! trip of the state is exact only with serde_json's `float_roundtrip` feature.

use serde::{Deserialize, Serialize};

use super::error::PolicyError;
use super::resolve::Args;

/// Whether the observed metric should go down (a loss) or up (an accuracy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlateauMode {
    Min,
    Max,
}

/// Whether `threshold` is relative to the best value or absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdMode {
    Rel,
    Abs,
}

/// Resolved `plateau` parameters (ReduceLROnPlateau's arguments plus the initial `lr`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlateauParams {
    pub lr: f64,
    pub mode: PlateauMode,
    pub factor: f64,
    pub patience: u64,
    pub threshold: f64,
    pub threshold_mode: ThresholdMode,
    pub cooldown: u64,
    pub min_lr: f64,
    pub eps: f64,
}

impl PlateauParams {
    pub(crate) fn from_args(args: &Args) -> Result<Self, PolicyError> {
        let params = PlateauParams {
            lr: args.f("lr"),
            mode: match args.word("mode") {
                "max" => PlateauMode::Max,
                _ => PlateauMode::Min,
            },
            factor: args.f("factor"),
            patience: args.steps("patience"),
            threshold: args.f("threshold"),
            threshold_mode: match args.word("threshold_mode") {
                "abs" => ThresholdMode::Abs,
                _ => ThresholdMode::Rel,
            },
            cooldown: args.steps("cooldown"),
            min_lr: args.f("min_lr"),
            eps: args.f("eps"),
        };
        if params.min_lr > params.lr {
            return Err(args.conflict(
                "min_lr",
                format!(
                    "the floor must not exceed the initial LR: need min_lr <= lr = {}",
                    params.lr
                ),
            ));
        }
        Ok(params)
    }
}

/// ReduceLROnPlateau's tracker: the current LR and the counters that decide the next reduction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlateauState {
    params: PlateauParams,
    lr: f64,
    /// Best metric so far; `None` before the first observation (PyTorch's ±inf, kept out of JSON).
    best: Option<f64>,
    num_bad_epochs: u64,
    cooldown_counter: u64,
    epochs: u64,
}

impl PlateauState {
    /// A tracker at the initial LR, before any observation.
    pub fn new(params: PlateauParams) -> Self {
        PlateauState {
            params,
            lr: params.lr,
            best: None,
            num_bad_epochs: 0,
            cooldown_counter: 0,
            epochs: 0,
        }
    }

    /// The tracker after observing `metrics` in order (one per epoch).
    pub fn replay(params: PlateauParams, metrics: &[f64]) -> Self {
        let mut state = PlateauState::new(params);
        for &m in metrics {
            state.observe(m);
        }
        state
    }

    /// The LR to use until the next observation.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Number of metrics observed so far.
    pub fn epochs_observed(&self) -> u64 {
        self.epochs
    }

    pub fn params(&self) -> &PlateauParams {
        &self.params
    }

    /// Record one epoch's metric (ReduceLROnPlateau.step). A NaN metric never counts as an
    /// improvement, as in PyTorch.
    pub fn observe(&mut self, metric: f64) {
        self.epochs += 1;
        if self.is_better(metric) {
            self.best = Some(metric);
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0; // bad epochs during cooldown are ignored
        }
        if self.num_bad_epochs > self.params.patience {
            let new_lr = (self.lr * self.params.factor).max(self.params.min_lr);
            if self.lr - new_lr > self.params.eps {
                self.lr = new_lr;
            }
            self.cooldown_counter = self.params.cooldown;
            self.num_bad_epochs = 0;
        }
    }

    fn is_better(&self, a: f64) -> bool {
        let p = &self.params;
        let best = self.best.unwrap_or(match p.mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        });
        match (p.mode, p.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - p.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - p.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (p.threshold + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + p.threshold,
        }
    }
}
