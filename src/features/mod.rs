//! Corpus rows → design matrix: the one bridge from the corpus to ndarray.
//!
//! [`FeatureTable`] is the corpus table plus derived columns (schedule-trajectory summaries from
//! [`trajectory`], the input size). [`FeatureSpec`] describes the design matrix as a list of
//! [`Term`]s, main effects first: log-scaled run hyperparameters, task and architecture descriptors
//! (so an unseen task or architecture is not only an unseen one-hot), trajectory summaries, the
//! square of log LR (so a linear model can express an optimal LR), policy parameters, then one-hot
//! categories (every category gets a column) and category × log-LR interactions. Linear models
//! drop collinear columns from the right, so the main effects always survive (a fold that holds
//! out one category never loses the LR slope). The spec is saved with the fitted models and
//! applied to new rows.
//!
//! Missing values: a policy parameter that a run's policy lacks (e.g. `p_gamma` for cosine), a
//! descriptor that an older corpus did not record, or a setting an imported sweep table did not
//! give (null in the corpus; its momentum summaries then too), enters as 0 in the transformed
//! scale together with a `missing(<column>)` indicator column — never a silent 0 alone. A present value that
//! transforms to a non-finite number is an error naming the column and the run.

pub mod trajectory;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::corpus::CorpusTable;
use crate::corpus::schema::policy_param_of;
use crate::error::{Error, Result};
use crate::schedule::{LrPolicy, PolicySpec, ScheduleContext};
use trajectory::{TRAJECTORY_COLUMNS, Trajectory};

/// The prediction target.
pub const TARGET_COLUMN: &str = "top1";
/// Categorical columns, one-hot encoded.
pub const CATEGORICAL_COLUMNS: &[&str] = &[
    "task",
    "task_family",
    "arch",
    "arch_family",
    "optimizer",
    "policy_name",
];
/// Categorical columns whose categories each get their own log-LR slope.
const LR_INTERACTION_COLUMNS: &[&str] = &["task", "arch", "optimizer", "policy_name"];
/// Numeric columns used as features, with their transform, in design-matrix order. The trajectory
/// summaries follow them.
const NUMERIC_COLUMNS: &[(&str, Transform)] = &[
    ("base_lr", Transform::Log10),
    ("weight_decay", Transform::Log10Offset),
    ("momentum", Transform::Identity),
    ("batch_size", Transform::Log2),
    ("epochs", Transform::Identity),
    ("total_steps", Transform::Log10),
    // Task and architecture descriptors.
    ("n_train", Transform::Log10),
    ("num_classes", Transform::Log10),
    (INPUT_SIZE_COLUMN, Transform::Log10),
    ("num_params", Transform::Log10),
];
/// Derived column: values per example (the product of `input_shape`).
const INPUT_SIZE_COLUMN: &str = "input_size";
/// Offset that keeps log10(weight decay) finite at 0.
const LOG_OFFSET: f64 = 1e-6;
/// Policy parameters that are scales (log-transformed); the rest enter linearly.
const SCALE_PARAMS: &[&str] = &["lr", "max_lr", "base_lr", "eta_min", "min_lr", "k0", "k1"];
/// Transform of each trajectory summary: LR scales in log10, shares and counts as they are.
fn trajectory_transform(column: &str) -> Transform {
    match column {
        "sched_lr_max" | "sched_lr_mean" | "sched_lr_area" => Transform::Log10,
        _ => Transform::Identity,
    }
}

/// The corpus rows plus the derived feature columns.
#[derive(Debug, Clone)]
pub struct FeatureTable {
    table: CorpusTable,
}

impl FeatureTable {
    /// Add the derived columns (trajectory summaries, input size) to `table`.
    pub fn from_corpus(mut table: CorpusTable) -> Result<Self> {
        if let Ok(shapes) = table.text("input_shape") {
            let sizes = shapes.iter().map(|s| input_size(s)).collect();
            table.numeric.insert(INPUT_SIZE_COLUMN.into(), sizes);
        }
        let trajectories = trajectories(&table)?;
        // A run whose momentum is unknown (imported without it) has no momentum summaries.
        let momentum_known: Vec<bool> = table
            .numeric("momentum")?
            .iter()
            .map(Option::is_some)
            .collect();
        for (k, column) in TRAJECTORY_COLUMNS.iter().enumerate() {
            let unknown = |i: usize| column.starts_with("sched_momentum") && !momentum_known[i];
            let values = trajectories
                .iter()
                .enumerate()
                .map(|(i, t)| (!unknown(i)).then_some(t.values()[k]))
                .collect();
            table.numeric.insert((*column).into(), values);
        }
        Ok(Self { table })
    }

