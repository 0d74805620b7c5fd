//! One LR range test: a fresh model, SGD with the LR ramped every step, the loss of every batch
//! recorded before its update, stopped when the smoothed loss blows up.

use std::sync::Arc;

use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::{RangeTestConfig, RangeTestCurve};
use crate::data::Dataset;
use crate::device::{ComputeDevice, OnBackend, run_on};
use crate::error::{Error, Result};
use crate::model::{Arch, Classifier, OnModel, with_model};
use crate::train::optimizer::{ScheduledSgd, StepHyperparams};

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
    with_model(
        arch,
        data.input_len,
        data.num_classes,
        cfg.seed,
        device,
        work,
    )
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

/// Batches of the training split: a seeded shuffle per pass, cycled as often as the steps need.
struct BatchOrder {
    rng: ChaCha8Rng,
    order: Vec<usize>,
    batch: usize,
    next: usize,
}

impl BatchOrder {
    fn new(n: usize, batch_size: usize, seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed.wrapping_add(SHUFFLE_STREAM)),
            order: (0..n).collect(),
            // A batch larger than the split would repeat samples within one batch; cap it.
            batch: batch_size.min(n),
            next: n, // forces a shuffle before the first batch
        }
    }

    /// Next full batch. The ragged tail of a pass is dropped (as fastai's training loader does),
    /// so no step's loss comes from a handful of samples.
    fn next_batch(&mut self) -> Vec<i64> {
        if self.next + self.batch > self.order.len() {
            self.order.shuffle(&mut self.rng);
            self.next = 0;
        }
        let batch = &self.order[self.next..self.next + self.batch];
        self.next += self.batch;
        batch.iter().map(|&i| i as i64).collect()
    }
}

fn ramp<B, M>(
    mut model: M,
    device: &B::Device,
    data: &Dataset,
    cfg: &RangeTestConfig,
) -> RangeTestCurve
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Classifier<B>,
{
    let n = data.n_train();
    let x_train = Tensor::<B, 2>::from_data(
        TensorData::new(data.x_train.clone(), [n, data.input_len]),
        device,
    );
    let labels: Vec<i64> = data.y_train.iter().map(|&y| y as i64).collect();
    let y_train = Tensor::<B, 1, Int>::from_data(TensorData::new(labels, [n]), device);

    let hyper = Arc::new(StepHyperparams::default());
    hyper.set_momentum(cfg.momentum);
    hyper.set_weight_decay(cfg.weight_decay);
    let mut optim = ScheduledSgd::new(hyper, false).into_optimizer::<B, M>();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut batches = BatchOrder::new(n, cfg.batch_size, cfg.seed);
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
        let index = batches.next_batch();
        let index =
            Tensor::<B, 1, Int>::from_data(TensorData::new(index.clone(), [index.len()]), device);
        let logits = model.logits(x_train.clone().select(0, index.clone()));
        let loss = loss_fn.forward(logits, y_train.clone().select(0, index));
        let loss_value: f64 = loss.clone().into_scalar().elem();
        if !loss_value.is_finite() {
            curve.stopped_early = true;
            break;
        }
        let (smoothed, diverged) = smoother.push(loss_value);
        curve.lrs.push(lr);
        curve.losses.push(loss_value);
        curve.smoothed.push(smoothed);
        // The diverging point is kept (fastai records it before stopping).
        if diverged {
            curve.stopped_early = step + 1 < cfg.num_steps;
            break;
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(lr, model, grads);
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
        let mut order = BatchOrder::new(10, 4, 1);
        let first_pass: Vec<i64> = (0..2).flat_map(|_| order.next_batch()).collect();
        let mut sorted = first_pass.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            8,
            "two batches of one pass never repeat a sample"
        );
        let second_pass: Vec<i64> = (0..2).flat_map(|_| order.next_batch()).collect();
        assert_ne!(first_pass, second_pass, "every pass reshuffles");
        assert_eq!(BatchOrder::new(3, 128, 0).next_batch().len(), 3);
    }
}
