//! Speed benchmark: milliseconds per SGD training step (batch selection, forward, cross-entropy,
//! backward, update) on the engine that trains every run.

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;

use super::engine::{DeviceSplit, Engine, LossSettings};
use super::optimizer::{MemberHyperparams, OptimizerSettings, StepHyperparams};
use super::stack_engine::StackEngine;
use crate::data::Dataset;
use crate::device::{ComputeDevice, OnBackend, run_on};
use crate::error::Result;
use crate::model::stacked::{OnStackedModel, StackedClassifier, with_stacked_model};
use crate::model::{Arch, Classifier, OnModel, with_model};

/// Warm-up steps before timing, for `lrcast bench`.
pub const WARMUP_STEPS: usize = 20;

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
    /// Models trained per step: 1 alone, K for a stack of K.
    pub members: usize,
    /// Whether the models were trained as one stack.
    pub stacked: bool,
    /// Model-steps per second at the median step time (members × 1000 / ms).
    pub model_steps_per_second: f64,
}

/// Column names of `lrcast bench`'s table, aligned with [`table_row`] (the variable-width
/// architecture and task come last, so the numbers stay aligned).
pub fn table_header() -> String {
    format!(
        "{:<7} {:>5}  {:>9}  {:>16}  {:>13}  {:>13}  architecture  task",
        "device", "batch", "members", "ms/step (median)", "ms/step (min)", "model-steps/s"
    )
}

/// One timing as a row of `lrcast bench`'s table.
pub fn table_row(t: &StepTiming) -> String {
    let members = match t.stacked {
        true => format!("{} stacked", t.members),
        false => "1".into(),
    };
    format!(
        "{:<7} {:>5}  {:>9}  {:>16.3}  {:>13.3}  {:>13.0}  {}  {}",
        t.device,
        t.batch_size,
        members,
        t.ms_per_step_median,
        t.ms_per_step_min,
        t.model_steps_per_second,
        t.arch,
        t.task,
    )
}

/// How much to time, and how often the engine reads losses back (as in training on that device).
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Samples per step.
    pub batch_size: usize,
    /// Untimed steps first (the first steps allocate buffers and fill caches).
    pub warmup: usize,
    /// Timed steps per repeat.
    pub steps: usize,
    /// Repeats.
    pub repeats: usize,
    /// Steps between loss read-backs.
    pub readback_every: usize,
}

/// Time `steps` SGD steps `repeats` times, of one model alone (`stack: None`) or of a stack of
/// `K` models trained as one (`Some(K)`).
pub fn time_steps(
    device: ComputeDevice,
    arch: &Arch,
    data: &Dataset,
    sizes: Sizes,
    stack: Option<usize>,
) -> Result<StepTiming> {
    struct Timing<'a>(&'a Arch, &'a Dataset, Sizes, Option<usize>);
    impl OnBackend for Timing<'_> {
        type Output = Vec<f64>;
        fn run<B: AutodiffBackend>(self, device: &B::Device) -> Vec<f64> {
            time_on::<B>(device, self.0, self.1, self.2, self.3)
        }
    }
    let per_repeat = run_on(device, Timing(arch, data, sizes, stack))?;
    let mut sorted = per_repeat.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let members = stack.unwrap_or(1);
    Ok(StepTiming {
        arch: arch.spec_string(),
        task: data.task.clone(),
        batch_size: sizes.batch_size,
        device: device.to_string(),
        ms_per_step_median: median,
        ms_per_step_min: sorted[0],
        members,
        stacked: stack.is_some(),
        model_steps_per_second: members as f64 * 1e3 / median,
    })
}

fn time_on<B: AutodiffBackend>(
    device: &B::Device,
    arch: &Arch,
    data: &Dataset,
    sizes: Sizes,
    stack: Option<usize>,
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
    impl<B: AutodiffBackend> OnStackedModel<B> for Time<'_, B> {
        type Output = Vec<f64>;
        fn run<M>(self, model: M) -> Vec<f64>
        where
            M: AutodiffModule<B> + StackedClassifier<B>,
            M::InnerModule: StackedClassifier<B::InnerBackend>,
        {
            time_stack(model, self.0, self.1, self.2)
        }
    }
    let work = Time::<B>(device, data, sizes);
    match stack {
        None => with_model(arch, &data.shape, data.num_classes, 0, device, work),
        Some(k) => {
            let seeds: Vec<u64> = (0..k as u64).collect();
            with_stacked_model(arch, &data.shape, data.num_classes, &seeds, device, work)
        }
    }
}

/// The first `batch_size` training examples on the device, and their indices.
fn timing_batch<B: AutodiffBackend>(
    device: &B::Device,
    data: &Dataset,
    batch_size: usize,
) -> (DeviceSplit<B>, Vec<usize>) {
    let batch = batch_size.min(data.n_train());
    let d = data.input_len();
    let train = DeviceSplit::<B>::upload(
        &data.x_train[..batch * d],
        &data.y_train[..batch],
        d,
        device,
    );
    (train, (0..batch).collect())
}

/// No divergence bound: timing must not stop.
const TIMING_LOSS: LossSettings = LossSettings {
    label_smoothing: 0.0,
    divergence_bound: f64::INFINITY,
};

/// The hyperparameters every timed step uses.
const TIMING_STEP: StepHyperparams = StepHyperparams {
    lr: 0.05,
    momentum: 0.9,
    weight_decay: 5e-4,
};

/// Mean ms per call of `step` over `sizes.steps` calls, per repeat, after warm-up.
fn time_repeats<B: AutodiffBackend>(
    device: &B::Device,
    sizes: Sizes,
    mut step: impl FnMut(),
) -> Vec<f64> {
    for _ in 0..sizes.warmup {
        step();
    }
    let mut per_repeat = Vec::with_capacity(sizes.repeats);
    for _ in 0..sizes.repeats.max(1) {
        B::sync(device).ok();
        let start = Instant::now();
        for _ in 0..sizes.steps.max(1) {
            step();
        }
        B::sync(device).ok();
        per_repeat.push(start.elapsed().as_secs_f64() * 1e3 / sizes.steps.max(1) as f64);
    }
    per_repeat
}

fn time_stack<B, M>(model: M, device: &B::Device, data: &Dataset, sizes: Sizes) -> Vec<f64>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + StackedClassifier<B>,
    M::InnerModule: StackedClassifier<B::InnerBackend>,
{
    let (train, indices) = timing_batch::<B>(device, data, sizes.batch_size);
    let mut hyper = MemberHyperparams::default();
    for _ in 0..model.members() {
        hyper.push(TIMING_STEP);
    }
    let mut engine = StackEngine::new(model, train, OptimizerSettings::default(), TIMING_LOSS)
        .with_readback_every(sizes.readback_every);
    time_repeats::<B>(device, sizes, || {
        engine.step(&indices, &hyper);
    })
}

fn time_model<B, M>(model: M, device: &B::Device, data: &Dataset, sizes: Sizes) -> Vec<f64>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Classifier<B>,
    M::InnerModule: Classifier<B::InnerBackend>,
{
    let (train, indices) = timing_batch::<B>(device, data, sizes.batch_size);
    let mut engine = Engine::new(
        model,
        train,
        OptimizerSettings::default(),
        TIMING_LOSS,
        device,
    )
    .with_readback_every(sizes.readback_every);
    // Losses are read back as in training (every step on the CPU), which forces steps to complete.
    time_repeats::<B>(device, sizes, || {
        engine.step(&indices, &TIMING_STEP);
    })
}
