//! Tasks: validated task choices and the in-memory datasets they generate.

pub mod mnist1d;
pub mod numpy_rng;

use crate::spec::KeyValueSpec;

/// A classification dataset in memory, split into train and test.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Canonical task spec that produced it.
    pub task: String,
    /// Row-major training inputs, `n_train × input_len`.
    pub x_train: Vec<f32>,
    /// Training labels in `0..num_classes`.
    pub y_train: Vec<u8>,
    /// Row-major test inputs, `n_test × input_len`.
    pub x_test: Vec<f32>,
    /// Test labels.
    pub y_test: Vec<u8>,
    /// Length of one input vector.
    pub input_len: usize,
    /// Number of classes.
    pub num_classes: usize,
}

impl Dataset {
    /// Number of training samples.
    pub fn n_train(&self) -> usize {
        self.y_train.len()
    }
    /// Number of test samples.
    pub fn n_test(&self) -> usize {
        self.y_test.len()
    }
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

    /// Generate (or load) the dataset. Deterministic for a spec.
    pub fn load(&self) -> Dataset {
        match self {
            Task::Mnist1d(config) => {
                let data = mnist1d::generate(config);
                Dataset {
                    task: self.spec_string(),
                    input_len: data.seq_len,
                    num_classes: 10,
                    x_train: data.x_train,
                    y_train: data.y_train,
                    x_test: data.x_test,
                    y_test: data.y_test,
                }
            }
        }
    }
}
