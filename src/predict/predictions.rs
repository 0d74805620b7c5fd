//! The per-run predictions of the best model of each protocol, kept beside its scores so that the
//! report can draw predicted against actual accuracy (held-out runs, and on a single split the
//! training runs too) with the model's 80 % interval.

use serde::{Deserialize, Serialize};

use super::holdout::Split;
use super::models::ModelKind;
use super::{FoldPredictions, ModelScore, Scoring};

/// One run's actual and predicted target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRow {
    /// Run id.
    pub run_id: String,
    /// Actual target (final top-1).
    pub actual: f64,
    /// Prediction of the model.
    pub predicted: f64,
    /// Half-width of the 80 % interval around the prediction (held-out runs, where calibrated).
    #[serde(default)]
    pub half_width: Option<f64>,
    /// Whether the run was held out (else it trained the model: an in-sample prediction).
    pub held_out: bool,
}

/// The best model of a protocol (lowest pooled held-out MAE among the fitted models) and its
/// predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestPredictions {
    /// Model name.
    pub model: String,
    /// Held-out runs of every fold; on a single split also the training runs (in-sample, refitted
    /// on the same training rows).
    pub rows: Vec<PredictionRow>,
}

/// One model's per-fold predictions and interval half-widths (`None` when it could not be fitted).
pub(super) type Fitted = Option<(FoldPredictions, Option<Vec<f64>>)>;

impl Scoring<'_> {
    /// The predictions of the model with the lowest held-out MAE among `models` (baselines and
    /// references excluded); `fitted[k]` holds model `k`'s per-fold predictions and interval
    /// half-widths.
    pub(super) fn best_predictions(
        &self,
        split: &Split,
        kinds: &[ModelKind],
        models: &[ModelScore],
        fitted: &[Fitted],
    ) -> Option<BestPredictions> {
        let k = models
            .iter()
            .enumerate()
            .filter(|(_, m)| !m.baseline && !m.reference)
            .filter_map(|(k, m)| m.scores.map(|s| (k, s.mae)))
            .min_by(|a, b| a.1.total_cmp(&b.1))?
            .0;
        let (predictions, widths) = fitted.get(k)?.as_ref()?;
        let mut rows = Vec::new();
        for (f, (fold, p)) in split.folds.iter().zip(predictions).enumerate() {
            let w = widths.as_ref().map(|w| w[f]);
            for (&i, p) in fold.test.iter().zip(p) {
                if let Some(p) = p {
                    rows.push(self.prediction_row(i, *p, w, true));
                }
            }
        }
        if let [fold] = split.folds.as_slice()
            && let Ok(p) = self.fit_predict(kinds[k], &fold.train, &fold.train)
        {
            for (&i, p) in fold.train.iter().zip(p) {
                if let Some(p) = p {
                    rows.push(self.prediction_row(i, p, None, false));
                }
            }
        }
        Some(BestPredictions {
            model: models[k].model.clone(),
            rows,
        })
    }

    fn prediction_row(
        &self,
        i: usize,
        predicted: f64,
        half_width: Option<f64>,
        held_out: bool,
    ) -> PredictionRow {
        PredictionRow {
            run_id: self.run_id[i].clone(),
            actual: self.y[i],
            predicted,
            half_width,
            held_out,
        }
    }
}
