//! The predictor stage: fit every model on every fold of every holdout protocol, score the pooled
//! held-out predictions beside two references (the twin-seed noise ceiling and chance), and fit
//! the final models on the whole corpus. Results are plain data ([`FitReport`]) saved as JSON.

pub mod boosted;
pub mod divergence;
pub mod forest;
pub mod holdout;
pub mod importance;
pub mod models;
pub mod predictions;
pub mod query;
pub mod scores;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use ndarray::{Array2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::corpus::CorpusTable;
use crate::corpus::table::UNKNOWN_OUTCOME;
use crate::corpus::write_bytes_atomically;
use crate::error::{Error, Result};
use crate::features::{FeatureSpec, FeatureTable};
use crate::recipe::FitSettings;
pub use divergence::{ClassifierScores, DivergenceTree};
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
    /// Whether this is a reference rather than a model: `twin_seed` (each run predicted by the
    /// other seeds of its configuration: the noise ceiling) or `chance` (1 / classes).
    #[serde(default)]
    pub reference: bool,
    /// Scores on the held-out rows (`None` when the fit failed).
    pub scores: Option<Scores>,
    /// Why the model could not be fitted, if it could not.
    pub error: Option<String>,
    /// Half-width of an 80 % interval calibrated on this protocol: the conformal quantile of the
    /// model's absolute held-out errors over all folds (what `predict` adds around a prediction
    /// when this is the lead protocol).
    #[serde(default)]
    pub interval_half_width: Option<f64>,
    /// The same scores restricted to each task of the test set (when it holds more than one).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_task: BTreeMap<String, Scores>,
}

/// How well failures are predicted on one split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DivergenceScores {
    /// The decision tree.
    pub tree: ClassifierScores,
    /// The constant training failure rate.
    pub base_rate: ClassifierScores,
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
    /// Folds (1 for a single train/test split).
    #[serde(default)]
    pub folds: usize,
    /// The failure classifier (diverged or collapsed) on the same folds, beside the training
    /// failure rate as a constant reference.
    #[serde(default)]
    pub divergence: Option<DivergenceScores>,
    /// Per-model scores, baselines first.
    pub models: Vec<ModelScore>,
    /// The per-run predictions of the best fitted model (absent in files written before they were
    /// kept, and when no model could be fitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predictions: Option<predictions::BestPredictions>,
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
    /// Every holdout protocol and how each model did.
    pub splits: Vec<SplitResult>,
    /// The failure tree fitted on the whole corpus, as rules.
    #[serde(default)]
    pub divergence_rules: Vec<String>,
    /// Protocols that could not be formed on this corpus, and why.
    #[serde(default)]
    pub skipped: Vec<String>,
    /// Permutation importance of each hyperparameter for the best model on grouped K-fold.
    #[serde(default)]
    pub importance: Option<importance::ImportanceReport>,
}

/// Models fitted on the whole corpus, with the feature spec needed to apply them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModels {
    /// Layout of this file and of the feature spec ([`MODELS_FORMAT`]); 0 in files written
    /// before it was recorded.
    #[serde(default)]
    pub format: u32,
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
    /// The failure classifier (absent when it could not be fitted).
    #[serde(default)]
    pub divergence: Option<DivergenceTree>,
    /// The model with the lowest error on the lead protocol (leave one task × architecture ×
    /// policy group out), the one `predict` and `recommend` lead with.
    #[serde(default)]
    pub best_model: Option<String>,
    /// Range `[min, max]` of each numeric feature column over the training runs.
    #[serde(default)]
    pub ranges: BTreeMap<String, (f64, f64)>,
    /// Categories seen in training, per categorical column.
    #[serde(default)]
    pub categories: BTreeMap<String, BTreeSet<String>>,
    /// Half-width of each model's 80 % prediction interval, calibrated on `interval_protocol`.
    #[serde(default)]
    pub intervals: BTreeMap<String, f64>,
    /// The protocol whose held-out errors calibrate `intervals`.
    #[serde(default)]
    pub interval_protocol: Option<String>,
}

