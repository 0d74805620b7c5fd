//! Recipes: read `experiments/NAME.toml` (raw) and validate it into a [`Plan`] of runs.

mod grid;
pub mod plan;
pub mod raw;
pub mod search;
pub mod shard;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub use plan::{
    FitSettings, HOLDOUT_HYPERPARAMETERS, PROTOCOL_NAMES, Plan, RecipeStacking, RunSpec, StudyKind,
    StudySettings,
};
use raw::RawRecipe;
use search::{SearchSettings, SearchState, Strategy};

use crate::error::{Error, Result};

/// The embedded default experiment, used by `lrcast pipeline` without an argument.
pub const DEFAULT_RECIPE: &str = include_str!("../../experiments/default.toml");
/// What the embedded default is called in messages.
pub const DEFAULT_SOURCE: &str = "<embedded experiments/default.toml>";

/// Load and validate a recipe file.
pub fn load(path: &Path) -> Result<Plan> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::RecipeUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "experiment".into());
    parse(&text, path, &stem)
}

/// The embedded default recipe.
pub fn load_default() -> Result<Plan> {
    parse(DEFAULT_RECIPE, Path::new(DEFAULT_SOURCE), "default")
}

/// Parse and validate recipe text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path, default_name: &str) -> Result<Plan> {
    let raw: RawRecipe = toml::from_str(text).map_err(|mut err| {
        let (line, column) = err
            .span()
            .map(|span| line_column(text, span.start))
            .unwrap_or((1, 1));
        // Without the input attached, toml's Display names the key path ("in `train.epochs`").
        err.set_input(None);
        let message = err
            .to_string()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Error::RecipeSyntax {
            path: path.to_path_buf(),
            line,
            column,
            message,
        }
    })?;
    validate(raw, text, path, default_name)
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Most runs one recipe may plan (the plan is held in memory, about a kilobyte a run).
pub const MAX_PLAN_RUNS: usize = 1_000_000;

/// Longest experiment name: it names three directories, and file systems cap a name at 255 bytes.
const MAX_NAME_LEN: usize = 100;

/// Most epochs a run may have: more is refused before any work starts.
const MAX_EPOCHS: i64 = 100_000;

/// Error unless `epochs` is in 1..=[`MAX_EPOCHS`] (`train.epochs`, or a `grid.epochs` entry).
fn check_epochs(path: &Path, key: &str, epochs: i64) -> Result<()> {
    if (1..=MAX_EPOCHS).contains(&epochs) {
        return Ok(());
    }
    Err(Error::recipe_value(
        path,
        key,
        epochs,
        format!("must be a positive integer up to {MAX_EPOCHS}, e.g. 5"),
    ))
}

fn non_empty<T>(path: &Path, key: &str, values: &[T]) -> Result<()> {
    if values.is_empty() {
        return Err(Error::recipe_value(
            path,
            key,
            "[]",
            "the grid is empty along this axis; give at least one value",
        ));
    }
    Ok(())
}

fn no_duplicates<T: std::fmt::Display>(path: &Path, key: &str, values: &[T]) -> Result<()> {
    let mut seen = HashSet::new();
    for v in values {
        if !seen.insert(v.to_string()) {
            return Err(Error::recipe_value(
                path,
                key,
                v,
                "listed twice; remove the duplicate so that no run is trained twice",
            ));
        }
    }
    Ok(())
}

