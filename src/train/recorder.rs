//! What one run records while it trains, whoever steps it (a model alone or a member of a stack): the
//! learning rate it applies, per-epoch metrics, the weight-norm trace, snapshot ensembles, the step it
//! reached the target and where it diverged; and the [`TrainOutcome`] made from them.

use std::collections::HashSet;

use super::periodicity::detect_spikes;
use super::snapshots::{ProbabilitySum, snapshot_steps};
use super::{
    EnsembleResult, EpochRecord, EvalMetrics, LrSummary, NormTrace, OutcomeClass, StepHyperparams,
    TrainOutcome, TrainSettings, pooled_norm,
};
use crate::device::ComputeDevice;
use crate::schedule::{LrPolicy, PlateauState};

/// Running summary of the learning rates actually applied.
#[derive(Default)]
struct AppliedLr {
    first: Option<f64>,
    last: f64,
    peak: f64,
    sum: f64,
    count: u64,
}

impl AppliedLr {
    fn push(&mut self, lr: f64) {
        self.first.get_or_insert(lr);
        self.last = lr;
        self.peak = self.peak.max(lr);
        self.sum += lr;
        self.count += 1;
    }

    fn summary(&self) -> LrSummary {
        LrSummary {
            initial: self.first.unwrap_or(f64::NAN),
            peak: self.peak,
            last: self.last,
            mean: self.sum / self.count.max(1) as f64,
        }
    }
}

/// The metrics of one epoch end, measured by the loop.
pub struct EpochEnd {
    /// Optimizer steps done.
    pub steps: u64,
    /// Mean training batch loss of the epoch.
    pub train_loss: f64,
    /// Test split.
    pub test: EvalMetrics,
    /// Validation split, if any.
    pub validation: Option<EvalMetrics>,
    /// Training subset.
    pub train_eval: EvalMetrics,
    /// Names and norms of the batch-normalised weights.
    pub bn_weights: (Vec<String>, Vec<f64>),
}

/// The record of one run in progress.
pub struct RunRecorder<'a> {
    policy: &'a LrPolicy,
    settings: &'a TrainSettings,
    num_classes: usize,
    snapshot_at: HashSet<u64>,
    test_snapshots: ProbabilitySum,
    val_snapshots: ProbabilitySum,
    /// Metric-driven policies (plateau) keep a tracker that observes each epoch's mean training loss
    /// (the test split is never used to steer training).
    plateau: Option<PlateauState>,
    applied: AppliedLr,
    epochs: Vec<EpochRecord>,
    trace: NormTrace,
    bn_layers: Vec<String>,
    diverged_at_step: Option<u64>,
    steps_to_target: Option<u64>,
    lr: f64,
}

impl<'a> RunRecorder<'a> {
    /// A run of `total_steps` steps with `policy` and `settings` on a task of `num_classes` classes.
    pub fn new(
        policy: &'a LrPolicy,
        settings: &'a TrainSettings,
        num_classes: usize,
        total_steps: usize,
    ) -> Self {
        let snapshot_at = if policy.is_metric_driven() {
            HashSet::new()
        } else {
            snapshot_steps(&policy.lr_series(0, total_steps))
                .into_iter()
                .collect()
        };
        Self {
            policy,
            settings,
            num_classes,
            snapshot_at,
            test_snapshots: ProbabilitySum::default(),
            val_snapshots: ProbabilitySum::default(),
            plateau: policy.plateau_state(),
            applied: AppliedLr::default(),
            epochs: Vec::with_capacity(settings.epochs),
            trace: NormTrace::default(),
            bn_layers: Vec::new(),
            diverged_at_step: None,
            steps_to_target: None,
            lr: policy.lr(0),
        }
    }

    /// The hyperparameters of optimizer step `step` (recorded as applied).
    pub fn hyper(&mut self, step: u64) -> StepHyperparams {
        self.lr = self
            .plateau
            .as_ref()
            .map_or_else(|| self.policy.lr(step), |p| p.lr());
        self.applied.push(self.lr);
        StepHyperparams {
            lr: self.lr,
            momentum: self.policy.momentum(step).unwrap_or(self.settings.momentum),
            weight_decay: self.settings.weight_decay,
        }
    }

