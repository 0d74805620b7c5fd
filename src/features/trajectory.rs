//! Schedule-trajectory features: summaries of the LR (and momentum) a policy applies over a run,
//! computed from the policy itself, so that different policies share one feature space (a cosine
//! and a step schedule with the same mean LR sit close together, whatever their parameters).

use crate::schedule::LrPolicy;

/// Derived corpus columns, one per summary, in the order [`Trajectory::values`] returns them.
pub const TRAJECTORY_COLUMNS: &[&str] = &[
    "sched_lr_max",
    "sched_lr_mean",
    "sched_lr_area",
    "sched_lr_initial_frac",
    "sched_lr_final_frac",
    "sched_lr_last10_frac",
    "sched_warmup_frac",
    "sched_lr_rises",
    "sched_momentum_mean",
    "sched_momentum_min",
    "sched_momentum_final",
    "sched_momentum_last10",
];

/// Summaries of one run's schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trajectory {
    /// Largest LR.
    pub lr_max: f64,
    /// Mean LR over the steps.
    pub lr_mean: f64,
    /// Sum of the LR over the steps (the distance SGD may travel: mean × steps).
    pub lr_area: f64,
    /// LR of the first step ÷ the largest LR (1 without warm-up).
    pub lr_initial_frac: f64,
    /// LR of the last step ÷ the largest LR (0 for a schedule annealed to zero).
    pub lr_final_frac: f64,
    /// Mean LR over the last 10% of the steps ÷ the largest LR.
    pub lr_last10_frac: f64,
    /// Steps before the LR first reaches its maximum ÷ all steps (the warm-up share).
    pub warmup_frac: f64,
    /// How many times the LR starts rising (a warm-up counts one; each cycle or restart one more).
    pub lr_rises: f64,
    /// Mean momentum (SGD momentum or Adam's β₁) over the steps.
    pub momentum_mean: f64,
    /// Smallest momentum.
    pub momentum_min: f64,
    /// Momentum of the last step.
    pub momentum_final: f64,
    /// Mean momentum over the last 10% of the steps.
    pub momentum_last10: f64,
}

impl Trajectory {
    /// Summarise `policy` over `total_steps` steps; `momentum` is the optimizer's own, used where
    /// the policy does not cycle it. A metric-driven policy (plateau) has no planned trajectory:
    /// pass the LRs it applied as `applied` (`initial, peak, final, mean`) and it is summarised as
    /// a schedule that never rises.
    pub fn of_policy(policy: &LrPolicy, total_steps: u64, momentum: f64) -> Self {
        let steps = total_steps.max(1);
        let lr = policy.lr_series(0, steps as usize);
        let moms: Vec<f64> = (0..steps)
            .map(|t| policy.momentum(t).unwrap_or(momentum))
            .collect();
        Self::of_series(&lr, &moms)
    }

    /// Summarise explicit per-step LR and momentum series (equal, non-zero lengths).
    pub fn of_series(lr: &[f64], momentum: &[f64]) -> Self {
        let n = lr.len().max(1);
        let tail = n.div_ceil(10);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let lr_max = lr.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let first_max = lr.iter().position(|&v| v == lr_max).unwrap_or(0);
        let rises = lr
            .windows(2)
            .enumerate()
            .filter(|&(i, w)| w[1] > w[0] && (i == 0 || lr[i] <= lr[i - 1]))
            .count();
        let frac = |v: f64| if lr_max > 0.0 { v / lr_max } else { 0.0 };
        let area: f64 = lr.iter().sum();
        Self {
            lr_max,
            lr_mean: area / n as f64,
            lr_area: area,
            lr_initial_frac: frac(lr[0]),
            lr_final_frac: frac(lr[lr.len() - 1]),
            lr_last10_frac: frac(mean(&lr[lr.len() - tail.min(lr.len())..])),
            warmup_frac: first_max as f64 / n as f64,
            lr_rises: rises as f64,
            momentum_mean: mean(momentum),
            momentum_min: momentum.iter().copied().fold(f64::INFINITY, f64::min),
            momentum_final: momentum[momentum.len() - 1],
            momentum_last10: mean(&momentum[momentum.len() - tail.min(momentum.len())..]),
        }
    }

    /// A metric-driven run summarised from the LRs it applied (`initial`, `peak`, `last`, `mean`)
    /// over `total_steps`: it never rises, and its momentum is the optimizer's.
    pub fn of_applied(
        [initial, peak, last, mean]: [f64; 4],
        total_steps: u64,
        momentum: f64,
    ) -> Self {
        let frac = |v: f64| if peak > 0.0 { v / peak } else { 0.0 };
        Self {
            lr_max: peak,
            lr_mean: mean,
            lr_area: mean * total_steps.max(1) as f64,
            lr_initial_frac: frac(initial),
            lr_final_frac: frac(last),
            lr_last10_frac: frac(last),
            warmup_frac: 0.0,
            lr_rises: 0.0,
            momentum_mean: momentum,
            momentum_min: momentum,
            momentum_final: momentum,
            momentum_last10: momentum,
        }
    }

    /// Values in the order of [`TRAJECTORY_COLUMNS`].
    pub fn values(&self) -> [f64; 12] {
        [
            self.lr_max,
            self.lr_mean,
            self.lr_area,
            self.lr_initial_frac,
            self.lr_final_frac,
            self.lr_last10_frac,
            self.warmup_frac,
            self.lr_rises,
            self.momentum_mean,
            self.momentum_min,
            self.momentum_final,
            self.momentum_last10,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{PolicySpec, ScheduleContext};

    fn of(spec: &str, steps: u64) -> Trajectory {
        let spec = PolicySpec::parse(spec).unwrap();
        let policy = LrPolicy::build(&spec, &ScheduleContext::new(steps, 10)).unwrap();
        Trajectory::of_policy(&policy, steps, 0.9)
    }

    #[test]
    fn constant_cosine_and_step_summaries() {
        let c = of("constant:lr=0.1", 100);
        assert_eq!((c.lr_max, c.lr_rises, c.warmup_frac), (0.1, 0.0, 0.0));
        assert!((c.lr_mean - 0.1).abs() < 1e-12 && (c.lr_area - 10.0).abs() < 1e-9);
        assert_eq!((c.lr_initial_frac, c.lr_final_frac), (1.0, 1.0));
        assert!((c.momentum_mean - 0.9).abs() < 1e-12 && c.momentum_min == 0.9);

        let cos = of("cosine:lr=0.1", 100);
        assert!((cos.lr_mean - 0.05).abs() < 2e-3, "{}", cos.lr_mean);
        assert!(cos.lr_final_frac < 0.01 && cos.lr_last10_frac < 0.05);
        assert_eq!(cos.lr_rises, 0.0);

        let step = of("step:lr=1,step_size=50,gamma=0.1", 100);
        assert!((step.lr_mean - 0.55).abs() < 1e-12);
        assert!((step.lr_final_frac - 0.1).abs() < 1e-12);
    }

    #[test]
    fn warm_up_and_cycles_are_counted() {
        let one = of("onecycle:max_lr=1", 100);
        assert_eq!(one.lr_rises, 1.0);
        assert!((one.warmup_frac - 0.3).abs() < 0.02, "{}", one.warmup_frac);
        assert!(one.lr_initial_frac < 0.1);
        // OneCycle cycles momentum 0.95 → 0.85 → 0.95.
        assert!((one.momentum_min - 0.85).abs() < 1e-9 && one.momentum_final > 0.94);

        let tri = of("triangular:base_lr=0.01,max_lr=0.1,step_size_up=10", 100);
        assert_eq!(tri.lr_rises, 5.0);
    }
}
