//! The predictor stage: fit every model on every fold of every holdout protocol, score the pooled
//! held-out predictions beside two references (the twin-seed noise ceiling and chance), and fit
//! the final models on the whole corpus. Results are plain data ([`FitReport`]) saved as JSON.

pub mod boosted;
pub mod divergence;
pub mod forest;
pub mod holdout;
pub mod models;
pub mod query;
pub mod scores;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::corpus::CorpusTable;
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
        serde_json::from_str(&text).map_err(|e| Error::BadArgument {
            flag: "--model".into(),
            value: path.display().to_string(),
            message: format!(
                "not a model file of this lrcast version ({e}); refit with `lrcast fit RECIPE`"
            ),
        })
    }
}

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

/// Every holdout protocol of the corpus: per recipe hyperparameter its extreme-value holdout and a
/// grouped random split of the same size; leave-one-group-out by task × architecture × policy and
/// by each alone (where there are two groups or more); grouped 5-fold.
fn protocols(
    table: &CorpusTable,
    configs: &[String],
    settings: &FitSettings,
) -> Result<Vec<Split>> {
    let task = table.text("task")?;
    let arch = table.text("arch")?;
    let policy = table.text("policy_name")?;
    let mut protocols = Vec::new();
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
        protocols.extend([extreme, random]);
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
        protocols.extend(holdout::leave_one_group_out(name, what, keys));
    }
    protocols.extend(holdout::grouped_kfold(configs, 5, settings.random_seed));
    Ok(protocols)
}

