//! Speed benchmark: milliseconds per SGD training step (batch selection, forward, cross-entropy,
//! backward, update) on the engine that trains every run.

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;

use super::engine::{DeviceSplit, Engine, LossSettings};
use super::optimizer::{OptimizerSettings, StepHyperparams};
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
    /// Task spec.
    pub task: String,
    /// Samples per step.
    pub batch_size: usize,
    /// Device.
    pub device: String,
    /// Median over repeats of the mean step time (ms).
    pub ms_per_step_median: f64,
    /// Fastest repeat (ms per step).
    pub ms_per_step_min: f64,
}

/// How much to time, and how often the engine reads losses back (as in training on that device).
#[derive(Debug, Clone, Copy)]
struct Sizes {
    batch_size: usize,
    steps: usize,
    repeats: usize,
    readback_every: usize,
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
    struct Timing<'a>(&'a Arch, &'a Dataset, Sizes);
    impl OnBackend for Timing<'_> {
        type Output = Vec<f64>;
        fn run<B: AutodiffBackend>(self, device: &B::Device) -> Vec<f64> {
            time_on::<B>(device, self.0, self.1, self.2)
        }
    }
    let sizes = Sizes {
        batch_size,
        steps,
        repeats,
        readback_every: super::run::readback_every(device),
    };
    let per_repeat = run_on(device, Timing(arch, data, sizes))?;
    let mut sorted = per_repeat.clone();
    sorted.sort_by(f64::total_cmp);
    Ok(StepTiming {
        arch: arch.spec_string(),
        task: data.task.clone(),
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
    sizes: Sizes,
) -> Vec<f64> {
    struct Time<'a, B: AutodiffBackend>(&'a B::Device, &'a Dataset, Sizes);
    impl<B: AutodiffBackend> OnModel<B> for Time<'_, B> {
        type Output = Vec<f64>;
        fn run<M>(self, model: M) -> Vec<f64>
        where
            M: AutodiffModule<B> + Classifier<B>,
            M::InnerModule: Classifier<B::InnerBackend>,
        {
            time_model(model, self.0, self.1, self.2)
        }
    }
    let work = Time::<B>(device, data, sizes);
    with_model(arch, &data.shape, data.num_classes, 0, device, work)
}

fn time_model<B, M>(model: M, device: &B::Device, data: &Dataset, sizes: Sizes) -> Vec<f64>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Classifier<B>,
    M::InnerModule: Classifier<B::InnerBackend>,
{
    let Sizes {
        batch_size,
        steps,
        repeats,
        readback_every,
    } = sizes;
    let batch = batch_size.min(data.n_train());
    let d = data.input_len();
    let train = DeviceSplit::<B>::upload(
        &data.x_train[..batch * d],
        &data.y_train[..batch],
        d,
        device,
    );
    let loss = LossSettings {
        label_smoothing: 0.0,
        divergence_bound: f64::INFINITY,
    };
    let mut engine = Engine::new(model, train, OptimizerSettings::default(), loss, device)
        .with_readback_every(readback_every);
    let hyper = StepHyperparams {
        lr: 0.05,
        momentum: 0.9,
        weight_decay: 5e-4,
    };
    let indices: Vec<usize> = (0..batch).collect();
    // Losses are read back as in training (every step on the CPU), which forces steps to complete.
    let mut step = || {
        engine.step(&indices, &hyper);
    };
    for _ in 0..WARMUP_STEPS {
        step();
    }
    let mut per_repeat = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        B::sync(device).ok();
        let start = Instant::now();
        for _ in 0..steps.max(1) {
            step();
        }
        B::sync(device).ok();
        per_repeat.push(start.elapsed().as_secs_f64() * 1e3 / steps.max(1) as f64);
    }
    per_repeat
}
