//! Training: one engine ([`engine`]) that steps a model with per-step hyperparameters, the run loop on
//! top of it ([`run`]), LRBench's metrics, the effective LR of batch-normalised weights, loss-spike
//! periodicity, and snapshot ensembles.

pub mod bench;
pub mod engine;
pub mod metrics;
pub mod optimizer;
pub mod periodicity;
pub mod recorder;
pub mod run;
pub mod snapshots;
pub mod stack_engine;
pub mod stack_run;

pub use metrics::{EvalMetrics, evaluate_logits};
pub use optimizer::{OptimizerKind, OptimizerSettings, StepHyperparams};
pub use periodicity::SpikeSummary;
pub use run::{train, train_on};

/// Optimizer steps taken by every training loop of this process (a stacked step counts once): the
/// progress display reads it to show how far the stack in flight has come. Relaxed adds, one per
/// step, cost nanoseconds against a step's milliseconds.
pub static STEPS_TRAINED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

use crate::device::ComputeDevice;

/// Stream offset of the batch order from the data seed (lrcast 0.1's value, so runs keep their
/// results).
pub const SHUFFLE_STREAM: u64 = 0x0005_4AFF_1E00;

/// Validated per-run training settings (everything except architecture, data and LR policy).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSettings {
    /// Passes over the training split.
    pub epochs: usize,
    /// Samples per optimizer step (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Seed of the weight initialisation.
    pub seed: u64,
    /// Seed of the batch order (runs that share it see the same batches; defaults to `seed`).
    pub data_seed: u64,
    /// SGD momentum μ, or Adam's β₁, unless the LR policy supplies a momentum schedule.
    pub momentum: f64,
    /// Weight decay λ (coupled L2 or decoupled, per `optimizer`).
    pub weight_decay: f64,
    /// Update rule and its fixed settings.
    pub optimizer: OptimizerSettings,
    /// Label smoothing ε of the cross-entropy, in [0, 1).
    pub label_smoothing: f64,
    /// A run diverges when a training-batch loss is NaN/inf or exceeds
    /// `divergence_factor × ln(num_classes)` (that many times the loss of a uniform guess).
    pub divergence_factor: f64,
    /// Top-1 accuracy whose first attainment is recorded as `steps_to_target` (on the validation
    /// split when there is one, else on the training subset; never on the test split).
    pub target_accuracy: f64,
    /// Also record weight norms and the effective LR every this many steps (0 = per epoch only).
    pub trace_every: u64,
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
    /// Validation metrics (when the run has a validation split).
    pub validation: Option<EvalMetrics>,
    /// Metrics of the model in evaluation mode on a fixed subset of the training split.
    pub train_eval: EvalMetrics,
    /// ‖w‖ of every weight tensor that feeds a batch-norm layer (empty without batch norm).
    pub bn_weight_norms: Vec<f64>,
}

impl EpochRecord {
    /// Pooled ‖w‖ of the batch-normalised weights (`None` without batch norm).
    pub fn pooled_weight_norm(&self) -> Option<f64> {
        (!self.bn_weight_norms.is_empty()).then(|| pooled_norm(&self.bn_weight_norms))
    }
}

/// Pooled ‖w‖ over layers: √(Σ ‖w_l‖²).
pub fn pooled_norm(norms: &[f64]) -> f64 {
    norms.iter().map(|n| n * n).sum::<f64>().sqrt()
}

/// The outcome class of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeClass {
    /// The loss became non-finite or exceeded the divergence bound.
    Diverged,
    /// Finished, but the final training loss is at or above a uniform guess's, ln(classes).
    Collapsed,
    /// Finished and learned something.
    Trained,
}

impl OutcomeClass {
    /// Name as stored in the corpus.
    pub fn name(self) -> &'static str {
        match self {
            Self::Diverged => "diverged",
            Self::Collapsed => "collapsed",
            Self::Trained => "trained",
        }
    }
}

/// Weight norms and effective LR sampled every `trace_every` steps.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NormTrace {
    /// Steps done at each sample.
    pub steps: Vec<u64>,
    /// Pooled ‖w‖ over all batch-normalised weights.
    pub weight_norm: Vec<f64>,
    /// LR of the step / pooled ‖w‖².
    pub effective_lr: Vec<f64>,
}

/// A snapshot ensemble's result (mean softmax of the models at the end of each LR cycle).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnsembleResult {
    /// Snapshots averaged.
    pub snapshots: usize,
    /// Test metrics of the ensemble.
    pub test: EvalMetrics,
    /// Validation metrics of the ensemble.
    pub validation: Option<EvalMetrics>,
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
    /// Steps until top-1 first reached the target (checked at epoch ends, on `target_split`).
    pub steps_to_target: Option<u64>,
    /// Split `steps_to_target` was measured on: `validation` or `train`.
    pub target_split: &'static str,
    /// Final test metrics (at the end of training, or at divergence).
    pub final_metrics: EvalMetrics,
    /// Best test top-1 over the evaluations.
    pub best_top1: f64,
    /// Final mean training loss (last epoch).
    pub final_train_loss: f64,
    /// Diverged, collapsed or trained.
    pub outcome: OutcomeClass,
    /// The learning rates actually applied, summarised.
    pub applied_lr: LrSummary,
    /// Names of the batch-normalised weight tensors (order of `EpochRecord::bn_weight_norms`).
    pub bn_layers: Vec<String>,
    /// Weight norms every `trace_every` steps (empty when not requested or without batch norm).
    pub norm_trace: NormTrace,
    /// Spikes of the per-step training loss and whether they recur periodically.
    pub spikes: SpikeSummary,
    /// Snapshot ensemble, for policies with at least two LR cycles.
    pub ensemble: Option<EnsembleResult>,
    /// Wall-clock seconds of the training run (data upload, training and evaluation).
    pub wall_seconds: f64,
    /// Device the run trained on.
    pub device: ComputeDevice,
    /// Runs trained together as one stacked model (1: alone); its wall time is the stack's divided
    /// by this.
    pub stack_size: usize,
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
