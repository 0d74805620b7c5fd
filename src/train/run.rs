//! One training run on a chosen backend: upload data, step through the epochs, evaluate, stop on divergence.

use std::sync::Arc;
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::optimizer::{ScheduledSgd, StepHyperparams};
use super::{EpochRecord, TrainOutcome, TrainSettings, evaluate_logits};
use crate::data::Dataset;
use crate::device::{ComputeDevice, OnBackend, run_on};
use crate::error::Result;
use crate::model::{Arch, Classifier, OnModel, with_model};
use crate::schedule::LrPolicy;

/// Train `arch` on `data` with `policy` on the chosen device.
pub fn train(
    device: ComputeDevice,
    arch: &Arch,
    data: &Dataset,
    policy: &LrPolicy,
    settings: &TrainSettings,
) -> Result<TrainOutcome> {
    struct Training<'a>(
        ComputeDevice,
        &'a Arch,
        &'a Dataset,
        &'a LrPolicy,
        &'a TrainSettings,
    );
    impl OnBackend for Training<'_> {
        type Output = TrainOutcome;
        fn run<B: AutodiffBackend>(self, device: &B::Device) -> TrainOutcome {
            train_on::<B>(device, self.0, self.1, self.2, self.3, self.4)
        }
    }
    run_on(device, Training(device, arch, data, policy, settings))
}

/// Train on an explicit autodiff backend `B`.
pub fn train_on<B: AutodiffBackend>(
    device: &B::Device,
    device_name: ComputeDevice,
    arch: &Arch,
    data: &Dataset,
    policy: &LrPolicy,
    settings: &TrainSettings,
) -> TrainOutcome {
    struct Fit<'a, B: AutodiffBackend> {
        device: &'a B::Device,
        device_name: ComputeDevice,
        data: &'a Dataset,
        policy: &'a LrPolicy,
        settings: &'a TrainSettings,
    }
    impl<B: AutodiffBackend> OnModel<B> for Fit<'_, B> {
        type Output = TrainOutcome;
        fn run<M>(self, model: M) -> TrainOutcome
        where
            M: AutodiffModule<B> + Classifier<B>,
            M::InnerModule: Classifier<B::InnerBackend>,
        {
            fit(
                model,
                self.device,
                self.device_name,
                self.data,
                self.policy,
                self.settings,
            )
        }
    }
    let work = Fit::<B> {
        device,
        device_name,
        data,
        policy,
        settings,
    };
    with_model(
        arch,
        data.input_len,
        data.num_classes,
        settings.seed,
        device,
        work,
    )
}

/// Running summary of the learning rates actually applied.
#[derive(Default)]
struct AppliedLr {
    first: Option<f64>,
    last: f64,
    peak: f64,
    sum: f64,
    count: u64,
}

impl AppliedLr {
    fn push(&mut self, lr: f64) {
        self.first.get_or_insert(lr);
        self.last = lr;
        self.peak = self.peak.max(lr);
        self.sum += lr;
        self.count += 1;
    }

    fn summary(&self) -> super::LrSummary {
        super::LrSummary {
            initial: self.first.unwrap_or(f64::NAN),
            peak: self.peak,
            last: self.last,
            mean: self.sum / self.count.max(1) as f64,
        }
    }
}

fn labels_tensor<B: Backend>(labels: &[u8], device: &B::Device) -> Tensor<B, 1, Int> {
    let values: Vec<i64> = labels.iter().map(|&y| y as i64).collect();
    Tensor::from_data(TensorData::new(values, [labels.len()]), device)
}

fn evaluate<B: Backend, M: Classifier<B>>(
    model: &M,
    x_test: &Tensor<B, 2>,
    data: &Dataset,
) -> super::EvalMetrics {
    let logits = model.logits(x_test.clone()).into_data().convert::<f32>();
    let logits = logits.to_vec::<f32>().expect("f32 logits");
    evaluate_logits(&logits, &data.y_test, data.num_classes)
}

