//! Loss-spike periodicity: finds sudden rises of the per-step training loss and tells whether they
//! recur at a regular interval — the "sawtooth" of training at a high LR with little weight decay,
//! where the weight norm shrinks until the effective LR (LR/‖w‖²) destabilises training, periodically.
//!
//! | Name | Value | Meaning |
//! |---|---|---|
//! | [`WINDOW`] | 20 steps | a step's loss is compared with the median of the previous 20 |
//! | [`SPIKE_RATIO`] | 1.5 | a spike starts where the loss exceeds 1.5 × that median |
//! | [`MIN_SPIKES`] | 3 | fewer spikes than this are never called periodic |
//! | [`MAX_INTERVAL_CV`] | 0.5 | periodic when the intervals between spikes vary by less than this (std / mean) |

/// Steps of history a loss is compared against.
pub const WINDOW: usize = 20;
/// A loss above this multiple of the window's median starts a spike.
pub const SPIKE_RATIO: f64 = 1.5;
/// Spikes needed before a run can be called periodic.
pub const MIN_SPIKES: usize = 3;
/// Largest coefficient of variation of the spike intervals for a periodic verdict.
pub const MAX_INTERVAL_CV: f64 = 0.5;

/// Spikes of a loss curve and the periodicity verdict.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SpikeSummary {
    /// Number of spikes (a run of consecutive spiking steps counts once).
    pub spikes: usize,
    /// Median interval between consecutive spike starts, in steps (`None` with fewer than 2 spikes).
    pub period: Option<f64>,
    /// Whether the spikes recur periodically (see the module table).
    pub periodic: bool,
}

/// Detect spikes in per-step `losses` (non-finite values end the scan: divergence is not a spike).
pub fn detect_spikes(losses: &[f64]) -> SpikeSummary {
    let finite_len = losses
        .iter()
        .position(|l| !l.is_finite())
        .unwrap_or(losses.len());
    let losses = &losses[..finite_len];
    let mut starts = Vec::new();
    let mut in_spike = false;
    for t in WINDOW..losses.len() {
        let mut window = losses[t - WINDOW..t].to_vec();
        window.sort_by(f64::total_cmp);
        let median = window[WINDOW / 2];
        let spiking = losses[t] > SPIKE_RATIO * median;
        if spiking && !in_spike {
            starts.push(t);
        }
        in_spike = spiking;
    }
    let mut intervals: Vec<f64> = starts.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    let periodic = starts.len() >= MIN_SPIKES && {
        let mean = intervals.iter().sum::<f64>() / intervals.len() as f64;
        let var =
            intervals.iter().map(|i| (i - mean).powi(2)).sum::<f64>() / intervals.len() as f64;
        var.sqrt() / mean < MAX_INTERVAL_CV
    };
    intervals.sort_by(f64::total_cmp);
    SpikeSummary {
        spikes: starts.len(),
        period: (!intervals.is_empty()).then(|| intervals[intervals.len() / 2]),
        periodic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slowly falling loss with a spike of height `height` every `period` steps.
    fn sawtooth(steps: usize, period: usize, height: f64) -> Vec<f64> {
        (0..steps)
            .map(|t| {
                let base = 1.0 + 0.5 * (-(t as f64) / 200.0).exp();
                if t > 0 && t % period == 0 {
                    base * height
                } else {
                    base
                }
            })
            .collect()
    }

    #[test]
    fn regular_spikes_are_periodic() {
        let s = detect_spikes(&sawtooth(400, 50, 3.0));
        assert_eq!(s.spikes, 7); // at 50, 100, …, 350 (the first window is skipped)
        assert_eq!(s.period, Some(50.0));
        assert!(s.periodic);
    }

    #[test]
    fn smooth_or_irregular_curves_are_not() {
        let smooth = detect_spikes(&sawtooth(400, 1000, 3.0));
        assert_eq!((smooth.spikes, smooth.periodic), (0, false));
        let mut irregular = sawtooth(400, 1000, 1.0);
        for t in [30, 40, 200, 390] {
            irregular[t] *= 3.0;
        }
        let s = detect_spikes(&irregular);
        assert_eq!(s.spikes, 4);
        assert!(!s.periodic, "{s:?}");
        // A small wiggle is not a spike.
        assert_eq!(detect_spikes(&sawtooth(400, 50, 1.2)).spikes, 0);
    }

    #[test]
    fn divergence_ends_the_scan() {
        let mut losses = sawtooth(100, 1000, 1.0);
        losses[60] = f64::NAN;
        losses[70] = 100.0;
        assert_eq!(detect_spikes(&losses).spikes, 0);
    }
}
