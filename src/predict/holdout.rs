//! Holdout protocols: the extreme-value holdout of one hyperparameter, a grouped random split of
//! the same size for contrast, leave-one-group-out (the lead extrapolation protocol: a whole
//! task × architecture × policy curve unseen), and grouped K-fold as the interpolation contrast.
//! Random splits keep a configuration's seeds together, so a twin seed never leaks into training.

use std::collections::{BTreeMap, BTreeSet};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// One train/test partition of the corpus rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fold {
    /// What this fold holds out (e.g. the group's name).
    pub label: String,
    /// Training rows.
    pub train: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
}

/// A named protocol: one or more folds whose test sets are disjoint; every model is scored on the
/// pooled predictions of all test sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Identifier, e.g. `extreme:base_lr`, `random:base_lr`, `logo:task+arch+policy`, `kfold:5`.
    pub name: String,
    /// Plain description of what is held out.
    pub description: String,
    /// The folds.
    pub folds: Vec<Fold>,
}

impl Split {
    /// A protocol of one fold.
    fn single(name: String, description: String, train: Vec<usize>, test: Vec<usize>) -> Self {
        Split {
            folds: vec![Fold {
                label: name.clone(),
                train,
                test,
            }],
            name,
            description,
        }
    }

    /// Test rows over all folds.
    pub fn n_test(&self) -> usize {
        self.folds.iter().map(|f| f.test.len()).sum()
    }

    /// Mean training rows per fold (rounded down).
    pub fn n_train(&self) -> usize {
        self.folds.iter().map(|f| f.train.len()).sum::<usize>() / self.folds.len().max(1)
    }
}

/// Empirical quantile with linear interpolation between order statistics (NumPy's default).
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Hold out the rows whose `values` lie at or below the `q` quantile or at or above the `1 − q`
/// quantile; train on the rows strictly between. On a grid, a quantile that falls between two grid
/// values holds out nothing beyond the smaller one, so the held-out set is always whole grid values.
/// Errors (with the reason) when either side would be empty.
pub fn extreme_value_split(hyperparameter: &str, values: &[f64], q: f64) -> Result<Split, String> {
    // Runs without the hyperparameter (NaN: a policy that lacks it) always train.
    let present: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if present.is_empty() {
        return Err(format!("no run has `{hyperparameter}`"));
    }
    let (low, high) = (quantile(&present, q), quantile(&present, 1.0 - q));
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (i, &v) in values.iter().enumerate() {
        if !v.is_nan() && (v <= low || v >= high) {
            test.push(i);
        } else {
            train.push(i);
        }
    }
    if train.is_empty() {
        return Err(format!(
            "holding out `{hyperparameter}` ≤ {low} and ≥ {high} (quantile {q}) leaves no training runs; \
             add intermediate values to the grid or lower fit.quantile"
        ));
    }
    if test.is_empty() {
        return Err(format!("no run has an extreme `{hyperparameter}`"));
    }
    let held = held_values(values, &test);
    let description = format!(
        "test = the {} runs ({:.0}% of {}) with {hyperparameter} ≤ {} or ≥ {} (values {}: quantile \
         {q} at each end); train = the runs in between",
        test.len(),
        100.0 * test.len() as f64 / values.len() as f64,
        values.len(),
        fmt_value(low),
        fmt_value(high),
        held.join(", "),
    );
    Ok(Split::single(
        format!("extreme:{hyperparameter}"),
        description,
        train,
        test,
    ))
}

/// The extreme-value holdout among the runs that trained: the quantiles are taken over the values
/// of runs that neither diverged nor collapsed (`trained[i]`), the test set is the trained runs at
/// or beyond them, and training uses every run strictly inside (whatever its outcome). Failed runs
/// at the extremes are left out of both sides, so the score is about accuracy where training
/// works, not about recognising failures (the failure classifier is scored for that).
pub fn extreme_trained_split(
    hyperparameter: &str,
    values: &[f64],
    trained: &[bool],
    q: f64,
) -> Result<Split, String> {
    let present: Vec<f64> = values
        .iter()
        .zip(trained)
        .filter(|(v, t)| **t && !v.is_nan())
        .map(|(v, _)| *v)
        .collect();
    if present.is_empty() {
        return Err(format!("no run that trained has `{hyperparameter}`"));
    }
    let (low, high) = (quantile(&present, q), quantile(&present, 1.0 - q));
    let (mut train, mut test, mut left_out) = (Vec::new(), Vec::new(), 0usize);
    for (i, &v) in values.iter().enumerate() {
        let extreme = !v.is_nan() && (v <= low || v >= high);
        match (extreme, trained[i]) {
            (false, _) => train.push(i),
            (true, true) => test.push(i),
            (true, false) => left_out += 1,
        }
    }
    if train.is_empty() || test.is_empty() {
        return Err(format!(
            "the runs that trained span too few `{hyperparameter}` values to hold out both ends"
        ));
    }
    let held = held_values(values, &test);
    let description = format!(
        "test = the {} runs that trained with {hyperparameter} ≤ {} or ≥ {} (values {}: quantile \
         {q} at each end of the runs that trained); train = the {} runs in between; {} failed \
         runs at those values left out",
        test.len(),
        fmt_value(low),
        fmt_value(high),
        held.join(", "),
        train.len(),
        left_out,
    );
    Ok(Split::single(
        format!("extreme_trained:{hyperparameter}"),
        description,
        train,
        test,
    ))
}

