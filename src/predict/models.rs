//! The model zoo: honest baselines (global mean, per-task, per-architecture and per-task-and-
//! architecture means), linear models fitted with linfa (ordinary least squares, ridge, elastic
//! net) on standardised, linearly independent features, RBF support-vector regression
//! (linfa-svm), gradient-boosted trees ([`super::boosted`]),
//! a random forest ([`super::forest`]) and a hurdle model (the failure tree times the accuracy of a
//! failed run, plus the forest fitted on the runs that trained). A fitted model is plain
//! serialisable data, so it can be saved, loaded and applied to new rows. Predictions are never
//! clipped here: scores see what a model says.

use std::collections::BTreeMap;

use linfa::prelude::*;
use linfa_elasticnet::ElasticNet;
use linfa_linear::LinearRegression;
use linfa_svm::Svm;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::boosted::{BoostedTrees, BoostedTreesParams};
use super::divergence::DivergenceTree;
use super::forest::{RandomForest, RandomForestParams};
use crate::error::{Error, Result};
use crate::recipe::FitSettings;

/// Which model to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelKind {
    /// Baseline: the training mean, whatever the input.
    GlobalMean,
    /// Baseline: the training mean of the row's architecture (global mean for an unseen one).
    ArchMean,
    /// Baseline: the training mean of the row's task (global mean for an unseen one).
    TaskMean,
    /// Baseline: the training mean of the row's task × architecture (then its task's, then the
    /// global mean).
    TaskArchMean,
    /// Ordinary least squares (linfa-linear).
    Ols,
    /// Ridge regression: elastic net with L1 share 0 (linfa-elasticnet).
    Ridge,
    /// Elastic net (linfa-elasticnet).
    ElasticNet,
    /// Support-vector regression with an RBF kernel (linfa-svm) on standardised features.
    Svr,
    /// Gradient-boosted regression trees (perpetual, behind linfa's traits).
    BoostedTrees,
    /// Random forest (smartcore, behind linfa's traits).
    RandomForest,
    /// Hurdle: P(fail) from the failure tree × the mean accuracy of failed training runs, plus
    /// (1 − P(fail)) × a random forest fitted on the runs that trained, so failed runs neither
    /// drag the accuracy model down nor vanish from the prediction.
    HurdleForest,
}

/// Every model, baselines first.
pub const ALL_MODELS: &[ModelKind] = &[
    ModelKind::GlobalMean,
    ModelKind::ArchMean,
    ModelKind::TaskMean,
    ModelKind::TaskArchMean,
    ModelKind::Ols,
    ModelKind::Ridge,
    ModelKind::ElasticNet,
    ModelKind::Svr,
    ModelKind::BoostedTrees,
    ModelKind::RandomForest,
    ModelKind::HurdleForest,
];

impl ModelKind {
    /// Short name used in files and tables.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::GlobalMean => "global_mean",
            ModelKind::ArchMean => "arch_mean",
            ModelKind::TaskMean => "task_mean",
            ModelKind::TaskArchMean => "task_arch_mean",
            ModelKind::Ols => "ols",
            ModelKind::Ridge => "ridge",
            ModelKind::ElasticNet => "elastic_net",
            ModelKind::Svr => "svr",
            ModelKind::BoostedTrees => "boosted_trees",
            ModelKind::RandomForest => "random_forest",
            ModelKind::HurdleForest => "hurdle_forest",
        }
    }

    /// Whether this is a baseline.
    pub fn is_baseline(self) -> bool {
        matches!(
            self,
            ModelKind::GlobalMean
                | ModelKind::ArchMean
                | ModelKind::TaskMean
                | ModelKind::TaskArchMean
        )
    }
}

/// Rows to fit on or predict for: features plus the task and architecture of each row.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    /// `rows × terms` design matrix.
    pub x: ArrayView2<'a, f64>,
    /// Task of each row.
    pub task: &'a [String],
    /// Architecture of each row.
    pub arch: &'a [String],
}

