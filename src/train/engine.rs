//! The one training engine: data on the device, seeded batch order, forward + loss, the optimizer step
//! with this step's hyperparameters passed in as values, divergence detection, and evaluation.
//! Training runs, the LR range test and the speed benchmark all step through it.

use burn::module::AutodiffModule;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::optimizer::{OptimizerSettings, ScheduledOptimizer, StepHyperparams};
use crate::model::Classifier;

/// Rows evaluated per forward pass (bounds the memory of evaluating a large split at once).
const EVAL_CHUNK: usize = 1024;

/// Examples of one split on a device: flattened inputs and labels.
pub struct DeviceSplit<B: Backend> {
    /// `[n, input_len]`.
    pub x: Tensor<B, 2>,
    /// `[n]`.
    pub y: Tensor<B, 1, Int>,
    /// Labels on the host (for metrics).
    pub labels: Vec<u8>,
}

impl<B: Backend> DeviceSplit<B> {
    /// Upload row-major `x` (`labels.len() × input_len`) and its labels.
    pub fn upload(x: &[f32], labels: &[u8], input_len: usize, device: &B::Device) -> Self {
        let n = labels.len();
        let values: Vec<i64> = labels.iter().map(|&y| y as i64).collect();
        Self {
            x: Tensor::from_data(TensorData::new(x.to_vec(), [n, input_len]), device),
            y: Tensor::from_data(TensorData::new(values, [n]), device),
            labels: labels.to_vec(),
        }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The rows `batch` of the inputs, and the index tensor that selected them.
    pub fn batch_rows(&self, batch: &[usize]) -> (Tensor<B, 2>, Tensor<B, 1, Int>) {
        let index: Vec<i64> = batch.iter().map(|&i| i as i64).collect();
        let index =
            Tensor::<B, 1, Int>::from_data(TensorData::new(index, [batch.len()]), &self.x.device());
        (self.x.clone().select(0, index.clone()), index)
    }

    /// The inputs in consecutive chunks of at most `rows` rows (the whole split when it fits).
    pub fn row_chunks(&self, rows: usize) -> impl Iterator<Item = Tensor<B, 2>> + '_ {
        let n = self.len();
        (0..n).step_by(rows.max(1)).map(move |start| {
            let end = (start + rows).min(n);
            if start == 0 && end == n {
                self.x.clone()
            } else {
                self.x.clone().narrow(0, start, end - start)
            }
        })
    }
}

/// Mean of `recent` batch losses (NaN when empty), summed from 0.0 in step order as lrcast 0.1 did
/// (results stay bit-identical).
pub fn mean_loss(recent: &[f64]) -> f64 {
    if recent.is_empty() {
        return f64::NAN;
    }
    recent.iter().fold(0.0, |sum, l| sum + l) / recent.len() as f64
}

/// Seeded order of the training examples: a fresh shuffle per pass.
pub struct BatchOrder {
    rng: ChaCha8Rng,
    order: Vec<usize>,
    batch_size: usize,
    next: usize,
}

impl BatchOrder {
    /// An order over `n` examples in batches of `batch_size`, shuffled from `stream_seed` (its own
    /// stream, independent of the weights' initialisation).
    pub fn new(n: usize, batch_size: usize, stream_seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(stream_seed),
            order: (0..n).collect(),
            batch_size: batch_size.max(1),
            next: n, // forces a shuffle before the first batch
        }
    }

    /// Shuffle and return every batch of one pass, the ragged tail included (as PyTorch's
    /// `DataLoader(shuffle=True, drop_last=False)`).
    pub fn epoch(&mut self) -> Vec<Vec<usize>> {
        self.order.shuffle(&mut self.rng);
        self.next = self.order.len();
        self.order
            .chunks(self.batch_size)
            .map(|c| c.to_vec())
            .collect()
    }

    /// Next full batch, cycling through shuffled passes; the ragged tail of a pass is dropped (as
    /// fastai's training loader), and a batch larger than the data is capped at the data.
    pub fn next_full_batch(&mut self) -> Vec<usize> {
        let batch = self.batch_size.min(self.order.len());
        if self.next + batch > self.order.len() {
            self.order.shuffle(&mut self.rng);
            self.next = 0;
        }
        let out = self.order[self.next..self.next + batch].to_vec();
        self.next += batch;
        out
    }
}

