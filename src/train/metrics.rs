//! LRBench's evaluation metrics computed from logits: top-1, top-5, average confidence, confidence
//! standard deviation, and cross-entropy loss.

/// Metrics of one evaluation pass.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalMetrics {
    /// Fraction of samples whose largest logit is the label.
    pub top1: f64,
    /// Fraction of samples whose label is among the 5 largest logits.
    pub top5: f64,
    /// Mean over samples of the largest softmax probability ("average confidence").
    pub mean_confidence: f64,
    /// Population standard deviation of that largest probability ("confidence deviation").
    pub confidence_std: f64,
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
        loss += max + sum_exp.ln() - target as f64;
    }
    let mean_confidence = confidences.iter().sum::<f64>() / n;
    let variance = confidences
        .iter()
        .map(|c| (c - mean_confidence).powi(2))
        .sum::<f64>()
        / n;
    EvalMetrics {
        top1: top1 as f64 / n,
        top5: top5 as f64 / n,
        mean_confidence,
        confidence_std: variance.sqrt(),
        loss: loss / n,
    }
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
