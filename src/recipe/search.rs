//! Search strategies: which runs a recipe's grid blocks become. `grid` takes every combination of
//! the lists; `random` draws `samples` configurations per block from lists (a uniform choice) and
//! distributions (`uniform`, `log_uniform`, `int_uniform`, `choice`), seeded; `coarse_to_fine` draws
//! a random round over the full ranges, then rounds whose ranges shrink around the `top_k`
//! configurations found so far by a validation metric read back from the corpus.
//!
//! A drawn configuration is written back as a block of one-value lists, so it is validated and
//! expanded exactly like a grid block: run ids do not depend on the strategy that chose a run.
//! Task, architecture and seeds are crossed, not drawn: every configuration trains on each.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::raw::RawSearch;
use super::{MAX_PLAN_RUNS, RunSpec};
use crate::error::{Error, Result};

/// How runs are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Every combination of the lists.
    Grid,
    /// `samples` seeded draws per block.
    Random,
    /// A random round, then rounds narrowed around the best configurations.
    CoarseToFine,
}

/// Names of the strategies, for messages.
const STRATEGY_NAMES: &str = "grid, random, coarse_to_fine";

/// The validation metric that ranks configurations between coarse-to-fine rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Final validation top-1 (higher is better).
    ValTop1,
    /// Final validation cross-entropy (lower is better).
    ValLoss,
}

impl Metric {
    /// The corpus column it reads.
    pub fn column(self) -> &'static str {
        match self {
            Metric::ValTop1 => "val_top1",
            Metric::ValLoss => "val_loss",
        }
    }

    /// A score where higher is better; a run without a finite value (diverged) ranks last.
    fn score(self, value: Option<f64>) -> f64 {
        match value.filter(|v| v.is_finite()) {
            None => f64::NEG_INFINITY,
            Some(v) if self == Metric::ValTop1 => v,
            Some(v) => -v,
        }
    }
}

/// Validated `[search]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSettings {
    /// The strategy.
    pub strategy: Strategy,
    /// Configurations drawn per block (per round).
    pub samples: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// Rounds (1 unless coarse_to_fine).
    pub rounds: usize,
    /// Configurations that bound the next round's ranges.
    pub top_k: usize,
    /// Ranking metric (coarse_to_fine).
    pub metric: Metric,
    /// Budget: most runs planned.
    pub max_runs: Option<usize>,
    /// Budget: hours after which `generate` starts no new stack.
    pub max_hours: Option<f64>,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            strategy: Strategy::Grid,
            samples: 0,
            seed: 0,
            rounds: 1,
            top_k: 0,
            metric: Metric::ValTop1,
            max_runs: None,
            max_hours: None,
        }
    }
}

/// Most coarse-to-fine rounds: each needs the previous one trained, so more is a typo.
const MAX_ROUNDS: usize = 20;

