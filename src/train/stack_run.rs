//! Training a stack of runs: the runs share task, architecture, batch order, epochs and optimizer
//! settings and differ in initialisation seed, LR policy, momentum and weight decay. Each member
//! keeps its own [`RunRecorder`], so its outcome is the one it gets when trained alone.

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};

use super::engine::DeviceSplit;
use super::optimizer::MemberHyperparams;
use super::recorder::{EpochEnd, RunRecorder};
use super::stack_engine::{StackEngine, StackStep, eval_chunk_rows, predict_stacked_logits};
use super::{SHUFFLE_STREAM, TrainOutcome, TrainSettings, evaluate_logits};
use crate::data::Dataset;
use crate::device::{ComputeDevice, OnBackend, run_on};
use crate::error::Result;
use crate::model::Arch;
use crate::model::stacked::memory::activations_per_example;
use crate::model::stacked::{OnStackedModel, StackedClassifier, with_stacked_model};
use crate::schedule::LrPolicy;
use crate::train::engine::BatchOrder;
use crate::train::run::{EvalSplits, loss_settings, readback_every, upload_splits};

/// One run of a stack: its policy and settings.
#[derive(Debug, Clone, Copy)]
pub struct StackMember<'a> {
    /// LR (and momentum) policy.
    pub policy: &'a LrPolicy,
    /// Settings; everything but `seed`, `momentum` and `weight_decay` must equal the other members'.
    pub settings: &'a TrainSettings,
}

/// The settings every member of a stack shares: all but the per-member seed, momentum and weight
/// decay (those set to 0).
pub fn shared_settings(settings: &TrainSettings) -> TrainSettings {
    TrainSettings {
        seed: 0,
        momentum: 0.0,
        weight_decay: 0.0,
        ..settings.clone()
    }
}

/// Whether two runs' settings allow training them in one stack.
pub fn stackable_settings(a: &TrainSettings, b: &TrainSettings) -> bool {
    shared_settings(a) == shared_settings(b)
}

/// Train `members` as one stack of `arch` on `data` on the chosen device; one outcome per member,
/// in order.
///
/// # Panics
/// If `members` is empty or their settings are not [stackable](stackable_settings).
pub fn train_stack(
    device: ComputeDevice,
    arch: &Arch,
    data: &Dataset,
    members: &[StackMember<'_>],
) -> Result<Vec<TrainOutcome>> {
    struct Training<'a>(ComputeDevice, &'a Arch, &'a Dataset, &'a [StackMember<'a>]);
    impl OnBackend for Training<'_> {
        type Output = Vec<TrainOutcome>;
        fn run<B: AutodiffBackend>(self, device: &B::Device) -> Vec<TrainOutcome> {
            train_stack_on::<B>(device, self.0, self.1, self.2, self.3)
        }
    }
    run_on(device, Training(device, arch, data, members))
}

/// Train a stack on an explicit autodiff backend `B`.
pub fn train_stack_on<B: AutodiffBackend>(
    device: &B::Device,
    device_name: ComputeDevice,
    arch: &Arch,
    data: &Dataset,
    members: &[StackMember<'_>],
) -> Vec<TrainOutcome> {
    assert!(!members.is_empty(), "a stack needs members");
    assert!(
        members
            .iter()
            .all(|m| stackable_settings(m.settings, members[0].settings)),
        "stack members must share all settings but seed, momentum and weight decay"
    );
    struct Fit<'a, B: AutodiffBackend> {
        device: &'a B::Device,
        device_name: ComputeDevice,
        data: &'a Dataset,
        members: &'a [StackMember<'a>],
        activations_per_example: usize,
    }
    impl<B: AutodiffBackend> OnStackedModel<B> for Fit<'_, B> {
        type Output = Vec<TrainOutcome>;
        fn run<M>(self, model: M) -> Vec<TrainOutcome>
        where
            M: AutodiffModule<B> + StackedClassifier<B>,
            M::InnerModule: StackedClassifier<B::InnerBackend>,
        {
            StackLoop::new(
                model,
                self.device,
                self.device_name,
                self.data,
                self.members,
            )
            .with_activations_per_example(self.activations_per_example)
            .run()
        }
    }
    let seeds: Vec<u64> = members.iter().map(|m| m.settings.seed).collect();
    let work = Fit::<B> {
        device,
        device_name,
        data,
        members,
        activations_per_example: activations_per_example(arch, &data.shape, data.num_classes),
    };
    with_stacked_model(arch, &data.shape, data.num_classes, &seeds, device, work)
}