fn validate(raw: RawRecipe, text: &str, path: &Path, default_name: &str) -> Result<Plan> {
    let name = raw.name.clone().unwrap_or_else(|| default_name.to_string());
    if name.len() > MAX_NAME_LEN {
        return Err(Error::recipe_value(
            path,
            "name",
            format!(
                "{}… ({} characters)",
                &name[..name.floor_char_boundary(40)],
                name.chars().count()
            ),
            format!("at most {MAX_NAME_LEN} characters (it names directories); shorten it"),
        ));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::recipe_value(
            path,
            "name",
            format!("{name:?}"),
            "use letters, digits, '-' and '_' only (it names directories)",
        ));
    }
    let t = &raw.train;
    let shared = validate_train(t, path)?;
    let study = raw
        .study
        .as_ref()
        .map(|s| validate_study(s, path))
        .transpose()?;
    let settings =
        SearchSettings::from_raw(raw.search.as_ref(), path, shared.validation.is_some())?;
    let sampled = settings.strategy != Strategy::Grid;
    let tables = raw.grid.as_ref().map(|g| g.tables()).unwrap_or_default();
    let import = raw
        .import
        .as_ref()
        .map(|i| crate::corpus::import::ImportSettings::from_raw(i, path))
        .transpose()?;
    if tables.is_empty() && import.is_none() {
        return Err(Error::recipe_value(
            path,
            "grid",
            "(absent)",
            "a recipe needs a [grid] of runs to train, or an [import] section naming a sweep table",
        ));
    }
    let blocks: Vec<(String, raw::RawGrid)> = match sampled {
        true => Vec::new(),
        false => tables
            .iter()
            .map(|(key, table)| {
                search::check_lists_only(path, key, table)?;
                raw::RawGrid::from_table(table)
                    .map(|g| (key.clone(), g))
                    .map_err(|message| Error::recipe_value(path, key.as_str(), "{…}", message))
            })
            .collect::<Result<_>>()?,
    };
    let block_refs: Vec<(String, &raw::RawGrid)> =
        blocks.iter().map(|(k, g)| (k.clone(), g)).collect();
    // With [import], the holdouts are checked against the corpus at fit time: the grid alone
    // does not hold every run; nor do a search's ranges say which values its draws will take.
    let fit = validate_fit(&raw.fit, &block_refs, path, import.is_some() || sampled)?;
    let planned = match sampled {
        false => blocks
            .iter()
            .map(|(_, g)| grid::block_run_count(g))
            .fold(0u128, u128::saturating_add),
        true => tables
            .iter()
            .map(|(_, table)| search::crossed_count(table))
            .fold(0u128, u128::saturating_add)
            .saturating_mul((settings.samples * settings.rounds) as u128),
    };
    if planned > MAX_PLAN_RUNS as u128 && settings.max_runs.is_none_or(|m| m > MAX_PLAN_RUNS) {
        return Err(Error::recipe_value(
            path,
            "grid",
            format!("{planned} runs"),
            format!(
                "a recipe may plan at most {MAX_PLAN_RUNS} runs; sweep fewer values, or split the \
                 study into several recipes"
            ),
        ));
    }
    let expansion = Expansion {
        path: path.to_path_buf(),
        train: t.clone(),
        shared: shared.clone(),
    };
    let mut search_state = None;
    let mut runs: Vec<RunSpec> = Vec::new();
    if sampled {
        let mut state = SearchState::new(settings.clone(), path, &tables)?;
        runs = state.first_round(&mut |key, table, _| expansion.expand(key, table))?;
        search_state = Some(state);
    } else {
        // Runs by id, and by what they train once every default is filled in: two spellings of
        // one policy (a parameter given at its default, or left out) are one run.
        let mut seen = HashSet::new();
        let mut resolved: std::collections::HashMap<String, String> = Default::default();
        for (key, g) in &blocks {
            for run in grid::expand_block(path, key, g, t, &shared)? {
                if !seen.insert(run.run_id.clone()) {
                    return Err(Error::recipe_value(
                        path,
                        key.as_str(),
                        format!("{:?}", run.canonical()),
                        "this run is also in an earlier grid block; remove the overlap so that no run is trained twice",
                    ));
                }
                if let Some(first) = resolved.insert(run.resolved_key(), run.policy.to_string()) {
                    return Err(Error::recipe_value(
                        path,
                        format!("{key}.policy"),
                        format!("{:?}", run.policy.to_string()),
                        format!(
                            "trains the same schedule as {first:?} (a parameter given at its \
                             default value, or in other units); keep one spelling so that no run \
                             is trained twice"
                        ),
                    ));
                }
                runs.push(run);
            }
        }
    }
    if let Some(most) = settings.max_runs {
        runs.truncate(most);
    }
    for (h, param) in fit
        .holdout
        .iter()
        .filter(|_| import.is_none() && !sampled)
        .filter_map(|h| Some((h, crate::corpus::schema::policy_param_of(h)?)))
    {
        let distinct: HashSet<u64> = runs
            .iter()
            .flat_map(|r| r.lr_policy.hyperparameters())
            .filter(|(k, _)| crate::corpus::schema::policy_param_column(k) == *h)
            .map(|(_, v)| v.to_bits())
            .collect();
        if distinct.len() < 3 {
            return Err(Error::recipe_value(
                path,
                "fit.holdout",
                format!("{h:?}"),
                format!(
                    "the grid's policies give `{param}` {} distinct value(s); an extreme-value \
                     holdout needs at least 3 — sweep it, e.g. sweep = {{ {param} = [0.1, 0.3, 0.5] }}",
                    distinct.len()
                ),
            ));
        }
    }
    Ok(Plan {
        name,
        description: raw.description.unwrap_or_default(),
        source: PathBuf::from(path),
        recipe_text: text.to_string(),
        runs,
        fit,
        import,
        search: search_state,
        search_settings: settings,
        stacking: shared.stacking,
        study,
        expansion,
    })
}