impl SearchSettings {
    /// Validate `[search]` (absent: the grid strategy). `has_validation`: `train.validation` is set.
    pub fn from_raw(raw: Option<&RawSearch>, path: &Path, has_validation: bool) -> Result<Self> {
        let Some(raw) = raw else {
            return Ok(Self::default());
        };
        let strategy = match raw.strategy.as_str() {
            "grid" => Strategy::Grid,
            "random" => Strategy::Random,
            "coarse_to_fine" => Strategy::CoarseToFine,
            other => {
                return Err(Error::recipe_value(
                    path,
                    "search.strategy",
                    format!("{other:?}"),
                    format!("unknown strategy; valid: {STRATEGY_NAMES}"),
                ));
            }
        };
        let positive = |key: &str, value: i64, most: usize| -> Result<usize> {
            if value >= 1 && value as u64 <= most as u64 {
                Ok(value as usize)
            } else {
                Err(Error::recipe_value(
                    path,
                    format!("search.{key}"),
                    value,
                    format!("must be an integer in 1..={most}"),
                ))
            }
        };
        let only_for = |key: &str, given: bool, which: &str| -> Result<()> {
            if given {
                return Err(Error::recipe_value(
                    path,
                    format!("search.{key}"),
                    "(given)",
                    format!(
                        "applies to strategy = {which} only, not {:?}; remove it",
                        raw.strategy
                    ),
                ));
            }
            Ok(())
        };
        let sampled = strategy != Strategy::Grid;
        only_for(
            "samples",
            raw.samples.is_some() && !sampled,
            "random or coarse_to_fine",
        )?;
        let c2f = strategy == Strategy::CoarseToFine;
        only_for("rounds", raw.rounds.is_some() && !c2f, "coarse_to_fine")?;
        only_for("top_k", raw.top_k.is_some() && !c2f, "coarse_to_fine")?;
        only_for("metric", raw.metric.is_some() && !c2f, "coarse_to_fine")?;
        let samples = match (sampled, raw.samples) {
            (false, _) => 0,
            (true, Some(n)) => positive("samples", n, MAX_PLAN_RUNS)?,
            (true, None) => {
                return Err(Error::recipe_value(
                    path,
                    "search.samples",
                    "(absent)",
                    format!(
                        "strategy {:?} draws configurations; say how many, e.g. samples = 32",
                        raw.strategy
                    ),
                ));
            }
        };
        let rounds = match (c2f, raw.rounds) {
            (false, _) => 1,
            (true, None) => 3,
            (true, Some(r)) if r >= 2 => positive("rounds", r, MAX_ROUNDS)?,
            (true, Some(r)) => {
                return Err(Error::recipe_value(
                    path,
                    "search.rounds",
                    r,
                    format!(
                        "coarse_to_fine needs at least 2 rounds (the coarse one and a finer one), \
                         at most {MAX_ROUNDS}; for one round use strategy = \"random\""
                    ),
                ));
            }
        };
        let top_k = match (c2f, raw.top_k) {
            (false, _) => 0,
            (true, None) => (samples / 4).max(1),
            (true, Some(k)) => positive("top_k", k, samples)?,
        };
        let metric = match raw.metric.as_deref() {
            None | Some("val_top1") => Metric::ValTop1,
            Some("val_loss") => Metric::ValLoss,
            Some(other) => {
                return Err(Error::recipe_value(
                    path,
                    "search.metric",
                    format!("{other:?}"),
                    "valid: val_top1 (higher is better), val_loss (lower is better)",
                ));
            }
        };
        if c2f && !has_validation {
            return Err(Error::recipe_value(
                path,
                "search.strategy",
                "\"coarse_to_fine\"",
                "ranks configurations on a validation split, never on test; add \
                 `validation = 0.1` to [train]",
            ));
        }
        if raw.seed < 0 {
            return Err(Error::recipe_value(
                path,
                "search.seed",
                raw.seed,
                "must be a non-negative integer",
            ));
        }
        let max_runs = raw
            .max_runs
            .map(|n| positive("max_runs", n, MAX_PLAN_RUNS))
            .transpose()?;
        if let Some(h) = raw.max_hours
            && !(h.is_finite() && h > 0.0)
        {
            return Err(Error::recipe_value(
                path,
                "search.max_hours",
                h,
                "must be a positive number of hours, e.g. 1.5",
            ));
        }
        Ok(Self {
            strategy,
            samples,
            seed: raw.seed as u64,
            rounds,
            top_k,
            metric,
            max_runs,
            max_hours: raw.max_hours,
        })
    }
}

/// The range of one parameter.
#[derive(Debug, Clone, PartialEq)]
enum Space {
    /// One of these values, uniformly.
    Choice(Vec<toml::Value>),
    /// Uniform on [lo, hi].
    Uniform(f64, f64),
    /// Uniform in log on [lo, hi], lo > 0.
    LogUniform(f64, f64),
    /// A uniform integer in lo..=hi.
    IntUniform(i64, i64),
}

/// Grid axes that are drawn; the others (task, arch, seed, data_seed) are crossed.
const DRAWN_AXES: &[&str] = &[
    "base_lr",
    "weight_decay",
    "momentum",
    "batch_size",
    "epochs",
    "optimizer",
];