/// Loss settings of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossSettings {
    /// Label smoothing ε of the cross-entropy (targets `(1−ε)·onehot + ε/C`), 0 for none.
    pub label_smoothing: f64,
    /// A batch loss above this bound (or NaN/inf) counts as divergence.
    pub divergence_bound: f64,
}

impl LossSettings {
    /// Whether a batch loss counts as divergence.
    pub fn diverges(&self, loss: f64) -> bool {
        !loss.is_finite() || loss > self.divergence_bound
    }
}

/// What one step (or a read-back of deferred losses) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// Training goes on.
    Stepped,
    /// The loss of the batch at step `at_step` (steps done before it) was not finite or exceeded
    /// the bound.
    Diverged { at_step: u64 },
}

/// Steps between loss read-backs on an accelerator: reading every loss would serialise the GPU, so
/// losses stay on the device and are checked in groups. On the CPU every loss is read at once.
pub const ACCELERATOR_READBACK_EVERY: usize = 20;

/// A model, its optimizer and its training data on one device.
pub struct Engine<B: AutodiffBackend, M> {
    /// The model being trained (taken out only while the optimizer maps it).
    model: Option<M>,
    optimizer: ScheduledOptimizer<B>,
    loss: CrossEntropyLoss<B>,
    loss_settings: LossSettings,
    train: DeviceSplit<B>,
    /// Every read-back batch loss, in step order (ends at the diverging batch).
    losses: Vec<f64>,
    /// Start in `losses` of the losses not yet averaged by [`Engine::take_mean_loss`].
    unaveraged_from: usize,
    /// Losses computed but not read back yet (deferred mode), with the step of the first.
    pending: Vec<Tensor<B::InnerBackend, 1>>,
    pending_from: u64,
    readback_every: usize,
    steps_done: u64,
}

impl<B, M> Engine<B, M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Classifier<B>,
    M::InnerModule: Classifier<B::InnerBackend>,
{
    /// An engine training `model` on `train` (already on `device`).
    pub fn new(
        model: M,
        train: DeviceSplit<B>,
        optimizer: OptimizerSettings,
        loss_settings: LossSettings,
        device: &B::Device,
    ) -> Self {
        let mut config = CrossEntropyLossConfig::new();
        if loss_settings.label_smoothing > 0.0 {
            config = config.with_smoothing(Some(loss_settings.label_smoothing as f32));
        }
        Self {
            model: Some(model),
            optimizer: ScheduledOptimizer::new(optimizer),
            loss: config.init(device),
            loss_settings,
            train,
            losses: Vec::new(),
            unaveraged_from: 0,
            pending: Vec::new(),
            pending_from: 0,
            readback_every: 1,
            steps_done: 0,
        }
    }

    /// Read losses back every `every` steps instead of every step (see
    /// [`ACCELERATOR_READBACK_EVERY`]). With `every > 1` a diverging batch is found up to
    /// `every − 1` steps late; the steps in between are applied but not counted.
    pub fn with_readback_every(mut self, every: usize) -> Self {
        self.readback_every = every.max(1);
        self
    }

    /// Optimizer steps applied (up to the diverging batch).
    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }

    /// Every batch loss read back so far, in step order.
    pub fn losses(&self) -> &[f64] {
        &self.losses
    }

    /// The model being trained.
    pub fn model(&self) -> &M {
        self.model
            .as_ref()
            .expect("the model is only taken during a step")
    }

    /// Number of training examples.
    pub fn n_train(&self) -> usize {
        self.train.len()
    }

    /// One optimizer step on the training examples `batch`. When every loss is read back (the CPU
    /// default) it is checked before the update, so a diverging batch leaves the model as it was.
    pub fn step(&mut self, batch: &[usize], hyper: &StepHyperparams) -> StepOutcome {
        let (x, index) = self.train.batch_rows(batch);
        let model = self
            .model
            .take()
            .expect("the model is only taken during a step");
        let logits = model.logits(x);
        let loss = self
            .loss
            .forward(logits, self.train.y.clone().select(0, index));
        if self.readback_every == 1 {
            let value: f64 = loss.clone().into_scalar().elem();
            if let StepOutcome::Diverged { at_step } = self.record_loss(value, self.steps_done) {
                self.model = Some(model);
                return StepOutcome::Diverged { at_step };
            }
        } else {
            if self.pending.is_empty() {
                self.pending_from = self.steps_done;
            }
            self.pending.push(loss.clone().inner());
        }
        let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optimizer.step(hyper, model, grads));
        self.steps_done += 1;
        if self.pending.len() >= self.readback_every {
            return self.flush();
        }
        StepOutcome::Stepped
    }

    /// Read back and check the losses not read yet (call at the end of an epoch).
    pub fn flush(&mut self) -> StepOutcome {
        if self.pending.is_empty() {
            return StepOutcome::Stepped;
        }
        let values = Tensor::cat(std::mem::take(&mut self.pending), 0)
            .into_data()
            .convert::<f64>()
            .to_vec::<f64>()
            .expect("f64 losses");
        for (offset, value) in values.into_iter().enumerate() {
            let step = self.pending_from + offset as u64;
            if let diverged @ StepOutcome::Diverged { .. } = self.record_loss(value, step) {
                self.steps_done = step;
                return diverged;
            }
        }
        StepOutcome::Stepped
    }

    fn record_loss(&mut self, value: f64, step: u64) -> StepOutcome {
        self.losses.push(value);
        if self.loss_settings.diverges(value) {
            StepOutcome::Diverged { at_step: step }
        } else {
            StepOutcome::Stepped
        }
    }

    /// Mean of the batch losses since the last call (NaN when none).
    pub fn take_mean_loss(&mut self) -> f64 {
        let recent = &self.losses[self.unaveraged_from..];
        self.unaveraged_from = self.losses.len();
        mean_loss(recent)
    }
}

