//! Grouped permutation importance: how much the held-out error of a model grows when the values of
//! one hyperparameter are shuffled among the test runs of each fold, with the spread over repeats.
//! All design-matrix columns of a hyperparameter (e.g. log10 base LR, its square, its
//! interactions and the LR summaries of the schedule) move together under one permutation.

use ndarray::{Array2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::Scoring;
use super::holdout::Split;
use super::models::{self, ModelKind, Rows};
use crate::error::Result;

/// Shuffles per hyperparameter.
pub const REPEATS: usize = 5;

/// The importance of one hyperparameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    /// Hyperparameter (a group of design-matrix columns).
    pub hyperparameter: String,
    /// Design-matrix columns in the group.
    pub columns: usize,
    /// Mean increase of the pooled held-out MAE over the repeats.
    pub mae_increase: f64,
    /// Standard deviation of that increase over the repeats.
    pub sd: f64,
}

/// Permutation importance of every hyperparameter for one model on one protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportanceReport {
    /// Model.
    pub model: String,
    /// Protocol whose test folds are permuted.
    pub protocol: String,
    /// Shuffles per hyperparameter.
    pub repeats: usize,
    /// Held-out MAE without shuffling.
    pub baseline_mae: f64,
    /// Largest increase first.
    pub importances: Vec<Importance>,
}

impl Scoring<'_> {
    /// Permutation importance of `kind` on `split`, for the column `groups` of the design matrix.
    pub(super) fn importance(
        &self,
        kind: ModelKind,
        split: &Split,
        groups: &[(String, Vec<usize>)],
    ) -> Result<ImportanceReport> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.settings.random_seed);
        // Sum of |error| per group and repeat, pooled over folds.
        let mut permuted = vec![vec![0.0; REPEATS]; groups.len()];
        let (mut baseline, mut n) = (0.0, 0usize);
        for fold in &split.folds {
            let model = self.fit_on(kind, &fold.train)?;
            let x = self.x.select(Axis(0), &fold.test);
            let task: Vec<String> = fold.test.iter().map(|&i| self.task[i].clone()).collect();
            let arch: Vec<String> = fold.test.iter().map(|&i| self.arch[i].clone()).collect();
            let y: Vec<f64> = fold.test.iter().map(|&i| self.y[i]).collect();
            let error = |x: &Array2<f64>| -> f64 {
                let p = model.predict(Rows {
                    x: x.view(),
                    task: &task,
                    arch: &arch,
                });
                p.iter().zip(&y).map(|(p, a)| (p - a).abs()).sum()
            };
            baseline += error(&x);
            n += y.len();
            for (g, (_, columns)) in groups.iter().enumerate() {
                for total in permuted[g].iter_mut() {
                    let mut order: Vec<usize> = (0..x.nrows()).collect();
                    order.shuffle(&mut rng);
                    let mut shuffled = x.clone();
                    for &j in columns {
                        for (i, &from) in order.iter().enumerate() {
                            shuffled[[i, j]] = x[[from, j]];
                        }
                    }
                    *total += error(&shuffled);
                }
            }
        }
        let n = n.max(1) as f64;
        let baseline_mae = baseline / n;
        let mut importances: Vec<Importance> = groups
            .iter()
            .zip(&permuted)
            .map(|((name, columns), totals)| {
                let increases: Vec<f64> = totals.iter().map(|t| t / n - baseline_mae).collect();
                let mean = increases.iter().sum::<f64>() / REPEATS as f64;
                let var = increases.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
                    / (REPEATS - 1) as f64;
                Importance {
                    hyperparameter: name.clone(),
                    columns: columns.len(),
                    mae_increase: mean,
                    sd: var.sqrt(),
                }
            })
            .collect();
        importances.sort_by(|a, b| b.mae_increase.total_cmp(&a.mae_increase));
        Ok(ImportanceReport {
            model: kind.name().into(),
            protocol: split.name.clone(),
            repeats: REPEATS,
            baseline_mae,
            importances,
        })
    }

    /// `kind` fitted on the `train` rows.
    pub(super) fn fit_on(&self, kind: ModelKind, train: &[usize]) -> Result<models::FittedModel> {
        let x = self.x.select(Axis(0), train);
        let task: Vec<String> = train.iter().map(|&i| self.task[i].clone()).collect();
        let arch: Vec<String> = train.iter().map(|&i| self.arch[i].clone()).collect();
        let y: Vec<f64> = train.iter().map(|&i| self.y[i]).collect();
        let failed: Vec<bool> = train.iter().map(|&i| self.failed[i]).collect();
        let rows = Rows {
            x: x.view(),
            task: &task,
            arch: &arch,
        };
        models::fit(kind, rows, &y, &failed, self.settings)
    }
}