/// `[study]`: a known kind, and range-test settings in range.
fn validate_study(s: &raw::RawStudy, path: &Path) -> Result<StudySettings> {
    let kind = StudyKind::ALL
        .into_iter()
        .find(|k| k.name() == s.kind)
        .ok_or_else(|| {
            Error::recipe_value(
                path,
                "study.kind",
                format!("{:?}", s.kind),
                format!(
                    "unknown study; valid: {} (or remove [study] for a report without one)",
                    StudyKind::ALL.map(StudyKind::name).join(", ")
                ),
            )
        })?;
    let repeats = s.lr_find_repeats.unwrap_or(10);
    if !(1..=100).contains(&repeats) {
        return Err(Error::recipe_value(
            path,
            "study.lr_find_repeats",
            repeats,
            "must be in 1..=100 (range tests per task × architecture), e.g. 10",
        ));
    }
    let steps = s.lr_find_steps.unwrap_or(100);
    if !(10..=100_000).contains(&steps) {
        return Err(Error::recipe_value(
            path,
            "study.lr_find_steps",
            steps,
            "must be in 10..=100000 (steps of each range test), e.g. 100",
        ));
    }
    Ok(StudySettings {
        kind,
        lr_find_repeats: repeats as usize,
        lr_find_steps: steps as usize,
    })
}

/// What expanding a drawn block needs, kept with the plan so later coarse-to-fine rounds can be
/// planned once earlier ones have results.
#[derive(Debug, Clone)]
pub struct Expansion {
    path: PathBuf,
    train: raw::RawTrain,
    shared: SharedTrain,
}

impl Expansion {
    /// The runs of one block given as a TOML table of lists.
    fn expand(&self, key: &str, table: &toml::Table) -> Result<Vec<RunSpec>> {
        let g = raw::RawGrid::from_table(table)
            .map_err(|message| Error::recipe_value(&self.path, key, "{…}", message))?;
        grid::expand_block(&self.path, key, &g, &self.train, &self.shared)
    }
}

impl Plan {
    /// Plan the coarse-to-fine rounds whose predecessors are finished: `results` maps the run ids
    /// found in the corpus to the search metric (`None` when not finite). Returns how many runs
    /// were added (0: the search is complete, or waits for runs still to train).
    pub fn advance_search(
        &mut self,
        results: &std::collections::HashMap<String, Option<f64>>,
    ) -> Result<usize> {
        let Some(state) = self.search.as_mut() else {
            return Ok(0);
        };
        let expansion = &self.expansion;
        let mut added = 0;
        while let Some(mut more) = state.next_round(results, &self.runs, &mut |key, table, _| {
            expansion.expand(key, table)
        })? {
            if let Some(most) = self.search_settings.max_runs {
                more.truncate(most.saturating_sub(self.runs.len()));
            }
            added += more.len();
            self.runs.extend(more);
        }
        Ok(added)
    }
}

