//! The stacked engine: K models trained as one ([`StackedClassifier`]) on one shared batch order, each
//! member with its own per-step hyperparameters, its own loss, and its own divergence. A diverged
//! member leaves the stack (its rows are dropped from the model and the optimizer state); the others
//! go on unchanged, so each member's result is the one it gets alone.

use burn::module::AutodiffModule;
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};

use super::engine::{DeviceSplit, LossSettings, mean_loss};
use super::optimizer::{MemberHyperparams, OptimizerSettings, ScheduledOptimizer};
use crate::model::stacked::StackedClassifier;

/// Rows of one split evaluated per forward pass of a whole stack, times its members (bounds the
/// activations of an evaluation).
const EVAL_ROWS_TIMES_MEMBERS: usize = 16_384;

/// Activation bytes one evaluation forward pass of a stack may hold (f32 values, all members).
const EVAL_ACTIVATION_BYTES: usize = 256 << 20;

/// Rows evaluated per forward pass of a stack of `members` whose models produce
/// `activations_per_example` values per example (see
/// [`crate::model::stacked::memory::activations_per_example`]): at most
/// [`EVAL_ROWS_TIMES_MEMBERS`] row-members, within [`EVAL_ACTIVATION_BYTES`] (a ResNet on 28×28
/// images makes about 150 000 values per example), at least 8 rows.
pub fn eval_chunk_rows(members: usize, activations_per_example: usize) -> usize {
    let members = members.max(1);
    let by_memory = EVAL_ACTIVATION_BYTES / (4 * members * activations_per_example.max(1));
    (EVAL_ROWS_TIMES_MEMBERS / members).min(by_memory).max(8)
}

/// What one step of a stack found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackStep {
    /// Every active member stepped.
    Stepped,
    /// These members' losses (member, step of the diverging batch) were not finite or exceeded the
    /// bound. When every loss is read at once (the CPU) the step is held back (`step_applied`
    /// false; see [`StackEngine::step`]).
    Diverged {
        members: Vec<(usize, u64)>,
        step_applied: bool,
    },
}

/// A stacked model, its optimizer and the shared training data on one device.
pub struct StackEngine<B: AutodiffBackend, M> {
    model: Option<M>,
    optimizer: ScheduledOptimizer<B>,
    loss_settings: LossSettings,
    train: DeviceSplit<B>,
    /// Member id of each row of the stack.
    active: Vec<usize>,
    /// Every read-back batch loss per member id, in step order (ends at its diverging batch).
    losses: Vec<Vec<f64>>,
    unaveraged_from: Vec<usize>,
    /// `[active]` losses computed but not read back yet (deferred mode), from step `pending_from`.
    pending: Vec<Tensor<B::InnerBackend, 1>>,
    pending_from: u64,
    /// A step computed but not applied yet (a member diverged; see [`StackEngine::step`]).
    held: Option<(Tensor<B, 1>, MemberHyperparams)>,
    readback_every: usize,
    steps_done: u64,
}

