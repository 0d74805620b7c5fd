//! One grid block of a recipe expanded into runs: validate its lists, parse its policies (with their
//! `sweep` tables) and take the Cartesian product. A recipe has one `[grid]` or several `[[grid]]`
//! blocks (e.g. image architectures on image tasks, sequence ones on sequences).

use std::path::Path;

use super::raw::{RawGrid, RawTrain};
use super::{SharedTrain, check_epochs, no_duplicates, non_empty, plan};
use crate::data::Task;
use crate::error::{Error, Result};
use crate::model::Arch;
use crate::recipe::RunSpec;
use crate::schedule::PolicySpec;
use crate::spec::KeyValueSpec;
use crate::train::{OptimizerKind, OptimizerSettings, TrainSettings};

/// How many runs the block `g` expands to, counted from its list lengths without expanding it (so
/// a grid of billions is refused before it fills memory); saturates instead of overflowing.
pub(crate) fn block_run_count(g: &RawGrid) -> u128 {
    let policies: u128 = g
        .policy
        .iter()
        .map(|value| match value.get("sweep") {
            Some(toml::Value::Table(sweep)) => sweep
                .values()
                .map(|v| v.as_array().map_or(1, |a| a.len() as u128))
                .fold(1u128, u128::saturating_mul),
            _ => 1,
        })
        .fold(0u128, u128::saturating_add);
    [
        g.task.len(),
        g.arch.len(),
        g.base_lr.len(),
        g.weight_decay.len(),
        g.momentum.len(),
        g.batch_size.len(),
        g.seed.len(),
        g.data_seed.as_ref().map_or(1, Vec::len),
        g.epochs.as_ref().map_or(1, Vec::len),
        g.optimizer.as_ref().map_or(1, Vec::len),
    ]
    .into_iter()
    .fold(policies, |n, len| n.saturating_mul(len as u128))
}

