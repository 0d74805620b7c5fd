//! LRBench's evaluation metrics computed from logits or probabilities: top-1, top-5, average confidence
//! and its deviations, the mean top-class probability, and cross-entropy loss.

/// Metrics of one evaluation pass.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalMetrics {
    /// Fraction of samples whose largest logit is the label.
    pub top1: f64,
    /// Fraction of samples whose label is among the 5 largest logits.
    pub top5: f64,
    /// Mean over all samples of the largest softmax probability (lrcast 0.1's `mean_confidence`;
    /// not LRBench's average confidence, which is [`EvalMetrics::avg_confidence`]).
    pub mean_confidence: f64,
    /// Population standard deviation of that largest probability.
    pub confidence_std: f64,
    /// LRBench's average confidence: mean probability of the true class over the correctly
    /// classified samples (NaN when none is correct).
    pub avg_confidence: f64,
    /// LRBench's confidence deviation: population standard deviation of that probability.
    pub confidence_dev: f64,
    /// Per-class confidence deviation: population standard deviation, over the classes with at
    /// least one correct sample, of each class's average confidence.
    pub class_confidence_dev: f64,
    /// Mean cross-entropy; `+inf` when any logit row is not finite.
    pub loss: f64,
}

/// Evaluate row-major `logits` (`labels.len() × num_classes`).
///
/// A row with a non-finite logit (a diverged model) counts as wrong with confidence 0 and infinite
/// loss, so a diverged run scores as what it is rather than crashing the evaluation.
pub fn evaluate_logits(logits: &[f32], labels: &[u8], num_classes: usize) -> EvalMetrics {
    assert_eq!(logits.len(), labels.len() * num_classes, "logits shape");
    let n = labels.len().max(1) as f64;
    let (mut top1, mut top5, mut loss) = (0usize, 0usize, 0.0f64);
    let mut confidences = Vec::with_capacity(labels.len());
    let mut correct = CorrectConfidence::new(num_classes);
    for (row, &label) in logits.chunks_exact(num_classes).zip(labels) {
        if row.iter().any(|v| !v.is_finite()) {
            confidences.push(0.0);
            loss = f64::INFINITY;
            continue;
        }
        let label = label as usize;
        let target = row[label];
        // Ties go to the lower class index, as PyTorch's argmax does: a collapsed model with
        // constant logits must not score 100%.
        let rank = row
            .iter()
            .enumerate()
            .filter(|&(j, &v)| v > target || (v == target && j < label))
            .count();
        top1 += usize::from(rank == 0);
        top5 += usize::from(rank < 5);
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
        let sum_exp: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
        confidences.push(1.0 / sum_exp);
        if rank == 0 {
            // The true class is the top class here, so its probability is the largest.
            correct.push(label, 1.0 / sum_exp);
        }
        loss += max + sum_exp.ln() - target as f64;
    }
    let mean_confidence = confidences.iter().sum::<f64>() / n;
    let variance = confidences
        .iter()
        .map(|c| (c - mean_confidence).powi(2))
        .sum::<f64>()
        / n;
    let (avg_confidence, confidence_dev, class_confidence_dev) = correct.summary();
    EvalMetrics {
        top1: top1 as f64 / n,
        top5: top5 as f64 / n,
        mean_confidence,
        confidence_std: variance.sqrt(),
        avg_confidence,
        confidence_dev,
        class_confidence_dev,
        loss: loss / n,
    }
}

/// Evaluate row-major class probabilities (e.g. a snapshot ensemble's mean softmax), with the same
/// rules as [`evaluate_logits`]: ties go to the lower class, a non-finite row is wrong.
pub fn evaluate_probabilities(probs: &[f64], labels: &[u8], num_classes: usize) -> EvalMetrics {
    let logits: Vec<f32> = probs
        .iter()
        .map(|&p| if p > 0.0 { p.ln() as f32 } else { f32::MIN })
        .collect();
    evaluate_logits(&logits, labels, num_classes)
}

/// Row-wise softmax of row-major logits, in f64.
pub fn softmax_rows(logits: &[f32], num_classes: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(logits.len());
    for row in logits.chunks_exact(num_classes) {
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
        let exps: Vec<f64> = row.iter().map(|&v| (v as f64 - max).exp()).collect();
        let sum: f64 = exps.iter().sum();
        out.extend(exps.iter().map(|e| e / sum));
    }
    out
}

/// True-class probabilities of correctly classified samples, overall and per class.
struct CorrectConfidence {
    all: Vec<f64>,
    per_class: Vec<(f64, usize)>,
}

impl CorrectConfidence {
    fn new(num_classes: usize) -> Self {
        Self {
            all: Vec::new(),
            per_class: vec![(0.0, 0); num_classes],
        }
    }

