//! Corpus → feature matrix: the one bridge from polars to ndarray.
//!
//! [`CorpusTable`] pulls the corpus DataFrame into plain vectors (numeric columns as `f64`, string
//! columns as `String`). [`FeatureSpec`] describes the design matrix as a list of [`Term`]s —
//! one-hot categories (reference category dropped), log-scaled hyperparameters, the square of log LR
//! (so a linear model can express an optimal LR), and category × log LR interactions (so each
//! architecture / policy can have its own LR slope). The spec is saved with the fitted models, so the
//! same transform can be applied to new rows.

use std::collections::{BTreeMap, BTreeSet};

use ndarray::{Array1, Array2};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::corpus::schema::POLICY_PARAM_PREFIX;
use crate::error::{Error, Result};

/// Categorical columns one-hot encoded in the features.
pub const CATEGORICAL_COLUMNS: &[&str] = &["task", "arch", "policy_name", "optimizer"];
/// The prediction target.
pub const TARGET_COLUMN: &str = "top1";
/// Numeric run-spec columns used as features, with their transform.
const NUMERIC_COLUMNS: &[(&str, Transform)] = &[
    ("base_lr", Transform::Log10),
    ("weight_decay", Transform::Log10Offset),
    ("momentum", Transform::Identity),
    ("batch_size", Transform::Log2),
    ("epochs", Transform::Identity),
];
/// Offset that keeps log10(weight decay) finite at 0.
const LOG_OFFSET: f64 = 1e-6;
/// Policy parameters that are scales (log-transformed); the rest enter linearly.
const SCALE_PARAMS: &[&str] = &["lr", "max_lr", "base_lr", "eta_min", "min_lr", "k0", "k1"];

/// The corpus as plain columns.
#[derive(Debug, Clone, Default)]
pub struct CorpusTable {
    /// Rows.
    pub len: usize,
    /// Numeric and boolean columns as f64 (`None` for null).
    pub numeric: BTreeMap<String, Vec<Option<f64>>>,
    /// String columns.
    pub text: BTreeMap<String, Vec<String>>,
    /// Float list columns (per-epoch curves).
    pub curves: BTreeMap<String, Vec<Vec<f64>>>,
}

impl CorpusTable {
    /// Pull every column of `df` into plain vectors.
    pub fn from_dataframe(df: &DataFrame) -> Result<Self> {
        let err = |e: PolarsError| Error::Runtime(format!("reading corpus columns: {e}"));
        let mut table = CorpusTable {
            len: df.height(),
            ..Default::default()
        };
        for column in df.columns() {
            let name = column.name().to_string();
            let series = column.as_materialized_series();
            match series.dtype() {
                DataType::String => {
                    let values = series
                        .str()
                        .map_err(err)?
                        .iter()
                        .map(|v| v.unwrap_or_default().to_string())
                        .collect();
                    table.text.insert(name, values);
                }
                DataType::List(_) => {
                    let list = series.list().map_err(err)?;
                    let mut rows = Vec::with_capacity(list.len());
                    for i in 0..list.len() {
                        let values = match list.get_as_series(i) {
                            Some(s) => s
                                .cast(&DataType::Float64)
                                .map_err(err)?
                                .f64()
                                .map_err(err)?
                                .iter()
                                .map(|v| v.unwrap_or(f64::NAN))
                                .collect(),
                            None => Vec::new(),
                        };
                        rows.push(values);
                    }
                    table.curves.insert(name, rows);
                }
                dt if dt.is_primitive_numeric() || dt == &DataType::Boolean => {
                    let values = series
                        .cast(&DataType::Float64)
                        .map_err(err)?
                        .f64()
                        .map_err(err)?
                        .iter()
                        .collect();
                    table.numeric.insert(name, values);
                }
                _ => {}
            }
        }
        Ok(table)
    }

    /// A numeric column; error naming the column when it is absent.
    pub fn numeric(&self, name: &str) -> Result<&[Option<f64>]> {
        self.numeric
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| Error::Runtime(format!("corpus has no numeric column `{name}`")))
    }

    /// A string column; error naming the column when it is absent.
    pub fn text(&self, name: &str) -> Result<&[String]> {
        self.text
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| Error::Runtime(format!("corpus has no text column `{name}`")))
    }

    /// A numeric column with nulls as NaN.
    pub fn values(&self, name: &str) -> Result<Vec<f64>> {
        Ok(self
            .numeric(name)?
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect())
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
}

