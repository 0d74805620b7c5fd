//! Snapshot ensembles (Huang et al. 2017): with a cyclical or restarting LR policy, the model at the end
//! of each LR cycle is kept, and the ensemble predicts the mean of their softmax outputs.
//!
//! A cycle ends at a step whose planned LR is a local minimum followed by a rise (a restart, or the
//! turn of a triangular cycle); the model at the end of training is the last snapshot. Policies
//! without such a rise (constant, step, cosine without restarts, one-cycle) have no ensemble.

use super::metrics::{EvalMetrics, evaluate_probabilities, softmax_rows};

/// Step counts (steps done) after which a snapshot is taken, for the planned LR of every step;
/// empty unless the schedule restarts at least once.
pub fn snapshot_steps(lrs: &[f64]) -> Vec<u64> {
    let mut steps: Vec<u64> = (1..lrs.len().saturating_sub(1))
        .filter(|&t| lrs[t] < lrs[t - 1] && lrs[t + 1] > lrs[t])
        .map(|t| t as u64 + 1)
        .collect();
    if !steps.is_empty() {
        steps.push(lrs.len() as u64);
    }
    steps
}

/// Running sum of the snapshots' class probabilities on one split.
#[derive(Debug, Clone, Default)]
pub struct ProbabilitySum {
    sum: Vec<f64>,
    count: usize,
}

impl ProbabilitySum {
    /// Add one snapshot's logits (row-major `[n, classes]`).
    pub fn add_logits(&mut self, logits: &[f32], num_classes: usize) {
        let probs = softmax_rows(logits, num_classes);
        if self.sum.is_empty() {
            self.sum = probs;
        } else {
            self.sum.iter_mut().zip(probs).for_each(|(s, p)| *s += p);
        }
        self.count += 1;
    }

    /// Snapshots added.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Metrics of the mean probabilities.
    pub fn evaluate(&self, labels: &[u8], num_classes: usize) -> EvalMetrics {
        let mean: Vec<f64> = self.sum.iter().map(|s| s / self.count as f64).collect();
        evaluate_probabilities(&mean, labels, num_classes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_ends_are_minima_before_a_rise() {
        // Triangular: 0.1 → 0.3 → 0.1 → 0.3 → 0.1 (two cycles, step size 2).
        let tri = [0.1, 0.2, 0.3, 0.2, 0.1, 0.2, 0.3, 0.2, 0.1];
        assert_eq!(snapshot_steps(&tri), vec![5, 9]);
        // Warm restarts: decays, jumps back up, decays.
        let restarts = [1.0, 0.5, 0.1, 1.0, 0.5, 0.1];
        assert_eq!(snapshot_steps(&restarts), vec![3, 6]);
        // Monotone schedules have no ensemble.
        assert!(snapshot_steps(&[1.0, 0.5, 0.25, 0.1]).is_empty());
        assert!(snapshot_steps(&[0.1; 5]).is_empty());
    }

    #[test]
    fn mean_of_probabilities_decides() {
        let mut sum = ProbabilitySum::default();
        // Snapshot A is confidently wrong on sample 0, snapshot B mildly right: the mean is wrong.
        sum.add_logits(&[0.0, 4.0], 2);
        sum.add_logits(&[1.0, 0.0], 2);
        assert_eq!(sum.count(), 2);
        assert_eq!(sum.evaluate(&[0], 2).top1, 0.0);
        sum.add_logits(&[5.0, 0.0], 2);
        assert_eq!(sum.evaluate(&[0], 2).top1, 1.0);
    }
}
