//! The predictor stage: fit every model on every split, score it on the held-out rows, and fit the
//! final models on the whole corpus. Results are plain data ([`FitReport`]) saved as JSON.

pub mod holdout;
pub mod models;
pub mod scores;

use std::path::{Path, PathBuf};

use ndarray::Axis;
use serde::{Deserialize, Serialize};

use crate::corpus::write_bytes_atomically;
use crate::error::{Error, Result};
use crate::features::{CorpusTable, FeatureSpec};
use crate::recipe::FitSettings;
pub use holdout::Split;
pub use models::{ALL_MODELS, FittedModel, ModelKind, Rows};
pub use scores::Scores;

/// Scores of one model on one split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelScore {
    /// Model name.
    pub model: String,
    /// Whether the model is a baseline.
    pub baseline: bool,
    /// Scores on the held-out rows (`None` when the fit failed).
    pub scores: Option<Scores>,
    /// Why the model could not be fitted, if it could not.
    pub error: Option<String>,
}

/// One split and how every model did on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitResult {
    /// Split name, e.g. `extreme:base_lr`.
    pub split: String,
    /// What is held out.
    pub description: String,
    /// Training rows.
    pub n_train: usize,
    /// Test rows.
    pub n_test: usize,
    /// Per-model scores, baselines first.
    pub models: Vec<ModelScore>,
}

/// Everything the fit stage produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Experiment name.
    pub experiment: String,
    /// Runs in the corpus.
    pub n_runs: usize,
    /// Target column.
    pub target: String,
    /// Design-matrix terms.
    pub features: Vec<String>,
    /// Settings used.
    pub settings: FitSettings,
    /// Extreme-value holdouts and their random contrasts.
    pub splits: Vec<SplitResult>,
}

/// Models fitted on the whole corpus, with the feature spec needed to apply them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModels {
    /// lrcast version that fitted them.
    pub lrcast_version: String,
    /// Experiment name.
    pub experiment: String,
    /// Rows they were fitted on.
    pub n_runs: usize,
    /// How to build the design matrix.
    pub feature_spec: FeatureSpec,
    /// One fitted model per name.
    pub models: Vec<(String, FittedModel)>,
}

impl SavedModels {
    /// Predict the target for every row of `table` with the model called `name`.
    pub fn predict(&self, name: &str, table: &CorpusTable) -> Result<Vec<f64>> {
        let model = self
            .models
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m)
            .ok_or_else(|| Error::Fit(format!("no saved model called `{name}`")))?;
        let matrix = self.feature_spec.matrix(table)?;
        let arch = table.text("arch")?;
        Ok(model.predict(Rows {
            x: matrix.x.view(),
            arch,
        }))
    }

    /// Load from `models/<experiment>/models.json`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| {
            Error::Runtime(format!(
                "{}: not a saved lrcast model file: {e}",
                path.display()
            ))
        })
    }
}

/// Fit and score everything for `table`.
pub fn fit_and_score(
    experiment: &str,
    table: &CorpusTable,
    settings: &FitSettings,
) -> Result<(FitReport, SavedModels)> {
    let spec = FeatureSpec::infer(table)?;
    let matrix = spec.matrix(table)?;
    let arch = table.text("arch")?;
    let y = matrix.y.to_vec();

    let mut splits = Vec::new();
    for hyperparameter in &settings.holdout {
        let values = table.values(hyperparameter)?;
        let extreme = holdout::extreme_value_split(hyperparameter, &values, settings.quantile)
            .map_err(|e| Error::Fit(format!("holdout `{hyperparameter}`: {e}")))?;
        let random = holdout::random_split(
            hyperparameter,
            table.len,
            extreme.test.len(),
            settings.random_seed,
        );
        for split in [extreme, random] {
            splits.push(score_split(&split, &matrix.x, arch, &y, settings));
        }
    }

    let all = Rows {
        x: matrix.x.view(),
        arch,
    };
    let models = ALL_MODELS
        .iter()
        .filter_map(|&kind| {
            models::fit(kind, all, &y, settings)
                .ok()
                .map(|m| (kind.name().to_string(), m))
        })
        .collect();
    let report = FitReport {
        experiment: experiment.to_string(),
        n_runs: table.len,
        target: spec.target.clone(),
        features: spec.names(),
        settings: settings.clone(),
        splits,
    };
    let saved = SavedModels {
        lrcast_version: crate::LRCAST_VERSION.into(),
        experiment: experiment.to_string(),
        n_runs: table.len,
        feature_spec: spec,
        models,
    };
    Ok((report, saved))
}

fn score_split(
    split: &Split,
    x: &ndarray::Array2<f64>,
    arch: &[String],
    y: &[f64],
    settings: &FitSettings,
) -> SplitResult {
    let pick = |rows: &[usize]| {
        (
            x.select(Axis(0), rows),
            rows.iter().map(|&i| arch[i].clone()).collect::<Vec<_>>(),
            rows.iter().map(|&i| y[i]).collect::<Vec<_>>(),
        )
    };
    let (x_train, arch_train, y_train) = pick(&split.train);
    let (x_test, arch_test, y_test) = pick(&split.test);
    let train = Rows {
        x: x_train.view(),
        arch: &arch_train,
    };
    let test = Rows {
        x: x_test.view(),
        arch: &arch_test,
    };
    let models = ALL_MODELS
        .iter()
        .map(|&kind| match models::fit(kind, train, &y_train, settings) {
            Ok(model) => ModelScore {
                model: kind.name().into(),
                baseline: kind.is_baseline(),
                scores: Some(scores::score(&y_test, &model.predict(test))),
                error: None,
            },
            Err(e) => ModelScore {
                model: kind.name().into(),
                baseline: kind.is_baseline(),
                scores: None,
                error: Some(e.to_string()),
            },
        })
        .collect();
    SplitResult {
        split: split.name.clone(),
        description: split.description.clone(),
        n_train: split.train.len(),
        n_test: split.test.len(),
        models,
    }
}

/// Where the fit stage writes.
pub fn models_dir(root: &Path, experiment: &str) -> PathBuf {
    root.join("models").join(experiment)
}

/// Write `fit.json` (the scores) and `models.json` (fitted models + feature spec) atomically.
pub fn save(dir: &Path, report: &FitReport, saved: &SavedModels) -> Result<()> {
    crate::corpus::ensure_writable_dir(dir)?;
    write_bytes_atomically(&dir.join("fit.json"), to_json(report).as_bytes())?;
    write_bytes_atomically(&dir.join("models.json"), to_json(saved).as_bytes())?;
    Ok(())
}

/// Load the scores written by [`save`].
pub fn load_report(dir: &Path) -> Result<FitReport> {
    let path = dir.join("fit.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Runtime(format!("{}: {e}", path.display())))
}

/// Pretty JSON with a trailing newline.
pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("plain data serialises") + "\n"
}