/// Settings of `[train]` shared by every grid block.
#[derive(Debug, Clone)]
pub(crate) struct SharedTrain {
    /// The validation split, if any.
    pub validation: Option<plan::ValidationSplit>,
    /// How runs are stacked (not part of any run's spec).
    pub stacking: RecipeStacking,
}

/// `[train] stack` and `stack_memory_mib`: positive when given.
fn validate_stacking(t: &raw::RawTrain, path: &Path) -> Result<RecipeStacking> {
    let max_members = match t.stack {
        None => None,
        Some(k) if k >= 1 => Some(k as usize),
        Some(k) => {
            return Err(Error::recipe_value(
                path,
                "train.stack",
                k,
                "a stack has at least one member; write stack = 1 to train every run alone, or \
                 leave the key out to size stacks automatically",
            ));
        }
    };
    let memory_budget_mib = match t.stack_memory_mib {
        None => None,
        Some(mib) if mib >= 1 => Some(mib as u64),
        Some(mib) => {
            return Err(Error::recipe_value(
                path,
                "train.stack_memory_mib",
                mib,
                format!(
                    "the memory budget of a stack must be a positive number of MiB, e.g. {} \
                     (the default when the key is left out)",
                    crate::stacks::DEFAULT_MEMORY_BUDGET_MIB
                ),
            ));
        }
    };
    Ok(RecipeStacking {
        max_members,
        memory_budget_mib,
    })
}

fn validate_train(t: &raw::RawTrain, path: &Path) -> Result<SharedTrain> {
    check_epochs(path, "train.epochs", t.epochs)?;
    if !(0.0..1.0).contains(&t.label_smoothing) {
        return Err(Error::recipe_value(
            path,
            "train.label_smoothing",
            t.label_smoothing,
            "must be in [0, 1), e.g. 0.1",
        ));
    }
    let validation = match t.validation {
        None => None,
        Some(fraction) if fraction > 0.0 && fraction <= 0.5 => {
            if t.validation_seed < 0 {
                return Err(Error::recipe_value(
                    path,
                    "train.validation_seed",
                    t.validation_seed,
                    "must be a non-negative integer",
                ));
            }
            Some(plan::ValidationSplit {
                fraction,
                seed: t.validation_seed as u64,
            })
        }
        Some(fraction) => {
            return Err(Error::recipe_value(
                path,
                "train.validation",
                fraction,
                "the validation fraction must be in (0, 0.5], e.g. 0.1",
            ));
        }
    };
    if t.trace_every < 0 {
        return Err(Error::recipe_value(
            path,
            "train.trace_every",
            t.trace_every,
            "must be ≥ 0 (0 records weight norms per epoch only)",
        ));
    }
    if !(t.divergence_factor.is_finite() && t.divergence_factor > 1.0) {
        return Err(Error::recipe_value(
            path,
            "train.divergence_factor",
            t.divergence_factor,
            "must be > 1 (a multiple of the loss of a uniform guess), e.g. 10",
        ));
    }
    if !(t.target_accuracy > 0.0 && t.target_accuracy <= 1.0) {
        return Err(Error::recipe_value(
            path,
            "train.target_accuracy",
            t.target_accuracy,
            "must be in (0, 1], e.g. 0.5",
        ));
    }
    Ok(SharedTrain {
        validation,
        stacking: validate_stacking(t, path)?,
    })
}

