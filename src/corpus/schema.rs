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
        "wall-clock seconds of the run (data upload, training, evaluation)",
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
    // Outcome.
    col(
        "top1",
        Kind::F64,
        "final test top-1 accuracy (at divergence for diverged runs)",
    ),
    col("top5", Kind::F64, "final test top-5 accuracy"),
    col(
        "mean_confidence",
        Kind::F64,
        "final mean max-softmax probability on the test split",
    ),
    col(
        "confidence_std",
        Kind::F64,
        "final standard deviation of the max-softmax probability",
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
        "steps until test top-1 first reached target_accuracy (epoch ends)",
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
