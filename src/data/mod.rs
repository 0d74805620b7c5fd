//! Data: the in-memory [`Dataset`] (train / validation / test splits with the example shape), the
//! tasks that produce one ([`task`]), and the loaders of shipped and user-given files.

pub mod cifar;
pub mod datafile;
pub mod examples;
pub mod idx;
pub mod mnist1d;
pub mod numpy_rng;
pub mod shipped;
pub mod tables;
pub mod task;

pub use task::{Normalize, TASK_NAMES, Task, TaskSource};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// A classification dataset in memory: train, optional validation, and test splits.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Canonical task spec that produced it.
    pub task: String,
    /// Shape of one example: `[len]` for sequences, `[C, H, W]` for images, `[features]` for tables.
    pub shape: Vec<usize>,
    /// Number of classes.
    pub num_classes: usize,
    /// Row-major training inputs, `n_train × input_len`.
    pub x_train: Vec<f32>,
    /// Training labels in `0..num_classes`.
    pub y_train: Vec<u8>,
    /// Row-major validation inputs (empty without a validation split).
    pub x_val: Vec<f32>,
    /// Validation labels.
    pub y_val: Vec<u8>,
    /// Row-major test inputs, `n_test × input_len`.
    pub x_test: Vec<f32>,
    /// Test labels.
    pub y_test: Vec<u8>,
}

/// Stream offset of the validation split's seed.
const VALIDATION_STREAM: u64 = 0x0056_A11D_A7E0;
/// Largest training subset evaluated each epoch (train metrics, loss gap).
pub const TRAIN_EVAL_SIZE: usize = 1000;

impl Dataset {
    /// Length of one flattened example.
    pub fn input_len(&self) -> usize {
        self.shape.iter().product()
    }
    /// Number of training samples.
    pub fn n_train(&self) -> usize {
        self.y_train.len()
    }
    /// Number of validation samples.
    pub fn n_val(&self) -> usize {
        self.y_val.len()
    }
    /// Number of test samples.
    pub fn n_test(&self) -> usize {
        self.y_test.len()
    }

    /// Move a seeded random `fraction` of the training split into a validation split (both keep
    /// their original order). The same task, fraction and seed always give the same split.
    pub fn carve_validation(mut self, fraction: f64, seed: u64) -> Self {
        let n = self.n_train();
        let val = seeded_subset(n, validation_size(n, fraction), seed ^ VALIDATION_STREAM);
        let mut is_val = vec![false; n];
        val.iter().for_each(|&i| is_val[i] = true);
        let train: Vec<usize> = (0..n).filter(|&i| !is_val[i]).collect();
        (self.x_val, self.y_val) = select_rows(&self.x_train, &self.y_train, &val);
        (self.x_train, self.y_train) = select_rows(&self.x_train, &self.y_train, &train);
        self
    }

    /// Every k-th training example, at most [`TRAIN_EVAL_SIZE`] of them (spread over the whole
    /// split, so a split sorted by class still yields every class).
    pub fn train_eval_subset(&self) -> (Vec<f32>, Vec<u8>) {
        let n = self.n_train();
        let stride = n.div_ceil(TRAIN_EVAL_SIZE).max(1);
        let rows: Vec<usize> = (0..n).step_by(stride).collect();
        select_rows(&self.x_train, &self.y_train, &rows)
    }
}

/// A seeded random choice of `n` of `total` indices, in increasing order.
fn seeded_subset(total: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..total).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut keep = order[..n.min(total)].to_vec();
    keep.sort_unstable();
    keep
}

/// The rows `keep` of row-major `x` (`y.len()` rows) and their labels.
fn select_rows(x: &[f32], y: &[u8], keep: &[usize]) -> (Vec<f32>, Vec<u8>) {
    let d = x.len() / y.len().max(1);
    let rows = keep
        .iter()
        .flat_map(|&i| x[i * d..(i + 1) * d].iter().copied())
        .collect();
    (rows, keep.iter().map(|&i| y[i]).collect())
}

/// Validation examples carved from `n_train` training examples.
pub fn validation_size(n_train: usize, fraction: f64) -> usize {
    (n_train as f64 * fraction).round() as usize
}
