//! Regression scores: R², MAE, RMSE, Spearman and Kendall rank correlation, top-1 regret, and how
//! well a held-out LR curve's optimum is found.

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
    /// Kendall's τ-b.
    #[serde(default)]
    pub kendall: Option<f64>,
    /// Rows scored.
    #[serde(default)]
    pub n: usize,
    /// Top-1 regret, averaged over folds: the best accuracy in the fold's test set minus the
    /// accuracy of the run the model ranks first there.
    #[serde(default)]
    pub regret: Option<f64>,
    /// Where the model puts each held-out LR curve's optimum (leave-one-group-out only).
    #[serde(default)]
    pub optimum: Option<OptimumScores>,
    /// Share of held-out runs inside the model's 80 % prediction interval (models with one).
    #[serde(default)]
    pub coverage: Option<f64>,
    /// Mean width of that interval.
    #[serde(default)]
    pub interval_width: Option<f64>,
    /// 90 % bootstrap confidence intervals of the scores (resampling whole configurations).
    #[serde(default)]
    pub ci: Option<ScoreIntervals>,
}

/// 90 % confidence intervals `[5th, 95th percentile]` of scores over bootstrap resamples of the
/// test set, drawn by configuration (a configuration's seeds stay together).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreIntervals {
    /// Resamples drawn.
    pub resamples: usize,
    /// MAE.
    pub mae: [f64; 2],
    /// RMSE.
    pub rmse: [f64; 2],
    /// R² (absent when a resample had a constant target).
    pub r2: Option<[f64; 2]>,
    /// Spearman (absent when a resample had a constant side).
    pub spearman: Option<[f64; 2]>,
}

/// Bootstrap resamples behind [`ScoreIntervals`].
pub const BOOTSTRAP_RESAMPLES: usize = 200;

/// Cluster bootstrap of MAE, RMSE, R² and Spearman: `clusters[i]` names row `i`'s configuration;
/// each resample draws as many clusters as there are, with replacement (seeded). `None` with fewer
/// than 2 clusters.
pub fn bootstrap_intervals(
    actual: &[f64],
    predicted: &[f64],
    clusters: &[&str],
    seed: u64,
) -> Option<ScoreIntervals> {
    use rand::{Rng, SeedableRng};
    let mut rows_of: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, c) in clusters.iter().enumerate() {
        rows_of.entry(c).or_default().push(i);
    }
    let groups: Vec<Vec<usize>> = rows_of.into_values().collect();
    if groups.len() < 2 {
        return None;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (mut mae, mut rmse, mut r2, mut rho) = (vec![], vec![], Some(vec![]), Some(vec![]));
    let (mut a, mut p) = (Vec::new(), Vec::new());
    for _ in 0..BOOTSTRAP_RESAMPLES {
        a.clear();
        p.clear();
        for _ in 0..groups.len() {
            for &i in &groups[rng.random_range(0..groups.len())] {
                a.push(actual[i]);
                p.push(predicted[i]);
            }
        }
        let n = a.len() as f64;
        let mean = a.iter().sum::<f64>() / n;
        let ss_tot: f64 = a.iter().map(|v| (v - mean).powi(2)).sum();
        let ss_res: f64 = a.iter().zip(&p).map(|(x, y)| (x - y).powi(2)).sum();
        mae.push(a.iter().zip(&p).map(|(x, y)| (x - y).abs()).sum::<f64>() / n);
        rmse.push((ss_res / n).sqrt());
        r2 = r2.and_then(|mut v: Vec<f64>| {
            (ss_tot > 0.0).then(|| {
                v.push(1.0 - ss_res / ss_tot);
                v
            })
        });
        rho = rho.and_then(|mut v: Vec<f64>| {
            spearman(&a, &p).map(|r| {
                v.push(r);
                v
            })
        });
    }
    let band = |v: Vec<f64>| {
        [
            super::holdout::quantile(&v, 0.05),
            super::holdout::quantile(&v, 0.95),
        ]
    };
    Some(ScoreIntervals {
        resamples: BOOTSTRAP_RESAMPLES,
        mae: band(mae),
        rmse: band(rmse),
        r2: r2.map(band),
        spearman: rho.map(band),
    })
}

/// How well the LR optimum of held-out curves is found: per held-out group, the run accuracies
/// are averaged per base LR (over seeds and other settings), for the truth and for the model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptimumScores {
    /// Held-out groups with at least two LRs.
    pub groups: usize,
    /// Groups whose predicted best LR is the true best LR.
    pub hits: usize,
    /// Mean |log10 predicted best LR − log10 true best LR|.
    pub log10_lr_error: f64,
    /// Mean accuracy lost by training at the predicted best LR instead of the true one.
    pub regret: f64,
    /// Mean |predicted − actual| accuracy at the true best LR.
    pub error_at_optimum: f64,
}