/// Error if a grid-strategy block gives a distribution where the grid needs a list.
pub fn check_lists_only(path: &Path, key: &str, table: &toml::Table) -> Result<()> {
    let sweeps = table
        .get("policy")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, p)| Some((i, p.get("sweep")?.as_table()?)))
        .flat_map(|(i, sweep)| {
            sweep
                .iter()
                .map(move |(param, v)| (format!("{key}.policy[{i}].sweep.{param}"), v))
        });
    let axes = DRAWN_AXES
        .iter()
        .filter_map(|axis| Some((format!("{key}.{axis}"), table.get(*axis)?)));
    for (name, value) in axes.chain(sweeps) {
        if let toml::Value::Table(t) = value {
            return Err(Error::recipe_value(
                path,
                name,
                toml::Value::Table(t.clone()),
                "a distribution is drawn from, not a grid axis; add [search] with \
                 strategy = \"random\" (or \"coarse_to_fine\") and samples = N, or give a list",
            ));
        }
    }
    Ok(())
}

/// Runs one drawn configuration of the block `table` becomes: its crossed lists' product (task,
/// arch, seed, data_seed; absent ones count once).
pub fn crossed_count(table: &toml::Table) -> u128 {
    ["task", "arch", "seed", "data_seed"]
        .iter()
        .map(|k| {
            table
                .get(*k)
                .and_then(toml::Value::as_array)
                .map_or(1, |a| a.len().max(1) as u128)
        })
        .fold(1u128, u128::saturating_mul)
}

/// The kind of value an axis holds, for the distributions it accepts.
fn axis_kind(axis: &str) -> &'static str {
    match axis {
        "base_lr" | "weight_decay" | "momentum" => "float",
        "batch_size" | "epochs" => "int",
        _ => "word",
    }
}

/// Parse `value` (a list or a one-key distribution table) at `key`, for values of `kind`
/// (`float`, `int`, `word`, or `any` for a policy parameter).
fn parse_space(path: &Path, key: &str, value: &toml::Value, kind: &str) -> Result<Space> {
    let bad = |shown: String, message: String| Err(Error::recipe_value(path, key, shown, message));
    let table = match value {
        toml::Value::Array(values) if values.is_empty() => {
            return bad("[]".into(), "an empty list; give at least one value".into());
        }
        toml::Value::Array(values) => return Ok(Space::Choice(values.clone())),
        toml::Value::Table(table) if table.len() == 1 => table,
        other => {
            return bad(
                other.to_string(),
                "give a list of values or one distribution: { uniform = [lo, hi] }, \
                 { log_uniform = [lo, hi] }, { int_uniform = [lo, hi] } or { choice = [a, b, …] }"
                    .into(),
            );
        }
    };
    let (name, bounds) = table.iter().next().expect("one key");
    let allowed: &[&str] = match kind {
        "float" => &["uniform", "log_uniform", "choice"],
        "int" => &["int_uniform", "choice"],
        "word" => &["choice"],
        _ => &["uniform", "log_uniform", "int_uniform", "choice"],
    };
    if !allowed.contains(&name.as_str()) {
        return bad(
            format!("{{ {name} = … }}"),
            format!(
                "{} here; valid: {}",
                if ["uniform", "log_uniform", "int_uniform", "choice"].contains(&name.as_str()) {
                    format!("`{name}` does not fit this {kind} parameter")
                } else {
                    format!("unknown distribution `{name}`")
                },
                allowed.join(", ")
            ),
        );
    }
    let toml::Value::Array(items) = bounds else {
        return bad(
            bounds.to_string(),
            format!("`{name}` takes a list, e.g. [0.001, 1.0]"),
        );
    };
    if name == "choice" {
        return parse_space(path, key, &toml::Value::Array(items.clone()), kind);
    }
    let shown = bounds.to_string();
    if name == "int_uniform" {
        let ints: Option<Vec<i64>> = items.iter().map(toml::Value::as_integer).collect();
        return match ints.as_deref() {
            Some(&[lo, hi]) if lo <= hi => Ok(Space::IntUniform(lo, hi)),
            Some(&[_, _]) => bad(
                shown,
                "an empty range: give [low, high] with low ≤ high".into(),
            ),
            _ => bad(shown, "int_uniform takes two integers [low, high]".into()),
        };
    }
    let floats: Option<Vec<f64>> = items
        .iter()
        .map(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
        .collect();
    let Some(&[lo, hi]) = floats.as_deref() else {
        return bad(shown, format!("{name} takes two numbers [low, high]"));
    };
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return bad(
            shown,
            "an empty range: give finite [low, high] with low < high".into(),
        );
    }
    if name == "log_uniform" {
        if lo <= 0.0 {
            return bad(
                shown,
                "log_uniform needs low > 0 (its log is drawn), e.g. [1e-4, 1.0]".into(),
            );
        }
        return Ok(Space::LogUniform(lo, hi));
    }
    Ok(Space::Uniform(lo, hi))
}

