//! Random-forest regression from `smartcore`, behind linfa's `Fit` / `PredictInplace` traits.
//!
//! Why a forest beside the boosted trees: on the default corpus scikit-learn's random forest beat
//! both gradient-boosting implementations when whole LR curves were held out (see README). Its
//! prediction interval is conformal, like every model's (see `predict/mod.rs`): an out-of-bag
//! interval only speaks for rows like the training rows and was measured too narrow (coverage 0.66
//! for a nominal 0.8) when whole curves were held out.

use linfa::dataset::{AsSingleTargets, DatasetBase};
use linfa::traits::{Fit, PredictInplace};
use linfa::{Error as LinfaError, ParamGuard};
use ndarray::{Array1, ArrayBase, Data, Ix2};
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

/// Checked hyperparameters of [`RandomForest`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomForestValidParams {
    trees: usize,
    min_samples_leaf: usize,
    seed: u64,
}

/// Hyperparameters of [`RandomForest`], unchecked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomForestParams(RandomForestValidParams);

impl RandomForestParams {
    /// 100 trees, leaves of at least 2 runs, every feature a split candidate (scikit-learn's
    /// regression default).
    pub fn new() -> Self {
        Self(RandomForestValidParams {
            trees: 100,
            min_samples_leaf: 2,
            seed: 0,
        })
    }

    /// Trees in the forest.
    pub fn trees(mut self, trees: usize) -> Self {
        self.0.trees = trees;
        self
    }

    /// Seed of the bootstrap samples.
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
}

impl Default for RandomForestParams {
    fn default() -> Self {
        Self::new()
    }
}

impl ParamGuard for RandomForestParams {
    type Checked = RandomForestValidParams;
    type Error = LinfaError;

    fn check_ref(&self) -> Result<&Self::Checked, Self::Error> {
        if self.0.trees == 0 || self.0.min_samples_leaf == 0 {
            return Err(LinfaError::Parameters(
                "random forest: trees and leaf size must be at least 1".into(),
            ));
        }
        Ok(&self.0)
    }

    fn check(self) -> Result<Self::Checked, Self::Error> {
        self.check_ref()?;
        Ok(self.0)
    }
}

type Forest = RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>;

/// A fitted forest.
#[derive(Debug, Serialize, Deserialize)]
pub struct RandomForest {
    forest: Forest,
}

impl Clone for RandomForest {
    fn clone(&self) -> Self {
        // smartcore's forest is not `Clone`; a serde round trip copies it exactly.
        serde_json::from_value(serde_json::to_value(self).expect("a forest serialises"))
            .expect("a forest deserialises")
    }
}

impl PartialEq for RandomForest {
    fn eq(&self, other: &Self) -> bool {
        self.forest == other.forest
    }
}

fn dense<D: Data<Elem = f64>>(x: &ArrayBase<D, Ix2>) -> Result<DenseMatrix<f64>, LinfaError> {
    DenseMatrix::new(x.nrows(), x.ncols(), x.iter().copied().collect(), false)
        .map_err(|e| LinfaError::Parameters(format!("random forest: {e}")))
}

impl<D, T> Fit<ArrayBase<D, Ix2>, T, LinfaError> for RandomForestValidParams
where
    D: Data<Elem = f64>,
    T: AsSingleTargets<Elem = f64>,
{
    type Object = RandomForest;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<RandomForest, LinfaError> {
        let x = dataset.records();
        let y: Vec<f64> = dataset.as_single_targets().iter().copied().collect();
        if x.nrows() < 2 {
            return Err(LinfaError::NotEnoughSamples);
        }
        let matrix = dense(x)?;
        let params = RandomForestRegressorParameters::default()
            .with_n_trees(self.trees)
            .with_min_samples_leaf(self.min_samples_leaf)
            .with_m(x.ncols())
            .with_seed(self.seed);
        let forest = Forest::fit(&matrix, &y, params)
            .map_err(|e| LinfaError::NotConverged(format!("random forest: {e}")))?;
        Ok(RandomForest { forest })
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for RandomForest {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        assert_eq!(x.nrows(), y.len(), "one prediction per row");
        let predicted = dense(x)
            .ok()
            .and_then(|m| self.forest.predict(&m).ok())
            .unwrap_or_else(|| vec![f64::NAN; x.nrows()]);
        for (out, p) in y.iter_mut().zip(predicted) {
            *out = p;
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nrows())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::prelude::*;
    use ndarray::Array2;

    #[test]
    fn the_forest_fits_a_peak_and_round_trips() {
        let n = 300;
        let noise = |i: usize| ((i * 7919) % 101) as f64 / 101.0 * 0.1 - 0.05;
        let x = Array2::from_shape_fn((n, 2), |(i, j)| {
            if j == 0 {
                (i as f64 * 0.618).fract()
            } else {
                (i % 4) as f64
            }
        });
        let y: Array1<f64> = x
            .rows()
            .into_iter()
            .enumerate()
            .map(|(i, r)| 1.0 - 4.0 * (r[0] - 0.5).powi(2) + noise(i))
            .collect();
        let (train, test) = (0..240, 240..n);
        let slice = |r: std::ops::Range<usize>| {
            (
                x.slice(ndarray::s![r.clone(), ..]).to_owned(),
                y.slice(ndarray::s![r]).to_owned(),
            )
        };
        let (x_train, y_train) = slice(train);
        let (x_test, y_test) = slice(test);
        let model = RandomForestParams::new()
            .fit(&Dataset::new(x_train, y_train))
            .unwrap();
        let p = model.predict(&x_test);
        let mae = (&p - &y_test).mapv(f64::abs).mean().unwrap();
        assert!(mae < 0.06, "MAE {mae}");
        let back: RandomForest =
            serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
        assert_eq!(back.predict(&x_test), p);
        assert_eq!(model.clone(), model);
    }
}