    /// Rows for runs not trained yet (what `predict` and `recommend` ask about): their spec
    /// columns, with the same derived columns as a corpus.
    pub fn from_runs(runs: &[crate::recipe::RunSpec]) -> Result<Self> {
        Self::from_corpus(CorpusTable::from_cells(&crate::corpus::record::spec_rows(
            runs,
        )))
    }

    /// The underlying rows.
    pub fn table(&self) -> &CorpusTable {
        &self.table
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.table.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.table.len == 0
    }

    /// Run id of row `i`, for messages.
    fn run_id(&self, i: usize) -> String {
        self.table
            .text("run_id")
            .ok()
            .and_then(|ids| ids.get(i).cloned())
            .unwrap_or_else(|| format!("row {i}"))
    }
}

/// Values per example of an `input_shape` such as `40` or `1x28x28` (`None` if unreadable).
fn input_size(shape: &str) -> Option<f64> {
    shape
        .split('x')
        .map(|d| d.trim().parse::<f64>().ok())
        .product::<Option<f64>>()
        .filter(|v| *v > 0.0)
}

/// The schedule summary of every row, rebuilt from the recorded policy spec and run length
/// (one computation per distinct schedule: seeds and weight decays share theirs).
fn trajectories(table: &CorpusTable) -> Result<Vec<Trajectory>> {
    let policy = table.text("policy")?;
    let total = table.values("total_steps")?;
    let per_epoch = table.values("steps_per_epoch")?;
    let momentum = table.values("momentum")?;
    let applied = ["lr_initial", "lr_peak", "lr_final", "lr_mean"].map(|c| table.values(c));
    let run_ids = table.text("run_id")?;
    let mut cache: HashMap<(String, u64, u64, u64), Trajectory> = HashMap::new();
    (0..table.len)
        .map(|i| {
            let (steps, spe) = (total[i] as u64, per_epoch[i] as u64);
            let key = (policy[i].clone(), steps, spe, momentum[i].to_bits());
            if let Some(t) = cache.get(&key) {
                return Ok(*t);
            }
            let bad = |message: String| Error::Fit(format!("run {}: {message}", run_ids[i]));
            let spec = PolicySpec::parse(&policy[i])
                .map_err(|e| bad(format!("policy `{}` does not parse: {e}", policy[i])))?;
            let built = LrPolicy::build(&spec, &ScheduleContext::new(steps, spe.max(1)))
                .map_err(|e| bad(format!("policy `{}` does not build: {e}", policy[i])))?;
            let t = if built.is_metric_driven() {
                let mut lrs = [0.0; 4];
                for (v, column) in lrs.iter_mut().zip(&applied) {
                    *v = column.as_ref().map_err(|e| bad(e.to_string()))?[i];
                }
                Trajectory::of_applied(lrs, steps, momentum[i])
            } else {
                Trajectory::of_policy(&built, steps, momentum[i])
            };
            cache.insert(key, t);
            Ok(t)
        })
        .collect()
}

/// The hyperparameter (or run property) a corpus column describes, for grouped permutation
/// importance: the columns of one group move together when it is permuted, so that e.g. the
/// base LR and the LR summaries of its schedule never disagree.
pub fn hyperparameter_of(column: &str) -> &'static str {
    match column {
        "base_lr" | "sched_lr_max" | "sched_lr_mean" | "sched_lr_area" => "learning rate",
        "task" | "task_family" | "n_train" | "num_classes" | INPUT_SIZE_COLUMN => "task",
        "arch" | "arch_family" | "num_params" => "architecture",
        "weight_decay" => "weight decay",
        "momentum" => "momentum",
        "batch_size" => "batch size",
        "epochs" | "total_steps" => "training budget",
        "optimizer" => "optimizer",
        c if c == "policy_name" || c.starts_with("sched_") || policy_param_of(c).is_some() => {
            "LR policy"
        }
        _ => "other",
    }
}

/// How a numeric column is transformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transform {
    /// As is.
    Identity,
    /// log10(x).
    Log10,
    /// log10(x + 1e-6), for values that may be 0 (weight decay).
    Log10Offset,
    /// log2(x).
    Log2,
}

