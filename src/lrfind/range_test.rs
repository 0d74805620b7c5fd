//! One LR range test: a fresh model, SGD with the LR ramped every step, the loss of every batch
//! recorded before its update, stopped when the smoothed loss blows up.

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;

use super::{RangeTestConfig, RangeTestCurve};
use crate::data::Dataset;
use crate::device::{ComputeDevice, OnBackend, run_on};
use crate::error::{Error, Result};
use crate::model::{Arch, Classifier, OnModel, with_model};
use crate::train::engine::{BatchOrder, DeviceSplit, Engine, LossSettings, StepOutcome};
use crate::train::{OptimizerSettings, StepHyperparams};

/// Offset of the batch-order stream from the seed, so it is independent of the weights' stream
/// (and differs from the training loop's, which has no bearing on results but avoids look-alikes).
const SHUFFLE_STREAM: u64 = 0x1_F1DE_5EED;

/// Run one LR range test of `arch` on the training split of `data`, on `device`.
pub fn run_range_test(
    device: ComputeDevice,
    arch: &Arch,
    data: &Dataset,
    cfg: &RangeTestConfig,
) -> Result<RangeTestCurve> {
    cfg.validated()?;
    if data.n_train() == 0 {
        return Err(Error::Runtime(format!(
            "task {} has no training samples; an LR range test needs some",
            data.task
        )));
    }
    struct RangeTest<'a>(&'a Arch, &'a Dataset, &'a RangeTestConfig);
    impl OnBackend for RangeTest<'_> {
        type Output = RangeTestCurve;
        fn run<B: AutodiffBackend>(self, device: &B::Device) -> RangeTestCurve {
            run_range_test_on::<B>(device, self.0, self.1, self.2)
        }
    }
    run_on(device, RangeTest(arch, data, cfg))
}

/// Run one LR range test on an explicit autodiff backend `B` (`cfg` must be valid and the
/// training split non-empty).
pub fn run_range_test_on<B: AutodiffBackend>(
    device: &B::Device,
    arch: &Arch,
    data: &Dataset,
    cfg: &RangeTestConfig,
) -> RangeTestCurve {
    struct Ramp<'a, B: AutodiffBackend>(&'a B::Device, &'a Dataset, &'a RangeTestConfig);
    impl<B: AutodiffBackend> OnModel<B> for Ramp<'_, B> {
        type Output = RangeTestCurve;
        fn run<M>(self, model: M) -> RangeTestCurve
        where
            M: AutodiffModule<B> + Classifier<B>,
            M::InnerModule: Classifier<B::InnerBackend>,
        {
            ramp(model, self.0, self.1, self.2)
        }
    }
    let work = Ramp::<B>(device, data, cfg);
    with_model(arch, &data.shape, data.num_classes, cfg.seed, device, work)
}

/// Debiased EMA of the loss with the divergence stop (fastai's `AvgSmoothLoss` + `LRFinder`).
struct Smoother {
    beta: f64,
    diverge_factor: f64,
    avg: f64,
    count: i32,
    best: f64,
}

impl Smoother {
    fn new(cfg: &RangeTestConfig) -> Self {
        Self {
            beta: cfg.beta,
            diverge_factor: cfg.diverge_factor,
            avg: 0.0,
            count: 0,
            best: f64::INFINITY,
        }
    }

    /// Smoothed value after `loss`, and whether the test should stop after this point.
    fn push(&mut self, loss: f64) -> (f64, bool) {
        self.avg = self.beta * self.avg + (1.0 - self.beta) * loss;
        self.count = self.count.saturating_add(1);
        // Dividing by 1−β^(i+1) removes the pull towards the EMA's initial 0.
        let smoothed = self.avg / (1.0 - self.beta.powi(self.count));
        self.best = self.best.min(smoothed);
        (smoothed, smoothed > self.diverge_factor * self.best)
    }
}

fn ramp<B, M>(model: M, device: &B::Device, data: &Dataset, cfg: &RangeTestConfig) -> RangeTestCurve
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Classifier<B>,
    M::InnerModule: Classifier<B::InnerBackend>,
{
    let train = DeviceSplit::<B>::upload(&data.x_train, &data.y_train, data.input_len(), device);
    // Only a non-finite loss stops the engine; the smoothed-loss rule below decides the rest.
    let loss = LossSettings {
        label_smoothing: 0.0,
        divergence_bound: f64::INFINITY,
    };
    let mut engine = Engine::new(model, train, OptimizerSettings::default(), loss, device);
    let mut batches = BatchOrder::new(
        data.n_train(),
        cfg.batch_size,
        cfg.seed.wrapping_add(SHUFFLE_STREAM),
    );
    let mut smoother = Smoother::new(cfg);

    let mut curve = RangeTestCurve {
        seed: cfg.seed,
        num_steps: cfg.num_steps,
        lrs: Vec::with_capacity(cfg.num_steps),
        losses: Vec::with_capacity(cfg.num_steps),
        smoothed: Vec::with_capacity(cfg.num_steps),
        stopped_early: false,
    };
    for step in 0..cfg.num_steps {
        let lr = cfg.lr_at(step);
        let hyper = StepHyperparams {
            lr,
            momentum: cfg.momentum,
            weight_decay: cfg.weight_decay,
        };
        // The range test reads every loss (it steers on each one), on any device.
        if let StepOutcome::Diverged { .. } = engine.step(&batches.next_full_batch(), &hyper) {
            curve.stopped_early = true;
            break;
        }
        let loss = *engine.losses().last().expect("a loss per step");
        let (smoothed, diverged) = smoother.push(loss);
        curve.lrs.push(lr);
        curve.losses.push(loss);
        curve.smoothed.push(smoothed);
        // The diverging point is kept (fastai records it before stopping).
        if diverged {
            curve.stopped_early = step + 1 < cfg.num_steps;
            break;
        }
    }
    curve
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_is_debiased_ema_and_stops_at_the_factor() {
        let cfg = RangeTestConfig {
            beta: 0.5,
            diverge_factor: 2.0,
            ..Default::default()
        };
        let mut s = Smoother::new(&cfg);
        // A constant loss is its own debiased average.
        assert_eq!(s.push(3.0), (3.0, false));
        assert!((s.push(3.0).0 - 3.0).abs() < 1e-12);
        // avg = 0.5·1.5·… : after 3.0, 3.0, 1.0 → avg = 0.5·2.25 + 0.5·1 = 1.625, debias 1−0.125.
        let (smoothed, stop) = s.push(1.0);
        assert!((smoothed - 1.625 / 0.875).abs() < 1e-12 && !stop);
        // A jump to 100 pushes the smoothed loss over 2 × its minimum.
        assert!(s.push(100.0).1);
    }

    #[test]
    fn batches_cycle_through_shuffled_passes_and_drop_the_ragged_tail() {
        let mut order = BatchOrder::new(10, 4, 1u64.wrapping_add(SHUFFLE_STREAM));
        let first_pass: Vec<usize> = (0..2).flat_map(|_| order.next_full_batch()).collect();
        let mut sorted = first_pass.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            8,
            "two batches of one pass never repeat a sample"
        );
        let second_pass: Vec<usize> = (0..2).flat_map(|_| order.next_full_batch()).collect();
        assert_ne!(first_pass, second_pass, "every pass reshuffles");
        assert_eq!(BatchOrder::new(3, 128, 0).next_full_batch().len(), 3);
    }
}