fn validate_fit(
    f: &raw::RawFit,
    blocks: &[(String, &raw::RawGrid)],
    path: &Path,
    imports: bool,
) -> Result<FitSettings> {
    if !(f.quantile > 0.0 && f.quantile < 0.5) {
        return Err(Error::recipe_value(
            path,
            "fit.quantile",
            f.quantile,
            "must be in (0, 0.5): the fraction held out at each end, e.g. 0.1",
        ));
    }
    // An empty list is allowed: the models are then fitted on every run and no extrapolation is
    // scored (for recipes that only compare runs, such as experiments/peer_check.toml).
    // Distinct values over all grid blocks.
    let distinct_of = |values: &dyn Fn(&raw::RawGrid) -> Vec<String>| {
        blocks
            .iter()
            .flat_map(|(_, g)| values(g))
            .collect::<HashSet<_>>()
            .len()
    };
    let strings = |v: &[f64]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    for h in &f.holdout {
        let distinct = match h.as_str() {
            "base_lr" => distinct_of(&|g| strings(&g.base_lr)),
            "weight_decay" => distinct_of(&|g| strings(&g.weight_decay)),
            "momentum" => distinct_of(&|g| strings(&g.momentum)),
            "batch_size" => distinct_of(&|g| g.batch_size.iter().map(|b| b.to_string()).collect()),
            // Policy parameters are checked against the expanded runs in `validate`.
            p if crate::corpus::schema::policy_param_of(p).is_some() => usize::MAX,
            _ => {
                return Err(Error::recipe_value(
                    path,
                    "fit.holdout",
                    format!("{h:?}"),
                    format!(
                        "unknown hyperparameter; valid: {}, or p_<name> for a policy parameter \
                         (e.g. p_gamma)",
                        HOLDOUT_HYPERPARAMETERS.join(", ")
                    ),
                ));
            }
        };
        if distinct < 3 && !imports {
            return Err(Error::recipe_value(
                path,
                "fit.holdout",
                format!("{h:?}"),
                format!(
                    "grid.{h} has {distinct} value(s); an extreme-value holdout needs at least 3 \
                     (low, middle, high) — add values or remove it from fit.holdout"
                ),
            ));
        }
    }
    for (key, value) in [
        ("fit.ridge_alpha", f.ridge_alpha),
        ("fit.elastic_net_alpha", f.elastic_net_alpha),
    ] {
        if !(value.is_finite() && value > 0.0) {
            return Err(Error::recipe_value(
                path,
                key,
                value,
                "must be a positive penalty, e.g. 0.01",
            ));
        }
    }
    if !(0.0..=1.0).contains(&f.l1_ratio) {
        return Err(Error::recipe_value(
            path,
            "fit.l1_ratio",
            f.l1_ratio,
            "must be in [0, 1]",
        ));
    }
    if f.random_seed < 0 {
        return Err(Error::recipe_value(
            path,
            "fit.random_seed",
            f.random_seed,
            "must be a non-negative integer",
        ));
    }
    if let Some(protocols) = &f.protocols {
        if protocols.is_empty() {
            return Err(Error::recipe_value(
                path,
                "fit.protocols",
                "[]",
                "name at least one protocol, or remove the key to run every one the corpus allows",
            ));
        }
        if let Some(bad) = protocols
            .iter()
            .find(|p| !PROTOCOL_NAMES.contains(&p.as_str()))
        {
            return Err(Error::recipe_value(
                path,
                "fit.protocols",
                format!("\"{bad}\""),
                format!(
                    "unknown protocol; choose from {}",
                    PROTOCOL_NAMES.join(", ")
                ),
            ));
        }
    }
    if let Some(models) = &f.models {
        let names: Vec<&str> = crate::predict::ALL_MODELS
            .iter()
            .filter(|k| !k.is_baseline())
            .map(|k| k.name())
            .collect();
        if let Some(bad) = models.iter().find(|m| !names.contains(&m.as_str())) {
            return Err(Error::recipe_value(
                path,
                "fit.models",
                format!("\"{bad}\""),
                format!(
                    "unknown model; choose from {} (the baselines are always fitted)",
                    names.join(", ")
                ),
            ));
        }
    }
    Ok(FitSettings {
        models: f.models.clone(),
        protocols: f.protocols.clone(),
        holdout: f.holdout.clone(),
        quantile: f.quantile,
        random_seed: f.random_seed as u64,
        ridge_alpha: f.ridge_alpha,
        elastic_net_alpha: f.elastic_net_alpha,
        l1_ratio: f.l1_ratio,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::OptimizerKind;

    const RECIPE: &str = r#"
name = "t"
[grid]
task = ["mnist1d:num_samples=200"]
arch = ["mlp:hidden=8", "cnn1d:channels=4"]
policy = ["constant", { name = "step", step_size = "1ep", gamma = 0.5 }]
base_lr = [0.01, 0.1, 1.0]
seed = [0, 1]
[train]
epochs = 2
"#;

    fn plan(text: &str) -> Result<Plan> {
        parse(text, Path::new("t.toml"), "t")
    }

    #[test]
    fn grid_expands_to_the_cartesian_product_with_stable_unique_ids() {
        let p = plan(RECIPE).unwrap();
        assert_eq!(p.runs.len(), 2 * 2 * 3 * 2);
        let ids: HashSet<&str> = p.runs.iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(ids.len(), p.runs.len());
        assert!(p.runs.iter().all(|r| r.run_id.len() == 16));
        let again = plan(RECIPE).unwrap();
        assert!(
            p.runs
                .iter()
                .zip(&again.runs)
                .all(|(a, b)| a.run_id == b.run_id)
        );
        // The base LR is injected into the policy, and epochs resolve to steps.
        let run = &p.runs[0];
        assert_eq!(run.policy.to_string(), "constant:lr=0.01");
        assert_eq!(run.lr_policy.lr(0), 0.01);
        let step = p
            .runs
            .iter()
            .find(|r| r.lr_policy.name() == "step")
            .unwrap();
        // 160 training samples, batch 128 → 2 steps per epoch; step_size 1ep = 2 steps.
        assert_eq!(step.steps_per_epoch, 2);
        assert_eq!(step.lr_policy.lr(1), step.base_lr);
        assert_eq!(step.lr_policy.lr(2), step.base_lr * 0.5);
        // The name does not enter the id: the same run in two experiments has one id.
        let renamed = plan(&RECIPE.replace("name = \"t\"", "name = \"u\"")).unwrap();
        assert_eq!(renamed.runs[0].run_id, p.runs[0].run_id);
        let other_seed = plan(&RECIPE.replace("seed = [0, 1]", "seed = [2]")).unwrap();
        assert!(!ids.contains(other_seed.runs[0].run_id.as_str()));
    }

    #[test]
    fn a_policy_that_sets_the_swept_lr_is_rejected() {
        let err = plan(&RECIPE.replace("\"constant\"", "\"constant:lr=0.5\"")).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("grid.base_lr sweeps"), "{err}");
    }

    #[test]
    fn holdout_needs_three_values() {
        let err = plan(&RECIPE.replace("base_lr = [0.01, 0.1, 1.0]", "base_lr = [0.01, 0.1]"))
            .unwrap_err();
        assert!(err.to_string().contains("at least 3"), "{err}");
    }

    #[test]
    fn policy_tables_sweep_their_parameters() {
        let text = RECIPE.replace(
            r#"{ name = "step", step_size = "1ep", gamma = 0.5 }"#,
            r#"{ name = "step", step_size = "1ep", sweep = { gamma = [0.1, 0.3, 0.5] } }"#,
        );
        let p = plan(&text).unwrap();
        assert_eq!(p.runs.len(), 2 * 4 * 3 * 2);
        let gammas: HashSet<String> = p
            .runs
            .iter()
            .filter(|r| r.lr_policy.name() == "step")
            .map(|r| r.policy.to_string())
            .collect();
        assert_eq!(gammas.len(), 3 * 3, "{gammas:?}");
        // A policy parameter that varies can be held out at its extremes…
        let held = text.replace("[train]", "[fit]\nholdout = [\"p_gamma\"]\n[train]");
        assert!(plan(&held).is_ok());
        // …one that does not cannot.
        let err = plan(&RECIPE.replace("[train]", "[fit]\nholdout = [\"p_gamma\"]\n[train]"))
            .unwrap_err();
        assert!(err.to_string().contains("sweep"), "{err}");
        let err = plan(&text.replace(
            "sweep = { gamma = [0.1, 0.3, 0.5] }",
            "sweep = { gamma = 0.1 }",
        ))
        .unwrap_err();
        assert!(
            err.to_string().contains("grid.policy[1].sweep.gamma"),
            "{err}"
        );
    }

    #[test]
    fn new_settings_at_their_defaults_keep_ids_and_otherwise_change_them() {
        let base = plan(RECIPE).unwrap();
        // Spelling out today's defaults changes nothing.
        let explicit = plan(&RECIPE.replace(
            "epochs = 2",
            "epochs = 2\noptimizer = \"sgd\"\nlabel_smoothing = 0.0\nbeta2 = 0.999\ntrace_every = 0",
        ))
        .unwrap();
        assert_eq!(base.runs[0].run_id, explicit.runs[0].run_id);
        let same_data_seed =
            plan(&RECIPE.replace("seed = [0, 1]", "seed = [0]\ndata_seed = [0]")).unwrap();
        assert_eq!(same_data_seed.runs[0].run_id, base.runs[0].run_id);
        // Each setting that changes what is trained changes the id.
        for change in [
            "epochs = 2\nvalidation = 0.1",
            "epochs = 2\nlabel_smoothing = 0.1",
            "epochs = 2\nclip_grad_norm = 1.0",
            "epochs = 2\noptimizer = \"adamw\"",
            "epochs = 2\ndecoupled_weight_decay = true",
        ] {
            let other = plan(&RECIPE.replace("epochs = 2", change)).unwrap();
            assert_ne!(other.runs[0].run_id, base.runs[0].run_id, "{change}");
        }
        let other_data =
            plan(&RECIPE.replace("seed = [0, 1]", "seed = [0]\ndata_seed = [5]")).unwrap();
        assert_ne!(other_data.runs[0].run_id, base.runs[0].run_id);
        assert_eq!(other_data.runs[0].settings.data_seed, 5);
    }

    #[test]
    fn optimizers_are_a_grid_axis_and_validation_shortens_the_epoch() {
        let p = plan(&RECIPE.replace(
            "seed = [0, 1]",
            "seed = [0, 1]\noptimizer = [\"sgd\", \"adam\", \"adamw\"]",
        ))
        .unwrap();
        assert_eq!(p.runs.len(), 2 * 2 * 3 * 2 * 3);
        let adamw = p
            .runs
            .iter()
            .find(|r| r.settings.optimizer.kind == OptimizerKind::AdamW)
            .unwrap();
        assert!(adamw.settings.optimizer.decoupled_weight_decay);
        // 160 training samples; validation 0.2 leaves 128 → 1 step per epoch at batch 128.
        let v = plan(&RECIPE.replace("epochs = 2", "epochs = 2\nvalidation = 0.2")).unwrap();
        assert_eq!(v.runs[0].steps_per_epoch, 1);
        assert_eq!(v.runs[0].n_val(), 32);
        // 0.25 leaves 120, fewer than one batch: refused rather than trained at another size.
        let err = plan(&RECIPE.replace("epochs = 2", "epochs = 2\nvalidation = 0.25")).unwrap_err();
        assert!(err.to_string().contains("120 training examples"), "{err}");
    }

    #[test]
    fn grid_blocks_pair_architectures_with_the_tasks_they_fit() {
        let text = r#"
name = "blocks"
[[grid]]
task = ["mnist1d:num_samples=200"]
arch = ["mlp:hidden=8", "cnn1d:channels=4"]
policy = ["constant"]
base_lr = [0.01, 0.1]
[[grid]]
task = ["fashion10k:train_size=300"]
arch = ["cnn2d:channels=4,hidden=0"]
policy = ["cosine"]
base_lr = [0.3]
[train]
epochs = 1
"#;
        let p = plan(text).unwrap();
        assert_eq!(p.runs.len(), 2 * 2 + 1);
        assert_eq!(p.runs[4].task.shape(), vec![1, 28, 28]);
        let p = plan(&text.replace("base_lr = [0.3]", "base_lr = [0.3]\nepochs = [2, 3]")).unwrap();
        assert_eq!(p.runs.len(), 2 * 2 + 2);
        assert_eq!(p.runs[0].settings.epochs, 1, "train.epochs is the default");
        assert_eq!(
            (p.runs[4].settings.epochs, p.runs[5].settings.epochs),
            (2, 3)
        );
        // The holdout counts distinct values over all blocks: 0.01, 0.1, 0.3.
        assert_eq!(p.fit.holdout, vec!["base_lr"]);
        // A block that repeats a run of another is rejected, naming the block.
        let overlap = text.replace("base_lr = [0.01, 0.1]", "base_lr = [0.01, 0.1, 0.3]").replace(
            "task = [\"fashion10k:train_size=300\"]\narch = [\"cnn2d:channels=4,hidden=0\"]\npolicy = [\"cosine\"]",
            "task = [\"mnist1d:num_samples=200\"]\narch = [\"mlp:hidden=8\"]\npolicy = [\"constant\"]",
        );
        let err = plan(&overlap).unwrap_err();
        assert!(
            err.to_string().contains("grid[1]") && err.to_string().contains("earlier"),
            "{err}"
        );
        // Keys inside a block are named with its index.
        let err = plan(&text.replace("base_lr = [0.3]", "base_lr = [-1.0]")).unwrap_err();
        assert!(err.to_string().contains("grid[1].base_lr"), "{err}");
    }

    #[test]
    fn every_committed_experiment_is_a_valid_plan() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
        let mut count = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let plan = load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(!plan.runs.is_empty());
                count += 1;
            }
        }
        assert!(count >= 3);
    }

    #[test]
    fn duplicate_grid_values_are_rejected() {
        let err = plan(&RECIPE.replace("seed = [0, 1]", "seed = [1, 1]")).unwrap_err();
        assert!(err.to_string().contains("listed twice"), "{err}");
    }
}