impl Transform {
    fn apply(self, x: f64) -> f64 {
        match self {
            Transform::Identity => x,
            Transform::Log10 => x.log10(),
            Transform::Log10Offset => (x + LOG_OFFSET).log10(),
            Transform::Log2 => x.log2(),
        }
    }

    fn label(self, column: &str) -> String {
        match self {
            Transform::Identity => column.to_string(),
            Transform::Log10 => format!("log10({column})"),
            Transform::Log10Offset => format!("log10({column}+1e-6)"),
            Transform::Log2 => format!("log2({column})"),
        }
    }
}

/// One column of the design matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Term {
    /// 1 when `column == category`.
    OneHot { column: String, category: String },
    /// `transform(column)`; 0 where the value is missing (see [`Term::Missing`]).
    Numeric {
        column: String,
        transform: Transform,
    },
    /// 1 where `column` is missing (null, or absent from the table for a policy parameter).
    Missing { column: String },
    /// `transform(column)²`.
    Square {
        column: String,
        transform: Transform,
    },
    /// `[category_column == category] · transform(column)`.
    Interaction {
        category_column: String,
        category: String,
        column: String,
        transform: Transform,
    },
}

impl Term {
    /// Human-readable name.
    pub fn name(&self) -> String {
        match self {
            Term::OneHot { column, category } => format!("{column}={category}"),
            Term::Numeric { column, transform } => transform.label(column),
            Term::Missing { column } => format!("missing({column})"),
            Term::Square { column, transform } => format!("{}^2", transform.label(column)),
            Term::Interaction {
                category_column,
                category,
                column,
                transform,
            } => format!("[{category_column}={category}]*{}", transform.label(column)),
        }
    }

    /// The hyperparameters this term carries (see [`hyperparameter_of`]): one, or two for an
    /// interaction.
    pub fn hyperparameters(&self) -> Vec<&'static str> {
        match self {
            Term::OneHot { column, .. }
            | Term::Numeric { column, .. }
            | Term::Missing { column }
            | Term::Square { column, .. } => vec![hyperparameter_of(column)],
            Term::Interaction {
                category_column,
                column,
                ..
            } => vec![
                hyperparameter_of(category_column),
                hyperparameter_of(column),
            ],
        }
    }

    /// Transformed values of `column`, `None` where missing. A policy parameter the table lacks
    /// is missing everywhere; any other absent column is an error.
    fn numeric(
        rows: &FeatureTable,
        column: &str,
        transform: Transform,
    ) -> Result<Vec<Option<f64>>> {
        let raw = match rows.table.numeric.get(column) {
            Some(values) => values.clone(),
            None if policy_param_of(column).is_some() => vec![None; rows.len()],
            None => {
                return Err(Error::Fit(format!(
                    "the rows have no column `{column}`, which the features use; corpora that \
                     lack it cannot be scored with these models (refit on them with `lrcast fit`)"
                )));
            }
        };
        raw.into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                None => Ok(None),
                Some(x) => {
                    let t = transform.apply(x);
                    if t.is_finite() {
                        Ok(Some(t))
                    } else {
                        Err(Error::Fit(format!(
                            "run {}: {} = {x} gives the non-finite feature {} = {t}; fix or \
                             remove that run",
                            rows.run_id(i),
                            column,
                            transform.label(column)
                        )))
                    }
                }
            })
            .collect()
    }

    fn values(&self, rows: &FeatureTable) -> Result<Vec<f64>> {
        let category_of = |column: &str| -> Result<&[String]> { rows.table.text(column) };
        Ok(match self {
            Term::OneHot { column, category } => category_of(column)?
                .iter()
                .map(|v| f64::from(u8::from(v == category)))
                .collect(),
            Term::Numeric { column, transform } => Self::numeric(rows, column, *transform)?
                .into_iter()
                .map(|v| v.unwrap_or(0.0))
                .collect(),
            Term::Missing { column } => Self::numeric(rows, column, Transform::Identity)?
                .into_iter()
                .map(|v| f64::from(u8::from(v.is_none())))
                .collect(),
            Term::Square { column, transform } => Self::numeric(rows, column, *transform)?
                .into_iter()
                .map(|v| v.map_or(0.0, |x| x * x))
                .collect(),
            Term::Interaction {
                category_column,
                category,
                column,
                transform,
            } => Self::numeric(rows, column, *transform)?
                .into_iter()
                .zip(category_of(category_column)?)
                .map(|(x, c)| if c == category { x.unwrap_or(0.0) } else { 0.0 })
                .collect(),
        })
    }
}