impl Rows<'_> {
    /// The baseline grouping key of row `i` for `kind` (`None`: the global mean).
    fn key(&self, kind: ModelKind, i: usize) -> Option<String> {
        match kind {
            ModelKind::ArchMean => Some(self.arch[i].clone()),
            ModelKind::TaskMean => Some(self.task[i].clone()),
            ModelKind::TaskArchMean => Some(format!("{} | {}", self.task[i], self.arch[i])),
            _ => None,
        }
    }
}

/// A fitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FittedModel {
    /// Constant prediction.
    GlobalMean { mean: f64 },
    /// Mean per group (architecture, task, or task × architecture as `kind` says), falling back
    /// to the task's mean for task × architecture and to the global mean for an unseen group.
    GroupMean {
        kind: ModelKind,
        means: BTreeMap<String, f64>,
        task_means: BTreeMap<String, f64>,
        fallback: f64,
    },
    /// `intercept + Σ coef_k · (x[columns_k] − mean_k) / scale_k`.
    Linear {
        kind: ModelKind,
        columns: Vec<usize>,
        mean: Vec<f64>,
        scale: Vec<f64>,
        coef: Vec<f64>,
        intercept: f64,
    },
    /// RBF support-vector regression on `(x[columns] − mean) / scale`.
    Svr {
        columns: Vec<usize>,
        mean: Vec<f64>,
        scale: Vec<f64>,
        svm: Box<Svm<f64, f64>>,
    },
    /// Gradient-boosted trees on the raw design matrix.
    Boosted(Box<BoostedTrees>),
    /// Random forest on the raw design matrix.
    Forest(Box<RandomForest>),
    /// `p · failed_mean + (1 − p) · trained(x)` with `p` the failure tree's probability.
    Hurdle {
        failure: Box<DivergenceTree>,
        failed_mean: f64,
        trained: Box<FittedModel>,
    },
}

impl FittedModel {
    /// Predict the target (accuracy) for `rows`.
    pub fn predict(&self, rows: Rows<'_>) -> Vec<f64> {
        match self {
            FittedModel::GlobalMean { mean } => vec![*mean; rows.arch.len()],
            FittedModel::GroupMean {
                kind,
                means,
                task_means,
                fallback,
            } => (0..rows.arch.len())
                .map(|i| {
                    let key = rows.key(*kind, i).unwrap_or_default();
                    means
                        .get(&key)
                        .or_else(|| task_means.get(&rows.task[i]))
                        .copied()
                        .unwrap_or(*fallback)
                })
                .collect(),
            FittedModel::Linear {
                columns,
                mean,
                scale,
                coef,
                intercept,
                ..
            } => rows
                .x
                .axis_iter(Axis(0))
                .map(|row| {
                    let z: f64 = columns
                        .iter()
                        .enumerate()
                        .map(|(k, &j)| coef[k] * (row[j] - mean[k]) / scale[k])
                        .sum();
                    intercept + z
                })
                .collect(),
            FittedModel::Svr {
                columns,
                mean,
                scale,
                svm,
            } => svm
                .predict(&standardised(rows.x, columns, mean, scale))
                .to_vec(),
            FittedModel::Boosted(model) => model.predict(&rows.x).to_vec(),
            FittedModel::Forest(model) => model.predict(&rows.x).to_vec(),
            FittedModel::Hurdle {
                failure,
                failed_mean,
                trained,
            } => failure
                .probability(rows.x)
                .into_iter()
                .zip(trained.predict(rows))
                .map(|(p, a)| p * failed_mean + (1.0 - p) * a)
                .collect(),
        }
    }
}