#[cfg(test)]
mod run_id_stability {
    use super::*;

    /// Run ids of three runs of the default experiment as lrcast 0.1.0 planned it. A corpus written
    /// by 0.1.0 must keep resuming: new spec fields left at their defaults must not change these.
    #[test]
    fn run_ids_of_lrcast_0_1_0_default_runs_are_pinned() {
        let text = include_str!("../../tests/fixtures/v0_1_0/default_recipe.toml");
        let plan = parse(text, Path::new("default.toml"), "default").unwrap();
        let pinned = [
            (0, "9bde20bb0ecd5f0b"),
            (77, "e4c958a0a846f25a"),
            (383, "5d5767baffdbc640"),
        ];
        assert_eq!(plan.runs.len(), 384);
        for (index, id) in pinned {
            assert_eq!(
                plan.runs[index].run_id,
                id,
                "{}",
                plan.runs[index].canonical()
            );
        }
    }

    /// A `>>` sequence whose phase horizon was left at its default trains differently since phase
    /// horizons default to the phase length, so its id changed; one with explicit horizons, and
    /// every other policy, kept its id.
    #[test]
    fn sequences_relying_on_the_old_horizon_default_get_new_ids() {
        let recipe = |policy: &str| {
            format!(
                "name = \"seq\"\n[grid]\ntask = [\"mnist1d:num_samples=1000\"]\narch = [\"mlp\"]\n\
                 policy = [\"{policy}\"]\nbase_lr = [0.1]\n[train]\nepochs = 4\n[fit]\nholdout = []\n"
            )
        };
        let run = |policy: &str| {
            parse(&recipe(policy), Path::new("seq.toml"), "seq")
                .unwrap()
                .runs[0]
                .clone()
        };
        let defaulted = run("linear:start_factor=0.1 @ 1ep >> cosine");
        assert!(defaulted.canonical().ends_with(";phase_horizons=phase"));
        let explicit = run("linear:start_factor=0.1,total_iters=25 @ 25 >> cosine:t_max=100");
        assert!(
            !explicit.canonical().contains("phase_horizons"),
            "{}",
            explicit.canonical()
        );
        assert!(!run("cosine").canonical().contains("phase_horizons"));
    }
}