/// Extrapolation along the training budget: with more than one `epochs` value in the corpus, test
/// on the runs with the longest budget after training on the shorter ones. `None` otherwise.
pub fn longest_budget_split(epochs: &[f64]) -> Option<Split> {
    let longest = epochs
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .reduce(f64::max)?;
    let (test, train): (Vec<usize>, Vec<usize>) =
        (0..epochs.len()).partition(|&i| epochs[i] == longest);
    if train.is_empty() {
        return None;
    }
    let description = format!(
        "test = the {} runs with the longest budget ({} epochs); train = the {} runs with \
         shorter budgets",
        test.len(),
        fmt_value(longest),
        train.len()
    );
    Some(Split::single(
        "budget:epochs".into(),
        description,
        train,
        test,
    ))
}

/// Configuration groups in a seeded random order (each group: the rows of one configuration).
fn shuffled_groups(configs: &[String], seed: u64) -> Vec<Vec<usize>> {
    let mut by: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in configs.iter().enumerate() {
        by.entry(c).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = by.into_values().collect();
    groups.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    groups
}

/// A random split with about `test_size` test rows, seeded; the rows of one configuration
/// (`configs[i]`: row `i`'s configuration without its seed) stay on one side.
pub fn random_split(name: &str, configs: &[String], test_size: usize, seed: u64) -> Split {
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for group in shuffled_groups(configs, seed) {
        if test.len() < test_size {
            test.extend(group);
        } else {
            train.extend(group);
        }
    }
    test.sort_unstable();
    train.sort_unstable();
    let description = format!(
        "test = {} runs drawn at random by configuration (all seeds of a configuration on one \
         side; same size as extreme:{name}), for contrast",
        test.len()
    );
    Split::single(format!("random:{name}"), description, train, test)
}

/// Leave one group out: one fold per distinct `keys[i]`, testing on that group after training on
/// all others. `None` when there are fewer than 2 groups.
pub fn leave_one_group_out(name: &str, what: &str, keys: &[String]) -> Option<Split> {
    let groups: BTreeSet<&String> = keys.iter().collect();
    if groups.len() < 2 {
        return None;
    }
    let folds = groups
        .into_iter()
        .map(|g| {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..keys.len()).partition(|&i| &keys[i] == g);
            Fold {
                label: g.clone(),
                train,
                test,
            }
        })
        .collect::<Vec<_>>();
    Some(Split {
        name: format!("logo:{name}"),
        description: format!(
            "each of the {} {what} groups held out in turn (its whole LR curve unseen), trained \
             on all the others",
            folds.len()
        ),
        folds,
    })
}

/// Grouped K-fold: configurations shuffled (seeded) and dealt into `k` folds; the interpolation
/// contrast. `None` when there are fewer than `k` configurations.
pub fn grouped_kfold(configs: &[String], k: usize, seed: u64) -> Option<Split> {
    let groups = shuffled_groups(configs, seed);
    if k < 2 || groups.len() < k {
        return None;
    }
    let mut fold_of = vec![0; configs.len()];
    for (g, rows) in groups.iter().enumerate() {
        for &i in rows {
            fold_of[i] = g % k;
        }
    }
    let folds = (0..k)
        .map(|f| {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..configs.len()).partition(|&i| fold_of[i] == f);
            Fold {
                label: format!("fold {}", f + 1),
                train,
                test,
            }
        })
        .collect();
    Some(Split {
        name: format!("kfold:{k}"),
        description: format!(
            "random {k}-fold by configuration (seeds kept together): interpolation, for contrast"
        ),
        folds,
    })
}

/// The distinct values of the `test` rows, formatted, smallest first.
fn held_values(values: &[f64], test: &[usize]) -> Vec<String> {
    let held: BTreeSet<u64> = test.iter().map(|&i| values[i].to_bits()).collect();
    held.into_iter()
        .map(|b| fmt_value(f64::from_bits(b)))
        .collect()
}

