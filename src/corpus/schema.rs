//! The corpus schema: one table naming every column of a run row, its type and its meaning.
//!
//! Columns are added here (and produced in `record.rs`, which a test keeps in step with this table).
//! Policy hyperparameters vary by policy, so they are a column *family*: `p_<name>` (f64), one per
//! resolved parameter of the run's policy (e.g. `p_gamma`, `p_step_size`, `p_t_max`).

/// Storage type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 string.
    Str,
    /// 64-bit float.
    F64,
    /// 64-bit integer.
    I64,
    /// 64-bit integer, null when absent.
    OptI64,
    /// 64-bit float, null when absent.
    OptF64,
    /// Boolean.
    Bool,
    /// List of 64-bit floats, one per evaluated epoch.
    ListF64,
    /// List of 64-bit integers, one per evaluated epoch.
    ListI64,
}

/// One documented column.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Column name.
    pub name: &'static str,
    /// Storage type.
    pub kind: Kind,
    /// What it holds.
    pub doc: &'static str,
}

const fn col(name: &'static str, kind: Kind, doc: &'static str) -> Column {
    Column { name, kind, doc }
}

/// Prefix of the policy-hyperparameter column family.
pub const POLICY_PARAM_PREFIX: &str = "p_";

/// The column of policy parameter `name` as [`crate::schedule::LrPolicy::hyperparameters`] names it
/// (`milestones.0` → `p_milestones_0`). The one place that spells the family.
pub fn policy_param_column(name: &str) -> String {
    format!("{POLICY_PARAM_PREFIX}{}", name.replace('.', "_"))
}

/// The parameter behind a policy-parameter column (`p_gamma` → `gamma`), or `None` for any other
/// column.
pub fn policy_param_of(column: &str) -> Option<&str> {
    column.strip_prefix(POLICY_PARAM_PREFIX)
}