/// The design matrix definition, inferred from a corpus and saved with the models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// Columns of the design matrix, in order.
    pub terms: Vec<Term>,
    /// Target column.
    pub target: String,
}

impl FeatureSpec {
    /// Infer the terms from the rows: every numeric column and trajectory summary that varies,
    /// log-LR², every policy parameter that varies and is not the base LR itself, then every
    /// category seen and its log-LR slope.
    pub fn infer(rows: &FeatureTable) -> Result<Self> {
        let table = &rows.table;
        let mut terms = Vec::new();
        let varies = |values: &[Option<f64>]| {
            values
                .iter()
                .flatten()
                .map(|v| v.to_bits())
                .collect::<BTreeSet<_>>()
                .len()
                >= 2
        };
        let numeric = |column: &str, transform: Transform, terms: &mut Vec<Term>| {
            let Some(values) = table.numeric.get(column) else {
                return;
            };
            if !varies(values) {
                return;
            }
            terms.push(Term::Numeric {
                column: column.into(),
                transform,
            });
            if values.iter().any(Option::is_none) {
                terms.push(Term::Missing {
                    column: column.into(),
                });
            }
        };
        for &(column, transform) in NUMERIC_COLUMNS {
            numeric(column, transform, &mut terms);
        }
        for &column in TRAJECTORY_COLUMNS {
            numeric(column, trajectory_transform(column), &mut terms);
        }
        terms.push(Term::Square {
            column: "base_lr".into(),
            transform: Transform::Log10,
        });
        let base_lr = table.numeric("base_lr")?;
        for (column, values) in &table.numeric {
            let Some(param) = policy_param_of(column) else {
                continue;
            };
            // The policy's primary LR parameter duplicates base_lr.
            let duplicates_base = values
                .iter()
                .zip(base_lr)
                .all(|(v, b)| v.is_none() || v == b);
            if duplicates_base {
                continue;
            }
            let positive = values.iter().flatten().all(|&v| v > 0.0);
            let transform = if positive && SCALE_PARAMS.iter().any(|s| param.ends_with(s)) {
                Transform::Log10
            } else {
                Transform::Identity
            };
            numeric(column, transform, &mut terms);
        }
        for &column in CATEGORICAL_COLUMNS {
            let Ok(values) = table.text(column) else {
                continue;
            };
            let categories: BTreeSet<&String> = values.iter().collect();
            for category in categories {
                terms.push(Term::OneHot {
                    column: column.into(),
                    category: category.clone(),
                });
            }
        }
        for &column in LR_INTERACTION_COLUMNS {
            let Ok(values) = table.text(column) else {
                continue;
            };
            let categories: BTreeSet<&String> = values.iter().collect();
            if categories.len() < 2 {
                continue;
            }
            for category in categories {
                terms.push(Term::Interaction {
                    category_column: column.into(),
                    category: category.clone(),
                    column: "base_lr".into(),
                    transform: Transform::Log10,
                });
            }
        }
        Ok(Self {
            terms,
            target: TARGET_COLUMN.into(),
        })
    }

