//! The corpus as plain columns: the one bridge from polars DataFrames to Rust vectors, and the read
//! of the rows a plan asks for. Every consumer (fit, report, export) reads runs through here.

use std::collections::{BTreeMap, HashSet};

use polars::prelude::*;

use super::store::CorpusStore;
use crate::error::{Error, Result};

/// The outcome of a run whose source recorded none (see [`CorpusTable::outcomes`]).
pub const UNKNOWN_OUTCOME: &str = "unknown";

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

impl CorpusTable {
    /// A table of spec rows (from [`super::record::spec_rows`]): strings as text columns, numbers
    /// and flags as numeric ones; a column some rows lack is null there.
    pub fn from_cells(rows: &[Vec<(String, super::record::Cell)>]) -> Self {
        use super::record::Cell;
        let mut table = CorpusTable {
            len: rows.len(),
            ..Default::default()
        };
        for (i, row) in rows.iter().enumerate() {
            for (name, cell) in row {
                let number = match cell {
                    Cell::Str(v) => {
                        let column = table
                            .text
                            .entry(name.clone())
                            .or_insert_with(|| vec![String::new(); rows.len()]);
                        column[i] = v.clone();
                        continue;
                    }
                    Cell::F64(v) => Some(*v),
                    Cell::I64(v) => Some(*v as f64),
                    Cell::OptI64(v) => v.map(|v| v as f64),
                    Cell::OptF64(v) => *v,
                    Cell::Bool(v) => Some(f64::from(u8::from(*v))),
                    Cell::ListF64(_) | Cell::ListI64(_) => continue,
                };
                let column = table
                    .numeric
                    .entry(name.clone())
                    .or_insert_with(|| vec![None; rows.len()]);
                column[i] = number;
            }
        }
        table
    }

    /// The outcome class of every run (`trained`, `diverged` or `collapsed`): the `outcome` column,
    /// or for runs written by lrcast 0.1 (which has none; its only task had 10 classes) derived
    /// the same way from `diverged` and `train_loss`; [`UNKNOWN_OUTCOME`] for an imported run whose
    /// table recorded neither.
    pub fn outcomes(&self) -> Result<Vec<String>> {
        let diverged = self.values("diverged")?;
        let train_loss = self.values("train_loss")?;
        let recorded = self.text("outcome").ok();
        Ok((0..self.len)
            .map(|i| match recorded.map(|o| o[i].as_str()) {
                Some(o) if !o.is_empty() => o.to_string(),
                _ if diverged[i].is_nan() => UNKNOWN_OUTCOME.into(),
                _ if diverged[i] > 0.5 => "diverged".into(),
                _ if train_loss[i] >= 10f64.ln() => "collapsed".into(),
                _ => "trained".into(),
            })
            .collect())
    }
}

impl CorpusStore {
    /// The runs whose ids are in `wanted`, as plain columns (an empty table when none is in the
    /// corpus; an error when the corpus has no runs at all).
    pub fn read_runs(&self, wanted: &HashSet<&str>, curves: bool) -> Result<CorpusTable> {
        let df = self.scan_columns(curves)?;
        let corpus_error = |e: PolarsError| Error::Corpus {
            path: self.runs_dir(),
            message: e.to_string(),
        };
        let ids = df
            .column("run_id")
            .and_then(|c| c.str().cloned())
            .map_err(corpus_error)?;
        let mask: BooleanChunked = ids
            .iter()
            .map(|id| Some(id.is_some_and(|id| wanted.contains(id))))
            .collect();
        let df = df.filter(&mask).map_err(corpus_error)?;
        CorpusTable::from_dataframe(&df)
    }

    /// Every run in the corpus with the value of the numeric `column` (`None` where it is null,
    /// not finite, or the column is absent — a corpus of an older version); empty without runs.
    /// A search reads its ranking metric through here.
    pub fn metric_by_run(
        &self,
        column: &str,
    ) -> Result<std::collections::HashMap<String, Option<f64>>> {
        // Read-only: `status` and `plan` plan a search's rounds through here and write nothing.
        let Some(frame) = self.scan_parts_read_only()?.frame else {
            return Ok(Default::default());
        };
        let table = CorpusTable::from_dataframe(&frame)?;
        let ids = table.text("run_id")?;
        let values = table.numeric.get(column);
        Ok(ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let v = values.and_then(|v| v[i]).filter(|v| v.is_finite());
                (id.clone(), v)
            })
            .collect())
    }
}