/// Every fixed column of a run row, in file order.
pub const COLUMNS: &[Column] = &[
    // Identity and provenance.
    col(
        "run_id",
        Kind::Str,
        "16 hex digits of SHA-256 of the canonical run spec; unique within a corpus",
    ),
    col("experiment", Kind::Str, "recipe name that produced the run"),
    col(
        "lrcast_version",
        Kind::Str,
        "lrcast version that trained the run",
    ),
    col(
        "burn_version",
        Kind::Str,
        "burn version that trained the run",
    ),
    col(
        "device",
        Kind::Str,
        "device the run trained on: cpu or cuda:N",
    ),
    col(
        "finished_at",
        Kind::I64,
        "UNIX time (s) when the run finished",
    ),
    col(
        "wall_seconds",
        Kind::F64,
        "wall-clock seconds of the run (data upload, training, evaluation); for a stacked run its \
         stack's wall time divided by stack_size",
    ),
    col(
        "stack_size",
        Kind::I64,
        "runs trained together as one stacked model (1: alone); null in corpora before stacking",
    ),
    col(
        "round",
        Kind::OptI64,
        "round of the search that planned the run: 0 for strategy random, 0, 1, … for \
         coarse_to_fine (each round's ranges narrowed around the best so far); null for a grid",
    ),
    // The run spec.
    col(
        "task",
        Kind::Str,
        "canonical task spec, e.g. mnist1d:num_samples=5000,seed=42,train_split=0.8",
    ),
    col("task_family", Kind::Str, "task name, e.g. mnist1d"),
    col("n_train", Kind::I64, "training samples"),
    col("n_test", Kind::I64, "test samples"),
    col(
        "arch",
        Kind::Str,
        "canonical architecture spec, e.g. mlp:hidden=100;100",
    ),
    col(
        "arch_family",
        Kind::Str,
        "architecture family: mlp or cnn1d",
    ),
    col("num_params", Kind::I64, "trainable parameters"),
    col(
        "policy",
        Kind::Str,
        "canonical LR policy spec with the base LR injected",
    ),
    col("policy_name", Kind::Str, "policy name, e.g. cosine"),
    col(
        "base_lr",
        Kind::F64,
        "the grid's base learning rate (the policy's primary LR parameter)",
    ),
    col(
        "lr_initial",
        Kind::F64,
        "LR of the first optimizer step (planned; applied for metric-driven policies)",
    ),
    col("lr_peak", Kind::F64, "largest LR over the run"),
    col(
        "lr_final",
        Kind::F64,
        "LR of the last planned optimizer step",
    ),
    col(
        "lr_mean",
        Kind::F64,
        "mean LR over the planned steps (area under the schedule / steps)",
    ),
    col("optimizer", Kind::Str, "optimizer: sgd"),
    col(
        "momentum",
        Kind::F64,
        "SGD momentum (overridden per step by policies that cycle momentum)",
    ),
    col("nesterov", Kind::Bool, "Nesterov momentum"),
    col(
        "weight_decay",
        Kind::F64,
        "L2 weight decay added to the gradient",
    ),
    col("batch_size", Kind::I64, "samples per step"),
    col("epochs", Kind::I64, "planned epochs"),
    col("steps_per_epoch", Kind::I64, "optimizer steps per epoch"),
    col("total_steps", Kind::I64, "planned optimizer steps"),
    col("seed", Kind::I64, "seed of initialisation and shuffling"),
    col(
        "divergence_factor",
        Kind::F64,
        "loss bound for divergence, as a multiple of ln(classes)",
    ),
    col(
        "target_accuracy",
        Kind::F64,
        "test top-1 whose first attainment gives steps_to_target",
    ),
    col(
        "data_seed",
        Kind::I64,
        "seed of the batch order (equal to seed unless the recipe sets grid.data_seed)",
    ),
    col(
        "decoupled_weight_decay",
        Kind::Bool,
        "weight decay applied to the weights (AdamW, SGDW) rather than added to the gradient",
    ),
    col(
        "beta2",
        Kind::F64,
        "Adam/AdamW β₂ (β₁ is the momentum column)",
    ),
    col("eps", Kind::F64, "Adam/AdamW ε"),
    col(
        "clip_grad_norm",
        Kind::OptF64,
        "global gradient-norm bound, null when not clipped",
    ),
    col(
        "label_smoothing",
        Kind::F64,
        "label smoothing of the cross-entropy",
    ),
    col(
        "dropout",
        Kind::F64,
        "dropout probability of the architecture (0 when none)",
    ),
    col(
        "input_shape",
        Kind::Str,
        "shape of one example, e.g. 40 or 1x28x28",
    ),
    col("num_classes", Kind::I64, "classes of the task"),
    col(
        "validation",
        Kind::F64,
        "fraction of the training split held out for validation (0 when none)",
    ),
    col("validation_seed", Kind::I64, "seed of the validation split"),
    col("n_val", Kind::I64, "validation samples"),
    // Outcome.
    col(
        "outcome",
        Kind::Str,
        "diverged (non-finite or exploding loss), collapsed (final training loss ≥ ln classes) or trained",
    ),
    col(
        "top1",
        Kind::F64,
        "final test top-1 accuracy (at divergence for diverged runs)",
    ),
    col("top5", Kind::F64, "final test top-5 accuracy"),
    col(
        "mean_confidence",
        Kind::F64,
        "final mean max-softmax probability on the test split (not LRBench's avg_confidence)",
    ),
    col(
        "confidence_std",
        Kind::F64,
        "final standard deviation of the max-softmax probability",
    ),
    col(
        "avg_confidence",
        Kind::F64,
        "LRBench's average confidence: mean true-class probability over correctly classified test samples",
    ),
    col(
        "confidence_dev",
        Kind::F64,
        "LRBench's confidence deviation: standard deviation of that probability",
    ),
    col(
        "class_confidence_dev",
        Kind::F64,
        "standard deviation over classes of each class's average confidence",
    ),
    col(
        "test_loss",
        Kind::F64,
        "final test cross-entropy (+inf when the model output is not finite)",
    ),
    col(
        "train_loss",
        Kind::F64,
        "mean training-batch loss of the last epoch",
    ),
    col(
        "best_top1",
        Kind::F64,
        "best test top-1 over the epoch evaluations",
    ),
    col(
        "diverged",
        Kind::Bool,
        "loss became NaN/inf or exceeded divergence_factor × ln(classes)",
    ),
    col(
        "diverged_at_step",
        Kind::OptI64,
        "optimizer steps done when divergence was detected",
    ),
    col("steps_done", Kind::I64, "optimizer steps taken"),
    col(
        "steps_to_target",
        Kind::OptI64,
        "steps until top-1 on target_split first reached target_accuracy (epoch ends)",
    ),
    col(
        "target_split",
        Kind::Str,
        "split steps_to_target was measured on: validation, or train (a fixed training subset) without one; lrcast 0.1 used test",
    ),
    col("val_top1", Kind::OptF64, "final validation top-1"),
    col("val_top5", Kind::OptF64, "final validation top-5"),
    col("val_loss", Kind::OptF64, "final validation cross-entropy"),
    col(
        "val_avg_confidence",
        Kind::OptF64,
        "final validation average confidence (LRBench)",
    ),
    col(
        "train_eval_top1",
        Kind::F64,
        "final top-1 of the model in evaluation mode on a fixed training subset (≤ 1000 samples)",
    ),
    col(
        "train_eval_loss",
        Kind::F64,
        "final cross-entropy on that training subset",
    ),
    col(
        "loss_gap",
        Kind::F64,
        "test_loss − train_eval_loss (LRBench's train–test loss gap)",
    ),
    col(
        "bn_layers",
        Kind::Str,
        "names of the weight tensors that feed batch norm, ';'-separated (empty without batch norm)",
    ),
    col(
        "weight_norm",
        Kind::OptF64,
        "final pooled ‖w‖ = √Σ‖w_l‖² over the batch-normalised weights",
    ),
    col(
        "effective_lr",
        Kind::OptF64,
        "final effective LR: LR of the last step / weight_norm²",
    ),
    col(
        "loss_spikes",
        Kind::I64,
        "spikes of the per-step training loss (loss > 1.5 × median of the previous 20 steps)",
    ),
    col(
        "loss_spike_period",
        Kind::OptF64,
        "median interval between spikes, in steps",
    ),
    col(
        "sawtooth",
        Kind::Bool,
        "≥ 3 spikes at regular intervals (coefficient of variation < 0.5)",
    ),
    col(
        "snapshots",
        Kind::I64,
        "snapshot-ensemble members (models at the end of each LR cycle); 0 without restarts",
    ),
    col(
        "ensemble_top1",
        Kind::OptF64,
        "test top-1 of the snapshot ensemble (mean softmax)",
    ),
    col(
        "ensemble_test_loss",
        Kind::OptF64,
        "test cross-entropy of the snapshot ensemble",
    ),
    col(
        "ensemble_val_top1",
        Kind::OptF64,
        "validation top-1 of the snapshot ensemble",
    ),
    // Per-epoch curves.
    col(
        "curve_steps",
        Kind::ListI64,
        "steps done at each evaluation",
    ),
    col(
        "curve_lr",
        Kind::ListF64,
        "LR of the last step before each evaluation",
    ),
    col(
        "curve_train_loss",
        Kind::ListF64,
        "mean training loss of each epoch",
    ),
    col(
        "curve_test_loss",
        Kind::ListF64,
        "test loss at each evaluation",
    ),
    col("curve_top1", Kind::ListF64, "test top-1 at each evaluation"),
    col("curve_top5", Kind::ListF64, "test top-5 at each evaluation"),
    col(
        "curve_mean_confidence",
        Kind::ListF64,
        "mean confidence at each evaluation",
    ),
    col(
        "curve_confidence_std",
        Kind::ListF64,
        "confidence std at each evaluation",
    ),
    col(
        "curve_avg_confidence",
        Kind::ListF64,
        "LRBench average confidence at each evaluation",
    ),
    col(
        "curve_val_top1",
        Kind::ListF64,
        "validation top-1 at each evaluation (empty without validation)",
    ),
    col(
        "curve_val_loss",
        Kind::ListF64,
        "validation loss at each evaluation",
    ),
    col(
        "curve_train_eval_top1",
        Kind::ListF64,
        "top-1 on the training subset at each evaluation",
    ),
    col(
        "curve_train_eval_loss",
        Kind::ListF64,
        "loss on the training subset at each evaluation",
    ),
    col(
        "curve_weight_norm",
        Kind::ListF64,
        "pooled ‖w‖ of the batch-normalised weights at each evaluation",
    ),
    col(
        "curve_effective_lr",
        Kind::ListF64,
        "effective LR (LR / pooled ‖w‖²) at each evaluation",
    ),
    col(
        "curve_layer_weight_norm",
        Kind::ListF64,
        "‖w‖ per batch-normalised layer (bn_layers order) at each evaluation, flattened epoch-major",
    ),
    col(
        "trace_steps",
        Kind::ListI64,
        "steps of the every-N-steps weight-norm trace (train.trace_every)",
    ),
    col(
        "trace_weight_norm",
        Kind::ListF64,
        "pooled ‖w‖ at each traced step",
    ),
    col(
        "trace_effective_lr",
        Kind::ListF64,
        "effective LR at each traced step",
    ),
];

/// Look a fixed column up by name.
pub fn column(name: &str) -> Option<&'static Column> {
    COLUMNS.iter().find(|c| c.name == name)
}

/// Markdown table of the schema (for docs and `report`).
pub fn markdown_table() -> String {
    let mut out = String::from("| column | type | meaning |\n|---|---|---|\n");
    for c in COLUMNS {
        out.push_str(&format!("| `{}` | {:?} | {} |\n", c.name, c.kind, c.doc));
    }
    out.push_str(&format!(
        "| `{POLICY_PARAM_PREFIX}<name>` | F64 | each resolved parameter of the run's LR policy |\n"
    ));
    out
}