impl<B, M> StackEngine<B, M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + StackedClassifier<B>,
    M::InnerModule: StackedClassifier<B::InnerBackend>,
{
    /// An engine training the stack `model` on `train` (on the model's device).
    pub fn new(
        model: M,
        train: DeviceSplit<B>,
        optimizer: OptimizerSettings,
        loss_settings: LossSettings,
    ) -> Self {
        let members = model.members();
        Self {
            model: Some(model),
            optimizer: ScheduledOptimizer::new(optimizer),
            loss_settings,
            train,
            active: (0..members).collect(),
            losses: vec![Vec::new(); members],
            unaveraged_from: vec![0; members],
            pending: Vec::new(),
            pending_from: 0,
            held: None,
            readback_every: 1,
            steps_done: 0,
        }
    }

    /// Read losses back every `every` steps (see [`super::engine::ACCELERATOR_READBACK_EVERY`]).
    pub fn with_readback_every(mut self, every: usize) -> Self {
        self.readback_every = every.max(1);
        self
    }

    /// Member ids still training, in stack order.
    pub fn active(&self) -> &[usize] {
        &self.active
    }

    /// Optimizer steps applied to the members still training.
    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }

    /// Number of training examples.
    pub fn n_train(&self) -> usize {
        self.train.len()
    }

    /// The stack being trained.
    pub fn model(&self) -> &M {
        self.model
            .as_ref()
            .expect("the model is only taken during a step")
    }

    /// Every batch loss of member `member` read back so far.
    pub fn losses(&self, member: usize) -> &[f64] {
        &self.losses[member]
    }

    /// Mean of member `member`'s batch losses since the last call (NaN when none).
    pub fn take_mean_loss(&mut self, member: usize) -> f64 {
        let recent = &self.losses[member][self.unaveraged_from[member]..];
        self.unaveraged_from[member] = self.losses[member].len();
        mean_loss(recent)
    }

    /// Per-member mean cross-entropy `[members]` of the batch `batch` (label smoothing as burn's
    /// `CrossEntropyLoss`: targets `(1−ε)·onehot + ε/C`).
    fn batch_losses(&self, model: &M, batch: &[usize]) -> Tensor<B, 1> {
        let device = self.train.x.device();
        let (x, _) = self.train.batch_rows(batch);
        let logits = model.stacked_logits(x);
        let [members, rows, classes] = logits.dims();
        let eps = self.loss_settings.label_smoothing;
        let mut target = vec![(eps / classes as f64) as f32; rows * classes];
        for (row, &i) in batch.iter().enumerate() {
            target[row * classes + self.train.labels[i] as usize] += (1.0 - eps) as f32;
        }
        // One copy per member: burn-flex's broadcasting multiply walks strides element by element.
        let target = Tensor::<B, 3>::from_data(
            TensorData::new(target.repeat(members), [members, rows, classes]),
            &device,
        );
        let per_row = (log_softmax(logits, 2) * target).sum_dim(2).neg();
        per_row.mean_dim(1).reshape([members])
    }

    /// One optimizer step of every active member on the training examples `batch`, with `hyper`
    /// holding one value per active member (stack order).
    ///
    /// When every loss is read at once (the CPU) and some member diverges, the step is held back:
    /// the model is still the one that computed the diverging losses (evaluate the diverged members
    /// now), then [`StackEngine::apply_held_step`] applies it and [`StackEngine::drop_members`]
    /// removes them. A diverged member's rows may turn non-finite in that update; rows never mix.
    pub fn step(&mut self, batch: &[usize], hyper: &MemberHyperparams) -> StackStep {
        assert_eq!(
            hyper.members(),
            self.active.len(),
            "one hyperparameter set per member"
        );
        let model = self
            .model
            .as_ref()
            .expect("the model is only taken during a step");
        let losses = self.batch_losses(model, batch);
        if self.readback_every == 1 {
            let values: Vec<f32> = losses
                .clone()
                .into_data()
                .convert::<f32>()
                .to_vec()
                .expect("f32 losses");
            let mut diverged = Vec::new();
            for (&v, &member) in values.iter().zip(&self.active) {
                self.losses[member].push(v as f64);
                if self.loss_settings.diverges(v as f64) {
                    diverged.push((member, self.steps_done));
                }
            }
            if !diverged.is_empty() {
                self.held = Some((losses, hyper.clone()));
                return StackStep::Diverged {
                    members: diverged,
                    step_applied: false,
                };
            }
        } else {
            if self.pending.is_empty() {
                self.pending_from = self.steps_done;
            }
            self.pending.push(losses.clone().inner());
        }
        self.apply(losses, hyper);
        if self.pending.len() >= self.readback_every {
            return self.flush();
        }
        StackStep::Stepped
    }

    /// Apply the step held back by a divergence (see [`StackEngine::step`]).
    pub fn apply_held_step(&mut self) {
        if let Some((losses, hyper)) = self.held.take() {
            self.apply(losses, &hyper);
        }
    }

    fn apply(&mut self, losses: Tensor<B, 1>, hyper: &MemberHyperparams) {
        let model = self
            .model
            .take()
            .expect("the model is only taken during a step");
        let grads = burn::optim::GradientsParams::from_grads(losses.sum().backward(), &model);
        self.model = Some(self.optimizer.step_members(hyper, model, grads));
        self.steps_done += 1;
    }

    /// Read back and check the losses not read yet (deferred mode; call at the end of an epoch).
    /// Members found diverged stay in the stack until [`StackEngine::drop_members`].
    pub fn flush(&mut self) -> StackStep {
        if self.pending.is_empty() {
            return StackStep::Stepped;
        }
        let steps = self.pending.len();
        let values: Vec<f32> = Tensor::cat(std::mem::take(&mut self.pending), 0)
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32 losses");
        let width = self.active.len();
        let mut diverged = Vec::new();
        for (row, &member) in self.active.clone().iter().enumerate() {
            for step in 0..steps {
                let v = values[step * width + row] as f64;
                self.losses[member].push(v);
                if self.loss_settings.diverges(v) {
                    diverged.push((member, self.pending_from + step as u64));
                    break;
                }
            }
        }
        if diverged.is_empty() {
            StackStep::Stepped
        } else {
            StackStep::Diverged {
                members: diverged,
                step_applied: true,
            }
        }
    }

    /// Remove `members` (ids) from the stack: their rows leave the model and the optimizer state.
    pub fn drop_members(&mut self, members: &[usize]) {
        let keep: Vec<usize> = (0..self.active.len())
            .filter(|&row| !members.contains(&self.active[row]))
            .collect();
        self.active = keep.iter().map(|&row| self.active[row]).collect();
        if self.active.is_empty() {
            return;
        }
        let model = self
            .model
            .take()
            .expect("the model is only taken during a step");
        self.model = Some(model.retain_members(&keep));
        self.optimizer.retain_members(&keep);
    }
}

