//! Regression scores: R², MAE, RMSE and Spearman rank correlation.

use serde::{Deserialize, Serialize};

/// Scores of one model on one test set. Undefined scores (R² on a constant target, Spearman with a
/// constant prediction) are `None` rather than a made-up number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Coefficient of determination against the test set's own mean.
    pub r2: Option<f64>,
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Spearman rank correlation (ties get average ranks).
    pub spearman: Option<f64>,
}

/// Score `predicted` against `actual`.
pub fn score(actual: &[f64], predicted: &[f64]) -> Scores {
    assert_eq!(actual.len(), predicted.len());
    let n = actual.len().max(1) as f64;
    let mean = actual.iter().sum::<f64>() / n;
    let ss_tot: f64 = actual.iter().map(|a| (a - mean).powi(2)).sum();
    let ss_res: f64 = actual
        .iter()
        .zip(predicted)
        .map(|(a, p)| (a - p).powi(2))
        .sum();
    let mae = actual
        .iter()
        .zip(predicted)
        .map(|(a, p)| (a - p).abs())
        .sum::<f64>()
        / n;
    Scores {
        r2: (ss_tot > 0.0).then(|| 1.0 - ss_res / ss_tot),
        mae,
        rmse: (ss_res / n).sqrt(),
        spearman: spearman(actual, predicted),
    }
}

/// Ranks from 1, ties sharing their average rank.
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// Pearson correlation; `None` when either side is constant.
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len() as f64;
    if a.len() < 2 {
        return None;
    }
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    (va > 0.0 && vb > 0.0).then(|| cov / (va * vb).sqrt())
}

/// Spearman rank correlation.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    pearson(&average_ranks(a), &average_ranks(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_and_constant_predictions() {
        let y = [0.1, 0.5, 0.9, 0.3];
        let s = score(&y, &y);
        assert_eq!(s.r2, Some(1.0));
        assert_eq!(s.mae, 0.0);
        assert_eq!(s.spearman, Some(1.0));
        let s = score(&y, &[0.45; 4]);
        assert!(s.r2.unwrap() < 0.0 + 1e-9);
        assert_eq!(s.spearman, None);
        assert!((s.mae - 0.25).abs() < 1e-12);
    }

    #[test]
    fn ranks_with_ties_and_monotone_spearman() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
        // Monotone but non-linear: Spearman 1, Pearson below 1.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [1.0, 4.0, 9.0, 16.0, 100.0];
        assert!((spearman(&a, &b).unwrap() - 1.0).abs() < 1e-12);
        assert!(pearson(&a, &b).unwrap() < 0.99);
        let rev: Vec<f64> = b.iter().rev().copied().collect();
        assert!((spearman(&a, &rev).unwrap() + 1.0).abs() < 1e-12);
    }
}