/// One column of the design matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Term {
    /// 1 when `column == category`.
    OneHot { column: String, category: String },
    /// `transform(column)`; a missing value (a policy without this parameter) is 0.
    Numeric {
        column: String,
        transform: Transform,
    },
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
        let f = |t: &Transform, c: &str| match t {
            Transform::Identity => c.to_string(),
            Transform::Log10 => format!("log10({c})"),
            Transform::Log10Offset => format!("log10({c}+1e-6)"),
            Transform::Log2 => format!("log2({c})"),
        };
        match self {
            Term::OneHot { column, category } => format!("{column}={category}"),
            Term::Numeric { column, transform } => f(transform, column),
            Term::Square { column, transform } => format!("{}^2", f(transform, column)),
            Term::Interaction {
                category_column,
                category,
                column,
                transform,
            } => format!("[{category_column}={category}]*{}", f(transform, column)),
        }
    }

    fn values(&self, table: &CorpusTable) -> Result<Vec<f64>> {
        let numeric = |column: &str, transform: Transform| -> Result<Vec<f64>> {
            Ok(table
                .numeric(column)?
                .iter()
                .map(|v| v.map_or(0.0, |x| transform.apply(x)))
                .collect())
        };
        match self {
            Term::OneHot { column, category } => Ok(table
                .text(column)?
                .iter()
                .map(|v| f64::from(u8::from(v == category)))
                .collect()),
            Term::Numeric { column, transform } => numeric(column, *transform),
            Term::Square { column, transform } => Ok(numeric(column, *transform)?
                .into_iter()
                .map(|x| x * x)
                .collect()),
            Term::Interaction {
                category_column,
                category,
                column,
                transform,
            } => {
                let cats = table.text(category_column)?;
                Ok(numeric(column, *transform)?
                    .into_iter()
                    .zip(cats)
                    .map(|(x, c)| if c == category { x } else { 0.0 })
                    .collect())
            }
        }
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

/// A design matrix with its target.
#[derive(Debug, Clone)]
pub struct FeatureMatrix {
    /// `rows × terms`.
    pub x: Array2<f64>,
    /// Target per row.
    pub y: Array1<f64>,
    /// Term names.
    pub names: Vec<String>,
}

impl FeatureSpec {
    /// Infer the terms from the corpus: every category seen (the alphabetically first one of each
    /// column is the reference and gets no column), every numeric hyperparameter, every policy
    /// parameter that is not the base LR itself, log-LR², and category × log-LR interactions.
    pub fn infer(table: &CorpusTable) -> Result<Self> {
        let mut terms = Vec::new();
        let lr = |category_column: &str, category: &str| Term::Interaction {
            category_column: category_column.into(),
            category: category.into(),
            column: "base_lr".into(),
            transform: Transform::Log10,
        };
        for &column in CATEGORICAL_COLUMNS {
            let categories: BTreeSet<&String> = table.text(column)?.iter().collect();
            for category in categories.into_iter().skip(1) {
                terms.push(Term::OneHot {
                    column: column.into(),
                    category: category.clone(),
                });
                if column != "task" {
                    terms.push(lr(column, category));
                }
            }
        }
        for &(column, transform) in NUMERIC_COLUMNS {
            if table.numeric.contains_key(column) {
                terms.push(Term::Numeric {
                    column: column.into(),
                    transform,
                });
            }
        }
        terms.push(Term::Square {
            column: "base_lr".into(),
            transform: Transform::Log10,
        });
        let base_lr = table.numeric("base_lr")?;
        for (column, values) in &table.numeric {
            let Some(param) = column.strip_prefix(POLICY_PARAM_PREFIX) else {
                continue;
            };
            // The policy's primary LR parameter duplicates base_lr.
            let duplicates_base = values
                .iter()
                .zip(base_lr)
                .all(|(v, b)| v.is_none() || v == b);
            // A parameter constant within its policy is that policy's one-hot scaled: collinear.
            let distinct: BTreeSet<u64> = values.iter().flatten().map(|v| v.to_bits()).collect();
            if duplicates_base || distinct.len() < 2 {
                continue;
            }
            let positive = values.iter().flatten().all(|&v| v > 0.0);
            let transform = if positive && SCALE_PARAMS.iter().any(|s| param.ends_with(s)) {
                Transform::Log10
            } else {
                Transform::Identity
            };
            terms.push(Term::Numeric {
                column: column.clone(),
                transform,
            });
        }
        Ok(Self {
            terms,
            target: TARGET_COLUMN.into(),
        })
    }

    /// Term names in column order.
    pub fn names(&self) -> Vec<String> {
        self.terms.iter().map(Term::name).collect()
    }

    /// Build the design matrix and target for every row of `table`.
    pub fn matrix(&self, table: &CorpusTable) -> Result<FeatureMatrix> {
        let mut x = Array2::<f64>::zeros((table.len, self.terms.len()));
        for (j, term) in self.terms.iter().enumerate() {
            // A term whose column a new corpus lacks is 0 (e.g. a policy parameter never used there).
            let values = term.values(table).unwrap_or_else(|_| vec![0.0; table.len]);
            for (i, v) in values.into_iter().enumerate() {
                x[[i, j]] = if v.is_finite() { v } else { 0.0 };
            }
        }
        let y = Array1::from(table.values(&self.target)?);
        Ok(FeatureMatrix {
            x,
            y,
            names: self.names(),
        })
    }
}