/// The exact design matrix, target and protocol folds as CSV, so that other tools can fit on the
/// same features and splits: `run_id`, one column per feature, the target, then one `fold:<protocol>`
/// column per protocol (`train` / `test` for a single split, else the label of the fold that tests
/// the row).
pub fn export_features(table: &CorpusTable, settings: &FitSettings) -> Result<String> {
    let rows = FeatureTable::from_corpus(table.clone())?;
    let spec = FeatureSpec::infer(&rows)?;
    let x = spec.matrix(&rows)?;
    let y = spec.target(&rows)?;
    let configs = configurations(table);
    let protocols = protocols(table, &configs, settings)?;
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

/// One fold's test predictions (`None`: a row the predictor cannot score) and the model's interval
/// half-width, if it gives one.
type FoldPrediction = (Vec<Option<f64>>, Option<f64>);

/// The fitted model (not a baseline or reference) with the lowest pooled MAE on the lead protocol,
/// else on grouped K-fold, else on the first protocol.
fn best_model(splits: &[SplitResult]) -> Option<String> {
    let lead = ["logo:task+arch+policy", "kfold:5"]
        .iter()
        .find_map(|name| splits.iter().find(|s| s.split == *name))
        .or(splits.first())?;
    lead.models
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
    task: &'a [String],
    arch: &'a [String],
    y: &'a [f64],
    base_lr: Vec<f64>,
    /// Mean target of the other seeds of each row's configuration (`None` without a twin).
    twin: Vec<Option<f64>>,
    /// 1 / classes of each row, when the corpus records the classes.
    chance: Option<Vec<f64>>,
    /// Whether each run diverged or collapsed (`None` where its outcome is unknown: such runs
    /// neither train nor test the failure classifier).
    failed: Vec<Option<bool>>,
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
    let scoring = Scoring {
        x: &x,
        task,
        arch,
        y: &y,
        base_lr: table.values("base_lr")?,
        twin,
        chance,
        failed: table
            .outcomes()?
            .iter()
            .map(|o| (o != crate::corpus::table::UNKNOWN_OUTCOME).then_some(o != "trained"))
            .collect(),
        settings,
    };

    let protocols = protocols(table, &configs, settings)?;
    let splits = protocols.iter().map(|p| scoring.score(p)).collect();

    let all = Rows {
        x: x.view(),
        task,
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
    let known = scoring.known(&(0..table.len).collect::<Vec<_>>());
    let divergence =
        DivergenceTree::fit(x.select(Axis(0), &known).view(), &scoring.labels(&known)).ok();
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
    };
    let saved = SavedModels {
        lrcast_version: crate::LRCAST_VERSION.into(),
        experiment: experiment.to_string(),
        n_runs: table.len,
        best_model: best_model(&report.splits),
        ranges: training_ranges(&spec, table),
        categories: crate::features::CATEGORICAL_COLUMNS
            .iter()
            .filter_map(|&c| {
                let values = table.text(c).ok()?;
                Some((c.to_string(), values.iter().cloned().collect()))
            })
            .collect(),
        feature_spec: spec,
        models,
        divergence,
    };
    Ok((report, saved))
}

impl Scoring<'_> {
    /// Every model and reference on every fold of `split`, scored on the pooled predictions.
    fn score(&self, split: &Split) -> SplitResult {
        let curves = split.name.starts_with("logo:");
        let mut models: Vec<ModelScore> = ALL_MODELS
            .iter()
            .map(|&kind| {
                let predictions: Result<Vec<FoldPrediction>> = split
                    .folds
                    .iter()
                    .map(|fold| self.fit_predict(kind, &fold.train, &fold.test))
                    .collect();
                let (scores, error) = match predictions {
                    Ok(p) => {
                        let (p, widths): (Vec<_>, Vec<_>) = p.into_iter().unzip();
                        let mut scores = self.pooled(split, &p, curves);
                        if let Some(s) = scores.as_mut() {
                            self.add_coverage(split, &p, &widths, s);
                        }
                        (scores, None)
                    }
                    Err(e) => (None, Some(e.to_string())),
                };
                ModelScore {
                    model: kind.name().into(),
                    baseline: kind.is_baseline(),
                    reference: false,
                    scores,
                    error,
                }
            })
            .collect();
        let mut reference = |name: &str, of: &dyn Fn(usize) -> Option<f64>| {
            let p: Vec<Vec<Option<f64>>> = split
                .folds
                .iter()
                .map(|f| f.test.iter().map(|&i| of(i)).collect())
                .collect();
            models.push(ModelScore {
                model: name.into(),
                baseline: false,
                reference: true,
                scores: self.pooled(split, &p, curves),
                error: None,
            });
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
        }
    }

    /// The rows of `rows` whose outcome is known.
    fn known(&self, rows: &[usize]) -> Vec<usize> {
        rows.iter()
            .copied()
            .filter(|&i| self.failed[i].is_some())
            .collect()
    }

    /// Failed-or-not of `rows` (all known).
    fn labels(&self, rows: &[usize]) -> Vec<bool> {
        rows.iter().map(|&i| self.failed[i] == Some(true)).collect()
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

    /// Coverage and mean width of per-fold intervals `prediction ± half_width` on the test rows,
    /// when every fold's model gives an interval.
    fn add_coverage(
        &self,
        split: &Split,
        predictions: &[Vec<Option<f64>>],
        half_widths: &[Option<f64>],
        scores: &mut Scores,
    ) {
        let Some(widths) = half_widths.iter().copied().collect::<Option<Vec<f64>>>() else {
            return;
        };
        let (mut inside, mut n, mut width) = (0usize, 0usize, 0.0);
        for ((fold, p), w) in split.folds.iter().zip(predictions).zip(widths) {
            for (&i, p) in fold.test.iter().zip(p) {
                if let Some(p) = p {
                    inside += usize::from((self.y[i] - p).abs() <= w);
                    n += 1;
                    width += 2.0 * w;
                }
            }
        }
        if n > 0 {
            scores.coverage = Some(inside as f64 / n as f64);
            scores.interval_width = Some(width / n as f64);
        }
    }

    /// Fit `kind` on `train` rows and predict `test` rows; also the model's interval half-width.
    fn fit_predict(
        &self,
        kind: ModelKind,
        train: &[usize],
        test: &[usize],
    ) -> Result<FoldPrediction> {
        let pick = |rows: &[usize]| {
            (
                self.x.select(Axis(0), rows),
                rows.iter()
                    .map(|&i| self.task[i].clone())
                    .collect::<Vec<_>>(),
                rows.iter()
                    .map(|&i| self.arch[i].clone())
                    .collect::<Vec<_>>(),
            )
        };
        let (x_train, task_train, arch_train) = pick(train);
        let (x_test, task_test, arch_test) = pick(test);
        let y_train: Vec<f64> = train.iter().map(|&i| self.y[i]).collect();
        let train_rows = Rows {
            x: x_train.view(),
            task: &task_train,
            arch: &arch_train,
        };
        let model = models::fit(kind, train_rows, &y_train, self.settings)?;
        let test_rows = Rows {
            x: x_test.view(),
            task: &task_test,
            arch: &arch_test,
        };
        let predictions = model.predict(test_rows).into_iter().map(Some).collect();
        Ok((predictions, model.interval_half_width()))
    }

    /// Scores of per-fold predictions (`None`: a row this predictor cannot score, e.g. a run
    /// without a seed twin), pooled over folds; regret and curve optima per fold.
    fn pooled(
        &self,
        split: &Split,
        predictions: &[Vec<Option<f64>>],
        curves: bool,
    ) -> Option<Scores> {
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
