//! A finished run as one corpus row: built from the run spec and its outcome, turned into a one-row
//! polars `DataFrame` following [`super::schema::COLUMNS`].

use polars::prelude::*;

use super::schema::{COLUMNS, Kind, policy_param_column};
use crate::recipe::RunSpec;
use crate::train::TrainOutcome;

/// One cell of a run row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// String.
    Str(String),
    /// Float.
    F64(f64),
    /// Integer.
    I64(i64),
    /// Nullable integer.
    OptI64(Option<i64>),
    /// Nullable float.
    OptF64(Option<f64>),
    /// Boolean.
    Bool(bool),
    /// Float list.
    ListF64(Vec<f64>),
    /// Integer list.
    ListI64(Vec<i64>),
}

impl Cell {
    fn kind(&self) -> Kind {
        match self {
            Cell::Str(_) => Kind::Str,
            Cell::F64(_) => Kind::F64,
            Cell::I64(_) => Kind::I64,
            Cell::OptI64(_) => Kind::OptI64,
            Cell::OptF64(_) => Kind::OptF64,
            Cell::Bool(_) => Kind::Bool,
            Cell::ListF64(_) => Kind::ListF64,
            Cell::ListI64(_) => Kind::ListI64,
        }
    }

    fn into_column(self, name: &str) -> Column {
        let name = PlSmallStr::from(name);
        match self {
            Cell::Str(v) => Column::new(name, [v]),
            Cell::F64(v) => Column::new(name, [v]),
            Cell::I64(v) => Column::new(name, [v]),
            Cell::OptI64(v) => Column::new(name, [v]),
            Cell::OptF64(v) => Column::new(name, [v]),
            Cell::Bool(v) => Column::new(name, [v]),
            Cell::ListF64(v) => Column::new(name, [Series::new(PlSmallStr::EMPTY, v)]),
            Cell::ListI64(v) => Column::new(name, [Series::new(PlSmallStr::EMPTY, v)]),
        }
    }
}

/// The LR summary of a run's planned schedule (for a metric-driven policy, the initial LR held
/// throughout: what it applies until the metric first reduces it).
fn planned_lr(run: &RunSpec) -> crate::train::LrSummary {
    if run.lr_policy.is_metric_driven() {
        let lr = run.lr_policy.initial_lr();
        return crate::train::LrSummary {
            initial: lr,
            peak: lr,
            last: lr,
            mean: lr,
        };
    }
    let schedule = run.lr_policy.lr_series(0, run.total_steps() as usize);
    crate::train::LrSummary {
        initial: schedule.first().copied().unwrap_or(f64::NAN),
        peak: schedule.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        last: schedule.last().copied().unwrap_or(f64::NAN),
        mean: schedule.iter().sum::<f64>() / schedule.len().max(1) as f64,
    }
}

/// The cell of column `name` that the run spec alone decides (`None` for outcome columns).
fn spec_cell(run: &RunSpec, name: &str) -> Option<Cell> {
    let s = &run.settings;
    Some(match name {
        "run_id" => Cell::Str(run.run_id.clone()),
        "task" => Cell::Str(run.task.spec_string()),
        "task_family" => Cell::Str(run.task.family().into()),
        "n_train" => Cell::I64(run.task.train_size() as i64),
        "n_test" => Cell::I64(run.task.test_size() as i64),
        "arch" => Cell::Str(run.arch.spec_string()),
        "arch_family" => Cell::Str(run.arch.family().into()),
        "num_params" => Cell::I64(
            run.arch
                .num_params(&run.task.shape(), run.task.num_classes()) as i64,
        ),
        "policy" => Cell::Str(run.policy.to_string()),
        "policy_name" => Cell::Str(run.lr_policy.name()),
        "base_lr" => Cell::F64(run.base_lr),
        "optimizer" => Cell::Str(s.optimizer.kind.name().into()),
        "momentum" => Cell::F64(s.momentum),
        "nesterov" => Cell::Bool(s.optimizer.nesterov),
        "weight_decay" => Cell::F64(s.weight_decay),
        "batch_size" => Cell::I64(s.batch_size as i64),
        "epochs" => Cell::I64(s.epochs as i64),
        "steps_per_epoch" => Cell::I64(run.steps_per_epoch as i64),
        "total_steps" => Cell::I64(run.total_steps() as i64),
        "seed" => Cell::I64(s.seed as i64),
        "divergence_factor" => Cell::F64(s.divergence_factor),
        "target_accuracy" => Cell::F64(s.target_accuracy),
        "data_seed" => Cell::I64(s.data_seed as i64),
        "decoupled_weight_decay" => Cell::Bool(s.optimizer.decoupled_weight_decay),
        "beta2" => Cell::F64(s.optimizer.beta2),
        "eps" => Cell::F64(s.optimizer.eps),
        "clip_grad_norm" => Cell::OptF64(s.optimizer.clip_grad_norm),
        "label_smoothing" => Cell::F64(s.label_smoothing),
        "dropout" => Cell::F64(run.arch.dropout()),
        "input_shape" => Cell::Str(
            run.task
                .shape()
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("x"),
        ),
        "num_classes" => Cell::I64(run.task.num_classes() as i64),
        "validation" => Cell::F64(run.validation.map_or(0.0, |v| v.fraction)),
        "validation_seed" => Cell::I64(run.validation.map_or(0, |v| v.seed as i64)),
        "n_val" => Cell::I64(run.n_val() as i64),
        _ => return None,
    })
}