/// A policy entry of a block: the entry without its `sweep`, and the sweep's ranges.
#[derive(Debug, Clone)]
struct PolicySpace {
    /// Position in the block's `policy` list as written (kept when rounds drop policies).
    origin: usize,
    /// The entry without `sweep` (spec text or table).
    entry: toml::Value,
    /// The policy's own parameters (it alone has them) and their ranges.
    params: Vec<(String, Space)>,
}

/// What can be drawn from one grid block.
#[derive(Debug, Clone)]
pub struct BlockSpace {
    /// `grid` or `grid[i]`.
    key: String,
    /// The crossed keys (task, arch, seeds) and anything else, copied into every draw.
    base: toml::Table,
    /// Drawn axes and their ranges.
    axes: Vec<(String, Space)>,
    /// The policies and their parameters' ranges.
    policies: Vec<PolicySpace>,
}

impl BlockSpace {
    /// The space of the block `table` called `key`.
    pub fn parse(path: &Path, key: &str, table: &toml::Table) -> Result<Self> {
        let mut base = table.clone();
        let mut axes = Vec::new();
        for &axis in DRAWN_AXES {
            if let Some(value) = base.remove(axis) {
                let space = parse_space(path, &format!("{key}.{axis}"), &value, axis_kind(axis))?;
                axes.push((axis.to_string(), space));
            }
        }
        let entries = match base.remove("policy") {
            Some(toml::Value::Array(entries)) if !entries.is_empty() => entries,
            other => {
                return Err(Error::recipe_value(
                    path,
                    format!("{key}.policy"),
                    other.map_or("(absent)".into(), |v| v.to_string()),
                    "give a non-empty list of policies, e.g. policy = [\"cosine\"]",
                ));
            }
        };
        let mut policies = Vec::new();
        for (origin, entry) in entries.into_iter().enumerate() {
            let mut params = Vec::new();
            let entry = match entry {
                toml::Value::Table(mut t) => {
                    if let Some(sweep) = t.remove("sweep") {
                        let sweep_key = format!("{key}.policy[{origin}].sweep");
                        let toml::Value::Table(sweep) = sweep else {
                            return Err(Error::recipe_value(
                                path,
                                sweep_key,
                                sweep,
                                "`sweep` is a table of parameter = [values] or a distribution, \
                                 e.g. sweep = { gamma = { uniform = [0.1, 0.9] } }",
                            ));
                        };
                        for (param, value) in sweep {
                            if t.contains_key(&param) {
                                return Err(Error::recipe_value(
                                    path,
                                    format!("{sweep_key}.{param}"),
                                    &param,
                                    "is also set outside `sweep`; set it in one place",
                                ));
                            }
                            let space =
                                parse_space(path, &format!("{sweep_key}.{param}"), &value, "any")?;
                            params.push((param, space));
                        }
                    }
                    toml::Value::Table(t)
                }
                other => other,
            };
            policies.push(PolicySpace {
                origin,
                entry,
                params,
            });
        }
        Ok(Self {
            key: key.to_string(),
            base,
            axes,
            policies,
        })
    }
}

/// One drawn configuration.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The block it was drawn from (index into the spaces).
    pub block: usize,
    /// The round it was drawn in.
    pub round: usize,
    /// The draw as a block of one-value lists, ready to expand.
    pub table: toml::Table,
    /// Drawn axis values.
    values: Vec<(String, toml::Value)>,
    /// The policy's `origin`.
    policy: usize,
    /// Drawn policy-parameter values.
    policy_values: Vec<(String, toml::Value)>,
    /// Ids of the runs it expanded to (set by the planner).
    pub run_ids: Vec<String>,
}

/// Round a drawn float to 4 significant digits: ids and reports stay readable, and a finer grain
/// means nothing for a learning rate.
fn round_sig(v: f64) -> f64 {
    format!("{v:.3e}").parse().unwrap_or(v)
}