/// Every run of the block `g`, called `block` in messages (`grid`, or `grid[1]`).
pub(crate) fn expand_block(
    path: &Path,
    block: &str,
    g: &RawGrid,
    t: &RawTrain,
    shared: &SharedTrain,
) -> Result<Vec<RunSpec>> {
    let k = |name: &str| format!("{block}.{name}");
    let key = block;
    non_empty(path, &k("task"), &g.task)?;
    non_empty(path, &k("arch"), &g.arch)?;
    non_empty(path, &k("policy"), &g.policy)?;
    non_empty(path, &k("base_lr"), &g.base_lr)?;
    non_empty(path, &k("weight_decay"), &g.weight_decay)?;
    non_empty(path, &k("momentum"), &g.momentum)?;
    non_empty(path, &k("batch_size"), &g.batch_size)?;
    non_empty(path, &k("seed"), &g.seed)?;
    // -0.0 is 0.0: without this, `weight_decay = [0.0, -0.0]` trains one run under two ids.
    let positive_zero = |values: &[f64]| values.iter().map(|v| v + 0.0).collect::<Vec<f64>>();
    let (base_lrs, weight_decays, momenta) = (
        positive_zero(&g.base_lr),
        positive_zero(&g.weight_decay),
        positive_zero(&g.momentum),
    );
    for (key, values) in [
        (&k("base_lr"), &base_lrs),
        (&k("weight_decay"), &weight_decays),
        (&k("momentum"), &momenta),
    ] {
        no_duplicates(path, key, values)?;
    }
    no_duplicates(path, &k("batch_size"), &g.batch_size)?;
    no_duplicates(path, &k("seed"), &g.seed)?;

    let tasks = g
        .task
        .iter()
        .map(|t| {
            KeyValueSpec::parse(t)
                .and_then(|s| Task::from_spec(&s))
                .map_err(|message| Error::recipe_value(path, k("task"), format!("{t:?}"), message))
        })
        .collect::<Result<Vec<_>>>()?;
    let archs = g
        .arch
        .iter()
        .map(|a| {
            KeyValueSpec::parse(a)
                .and_then(|s| Arch::from_spec(&s))
                .map_err(|message| Error::recipe_value(path, k("arch"), format!("{a:?}"), message))
        })
        .collect::<Result<Vec<_>>>()?;
    no_duplicates(
        path,
        &k("arch"),
        &archs.iter().map(Arch::spec_string).collect::<Vec<_>>(),
    )?;
    for task in &tasks {
        for arch in &archs {
            arch.check_input(&task.shape()).map_err(|message| {
                Error::recipe_value(
                    path,
                    k("arch"),
                    format!("{:?}", arch.spec_string()),
                    format!("cannot train on task `{}`: {message}", task.spec_string()),
                )
            })?;
        }
    }
    let mut policies = Vec::new();
    for (i, value) in g.policy.iter().enumerate() {
        policies.extend(parse_policy(path, key, i, value)?);
    }
    no_duplicates(
        path,
        &k("policy"),
        &policies.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
    )?;

    for &lr in &base_lrs {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::recipe_value(
                path,
                k("base_lr"),
                lr,
                "learning rates must be positive and finite, e.g. 0.1",
            ));
        }
    }
    for &wd in &weight_decays {
        if !(wd.is_finite() && wd >= 0.0) {
            return Err(Error::recipe_value(
                path,
                k("weight_decay"),
                wd,
                "weight decay must be ≥ 0 and finite, e.g. 5e-4",
            ));
        }
    }
    for &m in &momenta {
        if !(0.0..1.0).contains(&m) {
            return Err(Error::recipe_value(
                path,
                k("momentum"),
                m,
                "momentum (SGD μ, or Adam's β₁) must be in [0, 1), e.g. 0.9",
            ));
        }
    }
    for &b in &g.batch_size {
        if !(1..=1 << 20).contains(&b) {
            return Err(Error::recipe_value(
                path,
                k("batch_size"),
                b,
                "batch size must be a positive integer, e.g. 128",
            ));
        }
    }
    let seeds = non_negative_seeds(path, &k("seed"), &g.seed)?;
    let optimizers = validate_optimizers(path, key, g.optimizer.as_ref(), t)?;
    let data_seeds: Option<Vec<u64>> = match &g.data_seed {
        None => None,
        Some(seeds) => {
            non_empty(path, &k("data_seed"), seeds)?;
            no_duplicates(path, &k("data_seed"), seeds)?;
            Some(non_negative_seeds(path, &k("data_seed"), seeds)?)
        }
    };
    let epochs_list: Vec<i64> = match &g.epochs {
        None => vec![t.epochs],
        Some(list) => {
            non_empty(path, &k("epochs"), list)?;
            no_duplicates(path, &k("epochs"), list)?;
            for &e in list {
                check_epochs(path, &k("epochs"), e)?;
            }
            list.clone()
        }
    };
    for task in &tasks {
        for &batch_size in &g.batch_size {
            check_run_length(
                path,
                block,
                task,
                shared,
                batch_size as usize,
                &epochs_list,
                t,
            )?;
        }
    }
    let mut runs = Vec::new();
    for task in &tasks {
        for arch in &archs {
            for (policy_index, policy) in policies.iter().enumerate() {
                for &base_lr in &base_lrs {
                    for &weight_decay in &weight_decays {
                        for &momentum in &momenta {
                            for (&batch_size, &epochs) in g
                                .batch_size
                                .iter()
                                .flat_map(|b| epochs_list.iter().map(move |e| (b, e)))
                            {
                                let ctx = plan::schedule_context(
                                    task,
                                    shared.validation,
                                    batch_size as usize,
                                    epochs as usize,
                                );
                                let (policy, lr_policy) =
                                    plan::policy_for_run(policy, base_lr, &ctx).map_err(
                                        |source| {
                                            Error::policy(
                                                format!(
                                                    "{}: {key}.policy[{policy_index}] with base_lr {base_lr}, batch_size {batch_size}",
                                                    path.display()
                                                ),
                                                source,
                                            )
                                        },
                                    )?;
                                for (optimizer, &seed) in optimizers
                                    .iter()
                                    .flat_map(|o| seeds.iter().map(move |s| (o, s)))
                                {
                                    for data_seed in
                                        data_seeds.clone().unwrap_or_else(|| vec![seed])
                                    {
                                        let settings = TrainSettings {
                                            epochs: epochs as usize,
                                            batch_size: batch_size as usize,
                                            seed,
                                            data_seed,
                                            momentum,
                                            weight_decay,
                                            optimizer: *optimizer,
                                            label_smoothing: t.label_smoothing,
                                            divergence_factor: t.divergence_factor,
                                            target_accuracy: t.target_accuracy,
                                            trace_every: t.trace_every as u64,
                                        };
                                        runs.push(RunSpec::new(
                                            task.clone(),
                                            arch.clone(),
                                            policy.clone(),
                                            lr_policy.clone(),
                                            base_lr,
                                            settings,
                                            shared.validation,
                                            ctx.steps_per_epoch,
                                        ));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(runs)
}

/// Most optimizer steps one run may take: at the fastest measured step (≈ 0.3 ms, the MNIST-1D MLP)
/// this is most of an hour; more is a typo (epochs for steps, a batch of 1), refused before training.
pub(crate) const MAX_STEPS_PER_RUN: u64 = 10_000_000;

/// Most weight-norm trace points one run records (`train.trace_every`): each is a row of every
/// BN-fed layer's norm, kept in memory until the run is written.
const MAX_TRACE_POINTS: u64 = 1_000_000;

/// Error unless a run of `task` at `batch_size` fits its training split and the step bounds, for
/// every length in `epochs_list`.
fn check_run_length(
    path: &Path,
    block: &str,
    task: &Task,
    shared: &SharedTrain,
    batch_size: usize,
    epochs_list: &[i64],
    t: &RawTrain,
) -> Result<()> {
    let n_train = task.train_size()
        - shared.validation.map_or(0, |v| {
            crate::data::validation_size(task.train_size(), v.fraction)
        });
    if batch_size > n_train {
        return Err(Error::recipe_value(
            path,
            format!("{block}.batch_size"),
            batch_size,
            format!(
                "larger than the {n_train} training examples of `{}`; choose at most {n_train} \
                 (or a larger task)",
                task.spec_string()
            ),
        ));
    }
    for &epochs in epochs_list {
        let steps = plan::schedule_context(task, shared.validation, batch_size, epochs as usize)
            .total_steps;
        if steps > MAX_STEPS_PER_RUN {
            return Err(Error::recipe_value(
                path,
                format!("{block}.batch_size"),
                batch_size,
                format!(
                    "with {epochs} epochs of `{}` a run takes {steps} steps, over the \
                     {MAX_STEPS_PER_RUN} one run may take; raise the batch size or lower the epochs",
                    task.spec_string()
                ),
            ));
        }
        if t.trace_every > 0 && steps / t.trace_every as u64 > MAX_TRACE_POINTS {
            return Err(Error::recipe_value(
                path,
                "train.trace_every",
                t.trace_every,
                format!(
                    "records {} points over a run of {steps} steps, over {MAX_TRACE_POINTS}; \
                     trace less often",
                    steps / t.trace_every as u64
                ),
            ));
        }
    }
    Ok(())
}

/// The optimizers of the grid (`grid.optimizer`, else `train.optimizer`, else SGD) with the
/// `[train]` settings that go with them.
fn validate_optimizers(
    path: &Path,
    block: &str,
    grid_optimizers: Option<&Vec<String>>,
    t: &RawTrain,
) -> Result<Vec<OptimizerSettings>> {
    let grid_key = format!("{block}.optimizer");
    let (key, names) = match (grid_optimizers, &t.optimizer) {
        (Some(_), Some(single)) => {
            return Err(Error::recipe_value(
                path,
                "train.optimizer",
                format!("{single:?}"),
                format!("{grid_key} is also given; list the optimizers in one place"),
            ));
        }
        (Some(list), None) => (grid_key.as_str(), list.clone()),
        (None, Some(single)) => ("train.optimizer", vec![single.clone()]),
        (None, None) => ("train.optimizer", vec!["sgd".to_string()]),
    };
    non_empty(path, key, &names)?;
    no_duplicates(path, key, &names)?;
    if !(0.0..1.0).contains(&t.beta2) {
        return Err(Error::recipe_value(
            path,
            "train.beta2",
            t.beta2,
            "Adam's β₂ must be in [0, 1), e.g. 0.999",
        ));
    }
    if !(t.eps.is_finite() && t.eps > 0.0) {
        return Err(Error::recipe_value(
            path,
            "train.eps",
            t.eps,
            "Adam's ε must be positive, e.g. 1e-8",
        ));
    }
    if let Some(max_norm) = t.clip_grad_norm
        && !(max_norm.is_finite() && max_norm > 0.0)
    {
        return Err(Error::recipe_value(
            path,
            "train.clip_grad_norm",
            max_norm,
            "the gradient-norm bound must be positive, e.g. 1.0 (or remove the key)",
        ));
    }
    names
        .iter()
        .map(|name| {
            let kind = OptimizerKind::parse(name)
                .map_err(|message| Error::recipe_value(path, key, format!("{name:?}"), message))?;
            if kind != OptimizerKind::Sgd && (t.nesterov || t.decoupled_weight_decay) {
                return Err(Error::recipe_value(
                    path,
                    if t.nesterov {
                        "train.nesterov"
                    } else {
                        "train.decoupled_weight_decay"
                    },
                    "true",
                    format!(
                        "applies to sgd only, not {name}; use adamw for Adam with decoupled weight decay"
                    ),
                ));
            }
            Ok(OptimizerSettings {
                kind,
                nesterov: t.nesterov,
                decoupled_weight_decay: t.decoupled_weight_decay || kind == OptimizerKind::AdamW,
                beta2: t.beta2,
                eps: t.eps,
                clip_grad_norm: t.clip_grad_norm,
            })
        })
        .collect()
}

/// `seeds` as unsigned integers; the first negative one is an error naming `key`.
fn non_negative_seeds(path: &Path, key: &str, seeds: &[i64]) -> Result<Vec<u64>> {
    seeds
        .iter()
        .map(|&s| {
            u64::try_from(s).map_err(|_| {
                Error::recipe_value(path, key, s, "seeds must be non-negative integers")
            })
        })
        .collect()
}

/// A grid policy entry: a spec string, or a TOML table that may sweep its own parameters with a
/// `sweep` sub-table (`{ name = "step", step_size = "2ep", sweep = { gamma = [0.1, 0.3, 0.5] } }`
/// is three policies). The base LR comes from `grid.base_lr`, so an entry must not set the policy's
/// primary LR parameter itself.
fn parse_policy(
    path: &Path,
    block: &str,
    index: usize,
    value: &toml::Value,
) -> Result<Vec<PolicySpec>> {
    let key = format!("{block}.policy[{index}]");
    let tables = match value {
        toml::Value::String(_) => vec![value.clone()],
        toml::Value::Table(table) => expand_sweep(path, &key, table)?,
        other => {
            return Err(Error::recipe_value(
                path,
                key,
                other,
                "a policy is a spec string such as \"cosine\" or a table such as { name = \"step\", gamma = 0.5 }",
            ));
        }
    };
    let mut specs = Vec::new();
    for value in &tables {
        let spec = PolicySpec::from_toml_value(value)
            .map_err(|source| Error::policy(format!("{}: {key}", path.display()), source))?;
        if let Some(primary) = spec.primary_lr_key()
            && spec.param(primary).is_some()
        {
            return Err(Error::recipe_value(
                path,
                key,
                format!("{:?}", spec.to_string()),
                format!(
                    "sets `{primary}`, which grid.base_lr sweeps; remove `{primary}` from the policy"
                ),
            ));
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// Expand a policy table's `sweep = { key = [v1, v2, …], … }` into one table per combination.
fn expand_sweep(path: &Path, key: &str, table: &toml::Table) -> Result<Vec<toml::Value>> {
    let mut base = table.clone();
    let Some(sweep) = base.remove("sweep") else {
        return Ok(vec![toml::Value::Table(base)]);
    };
    let sweep_key = format!("{key}.sweep");
    let toml::Value::Table(sweep) = sweep else {
        return Err(Error::recipe_value(
            path,
            sweep_key,
            sweep,
            "`sweep` is a table of parameter = [values], e.g. sweep = { gamma = [0.1, 0.5] }",
        ));
    };
    let mut combos = vec![base];
    for (param, values) in sweep {
        let values = match values {
            toml::Value::Array(values) if !values.is_empty() => values,
            other => {
                return Err(Error::recipe_value(
                    path,
                    format!("{sweep_key}.{param}"),
                    other,
                    "give a non-empty list of values to sweep, e.g. [0.1, 0.5]",
                ));
            }
        };
        if combos[0].contains_key(&param) {
            return Err(Error::recipe_value(
                path,
                format!("{sweep_key}.{param}"),
                &param,
                "is also set outside `sweep`; set it in one place",
            ));
        }
        combos = combos
            .into_iter()
            .flat_map(|c| {
                let param = &param;
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.insert(param.clone(), v.clone());
                    c
                })
            })
            .collect();
    }
    Ok(combos.into_iter().map(toml::Value::Table).collect())
}