/// Logits of `model` on every row of `split`, row-major `[n, classes]` on the host.
pub fn predict_logits<B: Backend, M: Classifier<B>>(model: &M, split: &DeviceSplit<B>) -> Vec<f32> {
    let mut out = Vec::new();
    for x in split.row_chunks(EVAL_CHUNK) {
        let logits = model.logits(x).into_data().convert::<f32>();
        out.extend(logits.to_vec::<f32>().expect("f32 logits"));
    }
    out
}

#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, Flex};

    use super::*;
    use crate::model::mlp::Mlp;

    type B = Autodiff<Flex>;

    /// Runs 40 steps of a small MLP on random data; returns the losses and the outcome.
    fn run(readback_every: usize, lr: f64) -> (Vec<f64>, StepOutcome, u64) {
        let device = Default::default();
        let (n, d) = (64, 6);
        let x: Vec<f32> = (0..n * d)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) / 5.0)
            .collect();
        // The class is the largest of the first three features: learnable.
        let y: Vec<u8> = (0..n)
            .map(|i| {
                let row = &x[i * d..i * d + 3];
                (0..3).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap() as u8
            })
            .collect();
        let model = Mlp::<B>::new(d, &[8], 0.0, 3, 1, &device);
        let train = DeviceSplit::upload(&x, &y, d, &device);
        let loss = LossSettings {
            label_smoothing: 0.0,
            divergence_bound: 10.0 * 3f64.ln(),
        };
        let mut engine = Engine::new(model, train, OptimizerSettings::default(), loss, &device)
            .with_readback_every(readback_every);
        let mut order = BatchOrder::new(n, 16, 9);
        let hyper = StepHyperparams {
            lr,
            momentum: 0.9,
            weight_decay: 0.0,
        };
        let mut outcome = StepOutcome::Stepped;
        'epochs: for _ in 0..10 {
            for batch in order.epoch() {
                outcome = engine.step(&batch, &hyper);
                if outcome != StepOutcome::Stepped {
                    break 'epochs;
                }
            }
            outcome = engine.flush();
            if outcome != StepOutcome::Stepped {
                break;
            }
        }
        (engine.losses().to_vec(), outcome, engine.steps_done())
    }

    #[test]
    fn deferred_read_back_sees_the_same_losses_and_divergence() {
        let (eager, outcome, steps) = run(1, 0.05);
        assert_eq!(
            (outcome, steps, eager.len()),
            (StepOutcome::Stepped, 40, 40)
        );
        assert!(eager[39] < eager[0]);
        let (deferred, outcome, steps) = run(7, 0.05);
        assert_eq!((outcome, steps), (StepOutcome::Stepped, 40));
        assert_eq!(deferred, eager);

        let (eager, outcome, steps) = run(1, 1e4);
        let StepOutcome::Diverged { at_step } = outcome else {
            panic!("LR 1e4 must diverge: {eager:?}");
        };
        assert_eq!(steps, at_step);
        let (deferred, late, late_steps) = run(7, 1e4);
        assert_eq!(late, outcome, "found at the same step, only later");
        assert_eq!(late_steps, at_step);
        assert_eq!(deferred, eager);
    }
}