fn draw_value(space: &Space, rng: &mut ChaCha8Rng) -> toml::Value {
    match space {
        Space::Choice(values) => values[rng.random_range(0..values.len())].clone(),
        Space::Uniform(lo, hi) => {
            toml::Value::Float(round_sig(lo + rng.random::<f64>() * (hi - lo)))
        }
        Space::LogUniform(lo, hi) => {
            let (a, b) = (lo.ln(), hi.ln());
            toml::Value::Float(round_sig((a + rng.random::<f64>() * (b - a)).exp()).clamp(*lo, *hi))
        }
        Space::IntUniform(lo, hi) => toml::Value::Integer(rng.random_range(*lo..=*hi)),
    }
}

/// A value as a TOML value of the type a grid axis expects (a float axis given an integer).
fn as_axis_value(axis: &str, value: toml::Value) -> toml::Value {
    match (axis_kind(axis), &value) {
        ("float", toml::Value::Integer(i)) => toml::Value::Float(*i as f64),
        _ => value,
    }
}

impl BlockSpace {
    /// Draw one configuration.
    fn draw(&self, block: usize, round: usize, rng: &mut ChaCha8Rng) -> Sample {
        let mut table = self.base.clone();
        let mut values = Vec::new();
        for (axis, space) in &self.axes {
            let v = as_axis_value(axis, draw_value(space, rng));
            table.insert(axis.clone(), toml::Value::Array(vec![v.clone()]));
            values.push((axis.clone(), v));
        }
        let policy = &self.policies[rng.random_range(0..self.policies.len())];
        let mut policy_values = Vec::new();
        let mut entry = policy.entry.clone();
        for (param, space) in &policy.params {
            let v = draw_value(space, rng);
            if let toml::Value::Table(t) = &mut entry {
                t.insert(param.clone(), v.clone());
            }
            policy_values.push((param.clone(), v));
        }
        table.insert("policy".into(), toml::Value::Array(vec![entry]));
        Sample {
            block,
            round,
            table,
            values,
            policy: policy.origin,
            policy_values,
            run_ids: Vec::new(),
        }
    }

    /// The space narrowed around `best` (configurations drawn from this block, best first):
    /// lists keep the values the best used; ranges shrink to the best values' span, padded by a
    /// quarter of it on each side (5 % of the old range when they agree), within the old range.
    fn narrowed(&self, best: &[&Sample]) -> BlockSpace {
        let values_of = |samples: &[&Sample], axis: &str, policy: bool| -> Vec<toml::Value> {
            samples
                .iter()
                .filter_map(|s| {
                    let list = if policy { &s.policy_values } else { &s.values };
                    list.iter().find(|(k, _)| k == axis).map(|(_, v)| v.clone())
                })
                .collect()
        };
        let axes = self
            .axes
            .iter()
            .map(|(axis, space)| (axis.clone(), narrow(space, &values_of(best, axis, false))))
            .collect();
        let kept: HashSet<usize> = best.iter().map(|s| s.policy).collect();
        let policies = self
            .policies
            .iter()
            .filter(|p| kept.contains(&p.origin))
            .map(|p| {
                let members: Vec<&Sample> = best
                    .iter()
                    .copied()
                    .filter(|s| s.policy == p.origin)
                    .collect();
                PolicySpace {
                    origin: p.origin,
                    entry: p.entry.clone(),
                    params: p
                        .params
                        .iter()
                        .map(|(k, space)| (k.clone(), narrow(space, &values_of(&members, k, true))))
                        .collect(),
                }
            })
            .collect();
        BlockSpace {
            key: self.key.clone(),
            base: self.base.clone(),
            axes,
            policies,
        }
    }
}