impl SavedModels {
    /// Where row `i` of `table` leaves what the models were fitted on: a category never seen, or
    /// a value outside a feature's training range (named, with the range).
    pub fn warnings(&self, table: &CorpusTable, i: usize) -> Vec<String> {
        let mut out = Vec::new();
        for (column, seen) in &self.categories {
            if let Ok(values) = table.text(column)
                && !seen.contains(&values[i])
            {
                out.push(format!(
                    "{column} `{}` was not in the training runs (seen: {})",
                    values[i],
                    seen.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        for (column, &(lo, hi)) in &self.ranges {
            let value = table.numeric.get(column).and_then(|v| v[i]);
            if let Some(v) = value.filter(|v| *v < lo || *v > hi) {
                out.push(format!(
                    "{column} = {v} is outside the training range [{lo}, {hi}]: an extrapolation"
                ));
            }
        }
        out
    }

    /// Predict the target for every row of `table` with the model called `name`.
    pub fn predict(&self, name: &str, table: &CorpusTable) -> Result<Vec<f64>> {
        let model = self
            .models
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m)
            .ok_or_else(|| Error::Fit(format!("no saved model called `{name}`")))?;
        let rows = FeatureTable::from_corpus(table.clone())?;
        let x = self.feature_spec.matrix(&rows)?;
        Ok(model.predict(Rows {
            x: x.view(),
            task: table.text("task")?,
            arch: table.text("arch")?,
        }))
    }

    /// Load from `models/<experiment>/models.json`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let bad = |message: String| Error::BadArgument {
            flag: "--model".into(),
            value: path.display().to_string(),
            message,
        };
        // The format first, so that a file from another version says so rather than failing on
        // whichever field changed.
        let header: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            bad(format!(
                "not a JSON model file ({e}); refit with `lrcast fit RECIPE`"
            ))
        })?;
        let format = header.get("format").and_then(|f| f.as_u64()).unwrap_or(0);
        if format != u64::from(MODELS_FORMAT) {
            let version = header
                .get("lrcast_version")
                .and_then(|v| v.as_str())
                .unwrap_or("an unknown version");
            return Err(bad(format!(
                "written by lrcast {version} in model format {format}; this lrcast {} reads \
                 format {MODELS_FORMAT} (its features differ): refit with `lrcast fit RECIPE`",
                crate::LRCAST_VERSION
            )));
        }
        serde_json::from_value(header).map_err(|e| {
            bad(format!(
                "not a model file of this lrcast version ({e}); refit with `lrcast fit RECIPE`"
            ))
        })
    }
}

/// The layout of `models.json` and its feature spec this lrcast reads and writes. Raise it whenever
/// a change to the features or the saved models would make an older file predict differently.
pub const MODELS_FORMAT: u32 = 2;

/// Columns that, with the seed, identify a run; rows equal on all of them are one configuration.
const CONFIG_COLUMNS: &[&str] = &[
    "task",
    "arch",
    "policy",
    "optimizer",
    "momentum",
    "nesterov",
    "weight_decay",
    "decoupled_weight_decay",
    "beta2",
    "eps",
    "batch_size",
    "epochs",
    "label_smoothing",
    "clip_grad_norm",
    "dropout",
    "validation",
];

/// Each row's configuration (its run spec without the seeds), as one string.
fn configurations(table: &CorpusTable) -> Vec<String> {
    (0..table.len)
        .map(|i| {
            let mut key = String::new();
            for &c in CONFIG_COLUMNS {
                if let Some(v) = table.text.get(c) {
                    key.push_str(&v[i]);
                } else if let Some(v) = table.numeric.get(c) {
                    key.push_str(&format!("{:?}", v[i]));
                }
                key.push('|');
            }
            key
        })
        .collect()
}