/// Fit `kind` on `rows` with target `y`; `failed[i]` says whether run `i` diverged or collapsed
/// (only the hurdle model reads it).
pub fn fit(
    kind: ModelKind,
    rows: Rows<'_>,
    y: &[f64],
    failed: &[bool],
    settings: &FitSettings,
) -> Result<FittedModel> {
    if y.is_empty() {
        return Err(Error::Fit("no training rows".into()));
    }
    let global = y.iter().sum::<f64>() / y.len() as f64;
    match kind {
        ModelKind::GlobalMean => Ok(FittedModel::GlobalMean { mean: global }),
        ModelKind::ArchMean | ModelKind::TaskMean | ModelKind::TaskArchMean => {
            let means_by = |key: &dyn Fn(usize) -> String| {
                let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
                for (i, &v) in y.iter().enumerate() {
                    let e = sums.entry(key(i)).or_default();
                    e.0 += v;
                    e.1 += 1;
                }
                sums.into_iter()
                    .map(|(k, (s, n))| (k, s / n as f64))
                    .collect::<BTreeMap<_, _>>()
            };
            Ok(FittedModel::GroupMean {
                kind,
                means: means_by(&|i| rows.key(kind, i).unwrap_or_default()),
                task_means: if kind == ModelKind::TaskArchMean {
                    means_by(&|i| rows.task[i].clone())
                } else {
                    BTreeMap::new()
                },
                fallback: global,
            })
        }
        ModelKind::BoostedTrees => {
            let dataset = Dataset::new(rows.x.to_owned(), Array1::from(y.to_vec()));
            BoostedTreesParams::new()
                .seed(settings.random_seed)
                .fit(&dataset)
                .map(|m| FittedModel::Boosted(Box::new(m)))
                .map_err(|e| Error::Fit(e.to_string()))
        }
        ModelKind::RandomForest => {
            let dataset = Dataset::new(rows.x.to_owned(), Array1::from(y.to_vec()));
            RandomForestParams::new()
                .seed(settings.random_seed)
                .fit(&dataset)
                .map(|m| FittedModel::Forest(Box::new(m)))
                .map_err(|e| Error::Fit(e.to_string()))
        }
        ModelKind::HurdleForest => fit_hurdle(rows, y, failed, settings),
        ModelKind::Svr => fit_svr(rows.x, y, settings),
        ModelKind::Ols | ModelKind::Ridge | ModelKind::ElasticNet => {
            fit_linear(kind, rows.x, y, settings)
        }
    }
}

/// Most training rows an SVR is fitted on: linfa-svm keeps the dense n × n kernel matrix (1 000
/// rows: 8 MB; 10 000: 800 MB per fit) and its solver grows faster than n², so larger training
/// sets are subsampled (seeded). Measured on the 10 000-run benchmark: 2 000 rows made `fit` take
/// 66 s instead of 46 s and improved the SVR's held-out MAE by at most 0.002.
pub const SVR_MAX_ROWS: usize = 1_000;

