//! Speed benchmark: milliseconds per SGD training step (forward, cross-entropy, backward, update)
//! on MNIST-1D-shaped batches, with the same model and optimizer code as the training loop.

use std::sync::Arc;
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};

use super::optimizer::{ScheduledSgd, StepHyperparams};
use crate::data::Dataset;
use crate::device::{ComputeDevice, OnBackend, run_on};
use crate::error::Result;
use crate::model::{Arch, Classifier, OnModel, with_model};

/// Warm-up steps before timing.
const WARMUP_STEPS: usize = 20;

/// Timing of one architecture.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepTiming {
    /// Architecture spec.
    pub arch: String,
    /// Samples per step.
    pub batch_size: usize,
    /// Device.
    pub device: String,
    /// Median over repeats of the mean step time (ms).
    pub ms_per_step_median: f64,
    /// Fastest repeat (ms per step).
    pub ms_per_step_min: f64,
}

/// Time `steps` SGD steps `repeats` times.
pub fn time_steps(
    device: ComputeDevice,
    arch: &Arch,
    data: &Dataset,
    batch_size: usize,
    steps: usize,
    repeats: usize,
) -> Result<StepTiming> {
    struct Timing<'a>(&'a Arch, &'a Dataset, usize, usize, usize);
    impl OnBackend for Timing<'_> {
        type Output = Vec<f64>;
        fn run<B: AutodiffBackend>(self, device: &B::Device) -> Vec<f64> {
            time_on::<B>(device, self.0, self.1, self.2, self.3, self.4)
        }
    }
    let per_repeat = run_on(device, Timing(arch, data, batch_size, steps, repeats))?;
    let mut sorted = per_repeat.clone();
    sorted.sort_by(f64::total_cmp);
    Ok(StepTiming {
        arch: arch.spec_string(),
        batch_size,
        device: device.to_string(),
        ms_per_step_median: sorted[sorted.len() / 2],
        ms_per_step_min: sorted[0],
    })
}

fn time_on<B: AutodiffBackend>(
    device: &B::Device,
    arch: &Arch,
    data: &Dataset,
    batch_size: usize,
    steps: usize,
    repeats: usize,
) -> Vec<f64> {
    struct Time<'a, B: AutodiffBackend>(&'a B::Device, &'a Dataset, usize, usize, usize);
    impl<B: AutodiffBackend> OnModel<B> for Time<'_, B> {
        type Output = Vec<f64>;
        fn run<M>(self, model: M) -> Vec<f64>
        where
            M: AutodiffModule<B> + Classifier<B>,
            M::InnerModule: Classifier<B::InnerBackend>,
        {
            time_model(model, self.0, self.1, self.2, self.3, self.4)
        }
    }
    let work = Time::<B>(device, data, batch_size, steps, repeats);
    with_model(arch, data.input_len, data.num_classes, 0, device, work)
}

fn time_model<B, M>(
    mut model: M,
    device: &B::Device,
    data: &Dataset,
    batch_size: usize,
    steps: usize,
    repeats: usize,
) -> Vec<f64>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Classifier<B>,
{
    let batch = batch_size.min(data.n_train());
    let x = Tensor::<B, 2>::from_data(
        TensorData::new(
            data.x_train[..batch * data.input_len].to_vec(),
            [batch, data.input_len],
        ),
        device,
    );
    let labels: Vec<i64> = data.y_train[..batch].iter().map(|&y| y as i64).collect();
    let y = Tensor::<B, 1, Int>::from_data(TensorData::new(labels, [batch]), device);
    let hyper = Arc::new(StepHyperparams::default());
    hyper.set_momentum(0.9);
    hyper.set_weight_decay(5e-4);
    let mut optim = ScheduledSgd::new(hyper, false).into_optimizer::<B, M>();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut step = |model: M| -> M {
        let loss = loss_fn.forward(model.logits(x.clone()), y.clone());
        // Reading the loss forces the step to complete, as the training loop does.
        let _: f64 = loss.clone().into_scalar().elem();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        optim.step(0.05, model, grads)
    };
    for _ in 0..WARMUP_STEPS {
        model = step(model);
    }
    let mut per_repeat = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        B::sync(device).ok();
        let start = Instant::now();
        for _ in 0..steps.max(1) {
            model = step(model);
        }
        B::sync(device).ok();
        per_repeat.push(start.elapsed().as_secs_f64() * 1e3 / steps.max(1) as f64);
    }
    let _ = <B as Backend>::name(device);
    per_repeat
}