/// Per-curve optimum scores of `(base_lr, actual, predicted)` rows grouped into held-out curves.
pub fn optimum_scores(curves: &[Vec<(f64, f64, f64)>]) -> Option<OptimumScores> {
    let mut out = OptimumScores {
        groups: 0,
        hits: 0,
        log10_lr_error: 0.0,
        regret: 0.0,
        error_at_optimum: 0.0,
    };
    for rows in curves {
        let mut by_lr: std::collections::BTreeMap<u64, (f64, f64, f64, usize)> = Default::default();
        for &(lr, a, p) in rows {
            let e = by_lr.entry(lr.to_bits()).or_insert((lr, 0.0, 0.0, 0));
            e.1 += a;
            e.2 += p;
            e.3 += 1;
        }
        if by_lr.len() < 2 {
            continue;
        }
        let points: Vec<(f64, f64, f64)> = by_lr
            .into_values()
            .map(|(lr, a, p, n)| (lr, a / n as f64, p / n as f64))
            .collect();
        let best_by = |f: fn(&(f64, f64, f64)) -> f64| {
            *points
                .iter()
                .max_by(|x, y| f(x).total_cmp(&f(y)))
                .expect("two or more points")
        };
        let truth = best_by(|p| p.1);
        let chosen = best_by(|p| p.2);
        out.groups += 1;
        out.hits += usize::from(truth.0 == chosen.0);
        out.log10_lr_error += (truth.0.log10() - chosen.0.log10()).abs();
        out.regret += truth.1 - chosen.1;
        out.error_at_optimum += (truth.2 - truth.1).abs();
    }
    (out.groups > 0).then(|| {
        let n = out.groups as f64;
        OptimumScores {
            log10_lr_error: out.log10_lr_error / n,
            regret: out.regret / n,
            error_at_optimum: out.error_at_optimum / n,
            ..out
        }
    })
}

/// Top-1 regret of one fold: best actual minus the actual of the highest prediction (the first
/// such row on ties).
pub fn top1_regret(actual: &[f64], predicted: &[f64]) -> Option<f64> {
    let best = actual.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let chosen = (0..predicted.len()).max_by(|&a, &b| {
        predicted[a]
            .total_cmp(&predicted[b])
            .then_with(|| b.cmp(&a))
    })?;
    Some(best - actual[chosen])
}

/// Kendall's τ-b (ties in either ranking corrected); `None` when either side is constant.
pub fn kendall(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len();
    let (mut concordant, mut discordant, mut ties_a, mut ties_b) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let (da, db) = (a[i] - a[j], b[i] - b[j]);
            if da == 0.0 && db == 0.0 {
                continue;
            } else if da == 0.0 {
                ties_a += 1;
            } else if db == 0.0 {
                ties_b += 1;
            } else if (da > 0.0) == (db > 0.0) {
                concordant += 1;
            } else {
                discordant += 1;
            }
        }
    }
    let n0 = (concordant + discordant + ties_a) as f64;
    let n1 = (concordant + discordant + ties_b) as f64;
    (n0 > 0.0 && n1 > 0.0).then(|| (concordant - discordant) as f64 / (n0 * n1).sqrt())
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
        kendall: kendall(actual, predicted),
        n: actual.len(),
        regret: None,
        optimum: None,
        coverage: None,
        interval_width: None,
        ci: None,
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
    fn kendall_regret_and_optimum() {
        // scipy.stats.kendalltau([1, 2, 3, 4, 5], [1, 3, 2, 5, 4]) = 0.6
        let k = kendall(&[1.0, 2.0, 3.0, 4.0, 5.0], &[1.0, 3.0, 2.0, 5.0, 4.0]).unwrap();
        assert!((k - 0.6).abs() < 1e-12);
        // With ties: scipy.stats.kendalltau([1, 2, 2, 3], [1, 2, 3, 3]) = 0.8
        let k = kendall(&[1.0, 2.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 3.0]).unwrap();
        assert!((k - 0.8).abs() < 1e-12, "{k}");
        assert_eq!(
            top1_regret(&[0.5, 0.9, 0.7], &[0.1, 0.2, 0.3]),
            Some(0.9 - 0.7)
        );
        // One curve, optimum truly at LR 0.1, predicted at 1.0 (one decade off).
        let curve = vec![
            (0.01, 0.5, 0.4),
            (0.1, 0.9, 0.6),
            (0.1, 0.7, 0.6),
            (1.0, 0.6, 0.8),
        ];
        let o = optimum_scores(&[curve]).unwrap();
        assert_eq!((o.groups, o.hits), (1, 0));
        assert!((o.log10_lr_error - 1.0).abs() < 1e-12);
        assert!((o.regret - 0.2).abs() < 1e-12);
        assert!((o.error_at_optimum - 0.2).abs() < 1e-12);
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

    #[test]
    fn bootstrap_intervals_bracket_the_score_and_are_seeded() {
        let actual: Vec<f64> = (0..40).map(|i| (i as f64 * 0.37).sin()).collect();
        let predicted: Vec<f64> = actual
            .iter()
            .enumerate()
            .map(|(i, a)| a + 0.1 * ((i * 13 % 7) as f64 - 3.0) / 3.0)
            .collect();
        let names: Vec<String> = (0..40).map(|i| format!("c{}", i / 2)).collect();
        let clusters: Vec<&str> = names.iter().map(String::as_str).collect();
        let ci = bootstrap_intervals(&actual, &predicted, &clusters, 1).unwrap();
        let s = score(&actual, &predicted);
        assert!(
            ci.mae[0] < s.mae && s.mae < ci.mae[1],
            "{ci:?} vs {}",
            s.mae
        );
        let rho = ci.spearman.unwrap();
        assert!(rho[0] <= s.spearman.unwrap() && rho[1] <= 1.0);
        assert_eq!(
            Some(ci),
            bootstrap_intervals(&actual, &predicted, &clusters, 1)
        );
        assert!(bootstrap_intervals(&actual, &predicted, &["one"; 40], 1).is_none());
    }
}