    fn push(&mut self, label: usize, probability: f64) {
        self.all.push(probability);
        let class = &mut self.per_class[label];
        class.0 += probability;
        class.1 += 1;
    }

    /// (average confidence, its deviation, deviation of the per-class averages).
    fn summary(&self) -> (f64, f64, f64) {
        let (mean, dev) = mean_and_std(&self.all);
        let class_means: Vec<f64> = self
            .per_class
            .iter()
            .filter(|(_, count)| *count > 0)
            .map(|(sum, count)| sum / *count as f64)
            .collect();
        (mean, dev, mean_and_std(&class_means).1)
    }
}

/// Mean and population standard deviation (NaN for an empty slice).
fn mean_and_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, variance.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_made_logits() {
        // Row 0: label 0 is the clear winner. Row 1: label 2 ranks 3rd. Row 2: uniform logits.
        let logits = [
            5.0, 0.0, 0.0, //
            3.0, 2.0, 1.0, //
            0.0, 0.0, 0.0,
        ];
        let m = evaluate_logits(&logits, &[0, 2, 1], 3);
        // Ties go to the lowest index: row 2 (label 1) is a miss.
        assert!((m.top1 - 1.0 / 3.0).abs() < 1e-12);
        assert!((m.top5 - 1.0).abs() < 1e-12);
        let c0 = 1.0 / (1.0 + 2.0 * (-5.0f64).exp());
        let c1 = 1.0 / (1.0 + (-1.0f64).exp() + (-2.0f64).exp());
        let c2 = 1.0 / 3.0;
        let mean = (c0 + c1 + c2) / 3.0;
        assert!((m.mean_confidence - mean).abs() < 1e-12);
        let std = (((c0 - mean).powi(2) + (c1 - mean).powi(2) + (c2 - mean).powi(2)) / 3.0).sqrt();
        assert!((m.confidence_std - std).abs() < 1e-12);
        let l0 = -(c0.ln());
        let l1 = 3.0 + (1.0 + (-1.0f64).exp() + (-2.0f64).exp()).ln() - 1.0;
        let l2 = 3.0f64.ln();
        assert!((m.loss - (l0 + l1 + l2) / 3.0).abs() < 1e-9);
        // LRBench's confidence: only row 0 is correct, so its true-class probability is the mean.
        assert!((m.avg_confidence - c0).abs() < 1e-12);
        assert_eq!(m.confidence_dev, 0.0);
        assert_eq!(m.class_confidence_dev, 0.0);
    }

    #[test]
    fn lrbench_confidence_over_correct_samples_and_classes() {
        // Two classes; rows 0 and 1 correct (class 0 and class 1), row 2 wrong.
        let logits = [2.0f32, 0.0, 0.0, 1.0, 3.0, 0.0];
        let m = evaluate_logits(&logits, &[0, 1, 1], 2);
        let p0 = 1.0 / (1.0 + (-2.0f64).exp());
        let p1 = 1.0 / (1.0 + (-1.0f64).exp());
        assert!((m.avg_confidence - (p0 + p1) / 2.0).abs() < 1e-12);
        assert!((m.confidence_dev - (p0 - p1).abs() / 2.0).abs() < 1e-12);
        assert!((m.class_confidence_dev - (p0 - p1).abs() / 2.0).abs() < 1e-12);
        // Probabilities give the same answer as their logits.
        let probs = softmax_rows(&logits, 2);
        let q = evaluate_probabilities(&probs, &[0, 1, 1], 2);
        assert_eq!((q.top1, q.top5), (m.top1, m.top5));
        assert!((q.loss - m.loss).abs() < 1e-6);
    }

    #[test]
    fn top5_of_ten_classes() {
        let mut logits = [0.0f32; 10];
        for (i, v) in logits.iter_mut().enumerate() {
            *v = i as f32; // class 9 highest, class 0 lowest
        }
        assert_eq!(evaluate_logits(&logits, &[5], 10).top5, 1.0);
        assert_eq!(evaluate_logits(&logits, &[4], 10).top5, 0.0);
        assert_eq!(evaluate_logits(&logits, &[9], 10).top1, 1.0);
    }

    #[test]
    fn non_finite_rows_are_wrong_not_a_crash() {
        let logits = [f32::NAN, 1.0, 2.0, 0.0, 0.0, 1.0];
        let m = evaluate_logits(&logits, &[0, 0, 1], 2);
        assert!((m.top1 - 2.0 / 3.0).abs() < 1e-12);
        assert!(m.loss.is_infinite());
        let logits = [f32::NAN, 1.0, 2.0, 0.0];
        let m = evaluate_logits(&logits, &[0, 0], 2);
        assert_eq!(m.top1, 0.5);
        assert!(m.loss.is_infinite());
        assert!(m.mean_confidence.is_finite());
    }
}