/// Logits of every member of `model` on every row of `split`, `chunk_rows` rows per forward pass
/// (see [`eval_chunk_rows`]): per member (stack order), row-major `[n, classes]` on the host.
pub fn predict_stacked_logits<B: Backend, M: StackedClassifier<B>>(
    model: &M,
    split: &DeviceSplit<B>,
    chunk_rows: usize,
) -> Vec<Vec<f32>> {
    let members = model.members();
    let mut out = vec![Vec::new(); members];
    for x in split.row_chunks(chunk_rows) {
        let logits: Vec<f32> = model
            .stacked_logits(x)
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32 logits");
        let per_member = logits.len() / members;
        for (k, rows) in logits.chunks(per_member).enumerate() {
            out[k].extend_from_slice(rows);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, Flex};

    use super::*;
    use crate::model::mlp::Mlp;
    use crate::model::stacked::StackedMlp;
    use crate::train::engine::BatchOrder;
    use crate::train::optimizer::StepHyperparams;

    type B = Autodiff<Flex>;

    /// 30 steps of a 3-member stack whose middle member diverges; per-member losses and the
    /// diverged members with their steps.
    fn run(readback_every: usize) -> (Vec<Vec<f64>>, Vec<(usize, u64)>) {
        let device = Default::default();
        let (n, d) = (64, 6);
        let x: Vec<f32> = (0..n * d)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) / 5.0)
            .collect();
        let y: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
        let members: Vec<Mlp<B>> = (0..3)
            .map(|s| Mlp::new(d, &[8], 0.0, 3, s, &device))
            .collect();
        let model = StackedMlp::from_members(&members);
        let train = DeviceSplit::upload(&x, &y, d, &device);
        let loss = LossSettings {
            label_smoothing: 0.0,
            divergence_bound: 10.0 * 3f64.ln(),
        };
        let mut engine = StackEngine::new(model, train, OptimizerSettings::default(), loss)
            .with_readback_every(readback_every);
        let mut order = BatchOrder::new(n, 16, 9);
        let mut diverged = Vec::new();
        for _ in 0..30 {
            let mut hyper = MemberHyperparams::default();
            for &id in engine.active() {
                let lr = if id == 1 { 1e4 } else { 0.05 };
                hyper.push(StepHyperparams {
                    lr,
                    momentum: 0.9,
                    weight_decay: 0.0,
                });
            }
            if let StackStep::Diverged {
                members,
                step_applied,
            } = engine.step(&order.next_full_batch(), &hyper)
            {
                if !step_applied {
                    engine.apply_held_step();
                }
                let ids: Vec<usize> = members.iter().map(|&(id, _)| id).collect();
                engine.drop_members(&ids);
                diverged.extend(members);
            }
        }
        if let StackStep::Diverged { members, .. } = engine.flush() {
            diverged.extend(members);
        }
        (
            (0..3).map(|m| engine.losses(m).to_vec()).collect(),
            diverged,
        )
    }

    #[test]
    fn deferred_read_back_finds_the_same_losses_and_divergence_per_member() {
        let (eager, diverged) = run(1);
        assert_eq!(diverged.len(), 1);
        assert_eq!(diverged[0].0, 1, "the member with LR 1e4");
        assert_eq!(eager[0].len(), 30);
        assert_eq!(
            eager[1].len() as u64,
            diverged[0].1 + 1,
            "its losses end at the diverging one"
        );
        let (deferred, late) = run(7);
        assert_eq!(late, diverged, "found at the same step, only later");
        assert_eq!(deferred, eager);
    }
}