    /// Design-matrix columns per hyperparameter ([`Term::hyperparameters`]); an interaction
    /// belongs to both of its groups.
    pub fn hyperparameter_groups(&self) -> BTreeMap<&'static str, Vec<usize>> {
        let mut groups: BTreeMap<&'static str, Vec<usize>> = BTreeMap::new();
        for (j, term) in self.terms.iter().enumerate() {
            for h in term.hyperparameters() {
                groups.entry(h).or_default().push(j);
            }
        }
        groups
    }

    /// Term names in column order.
    pub fn names(&self) -> Vec<String> {
        self.terms.iter().map(Term::name).collect()
    }

    /// The design matrix of every row.
    pub fn matrix(&self, rows: &FeatureTable) -> Result<Array2<f64>> {
        let mut x = Array2::<f64>::zeros((rows.len(), self.terms.len()));
        for (j, term) in self.terms.iter().enumerate() {
            for (i, v) in term.values(rows)?.into_iter().enumerate() {
                x[[i, j]] = v;
            }
        }
        Ok(x)
    }

    /// The target of every row; an error naming the run when one is missing or not finite.
    pub fn target(&self, rows: &FeatureTable) -> Result<Vec<f64>> {
        rows.table
            .numeric(&self.target)?
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Some(v) if v.is_finite() => Ok(*v),
                _ => Err(Error::Fit(format!(
                    "run {}: target `{}` is {v:?}; a run without a finite result cannot be \
                     fitted (remove its file from the corpus and rerun `generate`)",
                    rows.run_id(i),
                    self.target
                ))),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two policies over three LRs; `p_gamma` only for `step`.
    fn rows() -> FeatureTable {
        let mut t = CorpusTable {
            len: 6,
            ..Default::default()
        };
        let text = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let lrs = [0.01, 0.1, 1.0, 0.01, 0.1, 1.0];
        t.text
            .insert("run_id".into(), text(&["a", "b", "c", "d", "e", "f"]));
        for (column, value) in [
            ("task", "mnist1d"),
            ("task_family", "mnist1d"),
            ("arch", "mlp"),
            ("arch_family", "mlp"),
            ("optimizer", "sgd"),
        ] {
            t.text.insert(column.into(), vec![value.into(); 6]);
        }
        let names = ["constant", "constant", "constant", "step", "step", "step"];
        t.text.insert("policy_name".into(), text(&names));
        let policies = lrs
            .iter()
            .zip(names)
            .map(|(lr, n)| match n {
                "step" => format!("step:lr={lr},step_size=5,gamma=0.5"),
                _ => format!("constant:lr={lr}"),
            })
            .collect();
        t.text.insert("policy".into(), policies);
        let num = |v: &[f64]| v.iter().map(|&x| Some(x)).collect::<Vec<_>>();
        t.numeric.insert("base_lr".into(), num(&lrs));
        t.numeric.insert("total_steps".into(), num(&[20.0; 6]));
        t.numeric.insert("steps_per_epoch".into(), num(&[10.0; 6]));
        t.numeric.insert("momentum".into(), num(&[0.9; 6]));
        t.numeric.insert("top1".into(), num(&[0.5; 6]));
        let gamma = [None, None, None, Some(0.5), Some(0.5), Some(0.25)];
        t.numeric.insert("p_gamma".into(), gamma.to_vec());
        for c in ["lr_initial", "lr_peak", "lr_final", "lr_mean"] {
            t.numeric.insert(c.into(), num(&lrs));
        }
        FeatureTable::from_corpus(t).unwrap()
    }

    #[test]
    fn main_effects_come_first_and_missing_values_get_an_indicator() {
        let rows = rows();
        let spec = FeatureSpec::infer(&rows).unwrap();
        let names = spec.names();
        assert_eq!(names[0], "log10(base_lr)");
        let gamma = names.iter().position(|n| n == "p_gamma").unwrap();
        assert_eq!(names[gamma + 1], "missing(p_gamma)");
        // Every category has its column; constant columns (task, arch) are left out of the slopes.
        assert!(names.contains(&"policy_name=constant".to_string()));
        assert!(names.contains(&"[policy_name=step]*log10(base_lr)".to_string()));
        assert!(!names.iter().any(|n| n.starts_with("[task=")));
        let x = spec.matrix(&rows).unwrap();
        assert_eq!(x[[0, gamma]], 0.0);
        assert_eq!(x[[0, gamma + 1]], 1.0);
        assert_eq!(x[[5, gamma]], 0.25);
        // The step schedule halves after 5 of 20 steps: its mean LR is below the constant's.
        let mean = names
            .iter()
            .position(|n| n == "log10(sched_lr_mean)")
            .unwrap();
        assert!(x[[3, mean]] < x[[0, mean]]);
    }

    #[test]
    fn a_missing_column_or_a_bad_value_is_an_error_naming_it() {
        let rows = rows();
        let spec = FeatureSpec::infer(&rows).unwrap();
        let mut table = rows.table().clone();
        table.numeric.remove("momentum");
        let err = FeatureTable::from_corpus(table).unwrap_err().to_string();
        assert!(err.contains("momentum"), "{err}");
        let mut lacking = rows.clone();
        lacking.table.numeric.remove("sched_lr_mean");
        let err = spec.matrix(&lacking).unwrap_err().to_string();
        assert!(err.contains("sched_lr_mean"), "{err}");
        let mut bad = rows.clone();
        bad.table.numeric.get_mut("base_lr").unwrap()[1] = Some(0.0);
        let err = spec.matrix(&bad).unwrap_err().to_string();
        assert!(err.contains("run b") && err.contains("base_lr"), "{err}");
        // A policy parameter the rows lack is simply missing.
        let mut no_gamma = rows.clone();
        no_gamma.table.numeric.remove("p_gamma");
        assert!(spec.matrix(&no_gamma).is_ok());
    }
}
