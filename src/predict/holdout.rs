//! Train/test splits: the extreme-value holdout of one hyperparameter, and a random split of the
//! same size for contrast.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A named partition of the corpus rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Identifier, e.g. `extreme:base_lr` or `random:base_lr`.
    pub name: String,
    /// Plain description of what is held out.
    pub description: String,
    /// Training rows.
    pub train: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
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
    Ok(Split {
        name: format!("extreme:{hyperparameter}"),
        description: format!(
            "test = runs with {hyperparameter} ≤ {} or ≥ {} (bottom/top {}%); train = the runs in between",
            fmt_value(low),
            fmt_value(high),
            q * 100.0
        ),
        train,
        test,
    })
}

/// A random split with `test_size` test rows, seeded.
pub fn random_split(name: &str, n: usize, test_size: usize, seed: u64) -> Split {
    let mut rows: Vec<usize> = (0..n).collect();
    rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut test = rows[..test_size.min(n)].to_vec();
    let mut train = rows[test_size.min(n)..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    Split {
        name: format!("random:{name}"),
        description: format!(
            "test = {} runs drawn at random (same size as extreme:{name}), for contrast",
            test.len()
        ),
        train,
        test,
    }
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
        let held: Vec<f64> = split.test.iter().map(|&i| values[i]).collect();
        assert_eq!(held, vec![1e-4, 1e-4, 1e5, 1e5]);
        assert_eq!(split.train.len(), 16);
        assert!(
            split
                .train
                .iter()
                .all(|&i| values[i] > 1e-4 && values[i] < 1e5)
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
        assert_eq!(split.test, vec![1, 3, 5, 7]);
        assert_eq!(split.train, vec![0, 2, 4, 6]);
    }

    #[test]
    fn random_split_is_seeded_and_sized() {
        let a = random_split("base_lr", 50, 10, 3);
        assert_eq!(a, random_split("base_lr", 50, 10, 3));
        assert_ne!(a.test, random_split("base_lr", 50, 10, 4).test);
        assert_eq!((a.test.len(), a.train.len()), (10, 40));
    }

    #[test]
    fn quantile_interpolates_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert!((quantile(&v, 0.1) - 1.3).abs() < 1e-12);
        assert_eq!(quantile(&v, 1.0), 4.0);
    }
}
