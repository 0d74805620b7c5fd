//! `predict` and `recommend`: saved models applied to runs that were never trained.
//!
//! A query becomes a one-block grid in the recipe the models were fitted from (saved beside them
//! as `recipe.toml`), so it gets the same defaults and the same validation as a recipe — an unknown
//! task, architecture, policy or key is the recipe's own clear error — and the same run spec the
//! corpus would record. Predictions are printed clipped to [0, 1] (the scores never clip).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SavedModels;
use crate::error::{Error, Result};
use crate::features::FeatureTable;
use crate::predict::Rows;
use crate::recipe::{self, RunSpec};
use crate::schedule::PolicySpec;

/// Grid keys `--set` may give (one value each).
const SET_KEYS: &[&str] = &[
    "base_lr",
    "weight_decay",
    "momentum",
    "batch_size",
    "seed",
    "epochs",
    "optimizer",
];

/// What the user asks about.
#[derive(Debug, Clone)]
pub struct Query {
    pub task: String,
    pub arch: String,
    /// Policies (spec strings or recipe tables), each with its LR unless `base_lrs` or
    /// `--set base_lr` give it.
    pub policies: Vec<toml::Value>,
    /// Base LRs to try with every policy (`recommend`); empty: the policy's own.
    pub base_lrs: Vec<f64>,
    /// `key=value` overrides of grid keys.
    pub set: Vec<String>,
}

/// One model's prediction for one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPrediction {
    pub model: String,
    /// Predicted top-1, unclipped.
    pub top1: f64,
    /// 80 % interval, for models that give one.
    pub interval: Option<(f64, f64)>,
}

/// Everything predicted for one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub task: String,
    pub arch: String,
    pub policy: String,
    pub base_lr: f64,
    /// Probability that the run diverges or collapses (the failure tree).
    pub failure_probability: Option<f64>,
    /// The recommended model's prediction first, then the others.
    pub predictions: Vec<ModelPrediction>,
    /// Where the query leaves what the models were fitted on.
    pub warnings: Vec<String>,
}

fn bad(flag: &str, value: impl std::fmt::Display, message: impl Into<String>) -> Error {
    Error::BadArgument {
        flag: flag.into(),
        value: value.to_string(),
        message: message.into(),
    }
}

/// The saved models of `dir` and the recipe they were fitted from.
pub fn load(dir: &Path) -> Result<(SavedModels, String, PathBuf)> {
    let models = dir.join("models.json");
    let recipe = dir.join("recipe.toml");
    for path in [&models, &recipe] {
        if !path.exists() {
            return Err(bad(
                "--model",
                dir.display(),
                format!(
                    "{} not found; --model wants a directory written by `lrcast fit` \
                     (models/<experiment>/)",
                    path.display()
                ),
            ));
        }
    }
    let saved = SavedModels::load(&models)?;
    let text = std::fs::read_to_string(&recipe).map_err(|e| Error::io(&recipe, e))?;
    Ok((saved, text, recipe))
}

/// The runs `query` describes, built by the saved recipe's own rules.
pub fn runs(recipe_text: &str, recipe_path: &Path, query: &Query) -> Result<Vec<RunSpec>> {
    let mut table: toml::Table = toml::from_str(recipe_text)
        .map_err(|e| bad("--model", recipe_path.display(), e.to_string()))?;
    let mut set: BTreeMap<String, toml::Value> = BTreeMap::new();
    for item in &query.set {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| bad("--set", item, "expected key=value, e.g. weight_decay=5e-4"))?;
        let key = key.trim();
        if !SET_KEYS.contains(&key) {
            return Err(bad(
                "--set",
                item,
                format!("unknown key `{key}`; valid: {}", SET_KEYS.join(", ")),
            ));
        }
        let value = value.trim();
        let parsed = match key {
            "optimizer" => toml::Value::String(value.into()),
            "batch_size" | "seed" | "epochs" => toml::Value::Integer(
                value
                    .parse::<i64>()
                    .map_err(|_| bad("--set", item, "the value is not a whole number"))?,
            ),
            _ => toml::Value::Float(
                value
                    .parse::<f64>()
                    .map_err(|_| bad("--set", item, "the value is not a number"))?,
            ),
        };
        set.insert(key.to_string(), toml::Value::Array(vec![parsed]));
    }
    let mut blocks = Vec::new();
    for policy in &query.policies {
        let spec = PolicySpec::from_toml_value(policy).map_err(|e| Error::policy("--policy", e))?;
        // A spec that carries its LR (`cosine:lr=0.1`) gives the base LR and enters the grid
        // without it, as a recipe writes it.
        let own_lr = spec
            .primary_lr_key()
            .and_then(|k| spec.param(k).map(|lr| (k, lr)));
        let policy = match (policy, own_lr) {
            (toml::Value::String(_), Some((key, _))) => {
                toml::Value::String(spec.without_param(key).to_string())
            }
            _ => policy.clone(),
        };
        let lr = match (set.get("base_lr"), own_lr) {
            (Some(v), _) => v.clone(),
            (None, _) if !query.base_lrs.is_empty() => toml::Value::Array(
                query
                    .base_lrs
                    .iter()
                    .map(|&v| toml::Value::Float(v))
                    .collect(),
            ),
            (None, Some((_, lr))) => toml::Value::Array(vec![toml::Value::Float(lr)]),
            (None, None) => {
                return Err(bad(
                    "--policy",
                    spec.to_string(),
                    format!(
                        "no learning rate: give it in the spec (e.g. {}:lr=0.1) or with \
                         --set base_lr=0.1",
                        spec.name()
                    ),
                ));
            }
        };
        let mut block = toml::Table::new();
        block.insert("task".into(), vec![query.task.clone()].into());
        block.insert("arch".into(), vec![query.arch.clone()].into());
        block.insert("policy".into(), toml::Value::Array(vec![policy]));
        block.insert("base_lr".into(), lr);
        for (k, v) in &set {
            if k != "base_lr" {
                block.insert(k.clone(), v.clone());
            }
        }
        blocks.push(toml::Value::Table(block));
    }
    table.insert("grid".into(), toml::Value::Array(blocks));
    // The query is not a sweep: no holdout to validate.
    if let Some(toml::Value::Table(fit)) = table.get_mut("fit") {
        fit.insert("holdout".into(), toml::Value::Array(Vec::new()));
    }
    let text = toml::to_string(&table).expect("a TOML table serialises");
    Ok(recipe::parse(&text, recipe_path, "query")?.runs)
}