/// The spec columns of `runs` (everything known before training, with the planned LR summary and
/// policy parameters) as corpus cells, one row per run: what `predict` and `recommend` feed the
/// saved models. Outcome columns are absent.
pub fn spec_rows(runs: &[RunSpec]) -> Vec<Vec<(String, Cell)>> {
    runs.iter()
        .map(|run| {
            let planned = planned_lr(run);
            let mut row: Vec<(String, Cell)> = COLUMNS
                .iter()
                .filter_map(|c| spec_cell(run, c.name).map(|cell| (c.name.to_string(), cell)))
                .collect();
            for (name, v) in [
                ("lr_initial", planned.initial),
                ("lr_peak", planned.peak),
                ("lr_final", planned.last),
                ("lr_mean", planned.mean),
            ] {
                row.push((name.into(), Cell::F64(v)));
            }
            for (k, v) in run.lr_policy.hyperparameters() {
                row.push((policy_param_column(&k), Cell::F64(v)));
            }
            row
        })
        .collect()
}

/// A finished run, ready to be written.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// Fixed columns in schema order.
    pub cells: Vec<(&'static str, Cell)>,
    /// Policy hyperparameters (`p_<name>` columns).
    pub policy_params: Vec<(String, f64)>,
}

impl RunRecord {
    /// Assemble the row of `run` from its `outcome`.
    pub fn new(experiment: &str, run: &RunSpec, outcome: &TrainOutcome, finished_at: i64) -> Self {
        // The planned schedule, known before training; a metric-driven policy (plateau) has no plan,
        // so its summary is of the LRs it actually applied.
        let planned = if run.lr_policy.is_metric_driven() {
            outcome.applied_lr
        } else {
            planned_lr(run)
        };
        let curve = |f: &dyn Fn(&crate::train::EpochRecord) -> f64| {
            Cell::ListF64(outcome.epochs.iter().map(f).collect())
        };
        let m = &outcome.final_metrics;
        let last = outcome.epochs.last();
        let val = last.and_then(|e| e.validation);
        let train_eval = last.map(|e| e.train_eval);
        let final_norm = last.and_then(|e| e.pooled_weight_norm());
        let pooled_norms: Vec<f64> = outcome
            .epochs
            .iter()
            .filter_map(|e| e.pooled_weight_norm())
            .collect();
        let ensemble = outcome.ensemble.as_ref();
        let cell = |name: &'static str| -> Cell {
            if let Some(cell) = spec_cell(run, name) {
                return cell;
            }
            match name {
                "experiment" => Cell::Str(experiment.to_string()),
                "lrcast_version" => Cell::Str(crate::LRCAST_VERSION.into()),
                "burn_version" => Cell::Str(crate::BURN_VERSION.into()),
                "device" => Cell::Str(outcome.device.to_string()),
                "finished_at" => Cell::I64(finished_at),
                "wall_seconds" => Cell::F64(outcome.wall_seconds),
                "stack_size" => Cell::I64(outcome.stack_size as i64),
                "round" => Cell::OptI64(run.round.map(i64::from)),
                "lr_initial" => Cell::F64(planned.initial),
                "lr_peak" => Cell::F64(planned.peak),
                "lr_final" => Cell::F64(planned.last),
                "lr_mean" => Cell::F64(planned.mean),
                "outcome" => Cell::Str(outcome.outcome.name().into()),
                "top1" => Cell::F64(m.top1),
                "top5" => Cell::F64(m.top5),
                "mean_confidence" => Cell::F64(m.mean_confidence),
                "confidence_std" => Cell::F64(m.confidence_std),
                "avg_confidence" => Cell::F64(m.avg_confidence),
                "confidence_dev" => Cell::F64(m.confidence_dev),
                "class_confidence_dev" => Cell::F64(m.class_confidence_dev),
                "test_loss" => Cell::F64(m.loss),
                "train_loss" => Cell::F64(outcome.final_train_loss),
                "best_top1" => Cell::F64(outcome.best_top1),
                "diverged" => Cell::Bool(outcome.diverged),
                "diverged_at_step" => Cell::OptI64(outcome.diverged_at_step.map(|v| v as i64)),
                "steps_done" => Cell::I64(outcome.steps as i64),
                "steps_to_target" => Cell::OptI64(outcome.steps_to_target.map(|v| v as i64)),
                "target_split" => Cell::Str(outcome.target_split.into()),
                "val_top1" => Cell::OptF64(val.map(|v| v.top1)),
                "val_top5" => Cell::OptF64(val.map(|v| v.top5)),
                "val_loss" => Cell::OptF64(val.map(|v| v.loss)),
                "val_avg_confidence" => Cell::OptF64(val.map(|v| v.avg_confidence)),
                "train_eval_top1" => Cell::F64(train_eval.map_or(f64::NAN, |t| t.top1)),
                "train_eval_loss" => Cell::F64(train_eval.map_or(f64::NAN, |t| t.loss)),
                "loss_gap" => Cell::F64(m.loss - train_eval.map_or(f64::NAN, |t| t.loss)),
                "bn_layers" => Cell::Str(outcome.bn_layers.join(";")),
                "weight_norm" => Cell::OptF64(final_norm),
                "effective_lr" => {
                    Cell::OptF64(final_norm.and_then(|w| last.map(|e| e.lr / (w * w))))
                }
                "loss_spikes" => Cell::I64(outcome.spikes.spikes as i64),
                "loss_spike_period" => Cell::OptF64(outcome.spikes.period),
                "sawtooth" => Cell::Bool(outcome.spikes.periodic),
                "snapshots" => Cell::I64(ensemble.map_or(0, |e| e.snapshots as i64)),
                "ensemble_top1" => Cell::OptF64(ensemble.map(|e| e.test.top1)),
                "ensemble_test_loss" => Cell::OptF64(ensemble.map(|e| e.test.loss)),
                "ensemble_val_top1" => {
                    Cell::OptF64(ensemble.and_then(|e| e.validation.map(|v| v.top1)))
                }
                "curve_steps" => {
                    Cell::ListI64(outcome.epochs.iter().map(|e| e.steps as i64).collect())
                }
                "curve_lr" => curve(&|e| e.lr),
                "curve_train_loss" => curve(&|e| e.train_loss),
                "curve_test_loss" => curve(&|e| e.test.loss),
                "curve_top1" => curve(&|e| e.test.top1),
                "curve_top5" => curve(&|e| e.test.top5),
                "curve_mean_confidence" => curve(&|e| e.test.mean_confidence),
                "curve_confidence_std" => curve(&|e| e.test.confidence_std),
                "curve_avg_confidence" => curve(&|e| e.test.avg_confidence),
                "curve_val_top1" => Cell::ListF64(
                    outcome
                        .epochs
                        .iter()
                        .filter_map(|e| e.validation.map(|v| v.top1))
                        .collect(),
                ),
                "curve_val_loss" => Cell::ListF64(
                    outcome
                        .epochs
                        .iter()
                        .filter_map(|e| e.validation.map(|v| v.loss))
                        .collect(),
                ),
                "curve_train_eval_top1" => curve(&|e| e.train_eval.top1),
                "curve_train_eval_loss" => curve(&|e| e.train_eval.loss),
                "curve_weight_norm" => Cell::ListF64(pooled_norms.clone()),
                "curve_effective_lr" => Cell::ListF64(
                    outcome
                        .epochs
                        .iter()
                        .zip(&pooled_norms)
                        .map(|(e, w)| e.lr / (w * w))
                        .collect(),
                ),
                "curve_layer_weight_norm" => Cell::ListF64(
                    outcome
                        .epochs
                        .iter()
                        .flat_map(|e| e.bn_weight_norms.iter().copied())
                        .collect(),
                ),
                "trace_steps" => {
                    Cell::ListI64(outcome.norm_trace.steps.iter().map(|&s| s as i64).collect())
                }
                "trace_weight_norm" => Cell::ListF64(outcome.norm_trace.weight_norm.clone()),
                "trace_effective_lr" => Cell::ListF64(outcome.norm_trace.effective_lr.clone()),
                other => unreachable!("column `{other}` is in the schema but not produced"),
            }
        };
        let cells = COLUMNS
            .iter()
            .map(|c| {
                let value = cell(c.name);
                assert_eq!(value.kind(), c.kind, "column {} has the wrong kind", c.name);
                (c.name, value)
            })
            .collect();
        let policy_params = run
            .lr_policy
            .hyperparameters()
            .into_iter()
            .map(|(k, v)| (policy_param_column(&k), v))
            .collect();
        Self {
            cells,
            policy_params,
        }
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        match &self.cells[0] {
            (_, Cell::Str(id)) => id,
            _ => unreachable!("run_id is the first column"),
        }
    }

    /// One-row DataFrame.
    pub fn to_dataframe(&self) -> PolarsResult<DataFrame> {
        let mut columns: Vec<Column> = self
            .cells
            .iter()
            .map(|(name, cell)| cell.clone().into_column(name))
            .collect();
        for (name, value) in &self.policy_params {
            columns.push(Cell::F64(*value).into_column(name));
        }
        DataFrame::new(1, columns)
    }
}