/// Every holdout protocol of the corpus: per recipe hyperparameter its extreme-value holdout over
/// the whole grid, the same among the runs that trained, and a grouped random split of the same
/// size; the longest training budget when epochs vary; leave-one-group-out by task × architecture
/// × policy and by each alone; grouped 5-fold. Protocols this corpus cannot form (one group, too
/// few configurations) come back in the second list with the reason.
fn protocols(
    table: &CorpusTable,
    configs: &[String],
    settings: &FitSettings,
) -> Result<(Vec<Split>, Vec<String>)> {
    let task = table.text("task")?;
    let arch = table.text("arch")?;
    let policy = table.text("policy_name")?;
    let outcomes = table.outcomes()?;
    // A run of unknown outcome (imported) counts as trained unless no run records one.
    let trained: Vec<bool> = outcomes
        .iter()
        .map(|o| o != "diverged" && o != "collapsed")
        .collect();
    let any_outcome = outcomes.iter().any(|o| o != UNKNOWN_OUTCOME);
    let (mut protocols, mut skipped) = (Vec::new(), Vec::new());
    for hyperparameter in &settings.holdout {
        let values = table.values(hyperparameter)?;
        let extreme = holdout::extreme_value_split(hyperparameter, &values, settings.quantile)
            .map_err(|e| Error::Fit(format!("holdout `{hyperparameter}`: {e}")))?;
        let random = holdout::random_split(
            hyperparameter,
            configs,
            extreme.n_test(),
            settings.random_seed,
        );
        protocols.push(extreme);
        let trained_split = if any_outcome {
            holdout::extreme_trained_split(hyperparameter, &values, &trained, settings.quantile)
        } else {
            Err("no run records whether it trained".into())
        };
        match trained_split {
            Ok(split) => protocols.push(split),
            Err(why) => skipped.push(format!("extreme_trained:{hyperparameter}: {why}")),
        }
        protocols.push(random);
    }
    match table.numeric.get("epochs") {
        Some(epochs) => {
            let epochs: Vec<f64> = epochs.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
            match holdout::longest_budget_split(&epochs) {
                Some(split) => protocols.push(split),
                None => skipped.push("budget:epochs: every run has the same budget".into()),
            }
        }
        None => skipped.push("budget:epochs: the corpus has no epochs column".into()),
    }
    let key = |parts: &[&[String]]| -> Vec<String> {
        (0..table.len)
            .map(|i| {
                parts
                    .iter()
                    .map(|p| p[i].as_str())
                    .collect::<Vec<_>>()
                    .join(" · ")
            })
            .collect()
    };
    let groupings: [(&str, &str, Vec<String>); 4] = [
        (
            "task+arch+policy",
            "task × architecture × policy",
            key(&[task, arch, policy]),
        ),
        ("task", "task", key(&[task])),
        ("arch", "architecture", key(&[arch])),
        ("policy", "policy", key(&[policy])),
    ];
    for (name, what, keys) in &groupings {
        match holdout::leave_one_group_out(name, what, keys) {
            Some(split) => protocols.push(split),
            None => skipped.push(format!("logo:{name}: the corpus holds one {what} only")),
        }
    }
    match holdout::grouped_kfold(configs, 5, settings.random_seed) {
        Some(split) => protocols.push(split),
        None => skipped.push("kfold:5: fewer than 5 configurations".into()),
    }
    match &settings.protocols {
        None => Ok((protocols, skipped)),
        Some(wanted) => chosen_protocols(protocols, &skipped, wanted),
    }
}

/// Whether protocol `name` (e.g. `extreme:base_lr`, `kfold:5`) belongs to the family `wanted`
/// (`extreme`, `kfold`, `logo:task`, …).
fn in_family(name: &str, wanted: &str) -> bool {
    name == wanted || (name.starts_with(wanted) && name[wanted.len()..].starts_with(':'))
}

/// The protocols of the families the recipe asks for in `fit.protocols`; asking for one the
/// corpus cannot form is an error that says why.
fn chosen_protocols(
    protocols: Vec<Split>,
    skipped: &[String],
    wanted: &[String],
) -> Result<(Vec<Split>, Vec<String>)> {
    for family in wanted {
        if protocols.iter().any(|p| in_family(&p.name, family)) {
            continue;
        }
        let why = skipped
            .iter()
            .find(|s| in_family(s.split_once(": ").map_or(s.as_str(), |(n, _)| n), family))
            .map_or_else(
                || "the recipe's fit.holdout names no hyperparameter for it".to_string(),
                |s| s.clone(),
            );
        return Err(Error::Fit(format!(
            "fit.protocols asks for `{family}`, which this corpus cannot form ({why}); remove it \
             from fit.protocols or add runs that make it possible"
        )));
    }
    Ok((
        protocols
            .into_iter()
            .filter(|p| wanted.iter().any(|w| in_family(&p.name, w)))
            .collect(),
        Vec::new(),
    ))
}

