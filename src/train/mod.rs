//! The training loop: burn custom loop with the learning rate (and momentum) computed for every step,
//! per-epoch evaluation, and divergence recorded as a result.

pub mod bench;
pub mod metrics;
pub mod optimizer;
mod run;

pub use metrics::{EvalMetrics, evaluate_logits};
pub use run::{train, train_on};

use crate::device::ComputeDevice;

/// Validated per-run training settings (everything except architecture, data and LR policy).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSettings {
    /// Passes over the training split.
    pub epochs: usize,
    /// Samples per optimizer step (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Seed of the weight initialisation and the shuffling.
    pub seed: u64,
    /// SGD momentum μ, unless the LR policy supplies a momentum schedule.
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// L2 weight decay λ (added to the gradient, as PyTorch SGD's `weight_decay`).
    pub weight_decay: f64,
    /// A run diverges when a training-batch loss is NaN/inf or exceeds
    /// `divergence_factor × ln(num_classes)` (that many times the loss of a uniform guess).
    pub divergence_factor: f64,
    /// Test top-1 accuracy whose first attainment is recorded as `steps_to_target`.
    pub target_accuracy: f64,
}

/// One evaluation at the end of an epoch (or at the step where the run diverged).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// Epoch index, from 0.
    pub epoch: usize,
    /// Optimizer steps done so far.
    pub steps: u64,
    /// Learning rate of the last step taken.
    pub lr: f64,
    /// Mean training-batch loss over the epoch.
    pub train_loss: f64,
    /// Test metrics.
    pub test: EvalMetrics,
}

/// What one training run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOutcome {
    /// Per-epoch evaluations (the last one is partial when the run diverged).
    pub epochs: Vec<EpochRecord>,
    /// Whether the loss became non-finite or exceeded the divergence bound.
    pub diverged: bool,
    /// Optimizer steps taken before divergence was detected.
    pub diverged_at_step: Option<u64>,
    /// Optimizer steps taken in all.
    pub steps: u64,
    /// Steps until test top-1 first reached the target (checked at epoch ends).
    pub steps_to_target: Option<u64>,
    /// Final test metrics (at the end of training, or at divergence).
    pub final_metrics: EvalMetrics,
    /// Best test top-1 over the evaluations.
    pub best_top1: f64,
    /// Final mean training loss (last epoch).
    pub final_train_loss: f64,
    /// The learning rates actually applied, summarised.
    pub applied_lr: LrSummary,
    /// Wall-clock seconds of the training run (data upload, training and evaluation).
    pub wall_seconds: f64,
    /// Device the run trained on.
    pub device: ComputeDevice,
}

/// Summary of a learning-rate sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrSummary {
    /// First LR.
    pub initial: f64,
    /// Largest LR.
    pub peak: f64,
    /// Last LR.
    pub last: f64,
    /// Mean LR.
    pub mean: f64,
}