fn fmt_value(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e4) {
        format!("{v:.3e}")
    } else {
        format!("{}", (v * 1e6).round() / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_split_takes_both_tails_of_a_grid() {
        // Ten grid values, two runs each.
        let values: Vec<f64> = (0..20).map(|i| 10f64.powi(i / 2 - 4)).collect();
        let split = extreme_value_split("base_lr", &values, 0.1).unwrap();
        let fold = &split.folds[0];
        let held: Vec<f64> = fold.test.iter().map(|&i| values[i]).collect();
        assert_eq!(held, vec![1e-4, 1e-4, 1e5, 1e5]);
        assert_eq!(fold.train.len(), 16);
        assert!(
            fold.train
                .iter()
                .all(|&i| values[i] > 1e-4 && values[i] < 1e5)
        );
        assert!(
            split.description.contains("4 runs (20% of 20)"),
            "{}",
            split.description
        );
    }

    #[test]
    fn extreme_split_reports_impossible_cases() {
        assert!(extreme_value_split("x", &[1.0, 2.0], 0.1).is_err());
        assert!(extreme_value_split("x", &[], 0.1).is_err());
        assert!(extreme_value_split("x", &[f64::NAN, f64::NAN], 0.1).is_err());
    }

    #[test]
    fn runs_without_the_parameter_always_train() {
        let values = [f64::NAN, 0.1, 0.3, 0.5, f64::NAN, 0.1, 0.3, 0.5];
        let split = extreme_value_split("p_gamma", &values, 0.1).unwrap();
        assert_eq!(split.folds[0].test, vec![1, 3, 5, 7]);
        assert_eq!(split.folds[0].train, vec![0, 2, 4, 6]);
    }

    #[test]
    fn random_splits_are_seeded_sized_and_keep_seeds_together() {
        // 25 configurations × 2 seeds.
        let configs: Vec<String> = (0..50).map(|i| format!("c{}", i / 2)).collect();
        let a = random_split("base_lr", &configs, 10, 3);
        assert_eq!(a, random_split("base_lr", &configs, 10, 3));
        assert_ne!(
            a.folds[0].test,
            random_split("base_lr", &configs, 10, 4).folds[0].test
        );
        assert_eq!((a.n_test(), a.n_train()), (10, 40));
        let k = grouped_kfold(&configs, 5, 0).unwrap();
        let mut all: Vec<usize> = k.folds.iter().flat_map(|f| f.test.clone()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        for split in [&a, &k] {
            for f in &split.folds {
                for &i in &f.test {
                    let twin = i ^ 1;
                    assert!(f.test.contains(&twin), "seed twins split apart");
                }
            }
        }
    }

    #[test]
    fn leave_one_group_out_has_a_fold_per_group() {
        let keys: Vec<String> = ["a", "b", "a", "c"].iter().map(|s| s.to_string()).collect();
        let s = leave_one_group_out("arch", "architecture", &keys).unwrap();
        assert_eq!(s.folds.len(), 3);
        assert_eq!(
            (s.folds[0].test.clone(), s.folds[0].train.clone()),
            (vec![0, 2], vec![1, 3])
        );
        assert!(leave_one_group_out("arch", "architecture", &keys[..1]).is_none());
    }

    #[test]
    fn quantile_interpolates_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert!((quantile(&v, 0.1) - 1.3).abs() < 1e-12);
        assert_eq!(quantile(&v, 1.0), 4.0);
    }

    #[test]
    fn extremes_among_trained_runs_leave_failed_extremes_out() {
        // LRs 1..=5, two runs each; the runs at LR 5 failed.
        let values: Vec<f64> = (0..10).map(|i| (i / 2 + 1) as f64).collect();
        let trained: Vec<bool> = values.iter().map(|&v| v < 5.0).collect();
        let split = extreme_trained_split("base_lr", &values, &trained, 0.1).unwrap();
        let fold = &split.folds[0];
        let held: Vec<f64> = fold.test.iter().map(|&i| values[i]).collect();
        assert_eq!(held, vec![1.0, 1.0, 4.0, 4.0]);
        assert_eq!(fold.train, vec![2, 3, 4, 5]);
        assert!(
            split.description.contains("2 failed runs"),
            "{}",
            split.description
        );
        assert!(extreme_trained_split("x", &values, &[false; 10], 0.1).is_err());
    }

    #[test]
    fn the_longest_budget_is_held_out() {
        let epochs = [5.0, 10.0, 20.0, 20.0, 5.0];
        let split = longest_budget_split(&epochs).unwrap();
        assert_eq!(split.folds[0].test, vec![2, 3]);
        assert_eq!(split.folds[0].train, vec![0, 1, 4]);
        assert!(longest_budget_split(&[5.0, 5.0]).is_none());
    }
}