/// The exact design matrix, target and protocol folds as CSV, so that other tools can fit on the
/// same features and splits: `run_id`, one column per feature, the target, then one `fold:<protocol>`
/// column per protocol (`train` / `test` for a single split, else the label of the fold that tests
/// the row; empty where the protocol leaves the row out, e.g. a failed run at an extreme of
/// `extreme_trained`).
pub fn export_features(table: &CorpusTable, settings: &FitSettings) -> Result<String> {
    let rows = FeatureTable::from_corpus(table.clone())?;
    let spec = FeatureSpec::infer(&rows)?;
    let x = spec.matrix(&rows)?;
    let y = spec.target(&rows)?;
    let configs = configurations(table);
    let (protocols, _) = protocols(table, &configs, settings)?;
    let mut labels = vec![vec![String::new(); protocols.len()]; table.len];
    for (p, split) in protocols.iter().enumerate() {
        for fold in &split.folds {
            let single = split.folds.len() == 1;
            for &i in &fold.test {
                labels[i][p] = if single {
                    "test".into()
                } else {
                    fold.label.clone()
                };
            }
            if single {
                for &i in &fold.train {
                    labels[i][p] = "train".into();
                }
            }
        }
    }
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut header = vec![quote("run_id")];
    header.extend(spec.names().iter().map(|n| quote(n)));
    header.push(quote(&spec.target));
    header.extend(protocols.iter().map(|p| quote(&format!("fold:{}", p.name))));
    let mut out = header.join(",") + "\n";
    let ids = table.text("run_id")?;
    for i in 0..table.len {
        let mut line = vec![quote(&ids[i])];
        line.extend(x.row(i).iter().map(|v| format!("{v:?}")));
        line.push(format!("{:?}", y[i]));
        line.extend(labels[i].iter().map(|l| quote(l)));
        out.push_str(&line.join(","));
        out.push('\n');
    }
    Ok(out)
}

/// Per fold, the prediction of each test row (`None`: a row the predictor cannot score).
type FoldPredictions = Vec<Vec<Option<f64>>>;

/// Nominal coverage of every prediction interval.
pub const INTERVAL_COVERAGE: f64 = 0.8;

/// The split-conformal half-width from absolute calibration errors: their
/// `⌈(n + 1) · coverage⌉ / n` quantile (at most the largest error).
pub fn conformal_half_width(mut errors: Vec<f64>) -> Option<f64> {
    errors.retain(|e| e.is_finite());
    if errors.is_empty() {
        return None;
    }
    let n = errors.len() as f64;
    let level = (((n + 1.0) * INTERVAL_COVERAGE).ceil() / n).min(1.0);
    Some(holdout::quantile(&errors, level))
}

/// The baselines and the models the recipe asks for (`fit.models`; default: all).
fn chosen_models(settings: &FitSettings) -> Vec<ModelKind> {
    ALL_MODELS
        .iter()
        .copied()
        .filter(|k| {
            k.is_baseline()
                || settings
                    .models
                    .as_ref()
                    .is_none_or(|wanted| wanted.iter().any(|w| w == k.name()))
        })
        .collect()
}

/// The lead protocol: leave one task × architecture × policy group out, else grouped K-fold, else
/// the first protocol.
fn lead_protocol(splits: &[SplitResult]) -> Option<&SplitResult> {
    ["logo:task+arch+policy", "kfold:5"]
        .iter()
        .find_map(|name| splits.iter().find(|s| s.split == *name))
        .or(splits.first())
}

/// The fitted model (not a baseline or reference) with the lowest pooled MAE on the lead protocol.
fn best_model(splits: &[SplitResult]) -> Option<String> {
    lead_protocol(splits)?
        .models
        .iter()
        .filter(|m| !m.baseline && !m.reference)
        .filter_map(|m| m.scores.as_ref().map(|s| (m.model.clone(), s.mae)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(name, _)| name)
}

/// Raw range of every column behind a numeric feature of `spec`, over the corpus runs.
fn training_ranges(spec: &FeatureSpec, table: &CorpusTable) -> BTreeMap<String, (f64, f64)> {
    let mut out = BTreeMap::new();
    for term in &spec.terms {
        let crate::features::Term::Numeric { column, .. } = term else {
            continue;
        };
        let Some(values) = table.numeric.get(column) else {
            continue;
        };
        let present = values.iter().flatten().copied();
        let (lo, hi) = present.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if lo <= hi {
            out.insert(column.clone(), (lo, hi));
        }
    }
    out
}

/// The row-level data every protocol is scored on.
struct Scoring<'a> {
    x: &'a Array2<f64>,
    run_id: &'a [String],
    task: &'a [String],
    arch: &'a [String],
    y: &'a [f64],
    base_lr: Vec<f64>,
    /// Each row's configuration (its spec without the seeds).
    configs: &'a [String],
    /// Mean target of the other seeds of each row's configuration (`None` without a twin).
    twin: Vec<Option<f64>>,
    /// 1 / classes of each row, when the corpus records the classes.
    chance: Option<Vec<f64>>,
    /// Whether each run diverged or collapsed (`false` where its outcome is unknown).
    failed: Vec<bool>,
    /// Whether each run's outcome is known (imported runs may not record it); runs of unknown
    /// outcome neither train nor test the failure classifier.
    outcome_known: Vec<bool>,
    settings: &'a FitSettings,
}