/// `space` narrowed to the span of `values` (see [`BlockSpace::narrowed`]).
fn narrow(space: &Space, values: &[toml::Value]) -> Space {
    if values.is_empty() {
        return space.clone();
    }
    let numbers: Vec<f64> = values
        .iter()
        .filter_map(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
        .collect();
    let span = |lo: f64, hi: f64| -> (f64, f64) {
        let a = numbers.iter().copied().fold(f64::INFINITY, f64::min);
        let b = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let pad = if b > a {
            0.25 * (b - a)
        } else {
            0.05 * (hi - lo)
        };
        ((a - pad).max(lo), (b + pad).min(hi))
    };
    match space {
        Space::Choice(all) => Space::Choice(
            all.iter()
                .filter(|v| values.contains(v))
                .cloned()
                .collect::<Vec<_>>(),
        ),
        _ if numbers.is_empty() => space.clone(),
        Space::Uniform(lo, hi) => {
            let (a, b) = span(*lo, *hi);
            Space::Uniform(a, b)
        }
        Space::LogUniform(lo, hi) => {
            let numbers_ln: Vec<f64> = numbers.iter().map(|v| v.ln()).collect();
            let a = numbers_ln.iter().copied().fold(f64::INFINITY, f64::min);
            let b = numbers_ln.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let (lo_ln, hi_ln) = (lo.ln(), hi.ln());
            let pad = if b > a {
                0.25 * (b - a)
            } else {
                0.05 * (hi_ln - lo_ln)
            };
            Space::LogUniform((a - pad).max(lo_ln).exp(), (b + pad).min(hi_ln).exp())
        }
        Space::IntUniform(lo, hi) => {
            let (a, b) = span(*lo as f64, *hi as f64);
            Space::IntUniform(a.floor() as i64, b.ceil() as i64)
        }
    }
}

/// The state of a sampled search: the blocks' spaces and every configuration drawn so far, so
/// later rounds can be planned from the corpus.
#[derive(Debug, Clone)]
pub struct SearchState {
    /// The settings.
    pub settings: SearchSettings,
    /// The recipe path (for messages).
    path: PathBuf,
    /// Each block's full space.
    spaces: Vec<BlockSpace>,
    /// Every configuration drawn, in plan order.
    pub samples: Vec<Sample>,
    /// Rounds planned so far.
    pub rounds_planned: usize,
}

/// Expands one drawn block (`key`, its table, the round) into runs.
pub type Expand<'a> = dyn FnMut(&str, &toml::Table, usize) -> Result<Vec<RunSpec>> + 'a;

impl SearchState {
    /// Parse every block's space.
    pub fn new(
        settings: SearchSettings,
        path: &Path,
        blocks: &[(String, &toml::Table)],
    ) -> Result<Self> {
        let spaces = blocks
            .iter()
            .map(|(key, table)| BlockSpace::parse(path, key, table))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            settings,
            path: path.to_path_buf(),
            spaces,
            samples: Vec::new(),
            rounds_planned: 0,
        })
    }

    /// Draw round `round` from `spaces` (one per block) and expand it; runs already planned (the
    /// same configuration drawn twice) are skipped.
    fn plan_round(
        &mut self,
        round: usize,
        spaces: &[BlockSpace],
        expand: &mut Expand<'_>,
        seen: &mut HashSet<String>,
    ) -> Result<Vec<RunSpec>> {
        let mut runs = Vec::new();
        for (block, space) in spaces.iter().enumerate() {
            // One stream per (round, block): adding a block or a round never changes the others.
            let mut rng = ChaCha8Rng::seed_from_u64(self.settings.seed);
            rng.set_stream((round as u64) << 32 | block as u64);
            for i in 0..self.settings.samples {
                let mut sample = space.draw(block, round, &mut rng);
                let key = format!("{} (round {round}, draw {i})", space.key);
                for mut run in expand(&key, &sample.table, round)? {
                    sample.run_ids.push(run.run_id.clone());
                    if seen.insert(run.run_id.clone()) {
                        run.round = Some(round as u32);
                        runs.push(run);
                    }
                }
                self.samples.push(sample);
            }
        }
        Ok(runs)
    }

    /// The first round's runs.
    pub fn first_round(&mut self, expand: &mut Expand<'_>) -> Result<Vec<RunSpec>> {
        let spaces = self.spaces.clone();
        let mut seen = HashSet::new();
        let runs = self.plan_round(0, &spaces, expand, &mut seen)?;
        self.rounds_planned = 1;
        Ok(runs)
    }

    /// Plan the next coarse-to-fine round if every run drawn so far has a result in `results`
    /// (run id → the metric, `None` for a run without a finite value); `None` when the search is
    /// complete or waits for runs still to train.
    pub fn next_round(
        &mut self,
        results: &HashMap<String, Option<f64>>,
        planned: &[RunSpec],
        expand: &mut Expand<'_>,
    ) -> Result<Option<Vec<RunSpec>>> {
        let s = &self.settings;
        if s.strategy != Strategy::CoarseToFine || self.rounds_planned >= s.rounds {
            return Ok(None);
        }
        if s.max_runs.is_some_and(|m| planned.len() >= m) {
            return Ok(None);
        }
        if !self
            .samples
            .iter()
            .all(|x| x.run_ids.iter().all(|id| results.contains_key(id)))
        {
            return Ok(None);
        }
        let metric = s.metric;
        let top_k = s.top_k;
        let narrowed: Vec<BlockSpace> = self
            .spaces
            .iter()
            .enumerate()
            .map(|(block, space)| {
                let mut scored: Vec<(f64, usize, &Sample)> = self
                    .samples
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| x.block == block)
                    .map(|(i, x)| {
                        let scores: Vec<f64> = x
                            .run_ids
                            .iter()
                            .map(|id| metric.score(results.get(id).copied().flatten()))
                            .collect();
                        let mean = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
                        (mean, i, x)
                    })
                    .collect();
                // Best first; ties keep draw order, so the ranking is deterministic.
                scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                let best: Vec<&Sample> = scored.iter().take(top_k).map(|(_, _, x)| *x).collect();
                space.narrowed(&best)
            })
            .collect();
        let round = self.rounds_planned;
        let mut seen: HashSet<String> = planned.iter().map(|r| r.run_id.clone()).collect();
        let runs = self.plan_round(round, &narrowed, expand, &mut seen)?;
        self.rounds_planned += 1;
        Ok(Some(runs))
    }

    /// The recipe this search came from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(text: &str, kind: &str) -> Result<Space> {
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("x = {text}"))
            .unwrap()
            .remove("x")
            .unwrap();
        parse_space(Path::new("r.toml"), "grid.x", &value, kind)
    }

    #[test]
    fn distributions_parse_and_bad_ones_name_the_fix() {
        assert_eq!(
            space("[1, 2]", "int").unwrap(),
            Space::Choice(vec![1.into(), 2.into()])
        );
        assert_eq!(
            space("{ log_uniform = [1e-3, 1.0] }", "float").unwrap(),
            Space::LogUniform(1e-3, 1.0)
        );
        assert_eq!(
            space("{ int_uniform = [32, 256] }", "int").unwrap(),
            Space::IntUniform(32, 256)
        );
        for (text, kind, needle) in [
            ("{ log_uniform = [0.0, 1.0] }", "float", "low > 0"),
            ("{ uniform = [1.0, 1.0] }", "float", "empty range"),
            ("{ int_uniform = [5, 1] }", "int", "empty range"),
            (
                "{ normal = [0.0, 1.0] }",
                "float",
                "unknown distribution `normal`",
            ),
            ("{ uniform = [0.0, 1.0] }", "int", "does not fit"),
            ("[]", "float", "empty list"),
        ] {
            let err = space(text, kind).unwrap_err().to_string();
            assert!(
                err.contains(needle) && err.contains("grid.x"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn narrowing_keeps_the_best_values_span_inside_the_old_range() {
        let v = |x: f64| toml::Value::Float(x);
        assert_eq!(
            narrow(&Space::Uniform(0.0, 1.0), &[v(0.25), v(0.75)]),
            Space::Uniform(0.125, 0.875)
        );
        assert_eq!(
            narrow(&Space::Uniform(0.0, 1.0), &[v(0.0)]),
            Space::Uniform(0.0, 0.05)
        );
        let Space::LogUniform(lo, hi) = narrow(&Space::LogUniform(1e-4, 1.0), &[v(1e-2), v(1e-1)])
        else {
            panic!()
        };
        assert!((lo.log10() + 2.25).abs() < 1e-9 && (hi.log10() + 0.75).abs() < 1e-9);
        assert_eq!(
            narrow(
                &Space::Choice(vec![32.into(), 64.into(), 128.into()]),
                &[128.into(), 32.into()]
            ),
            Space::Choice(vec![32.into(), 128.into()])
        );
    }
}
