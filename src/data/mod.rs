//! Tasks: validated task choices and the in-memory datasets they generate.

pub mod cifar;
pub mod datafile;
pub mod examples;
pub mod idx;
pub mod mnist1d;
pub mod numpy_rng;
pub mod shipped;
pub mod tables;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::Result;
use crate::spec::KeyValueSpec;

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
        let n_val = validation_size(n, fraction);
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ VALIDATION_STREAM));
        let mut is_val = vec![false; n];
        order[..n_val].iter().for_each(|&i| is_val[i] = true);
        let d = self.input_len();
        let (mut xt, mut yt, mut xv, mut yv) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, &to_validation) in is_val.iter().enumerate() {
            let row = &self.x_train[i * d..(i + 1) * d];
            if to_validation {
                xv.extend_from_slice(row);
                yv.push(self.y_train[i]);
            } else {
                xt.extend_from_slice(row);
                yt.push(self.y_train[i]);
            }
        }
        (self.x_train, self.y_train, self.x_val, self.y_val) = (xt, yt, xv, yv);
        self
    }

    /// Every k-th training example, at most [`TRAIN_EVAL_SIZE`] of them (spread over the whole
    /// split, so a split sorted by class still yields every class).
    pub fn train_eval_subset(&self) -> (Vec<f32>, Vec<u8>) {
        let n = self.n_train();
        let stride = n.div_ceil(TRAIN_EVAL_SIZE).max(1);
        let d = self.input_len();
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in (0..n).step_by(stride) {
            x.extend_from_slice(&self.x_train[i * d..(i + 1) * d]);
            y.push(self.y_train[i]);
        }
        (x, y)
    }
}

/// Validation examples carved from `n_train` training examples.
pub fn validation_size(n_train: usize, fraction: f64) -> usize {
    (n_train as f64 * fraction).round() as usize
}

/// Task names accepted in specs.
pub const TASK_NAMES: &[&str] = &["mnist1d"];

/// A validated task.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    /// Procedural MNIST-1D (Greydanus 2020), generated in process; see [`mnist1d`].
    Mnist1d(mnist1d::Mnist1dConfig),
}

impl Task {
    /// Validate a spec such as `mnist1d` or `mnist1d:num_samples=2000,seed=7`.
    pub fn from_spec(spec: &KeyValueSpec) -> Result<Self, String> {
        match spec.name.as_str() {
            "mnist1d" => {
                spec.expect_keys(&["num_samples", "seed", "train_split"])?;
                let defaults = mnist1d::Mnist1dConfig::default();
                let config = mnist1d::Mnist1dConfig {
                    num_samples: spec.usize_or("num_samples", defaults.num_samples)?,
                    seed: spec.usize_or("seed", defaults.seed as usize)? as u64,
                    train_split: spec.f64_or("train_split", defaults.train_split)?,
                    ..defaults
                };
                config.validate().map_err(|e| format!("`{spec}`: {e}"))?;
                Ok(Task::Mnist1d(config))
            }
            other => Err(format!(
                "unknown task `{other}`; valid: {}",
                TASK_NAMES.join(", ")
            )),
        }
    }

    /// Family name used as the one-hot category.
    pub fn family(&self) -> &'static str {
        match self {
            Task::Mnist1d(_) => "mnist1d",
        }
    }

    /// Canonical spec text with every parameter spelled out.
    pub fn spec_string(&self) -> String {
        match self {
            Task::Mnist1d(c) => format!(
                "mnist1d:num_samples={},seed={},train_split={}",
                c.num_samples, c.seed, c.train_split
            ),
        }
    }

    /// Number of training samples the task will produce (known before generating it, so a plan can
    /// resolve epoch-based schedule lengths).
    pub fn train_size(&self) -> usize {
        match self {
            // As mnist1d: num_samples // 10 per class, then int(total * train_split).
            Task::Mnist1d(c) => ((c.num_samples / 10 * 10) as f64 * c.train_split) as usize,
        }
    }

    /// Number of test samples.
    pub fn test_size(&self) -> usize {
        match self {
            Task::Mnist1d(c) => c.num_samples / 10 * 10 - self.train_size(),
        }
    }

    /// Length of one input vector.
    pub fn input_len(&self) -> usize {
        match self {
            Task::Mnist1d(c) => c.final_seq_length,
        }
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        match self {
            Task::Mnist1d(_) => 10,
        }
    }

    /// Shape of one example.
    pub fn shape(&self) -> Vec<usize> {
        vec![self.input_len()]
    }

    /// Generate (or load) the dataset. Deterministic for a spec.
    pub fn load(&self) -> Result<Dataset> {
        match self {
            Task::Mnist1d(config) => {
                let data = mnist1d::generate(config);
                Ok(Dataset {
                    task: self.spec_string(),
                    shape: vec![data.seq_len],
                    num_classes: 10,
                    x_train: data.x_train,
                    y_train: data.y_train,
                    x_val: Vec::new(),
                    y_val: Vec::new(),
                    x_test: data.x_test,
                    y_test: data.y_test,
                })
            }
        }
    }
}