/// The columns of `x` that vary, with their mean and (population) standard deviation.
fn varying_columns(x: ArrayView2<'_, f64>) -> (Vec<usize>, Vec<f64>, Vec<f64>) {
    let n = x.nrows() as f64;
    let (mut columns, mut mean, mut scale) = (Vec::new(), Vec::new(), Vec::new());
    for (j, col) in x.axis_iter(Axis(1)).enumerate() {
        let m = col.sum() / n;
        let s = (col.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt();
        if s > 1e-12 {
            columns.push(j);
            mean.push(m);
            scale.push(s);
        }
    }
    (columns, mean, scale)
}

/// `(x[columns] − mean) / scale`.
fn standardised(
    x: ArrayView2<'_, f64>,
    columns: &[usize],
    mean: &[f64],
    scale: &[f64],
) -> Array2<f64> {
    Array2::from_shape_fn((x.nrows(), columns.len()), |(i, k)| {
        (x[[i, columns[k]]] - mean[k]) / scale[k]
    })
}

/// RBF support-vector regression in scikit-learn's `SVR` defaults where they apply (C = 1, kernel
/// width `gamma = 1 / features` on standardised features), with an ε-tube of 0.01 (accuracies
/// differ by hundredths, scikit-learn's 0.1 would ignore most errors).
fn fit_svr(x: ArrayView2<'_, f64>, y: &[f64], settings: &FitSettings) -> Result<FittedModel> {
    use rand::SeedableRng;
    use rand::seq::index::sample;
    let mut rows: Vec<usize> = (0..x.nrows()).collect();
    if rows.len() > SVR_MAX_ROWS {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(settings.random_seed);
        rows = sample(&mut rng, x.nrows(), SVR_MAX_ROWS).into_vec();
        rows.sort_unstable();
    }
    let x = x.select(Axis(0), &rows);
    let (columns, mean, scale) = varying_columns(x.view());
    let z = standardised(x.view(), &columns, &mean, &scale);
    let targets: Array1<f64> = rows.iter().map(|&i| y[i]).collect();
    let svm = Svm::<f64, f64>::params()
        .c_svr(1.0, Some(0.01))
        .gaussian_kernel(columns.len().max(1) as f64)
        .fit(&Dataset::new(z, targets))
        .map_err(|e| Error::Fit(format!("svr: {e}")))?;
    Ok(FittedModel::Svr {
        columns,
        mean,
        scale,
        svm: Box::new(svm),
    })
}

/// The hurdle model: the failure tree on every row, the forest on the rows that trained (on every
/// row when fewer than 2 trained), the mean accuracy of the failed rows (0 when none failed: then
/// the tree's probability is small and the term barely counts).
fn fit_hurdle(
    rows: Rows<'_>,
    y: &[f64],
    failed: &[bool],
    settings: &FitSettings,
) -> Result<FittedModel> {
    let failure = DivergenceTree::fit(rows.x, failed)?;
    let trained: Vec<usize> = (0..y.len()).filter(|&i| !failed[i]).collect();
    let trained = if trained.len() < 2 {
        (0..y.len()).collect()
    } else {
        trained
    };
    let failed_y: Vec<f64> = (0..y.len()).filter(|&i| failed[i]).map(|i| y[i]).collect();
    let failed_mean = if failed_y.is_empty() {
        0.0
    } else {
        failed_y.iter().sum::<f64>() / failed_y.len() as f64
    };
    let pick = |names: &[String]| {
        trained
            .iter()
            .map(|&i| names[i].clone())
            .collect::<Vec<_>>()
    };
    let (x, task, arch) = (
        rows.x.select(Axis(0), &trained),
        pick(rows.task),
        pick(rows.arch),
    );
    let trained_rows = Rows {
        x: x.view(),
        task: &task,
        arch: &arch,
    };
    let trained_y: Vec<f64> = trained.iter().map(|&i| y[i]).collect();
    let trained_failed: Vec<bool> = trained.iter().map(|&i| failed[i]).collect();
    let forest = fit(
        ModelKind::RandomForest,
        trained_rows,
        &trained_y,
        &trained_failed,
        settings,
    )?;
    Ok(FittedModel::Hurdle {
        failure: Box::new(failure),
        failed_mean,
        trained: Box::new(forest),
    })
}

/// Standardise, keep a linearly independent set of columns, fit with linfa.
fn fit_linear(
    kind: ModelKind,
    x: ArrayView2<'_, f64>,
    y: &[f64],
    settings: &FitSettings,
) -> Result<FittedModel> {
    let (columns, mean, scale) = varying_columns(x);
    let mut z = Array2::<f64>::zeros((x.nrows(), columns.len()));
    for (k, &j) in columns.iter().enumerate() {
        for i in 0..x.nrows() {
            z[[i, k]] = (x[[i, j]] - mean[k]) / scale[k];
        }
    }
    // Drop columns that are linear combinations of earlier ones (e.g. a one-hot that the training
    // split makes identical to another), so OLS stays well-posed.
    let keep = independent_columns(&z);
    let z = z.select(Axis(1), &keep);
    let columns: Vec<usize> = keep.iter().map(|&k| columns[k]).collect();
    let mean: Vec<f64> = keep.iter().map(|&k| mean[k]).collect();
    let scale: Vec<f64> = keep.iter().map(|&k| scale[k]).collect();
    let targets = Array1::from(y.to_vec());
    let y_mean = targets.mean().unwrap_or(0.0);

    let (coef, intercept) = if columns.is_empty() {
        (Vec::new(), y_mean)
    } else {
        let dataset = Dataset::new(z, targets);
        match kind {
            ModelKind::Ols => {
                let model = LinearRegression::new()
                    .fit(&dataset)
                    .map_err(|e| Error::Fit(format!("ols: {e}")))?;
                (model.params().to_vec(), model.intercept())
            }
            ModelKind::Ridge | ModelKind::ElasticNet => {
                let (alpha, l1) = if kind == ModelKind::Ridge {
                    (settings.ridge_alpha, 0.0)
                } else {
                    (settings.elastic_net_alpha, settings.l1_ratio)
                };
                let model = ElasticNet::params()
                    .penalty(alpha)
                    .l1_ratio(l1)
                    // scikit-learn's ElasticNet defaults. Against 10 000 iterations at 1e-8, the
                    // default-corpus MAEs moved by < 0.001 (ridge: not at all) except where the
                    // elastic net extrapolates wildly (leave one policy out: 2.93 → 2.80), and
                    // the 10 000-run fit got seconds faster per fold.
                    .max_iterations(1_000)
                    .tolerance(1e-4)
                    .fit(&dataset)
                    .map_err(|e| Error::Fit(format!("{}: {e}", kind.name())))?;
                (model.hyperplane().to_vec(), model.intercept())
            }
            _ => unreachable!(),
        }
    };
    if coef.iter().any(|c| !c.is_finite()) || !intercept.is_finite() {
        return Err(Error::Fit(format!(
            "{}: non-finite coefficients (ill-conditioned features)",
            kind.name()
        )));
    }
    Ok(FittedModel::Linear {
        kind,
        columns,
        mean,
        scale,
        coef,
        intercept,
    })
}

/// Indices of a maximal set of linearly independent columns, chosen left to right (modified
/// Gram–Schmidt with a relative tolerance).
pub fn independent_columns(z: &Array2<f64>) -> Vec<usize> {
    let mut basis: Vec<Array1<f64>> = Vec::new();
    let mut keep = Vec::new();
    for (j, col) in z.axis_iter(Axis(1)).enumerate() {
        let mut v = col.to_owned();
        let norm0 = v.dot(&v).sqrt();
        if norm0 == 0.0 {
            continue;
        }
        for b in &basis {
            let p = v.dot(b);
            v.scaled_add(-p, b);
        }
        let norm = v.dot(&v).sqrt();
        if norm > 1e-8 * norm0 {
            basis.push(v / norm);
            keep.push(j);
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn settings() -> FitSettings {
        FitSettings {
            holdout: vec!["base_lr".into()],
            quantile: 0.1,
            random_seed: 0,
            ridge_alpha: 1e-6,
            elastic_net_alpha: 1e-6,
            l1_ratio: 0.5,
            protocols: None,
            models: None,
        }
    }

    #[test]
    fn linear_models_recover_a_linear_target_despite_a_duplicate_column() {
        // y = 0.2 + 0.1·x0 − 0.05·x1; column 2 duplicates column 0.
        let x = array![
            [0.0, 1.0, 0.0],
            [1.0, 0.0, 1.0],
            [2.0, 2.0, 2.0],
            [3.0, 1.0, 3.0],
            [4.0, 3.0, 4.0],
            [5.0, 0.0, 5.0]
        ];
        let y: Vec<f64> = x
            .rows()
            .into_iter()
            .map(|r| 0.2 + 0.1 * r[0] - 0.05 * r[1])
            .collect();
        let arch = vec!["a".to_string(); 6];
        let rows = Rows {
            x: x.view(),
            task: &arch,
            arch: &arch,
        };
        for kind in [ModelKind::Ols, ModelKind::Ridge, ModelKind::ElasticNet] {
            let model = fit(kind, rows, &y, &[false; 6], &settings()).unwrap();
            let p = model.predict(rows);
            for (a, b) in p.iter().zip(&y) {
                assert!((a - b).abs() < 1e-3, "{kind:?}: {a} vs {b}");
            }
            let json = serde_json::to_string(&model).unwrap();
            let back: FittedModel = serde_json::from_str(&json).unwrap();
            assert_eq!(back.predict(rows), p);
        }
    }

    #[test]
    fn baselines() {
        let x = Array2::<f64>::zeros((4, 1));
        let arch: Vec<String> = ["a", "a", "b", "b"].iter().map(|s| s.to_string()).collect();
        let task: Vec<String> = ["t", "u", "t", "u"].iter().map(|s| s.to_string()).collect();
        let y = [0.2, 0.4, 0.8, 1.0];
        let rows = Rows {
            x: x.view(),
            task: &task,
            arch: &arch,
        };
        let global = fit(ModelKind::GlobalMean, rows, &y, &[false; 4], &settings()).unwrap();
        assert!(global.predict(rows).iter().all(|p| (p - 0.6).abs() < 1e-12));
        let by_arch = fit(ModelKind::ArchMean, rows, &y, &[false; 4], &settings()).unwrap();
        let p = by_arch.predict(rows);
        assert!((p[0] - 0.3).abs() < 1e-12 && (p[3] - 0.9).abs() < 1e-12);
        let by_task = fit(ModelKind::TaskMean, rows, &y, &[false; 4], &settings()).unwrap();
        assert!((by_task.predict(rows)[1] - 0.7).abs() < 1e-12);
        let unseen = vec!["c".to_string()];
        let x1 = Array2::<f64>::zeros((1, 1));
        let unseen_rows = Rows {
            x: x1.view(),
            task: &unseen,
            arch: &unseen,
        };
        assert!((by_arch.predict(unseen_rows)[0] - 0.6).abs() < 1e-12);
        // An unseen task × architecture pair falls back to its task's mean.
        let both = fit(ModelKind::TaskArchMean, rows, &y, &[false; 4], &settings()).unwrap();
        let (t, a) = (vec!["t".to_string()], vec!["c".to_string()]);
        let p = both.predict(Rows {
            x: x1.view(),
            task: &t,
            arch: &a,
        });
        assert!((p[0] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn the_hurdle_predicts_failures_at_their_accuracy_and_the_rest_by_the_forest() {
        // x in [0, 1): runs with x ≥ 0.8 fail at accuracy 0.1, the others follow a smooth curve.
        let n = 200;
        let x = Array2::from_shape_fn((n, 1), |(i, _)| (i as f64 * 0.618).fract());
        let failed: Vec<bool> = x.column(0).iter().map(|&v| v >= 0.8).collect();
        let y: Vec<f64> = x
            .column(0)
            .iter()
            .zip(&failed)
            .map(|(&v, &f)| if f { 0.1 } else { 0.5 + 0.4 * v })
            .collect();
        let names = vec!["a".to_string(); n];
        let rows = Rows {
            x: x.view(),
            task: &names,
            arch: &names,
        };
        let model = fit(ModelKind::HurdleForest, rows, &y, &failed, &settings()).unwrap();
        let probe = array![[0.1], [0.5], [0.95]];
        let names = vec!["a".to_string(); 3];
        let p = model.predict(Rows {
            x: probe.view(),
            task: &names,
            arch: &names,
        });
        assert!((p[0] - 0.54).abs() < 0.03, "{p:?}");
        assert!((p[1] - 0.70).abs() < 0.03, "{p:?}");
        assert!((p[2] - 0.1).abs() < 0.03, "{p:?}");
        let back: FittedModel =
            serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
        assert_eq!(back.predict(rows), model.predict(rows));
    }

    #[test]
    fn the_svr_fits_a_smooth_curve_and_round_trips() {
        let n = 200;
        let x = Array2::from_shape_fn((n, 2), |(i, j)| {
            if j == 0 {
                (i as f64 * 0.618).fract()
            } else {
                7.0 // a constant column, dropped
            }
        });
        let y: Vec<f64> = x
            .column(0)
            .iter()
            .map(|&v| 0.5 + 0.3 * (6.0 * v).sin())
            .collect();
        let names = vec!["a".to_string(); n];
        let rows = Rows {
            x: x.view(),
            task: &names,
            arch: &names,
        };
        let model = fit(ModelKind::Svr, rows, &y, &[false; 200], &settings()).unwrap();
        let p = model.predict(rows);
        let mae = p.iter().zip(&y).map(|(p, a)| (p - a).abs()).sum::<f64>() / n as f64;
        assert!(mae < 0.03, "MAE {mae}");
        let back: FittedModel =
            serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
        assert_eq!(back.predict(rows), p);
    }
}