fn fit<B, M>(
    mut model: M,
    device: &B::Device,
    device_name: ComputeDevice,
    data: &Dataset,
    policy: &LrPolicy,
    settings: &TrainSettings,
) -> TrainOutcome
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Classifier<B>,
    M::InnerModule: Classifier<B::InnerBackend>,
{
    let start = Instant::now();
    let n = data.n_train();
    let x_train = Tensor::<B, 2>::from_data(
        TensorData::new(data.x_train.clone(), [n, data.input_len]),
        device,
    );
    let y_train = labels_tensor::<B>(&data.y_train, device);
    let x_test = Tensor::<B::InnerBackend, 2>::from_data(
        TensorData::new(data.x_test.clone(), [data.n_test(), data.input_len]),
        device,
    );

    let hyper = Arc::new(StepHyperparams::default());
    hyper.set_weight_decay(settings.weight_decay);
    let mut optim = ScheduledSgd::new(hyper.clone(), settings.nesterov).into_optimizer::<B, M>();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let divergence_bound = settings.divergence_factor * (data.num_classes as f64).ln();
    // Shuffling has its own stream so that it does not depend on the initialisation's draws.
    let mut shuffle_rng = ChaCha8Rng::seed_from_u64(settings.seed.wrapping_add(0x0005_4AFF_1E00));
    let mut order: Vec<usize> = (0..n).collect();

    // Metric-driven policies (plateau) keep a tracker that observes each epoch's mean training loss
    // (the test split is never used to steer training).
    let mut plateau = policy.plateau_state();
    let mut applied = AppliedLr::default();
    let mut epochs = Vec::with_capacity(settings.epochs);
    let (mut step, mut diverged_at_step, mut steps_to_target) = (0u64, None, None);
    let mut lr = policy.lr(0);
    for epoch in 0..settings.epochs {
        order.shuffle(&mut shuffle_rng);
        let (mut loss_sum, mut batches) = (0.0f64, 0usize);
        for batch in order.chunks(settings.batch_size) {
            lr = plateau.as_ref().map_or_else(|| policy.lr(step), |p| p.lr());
            applied.push(lr);
            hyper.set_momentum(policy.momentum(step).unwrap_or(settings.momentum));
            let index: Vec<i64> = batch.iter().map(|&i| i as i64).collect();
            let index =
                Tensor::<B, 1, Int>::from_data(TensorData::new(index, [batch.len()]), device);
            let logits = model.logits(x_train.clone().select(0, index.clone()));
            let loss = loss_fn.forward(logits, y_train.clone().select(0, index));
            let loss_value: f64 = loss.clone().into_scalar().elem();
            loss_sum += loss_value;
            batches += 1;
            if !loss_value.is_finite() || loss_value > divergence_bound {
                diverged_at_step = Some(step);
                break;
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            step += 1;
        }
        let train_loss = loss_sum / batches.max(1) as f64;
        if let Some(tracker) = plateau.as_mut() {
            tracker.observe(train_loss);
        }
        let test = evaluate(&model.valid(), &x_test, data);
        if steps_to_target.is_none() && test.top1 >= settings.target_accuracy {
            steps_to_target = Some(step);
        }
        epochs.push(EpochRecord {
            epoch,
            steps: step,
            lr,
            train_loss,
            test,
        });
        if diverged_at_step.is_some() {
            break;
        }
    }
    let last = epochs.last().expect("at least one epoch");
    TrainOutcome {
        final_metrics: last.test,
        final_train_loss: last.train_loss,
        best_top1: epochs.iter().map(|e| e.test.top1).fold(0.0, f64::max),
        diverged: diverged_at_step.is_some(),
        diverged_at_step,
        steps: step,
        steps_to_target,
        applied_lr: applied.summary(),
        wall_seconds: start.elapsed().as_secs_f64(),
        device: device_name,
        epochs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Task, mnist1d::Mnist1dConfig};
    use crate::schedule::{PolicySpec, ScheduleContext};

    fn small_data() -> Dataset {
        Task::Mnist1d(Mnist1dConfig {
            num_samples: 1000,
            ..Default::default()
        })
        .load()
    }

    fn settings(epochs: usize) -> TrainSettings {
        TrainSettings {
            epochs,
            batch_size: 32,
            seed: 0,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
            divergence_factor: 10.0,
            target_accuracy: 0.3,
        }
    }

    fn policy(spec: &str, total_steps: u64) -> LrPolicy {
        LrPolicy::build(
            &PolicySpec::parse(spec).unwrap(),
            &ScheduleContext {
                total_steps,
                steps_per_epoch: 25,
            },
        )
        .unwrap()
    }

    #[test]
    fn loss_falls_and_accuracy_beats_chance() {
        // Guards the burn pitfall where a misnamed backend parameter silently disables gradients.
        let data = small_data();
        for arch in [Arch::Mlp { hidden: vec![32] }, Arch::Cnn1d { channels: 8 }] {
            let out = train(
                ComputeDevice::Cpu,
                &arch,
                &data,
                &policy("constant:lr=0.05", 100),
                &settings(4),
            )
            .unwrap();
            assert!(!out.diverged);
            assert_eq!(out.epochs.len(), 4);
            assert_eq!(out.steps, 100);
            let (first, last) = (&out.epochs[0], &out.epochs[3]);
            assert!(last.train_loss < first.train_loss, "{arch:?}: {out:?}");
            assert!(out.best_top1 > 0.2, "{arch:?}: {}", out.best_top1);
        }
    }

    #[test]
    fn a_huge_learning_rate_diverges_as_a_result() {
        let out = train(
            ComputeDevice::Cpu,
            &Arch::Mlp { hidden: vec![32] },
            &small_data(),
            &policy("constant:lr=1000", 100),
            &settings(4),
        )
        .unwrap();
        assert!(out.diverged);
        let at = out.diverged_at_step.unwrap();
        assert!(at < 100 && out.steps == at);
        assert!(out.epochs.len() <= 4);
    }

    #[test]
    fn plateau_reduces_the_lr_when_the_training_loss_stalls() {
        // A relative threshold of 0.99 counts no later epoch as an improvement over the first (which
        // sets `best`, as in PyTorch), so with patience 0 the LR halves after epochs 2, 3, ….
        let out = train(
            ComputeDevice::Cpu,
            &Arch::Mlp { hidden: vec![16] },
            &small_data(),
            &policy("plateau:lr=0.1,factor=0.5,patience=0,threshold=0.99", 75),
            &settings(3),
        )
        .unwrap();
        let lrs: Vec<f64> = out.epochs.iter().map(|e| e.lr).collect();
        assert_eq!(lrs, vec![0.1, 0.1, 0.05]);
        assert_eq!(out.applied_lr.initial, 0.1);
        assert_eq!(out.applied_lr.last, 0.05);
    }

    #[test]
    fn same_seed_same_run_other_seed_other_run() {
        let data = small_data();
        let run = |seed| {
            let mut s = settings(1);
            s.seed = seed;
            train(
                ComputeDevice::Cpu,
                &Arch::Mlp { hidden: vec![16] },
                &data,
                &policy("cosine:lr=0.1", 25),
                &s,
            )
            .unwrap()
        };
        let (a, b, c) = (run(3), run(3), run(4));
        assert_eq!(a.epochs, b.epochs);
        assert_ne!(a.epochs, c.epochs);
    }
}