/// Fit and score everything for `table`.
pub fn fit_and_score(
    experiment: &str,
    table: &CorpusTable,
    settings: &FitSettings,
) -> Result<(FitReport, SavedModels)> {
    if table.len < 2 {
        return Err(Error::Fit(format!(
            "the corpus holds {} run(s); fitting needs at least 2 (run `lrcast generate` first)",
            table.len
        )));
    }
    let rows = FeatureTable::from_corpus(table.clone())?;
    let spec = FeatureSpec::infer(&rows)?;
    let x = spec.matrix(&rows)?;
    let y = spec.target(&rows)?;
    let task = table.text("task")?;
    let arch = table.text("arch")?;
    let configs = configurations(table);
    let mut by_config: HashMap<&str, (f64, usize)> = HashMap::new();
    for (c, &v) in configs.iter().zip(&y) {
        let e = by_config.entry(c).or_default();
        e.0 += v;
        e.1 += 1;
    }
    let twin = configs
        .iter()
        .zip(&y)
        .map(|(c, &v)| {
            let (sum, n) = by_config[c.as_str()];
            (n > 1).then(|| (sum - v) / (n - 1) as f64)
        })
        .collect();
    let chance = table
        .numeric
        .get("num_classes")
        .filter(|c| c.iter().all(|v| v.is_some_and(|k| k >= 1.0)))
        .map(|c| c.iter().map(|v| 1.0 / v.unwrap_or(1.0)).collect());
    let outcomes = table.outcomes()?;
    let scoring = Scoring {
        x: &x,
        run_id: table.text("run_id")?,
        task,
        arch,
        y: &y,
        base_lr: table.values("base_lr")?,
        configs: &configs,
        twin,
        chance,
        failed: outcomes
            .iter()
            .map(|o| o != "trained" && o != UNKNOWN_OUTCOME)
            .collect(),
        outcome_known: outcomes.iter().map(|o| o != UNKNOWN_OUTCOME).collect(),
        settings,
    };

    let (protocols, skipped) = protocols(table, &configs, settings)?;
    let splits: Vec<SplitResult> = protocols.iter().map(|p| scoring.score(p)).collect();

    let all = Rows {
        x: x.view(),
        task,
        arch,
    };
    let models = chosen_models(settings)
        .into_iter()
        .filter_map(|kind| {
            models::fit(kind, all, &y, &scoring.failed, settings)
                .ok()
                .map(|m| (kind.name().to_string(), m))
        })
        .collect();
    let known = scoring.known(&(0..table.len).collect::<Vec<_>>());
    let divergence =
        DivergenceTree::fit(x.select(Axis(0), &known).view(), &scoring.labels(&known)).ok();
    let lead = lead_protocol(&splits);
    let best = best_model(&splits);
    // Importance is read on the interpolation protocol: inside a held-out task × architecture ×
    // policy group those three are constant, so shuffling them there would say nothing.
    let importance = match (
        best.as_deref()
            .and_then(|b| ALL_MODELS.iter().find(|k| k.name() == b)),
        protocols.iter().find(|p| p.name.starts_with("kfold:")),
    ) {
        (Some(&kind), Some(kfold)) => {
            let groups: Vec<(String, Vec<usize>)> = spec
                .hyperparameter_groups()
                .into_iter()
                .map(|(h, columns)| (h.to_string(), columns))
                .collect();
            scoring.importance(kind, kfold, &groups).ok()
        }
        _ => None,
    };
    let intervals = lead
        .map(|s| {
            s.models
                .iter()
                .filter(|m| !m.reference)
                .filter_map(|m| m.interval_half_width.map(|w| (m.model.clone(), w)))
                .collect()
        })
        .unwrap_or_default();
    let saved = SavedModels {
        format: MODELS_FORMAT,
        lrcast_version: crate::LRCAST_VERSION.into(),
        experiment: experiment.to_string(),
        n_runs: table.len,
        best_model: best,
        ranges: training_ranges(&spec, table),
        categories: crate::features::CATEGORICAL_COLUMNS
            .iter()
            .filter_map(|&c| {
                let values = table.text(c).ok()?;
                Some((c.to_string(), values.iter().cloned().collect()))
            })
            .collect(),
        intervals,
        interval_protocol: lead.map(|s| s.split.clone()),
        feature_spec: spec.clone(),
        models,
        divergence: divergence.clone(),
    };
    let report = FitReport {
        experiment: experiment.to_string(),
        n_runs: table.len,
        target: spec.target.clone(),
        features: spec.names(),
        settings: settings.clone(),
        splits,
        divergence_rules: divergence
            .as_ref()
            .map(|t| t.rules(&spec.names()))
            .unwrap_or_default(),
        skipped,
        importance,
    };
    Ok((report, saved))
}