/// ‖w‖ of every batch-normalised weight tensor of each member of `model`: the tensors' names, and
/// per member (stack order) their norms in that order. Empty for models without batch norm.
fn stacked_bn_weight_norms<B: Backend, M: StackedClassifier<B>>(
    model: &M,
) -> (Vec<String>, Vec<Vec<f64>>) {
    let weights = model.bn_fed_weights();
    let mut norms = vec![Vec::with_capacity(weights.len()); model.members()];
    let mut names = Vec::with_capacity(weights.len());
    for (name, weight) in weights {
        let squared: Vec<f32> = weight
            .square()
            .sum_dim(1)
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32 norms");
        for (member, squared) in norms.iter_mut().zip(squared) {
            member.push((squared as f64).sqrt());
        }
        names.push(name);
    }
    (names, norms)
}

/// The state of a stack between steps.
struct StackLoop<'a, B: AutodiffBackend, M> {
    engine: StackEngine<B, M>,
    splits: EvalSplits<B::InnerBackend>,
    data: &'a Dataset,
    members: &'a [StackMember<'a>],
    device_name: ComputeDevice,
    start: Instant,
    /// Activation values one example makes in one member (bounds the rows evaluated at once).
    activations_per_example: usize,
}

impl<'a, B, M> StackLoop<'a, B, M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + StackedClassifier<B>,
    M::InnerModule: StackedClassifier<B::InnerBackend>,
{
    fn new(
        model: M,
        device: &B::Device,
        device_name: ComputeDevice,
        data: &'a Dataset,
        members: &'a [StackMember<'a>],
    ) -> Self {
        let start = Instant::now();
        let settings = members[0].settings;
        let (train, splits) = upload_splits::<B>(data, device);
        let loss = loss_settings(settings, data.num_classes);
        let engine = StackEngine::new(model, train, settings.optimizer, loss)
            .with_readback_every(readback_every(device_name));
        Self {
            engine,
            splits,
            data,
            members,
            device_name,
            start,
            activations_per_example: 1,
        }
    }

    fn with_activations_per_example(mut self, values: usize) -> Self {
        self.activations_per_example = values;
        self
    }

    /// Rows evaluated per forward pass of `model`.
    fn eval_rows<MI: StackedClassifier<B::InnerBackend>>(&self, model: &MI) -> usize {
        eval_chunk_rows(model.members(), self.activations_per_example)
    }

    /// Epoch-end metrics of the members `ids` (a subset of the active ones) as the stack stands now.
    fn epoch_ends(&mut self, ids: &[usize]) -> Vec<EpochEnd> {
        let rows: Vec<usize> = ids
            .iter()
            .map(|id| {
                self.engine
                    .active()
                    .iter()
                    .position(|a| a == id)
                    .expect("an active member")
            })
            .collect();
        let mut model = self.engine.model().valid();
        if rows.len() < self.engine.active().len() {
            model = model.retain_members(&rows);
        }
        let classes = self.data.num_classes;
        let chunk_rows = self.eval_rows(&model);
        let evaluate = |split: &DeviceSplit<B::InnerBackend>| {
            predict_stacked_logits(&model, split, chunk_rows)
                .iter()
                .map(|logits| evaluate_logits(logits, &split.labels, classes))
                .collect::<Vec<_>>()
        };
        let test = evaluate(&self.splits.test);
        let validation = self.splits.validation.as_ref().map(evaluate);
        let train_eval = evaluate(&self.splits.train_subset);
        let (bn_layers, bn_norms) = stacked_bn_weight_norms(&model);
        let steps = self.engine.steps_done();
        ids.iter()
            .zip(bn_norms)
            .enumerate()
            .map(|(i, (&id, norms))| EpochEnd {
                steps,
                train_loss: self.engine.take_mean_loss(id),
                test: test[i],
                validation: validation.as_ref().map(|v| v[i]),
                train_eval: train_eval[i],
                bn_weights: (bn_layers.clone(), norms),
            })
            .collect()
    }

    /// Close the epoch `epoch` of the members that diverged (at the given steps), apply a held-back
    /// step, and drop them.
    fn retire(
        &mut self,
        epoch: usize,
        diverged: &[(usize, u64)],
        records: &mut [RunRecorder<'a>],
        step_applied: bool,
    ) {
        let ids: Vec<usize> = diverged.iter().map(|&(id, _)| id).collect();
        let ends = self.epoch_ends(&ids);
        for (&(id, at_step), mut end) in diverged.iter().zip(ends) {
            records[id].diverged(at_step);
            end.steps = at_step;
            records[id].end_epoch(epoch, end);
        }
        if !step_applied {
            self.engine.apply_held_step();
        }
        self.engine.drop_members(&ids);
    }

    fn run(mut self) -> Vec<TrainOutcome> {
        let settings = self.members[0].settings;
        let n = self.engine.n_train();
        let total_steps = n.div_ceil(settings.batch_size.max(1)) * settings.epochs;
        let mut order = BatchOrder::new(
            n,
            settings.batch_size,
            settings.data_seed.wrapping_add(SHUFFLE_STREAM),
        );
        let classes = self.data.num_classes;
        let mut records: Vec<RunRecorder<'a>> = self
            .members
            .iter()
            .map(|m| RunRecorder::new(m.policy, m.settings, classes, total_steps))
            .collect();
        'epochs: for epoch in 0..settings.epochs {
            for batch in order.epoch() {
                let step = self.engine.steps_done();
                let mut hyper = MemberHyperparams::default();
                for &id in self.engine.active() {
                    hyper.push(records[id].hyper(step));
                }
                if let StackStep::Diverged {
                    members,
                    step_applied,
                } = self.engine.step(&batch, &hyper)
                {
                    self.retire(epoch, &members, &mut records, step_applied);
                }
                super::STEPS_TRAINED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if self.engine.active().is_empty() {
                    break 'epochs;
                }
                self.trace(&mut records);
                self.snapshot(&mut records);
            }
            if let StackStep::Diverged { members, .. } = self.engine.flush() {
                self.retire(epoch, &members, &mut records, true);
            }
            let ids = self.engine.active().to_vec();
            if ids.is_empty() {
                break;
            }
            for (id, end) in ids.iter().zip(self.epoch_ends(&ids)) {
                records[*id].end_epoch(epoch, end);
            }
        }
        let stack_size = self.members.len();
        let wall = self.start.elapsed().as_secs_f64() / stack_size as f64;
        let val_labels = self.splits.validation.as_ref().map(|v| &v.labels[..]);
        records
            .into_iter()
            .enumerate()
            .map(|(id, record)| TrainOutcome {
                stack_size,
                ..record.finish(
                    self.engine.losses(id),
                    (&self.splits.test.labels, val_labels),
                    wall,
                    self.device_name,
                )
            })
            .collect()
    }

    /// Trace the batch-normalised weight norms of every member after this step, when due (the
    /// interval is a shared setting, so it is due for all members or none).
    fn trace(&self, records: &mut [RunRecorder<'a>]) {
        let step = self.engine.steps_done();
        let active = self.engine.active();
        if !records[active[0]].wants_trace(step) {
            return;
        }
        let (_, norms) = stacked_bn_weight_norms(&self.engine.model().valid());
        for (&id, norms) in active.iter().zip(norms) {
            records[id].trace(step, &norms);
        }
    }

    /// Add snapshots for the members whose policy takes one after this step.
    fn snapshot(&self, records: &mut [RunRecorder<'a>]) {
        let step = self.engine.steps_done();
        let rows: Vec<usize> = (0..self.engine.active().len())
            .filter(|&row| records[self.engine.active()[row]].wants_snapshot(step))
            .collect();
        if rows.is_empty() {
            return;
        }
        let model = self.engine.model().valid().retain_members(&rows);
        let chunk_rows = self.eval_rows(&model);
        let test = predict_stacked_logits(&model, &self.splits.test, chunk_rows);
        let val = self
            .splits
            .validation
            .as_ref()
            .map(|v| predict_stacked_logits(&model, v, chunk_rows));
        for (i, &row) in rows.iter().enumerate() {
            let id = self.engine.active()[row];
            records[id].add_snapshot(&test[i], val.as_ref().map(|v| &v[i][..]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Task, mnist1d::Mnist1dConfig};
    use crate::schedule::{PolicySpec, ScheduleContext};
    use crate::train::{OptimizerKind, OptimizerSettings, train};

    fn data() -> Dataset {
        Task::mnist1d(Mnist1dConfig {
            num_samples: 600,
            ..Default::default()
        })
        .load(Some((0.1, 0)))
        .unwrap()
    }

    fn policy(spec: &str, total_steps: u64) -> LrPolicy {
        LrPolicy::build(
            &PolicySpec::parse(spec).unwrap(),
            &ScheduleContext {
                total_steps,
                steps_per_epoch: 14,
            },
        )
        .unwrap()
    }

    fn settings(
        seed: u64,
        momentum: f64,
        weight_decay: f64,
        optimizer: OptimizerSettings,
    ) -> TrainSettings {
        TrainSettings {
            epochs: 3,
            batch_size: 32,
            seed,
            data_seed: 7,
            momentum,
            weight_decay,
            optimizer,
            label_smoothing: 0.1,
            divergence_factor: 10.0,
            target_accuracy: 0.3,
            trace_every: 5,
        }
    }

    fn close(a: f64, b: f64, what: &str) {
        assert!(
            (a - b).abs() <= 2e-4 * (1.0 + a.abs()) || (a.is_nan() && b.is_nan()),
            "{what}: stacked {a} vs alone {b}"
        );
    }

    /// The same outcome (within float tolerance: batched and single gemms sum in different orders).
    fn assert_same(stacked: &TrainOutcome, alone: &TrainOutcome, what: &str) {
        assert_eq!(stacked.diverged_at_step, alone.diverged_at_step, "{what}");
        assert_eq!(stacked.outcome, alone.outcome, "{what}");
        assert_eq!(stacked.steps, alone.steps, "{what}");
        assert_eq!(stacked.epochs.len(), alone.epochs.len(), "{what}");
        for (s, a) in stacked.epochs.iter().zip(&alone.epochs) {
            let what = &format!("{what} epoch {}", s.epoch);
            close(s.train_loss, a.train_loss, what);
            close(s.test.loss, a.test.loss, what);
            close(s.validation.unwrap().loss, a.validation.unwrap().loss, what);
            close(s.train_eval.loss, a.train_eval.loss, what);
            assert!((s.test.top1 - a.test.top1).abs() <= 0.005, "{what}");
            close(s.lr, a.lr, what);
            assert_eq!(s.bn_weight_norms.len(), a.bn_weight_norms.len(), "{what}");
            for (s, a) in s.bn_weight_norms.iter().zip(&a.bn_weight_norms) {
                close(*s, *a, &format!("{what} batch-normalised weight norm"));
            }
        }
        assert_eq!(stacked.bn_layers, alone.bn_layers, "{what}");
        let (s, a) = (&stacked.norm_trace, &alone.norm_trace);
        assert_eq!(s.steps, a.steps, "{what} trace");
        for (s, a) in s.weight_norm.iter().zip(&a.weight_norm) {
            close(*s, *a, &format!("{what} traced weight norm"));
        }
        for (s, a) in s.effective_lr.iter().zip(&a.effective_lr) {
            close(*s, *a, &format!("{what} traced effective LR"));
        }
        assert_eq!(stacked.steps_to_target, alone.steps_to_target, "{what}");
        assert_eq!(
            stacked.ensemble.map(|e| e.snapshots),
            alone.ensemble.map(|e| e.snapshots),
            "{what}"
        );
        if let (Some(s), Some(a)) = (&stacked.ensemble, &alone.ensemble) {
            close(s.test.loss, a.test.loss, what);
        }
        assert_eq!(stacked.spikes.spikes, alone.spikes.spikes, "{what}");
        close(stacked.applied_lr.mean, alone.applied_lr.mean, what);
    }

    #[test]
    fn a_stacked_run_gives_the_result_it_gets_alone() {
        let data = data();
        let total = 14 * 3;
        let sgd = OptimizerSettings::default();
        let nesterov = OptimizerSettings {
            nesterov: true,
            clip_grad_norm: Some(1.0),
            ..sgd
        };
        let adam = OptimizerSettings {
            kind: OptimizerKind::Adam,
            ..sgd
        };
        // Per optimizer: members with different seeds, policies, momenta and weight decays, one
        // diverging mid-run and one diverging on its first update.
        /// (policy, seed, momentum, weight decay) of each member.
        type Members<'a> = Vec<(&'a str, u64, f64, f64)>;
        let cases: Vec<(OptimizerSettings, Members<'_>)> = vec![
            (
                sgd,
                vec![
                    ("constant:lr=0.05", 0, 0.9, 0.0),
                    ("cosine_restarts:lr=0.1,t_0=14", 1, 0.9, 5e-4),
                    ("onecycle:max_lr=0.2", 2, 0.9, 1e-3),
                    ("exponential:lr=0.5,gamma=1.3", 3, 0.9, 0.0),
                    ("constant:lr=1e6", 4, 0.5, 0.0),
                    ("step:lr=0.05,step_size=14,gamma=0.3", 5, 0.0, 0.0),
                ],
            ),
            (
                nesterov,
                vec![
                    ("constant:lr=0.05", 0, 0.9, 5e-4),
                    ("cosine:lr=0.5", 1, 0.8, 0.0),
                ],
            ),
            (
                adam,
                vec![
                    ("constant:lr=0.003", 0, 0.9, 0.0),
                    ("onecycle:max_lr=0.01", 1, 0.9, 1e-4),
                    ("constant:lr=1e5", 2, 0.9, 0.0),
                ],
            ),
        ];
        let archs = [
            Arch::Mlp {
                hidden: vec![16, 12],
                dropout: 0.2,
            },
            Arch::Cnn1d { channels: 4 },
            Arch::Cnn2d {
                channels: vec![3],
                hidden: 5,
            },
            // Batch norm per member: batch statistics in training, running ones in evaluation.
            Arch::ResNet { depth: 8, width: 2 },
        ];
        for arch in &archs {
            let (mut first_update, mut mid_run) = (0, 0);
            let data = if matches!(arch, Arch::Cnn2d { .. } | Arch::ResNet { .. }) {
                // 40 = 1 × 5 × 8 images.
                Dataset {
                    shape: vec![1, 5, 8],
                    ..data.clone()
                }
            } else {
                data.clone()
            };
            for (optimizer, runs) in &cases {
                let convolutional = matches!(arch, Arch::Cnn1d { .. } | Arch::Cnn2d { .. });
                if convolutional && optimizer.kind != OptimizerKind::Sgd {
                    continue;
                }
                let built: Vec<(LrPolicy, TrainSettings)> = runs
                    .iter()
                    .map(|&(spec, seed, m, wd)| {
                        (policy(spec, total), settings(seed, m, wd, *optimizer))
                    })
                    .collect();
                let members: Vec<StackMember<'_>> = built
                    .iter()
                    .map(|(policy, settings)| StackMember { policy, settings })
                    .collect();
                let stacked = train_stack(ComputeDevice::Cpu, arch, &data, &members).unwrap();
                for ((out, (policy, settings)), run) in stacked.iter().zip(&built).zip(runs) {
                    let alone = train(ComputeDevice::Cpu, arch, &data, policy, settings).unwrap();
                    assert_eq!(out.stack_size, runs.len());
                    assert_same(out, &alone, &format!("{arch:?} {optimizer:?} {run:?}"));
                    match alone.diverged_at_step {
                        Some(1) => first_update += 1,
                        Some(_) => mid_run += 1,
                        None => {}
                    }
                }
            }
            // Members diverging on their first update and later, in every architecture.
            assert!(
                first_update >= 1 && mid_run >= 1,
                "{arch:?}: {first_update} diverged on the first update, {mid_run} later"
            );
        }
    }
}