/// The whole number of epochs (at least 1) whose steps come closest to `steps` for the runs of
/// `query` (their steps per epoch: the task's training size over the batch size). Refuses a query
/// that also sets `epochs`, or a budget of 0 steps.
pub fn epochs_for_budget(
    recipe_text: &str,
    recipe_path: &Path,
    query: &Query,
    steps: u64,
) -> Result<u64> {
    if steps == 0 {
        return Err(bad("--budget-steps", steps, "must be at least 1 step"));
    }
    if let Some(item) = query
        .set
        .iter()
        .find(|s| s.trim_start().starts_with("epochs"))
    {
        return Err(bad(
            "--set",
            item,
            "give the budget either as --budget-steps or as --set epochs, not both",
        ));
    }
    let probe = Query {
        policies: query.policies.iter().take(1).cloned().collect(),
        base_lrs: query.base_lrs.iter().take(1).copied().collect(),
        ..query.clone()
    };
    let per_epoch = runs(recipe_text, recipe_path, &probe)?
        .first()
        .map_or(1, |r| r.steps_per_epoch.max(1));
    Ok(((steps as f64 / per_epoch as f64).round() as u64).max(1))
}

/// The policies of the saved recipe's grid blocks, as written there (without their LR).
pub fn recipe_policies(recipe_text: &str) -> Vec<toml::Value> {
    let Ok(table) = toml::from_str::<toml::Table>(recipe_text) else {
        return Vec::new();
    };
    let blocks = match table.get("grid") {
        Some(toml::Value::Array(blocks)) => blocks.clone(),
        Some(block @ toml::Value::Table(_)) => vec![block.clone()],
        _ => Vec::new(),
    };
    let mut out: Vec<toml::Value> = Vec::new();
    for block in blocks {
        if let Some(toml::Value::Array(policies)) = block.get("policy") {
            for p in policies {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
        }
    }
    out
}

/// `count` base LRs evenly spaced in log10 over `[lo, hi]`.
pub fn log_spaced(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    let (a, b) = (lo.log10(), hi.log10());
    (0..count.max(1))
        .map(|k| {
            let t = if count > 1 {
                k as f64 / (count - 1) as f64
            } else {
                0.5
            };
            // Rounded to 4 significant digits so the printed LRs read cleanly.
            let v = 10f64.powf(a + (b - a) * t);
            let scale = 10f64.powi(3 - v.log10().floor() as i32);
            (v * scale).round() / scale
        })
        .collect()
}

/// Predict every run with every saved model, the recommended one first.
pub fn answer(saved: &SavedModels, best: Option<&str>, runs: &[RunSpec]) -> Result<Vec<Answer>> {
    let rows = FeatureTable::from_runs(runs)?;
    let x = saved.feature_spec.matrix(&rows)?;
    let table = rows.table();
    let (task, arch) = (table.text("task")?, table.text("arch")?);
    let model_rows = Rows {
        x: x.view(),
        task,
        arch,
    };
    let mut order: Vec<&(String, super::FittedModel)> = saved.models.iter().collect();
    order.sort_by_key(|(name, _)| Some(name.as_str()) != best);
    let per_model: Vec<(String, Vec<f64>, Option<f64>)> = order
        .iter()
        .map(|(name, model)| {
            (
                name.clone(),
                model.predict(model_rows),
                saved.intervals.get(name.as_str()).copied(),
            )
        })
        .collect();
    let failure = saved
        .divergence
        .as_ref()
        .map(|tree| tree.probability(x.view()));
    Ok(runs
        .iter()
        .enumerate()
        .map(|(i, run)| Answer {
            task: run.task.spec_string(),
            arch: run.arch.spec_string(),
            policy: run.policy.to_string(),
            base_lr: run.base_lr,
            failure_probability: failure.as_ref().map(|p| p[i]),
            predictions: per_model
                .iter()
                .map(|(model, p, w)| ModelPrediction {
                    model: model.clone(),
                    top1: p[i],
                    interval: w.map(|w| (p[i] - w, p[i] + w)),
                })
                .collect(),
            warnings: saved.warnings(table, i),
        })
        .collect())
}
