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
    for (key, values) in [
        (&k("base_lr"), &g.base_lr),
        (&k("weight_decay"), &g.weight_decay),
        (&k("momentum"), &g.momentum),
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

    for &lr in &g.base_lr {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::recipe_value(
                path,
                k("base_lr"),
                lr,
                "learning rates must be positive and finite, e.g. 0.1",
            ));
        }
    }
    for &wd in &g.weight_decay {
        if !(wd.is_finite() && wd >= 0.0) {
            return Err(Error::recipe_value(
                path,
                k("weight_decay"),
                wd,
                "weight decay must be ≥ 0 and finite, e.g. 5e-4",
            ));
        }
    }
    for &m in &g.momentum {
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
    let mut runs = Vec::new();
    for task in &tasks {
        for arch in &archs {
            for (policy_index, policy) in policies.iter().enumerate() {
                for &base_lr in &g.base_lr {
                    for &weight_decay in &g.weight_decay {
                        for &momentum in &g.momentum {
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