    /// Whether the weight norms are traced after step `step`.
    pub fn wants_trace(&self, step: u64) -> bool {
        self.settings.trace_every > 0 && step.is_multiple_of(self.settings.trace_every)
    }

    /// Trace the batch-normalised weight norms after step `step` (nothing when there are none).
    pub fn trace(&mut self, step: u64, norms: &[f64]) {
        if !norms.is_empty() {
            let w = pooled_norm(norms);
            self.trace.steps.push(step);
            self.trace.weight_norm.push(w);
            self.trace.effective_lr.push(self.lr / (w * w));
        }
    }

    /// Whether a snapshot for the ensemble is taken after step `step`.
    pub fn wants_snapshot(&self, step: u64) -> bool {
        self.snapshot_at.contains(&step)
    }

    /// Add a snapshot's logits on the test and validation splits.
    pub fn add_snapshot(&mut self, test: &[f32], validation: Option<&[f32]>) {
        self.test_snapshots.add_logits(test, self.num_classes);
        if let Some(val) = validation {
            self.val_snapshots.add_logits(val, self.num_classes);
        }
    }

    /// The batch at step `at_step` diverged (the first report counts).
    pub fn diverged(&mut self, at_step: u64) {
        self.diverged_at_step.get_or_insert(at_step);
    }

    /// Whether the run diverged.
    pub fn is_diverged(&self) -> bool {
        self.diverged_at_step.is_some()
    }

    /// Record the end of epoch `epoch`.
    pub fn end_epoch(&mut self, epoch: usize, end: EpochEnd) {
        if let Some(tracker) = self.plateau.as_mut() {
            tracker.observe(end.train_loss);
        }
        let (layers, bn_weight_norms) = end.bn_weights;
        self.bn_layers = layers;
        // Whatever chooses (here: the step count to the target) never looks at the test split.
        let chooser = end.validation.as_ref().unwrap_or(&end.train_eval);
        if self.steps_to_target.is_none() && chooser.top1 >= self.settings.target_accuracy {
            self.steps_to_target = Some(end.steps);
        }
        self.epochs.push(EpochRecord {
            epoch,
            steps: end.steps,
            lr: self.lr,
            train_loss: end.train_loss,
            test: end.test,
            validation: end.validation,
            train_eval: end.train_eval,
            bn_weight_norms,
        });
    }

    /// The outcome, from the run's batch `losses`, the labels of the test and validation splits, and
    /// the run's wall time.
    pub fn finish(
        self,
        losses: &[f64],
        labels: (&[u8], Option<&[u8]>),
        wall_seconds: f64,
        device: ComputeDevice,
    ) -> TrainOutcome {
        let classes = self.num_classes;
        let last = self.epochs.last().expect("at least one epoch");
        let outcome = if self.diverged_at_step.is_some() {
            OutcomeClass::Diverged
        } else if last.train_loss >= (classes as f64).ln() {
            OutcomeClass::Collapsed
        } else {
            OutcomeClass::Trained
        };
        let (test_labels, val_labels) = labels;
        let ensemble =
            (self.diverged_at_step.is_none() && self.test_snapshots.count() >= 2).then(|| {
                EnsembleResult {
                    snapshots: self.test_snapshots.count(),
                    test: self.test_snapshots.evaluate(test_labels, classes),
                    validation: val_labels.map(|v| self.val_snapshots.evaluate(v, classes)),
                }
            });
        TrainOutcome {
            final_metrics: last.test,
            final_train_loss: last.train_loss,
            best_top1: self.epochs.iter().map(|e| e.test.top1).fold(0.0, f64::max),
            diverged: self.diverged_at_step.is_some(),
            diverged_at_step: self.diverged_at_step,
            steps: last.steps,
            steps_to_target: self.steps_to_target,
            target_split: if val_labels.is_some() {
                "validation"
            } else {
                "train"
            },
            outcome,
            applied_lr: self.applied.summary(),
            bn_layers: self.bn_layers,
            norm_trace: self.trace,
            spikes: detect_spikes(losses),
            ensemble,
            wall_seconds,
            device,
            stack_size: 1,
            epochs: self.epochs,
        }
    }
}