impl Scoring<'_> {
    /// Every model and reference on every fold of `split`, scored on the pooled predictions.
    fn score(&self, split: &Split) -> SplitResult {
        // Models are independent: fit them on all cores (each is seeded and single-threaded, so the
        // scores do not depend on the number of threads).
        let kinds = chosen_models(self.settings);
        let (mut models, fitted): (Vec<ModelScore>, Vec<_>) = kinds
            .par_iter()
            .map(|&kind| {
                let predictions: Result<FoldPredictions> = split
                    .folds
                    .iter()
                    .map(|fold| self.fit_predict(kind, &fold.train, &fold.test))
                    .collect();
                match predictions {
                    Ok(p) => {
                        let widths = self.conformal_widths(kind, split, &p);
                        let score = self.model_score(
                            kind.name(),
                            kind.is_baseline(),
                            false,
                            split,
                            &p,
                            widths.clone(),
                        );
                        (score, Some((p, widths)))
                    }
                    Err(e) => (
                        ModelScore {
                            model: kind.name().into(),
                            baseline: kind.is_baseline(),
                            reference: false,
                            scores: None,
                            error: Some(e.to_string()),
                            interval_half_width: None,
                            per_task: BTreeMap::new(),
                        },
                        None,
                    ),
                }
            })
            .unzip();
        let predictions = self.best_predictions(split, &kinds, &models, &fitted);
        let mut reference = |name: &str, of: &dyn Fn(usize) -> Option<f64>| {
            let p: FoldPredictions = split
                .folds
                .iter()
                .map(|f| f.test.iter().map(|&i| of(i)).collect())
                .collect();
            models.push(self.model_score(name, false, true, split, &p, None));
        };
        reference("twin_seed", &|i| self.twin[i]);
        if let Some(chance) = &self.chance {
            reference("chance", &|i| Some(chance[i]));
        }
        SplitResult {
            split: split.name.clone(),
            description: split.description.clone(),
            n_train: split.n_train(),
            n_test: split.n_test(),
            folds: split.folds.len(),
            divergence: self.divergence(split),
            models,
            predictions,
        }
    }

    /// The scores of one predictor's per-fold predictions: pooled, per task, with bootstrap
    /// intervals, and with interval coverage when `widths` (one half-width per fold) are given.
    fn model_score(
        &self,
        name: &str,
        baseline: bool,
        reference: bool,
        split: &Split,
        predictions: &FoldPredictions,
        widths: Option<Vec<f64>>,
    ) -> ModelScore {
        // (row, prediction, half-width of its fold's interval)
        let rows: Vec<(usize, f64, Option<f64>)> = split
            .folds
            .iter()
            .zip(predictions)
            .enumerate()
            .flat_map(|(f, (fold, p))| {
                let w = widths.as_ref().map(|w| w[f]);
                fold.test
                    .iter()
                    .zip(p)
                    .filter_map(move |(&i, p)| p.map(|p| (i, p, w)))
            })
            .collect();
        let mut scores = self.pooled(split, predictions);
        if let Some(s) = scores.as_mut() {
            self.add_intervals(&rows, s);
        }
        let tasks: BTreeSet<&str> = rows.iter().map(|r| self.task[r.0].as_str()).collect();
        let per_task = if tasks.len() > 1 {
            tasks
                .into_iter()
                .filter_map(|t| {
                    let of_task: Vec<_> = rows
                        .iter()
                        .copied()
                        .filter(|r| self.task[r.0] == t)
                        .collect();
                    let (a, p): (Vec<f64>, Vec<f64>) =
                        of_task.iter().map(|r| (self.y[r.0], r.1)).unzip();
                    (a.len() >= 2).then(|| {
                        let mut s = scores::score(&a, &p);
                        self.add_intervals(&of_task, &mut s);
                        (t.to_string(), s)
                    })
                })
                .collect()
        } else {
            BTreeMap::new()
        };
        ModelScore {
            model: name.into(),
            baseline,
            reference,
            scores,
            error: None,
            interval_half_width: conformal_half_width(
                rows.iter().map(|r| (self.y[r.0] - r.1).abs()).collect(),
            ),
            per_task,
        }
    }

    /// Bootstrap intervals of the scores, and coverage and mean width of the per-row intervals
    /// `prediction ± half-width` where every row has one.
    fn add_intervals(&self, rows: &[(usize, f64, Option<f64>)], scores: &mut Scores) {
        let (a, p): (Vec<f64>, Vec<f64>) = rows.iter().map(|r| (self.y[r.0], r.1)).unzip();
        let clusters: Vec<&str> = rows.iter().map(|r| self.configs[r.0].as_str()).collect();
        scores.ci = scores::bootstrap_intervals(&a, &p, &clusters, self.settings.random_seed);
        let widths: Option<Vec<f64>> = rows.iter().map(|r| r.2).collect();
        if let Some(widths) = widths.filter(|w| !w.is_empty()) {
            let inside = rows
                .iter()
                .zip(&widths)
                .filter(|(r, w)| (self.y[r.0] - r.1).abs() <= **w)
                .count();
            scores.coverage = Some(inside as f64 / rows.len() as f64);
            scores.interval_width = Some(2.0 * widths.iter().sum::<f64>() / rows.len() as f64);
        }
    }

    /// Per-fold conformal half-widths for `kind`, calibrated without the fold's own test rows:
    /// with several folds, on the held-out errors of the other folds (each fold's interval then
    /// reflects how far off the model was on the other held-out groups); with a single fold, on
    /// the held-out errors of a grouped 5-fold inside its training rows. `None` when there is
    /// nothing to calibrate on.
    fn conformal_widths(
        &self,
        kind: ModelKind,
        split: &Split,
        predictions: &FoldPredictions,
    ) -> Option<Vec<f64>> {
        let errors: Vec<Vec<f64>> = split
            .folds
            .iter()
            .zip(predictions)
            .map(|(fold, p)| {
                fold.test
                    .iter()
                    .zip(p)
                    .filter_map(|(&i, p)| p.map(|p| (self.y[i] - p).abs()))
                    .collect()
            })
            .collect();
        if split.folds.len() > 1 {
            return (0..errors.len())
                .map(|f| {
                    let others: Vec<f64> = errors
                        .iter()
                        .enumerate()
                        .filter(|(g, _)| *g != f)
                        .flat_map(|(_, e)| e.iter().copied())
                        .collect();
                    conformal_half_width(others)
                })
                .collect();
        }
        let train = &split.folds.first()?.train;
        let configs: Vec<String> = train.iter().map(|&i| self.configs[i].clone()).collect();
        let inner = holdout::grouped_kfold(&configs, 5, self.settings.random_seed)?;
        let mut calibration = Vec::new();
        for fold in &inner.folds {
            let pick = |rows: &[usize]| rows.iter().map(|&k| train[k]).collect::<Vec<_>>();
            let test = pick(&fold.test);
            let p = self.fit_predict(kind, &pick(&fold.train), &test).ok()?;
            calibration.extend(
                test.iter()
                    .zip(p)
                    .filter_map(|(&i, p)| p.map(|p| (self.y[i] - p).abs())),
            );
        }
        Some(vec![conformal_half_width(calibration)?])
    }

    /// The rows of `rows` whose outcome is known.
    fn known(&self, rows: &[usize]) -> Vec<usize> {
        rows.iter()
            .copied()
            .filter(|&i| self.outcome_known[i])
            .collect()
    }

    /// Failed-or-not of `rows` (all known).
    fn labels(&self, rows: &[usize]) -> Vec<bool> {
        rows.iter().map(|&i| self.failed[i]).collect()
    }

    /// The failure tree and the constant failure rate, fitted per fold on the runs with a known
    /// outcome, scored pooled.
    fn divergence(&self, split: &Split) -> Option<DivergenceScores> {
        let (mut failed, mut tree, mut base) = (Vec::new(), Vec::new(), Vec::new());
        for fold in &split.folds {
            let (train_rows, test_rows) = (self.known(&fold.train), self.known(&fold.test));
            if test_rows.is_empty() {
                continue;
            }
            let train = self.labels(&train_rows);
            let model =
                DivergenceTree::fit(self.x.select(Axis(0), &train_rows).view(), &train).ok()?;
            let rate = train.iter().filter(|&&f| f).count() as f64 / train.len() as f64;
            tree.extend(model.probability(self.x.select(Axis(0), &test_rows).view()));
            base.extend(test_rows.iter().map(|_| rate));
            failed.extend(self.labels(&test_rows));
        }
        if failed.is_empty() {
            return None;
        }
        Some(DivergenceScores {
            tree: divergence::classifier_scores(&failed, &tree),
            base_rate: divergence::classifier_scores(&failed, &base),
        })
    }

    /// Fit `kind` on `train` rows and predict `test` rows.
    fn fit_predict(
        &self,
        kind: ModelKind,
        train: &[usize],
        test: &[usize],
    ) -> Result<Vec<Option<f64>>> {
        let model = self.fit_on(kind, train)?;
        let x = self.x.select(Axis(0), test);
        let task: Vec<String> = test.iter().map(|&i| self.task[i].clone()).collect();
        let arch: Vec<String> = test.iter().map(|&i| self.arch[i].clone()).collect();
        let rows = Rows {
            x: x.view(),
            task: &task,
            arch: &arch,
        };
        Ok(model.predict(rows).into_iter().map(Some).collect())
    }

    /// Scores of per-fold predictions (`None`: a row this predictor cannot score, e.g. a run
    /// without a seed twin), pooled over folds; regret per fold, and LR-curve optima per fold on
    /// leave-one-group-out protocols (where each fold is a whole curve).
    fn pooled(&self, split: &Split, predictions: &FoldPredictions) -> Option<Scores> {
        let curves = split.name.starts_with("logo:");
        let (mut actual, mut predicted) = (Vec::new(), Vec::new());
        let (mut regrets, mut curve_rows) = (Vec::new(), Vec::new());
        for (fold, p) in split.folds.iter().zip(predictions) {
            let (a, q, lr): (Vec<f64>, Vec<f64>, Vec<f64>) = fold
                .test
                .iter()
                .zip(p)
                .filter_map(|(&i, p)| p.map(|p| (self.y[i], p, self.base_lr[i])))
                .fold((vec![], vec![], vec![]), |mut acc, (a, p, l)| {
                    acc.0.push(a);
                    acc.1.push(p);
                    acc.2.push(l);
                    acc
                });
            regrets.extend(scores::top1_regret(&a, &q));
            if curves {
                curve_rows.push(
                    lr.iter()
                        .zip(&a)
                        .zip(&q)
                        .map(|((&l, &a), &q)| (l, a, q))
                        .collect(),
                );
            }
            actual.extend(a);
            predicted.extend(q);
        }
        if actual.is_empty() {
            return None;
        }
        let mut s = scores::score(&actual, &predicted);
        s.regret =
            (!regrets.is_empty()).then(|| regrets.iter().sum::<f64>() / regrets.len() as f64);
        s.optimum = scores::optimum_scores(&curve_rows);
        Some(s)
    }
}

/// Where the fit stage writes.
pub fn models_dir(root: &Path, experiment: &str) -> PathBuf {
    root.join("models").join(experiment)
}

/// Write `fit.json` (the scores, indented) and `models.json` (fitted models + feature spec,
/// compact) atomically.
pub fn save(dir: &Path, report: &FitReport, saved: &SavedModels) -> Result<()> {
    crate::corpus::ensure_writable_dir(dir)?;
    write_bytes_atomically(&dir.join("fit.json"), to_json(report).as_bytes())?;
    // Compact: the forests' nodes are most of the file, and indentation tripled its size (17 → 7
    // MB on the default corpus).
    let models = serde_json::to_string(saved).expect("plain data serialises") + "\n";
    write_bytes_atomically(&dir.join("models.json"), models.as_bytes())?;
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
