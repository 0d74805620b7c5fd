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

/// What one step found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepOutcome {
    /// The update was applied after a batch with this loss.
    Stepped(f64),
    /// The batch loss was not finite or exceeded the bound; no update was applied.
    Diverged(f64),
}

/// A model, its optimizer and its training data on one device.
pub struct Engine<B: AutodiffBackend, M> {
    /// The model being trained (taken out only while the optimizer maps it).
    model: Option<M>,
    optimizer: ScheduledOptimizer<B>,
    loss: CrossEntropyLoss<B>,
    loss_settings: LossSettings,
    train: DeviceSplit<B>,
    /// Sum and count of the read-back batch losses since the last [`Engine::take_mean_loss`].
    loss_sum: f64,
    loss_count: usize,
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
            loss_sum: 0.0,
            loss_count: 0,
        }
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

    /// One optimizer step on the training examples `batch`. The loss is read back and checked
    /// before the update, so a diverging batch leaves the model as it was.
    pub fn step(&mut self, batch: &[usize], hyper: &StepHyperparams) -> StepOutcome {
        let device = self.train.x.device();
        let index: Vec<i64> = batch.iter().map(|&i| i as i64).collect();
        let index = Tensor::<B, 1, Int>::from_data(TensorData::new(index, [batch.len()]), &device);
        let model = self
            .model
            .take()
            .expect("the model is only taken during a step");
        let logits = model.logits(self.train.x.clone().select(0, index.clone()));
        let loss = self
            .loss
            .forward(logits, self.train.y.clone().select(0, index));
        let value: f64 = loss.clone().into_scalar().elem();
        self.loss_sum += value;
        self.loss_count += 1;
        if !value.is_finite() || value > self.loss_settings.divergence_bound {
            self.model = Some(model);
            return StepOutcome::Diverged(value);
        }
        let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optimizer.step(hyper, model, grads));
        StepOutcome::Stepped(value)
    }

    /// Mean of the batch losses since the last call (NaN when none).
    pub fn take_mean_loss(&mut self) -> f64 {
        let mean = if self.loss_count == 0 {
            f64::NAN
        } else {
            self.loss_sum / self.loss_count as f64
        };
        self.loss_sum = 0.0;
        self.loss_count = 0;
        mean
    }
}

/// Logits of `model` on every row of `split`, row-major `[n, classes]` on the host.
pub fn predict_logits<B: Backend, M: Classifier<B>>(model: &M, split: &DeviceSplit<B>) -> Vec<f32> {
    let n = split.len();
    let mut out = Vec::new();
    let mut start = 0;
    while start < n {
        let end = (start + EVAL_CHUNK).min(n);
        let x = if start == 0 && end == n {
            split.x.clone()
        } else {
            split.x.clone().narrow(0, start, end - start)
        };
        let logits = model.logits(x).into_data().convert::<f32>();
        out.extend(logits.to_vec::<f32>().expect("f32 logits"));
        start = end;
    }
    out
}
