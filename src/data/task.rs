//! Tasks: the validated task choices (procedural, shipped, or files at a path the user gives), their
//! options (`train_size`, `normalize`), and loading one into a [`Dataset`].
//!
//! | Task | Examples | Shape | Classes | Split |
//! |---|---|---|---|---|
//! | `mnist1d` | 5 000 (generated) | `[40]` | 10 | the generator's 80/20 |
//! | `digits` | 1 797 | `[64]` (8×8 table) | 10 | example *i* is test when *i* mod 5 = 4 |
//! | `wine` | 178 | `[13]` | 3 | as digits |
//! | `breast_cancer` | 569 | `[30]` | 2 | as digits |
//! | `mnist10k` | 10 000 | `[1, 28, 28]` | 10 | as digits |
//! | `fashion10k` | 10 000 | `[1, 28, 28]` | 10 | as digits |
//! | `mnist:path=DIR`, `fashion_mnist:path=DIR` | IDX files in DIR | `[1, 28, 28]` | 10 | the files' train / t10k |
//! | `cifar10:path=DIR` | CIFAR-10 binary batches in DIR | `[3, 32, 32]` | 10 | data_batch_1–5 / test_batch |
//!
//! Options (every task): `train_size=N` keeps a seeded random subset of N training examples and
//! `test_size=N` one of N test examples (`subset_seed`, default 0), so one task yields cheaper
//! variants; `normalize=standard|none`:
//! `standard` standardises with the training split's mean and standard deviation — per feature for
//! tables, per channel for images (after scaling pixels to [0, 1]) — and is the default except for
//! `mnist1d`, whose generator output is used as is (`none`; images are still scaled to [0, 1]).
//! Options at their defaults are left out of the canonical spec, so run ids do not change.

use std::path::PathBuf;

use super::examples::Examples;
use super::{Dataset, cifar, idx, mnist1d, seeded_subset, select_rows, shipped};
use crate::error::Result;
use crate::spec::KeyValueSpec;

/// Task names accepted in specs.
pub const TASK_NAMES: &[&str] = &[
    "mnist1d",
    "digits",
    "wine",
    "breast_cancer",
    "mnist10k",
    "fashion10k",
    "mnist",
    "fashion_mnist",
    "cifar10",
];

/// Stream offsets of the `train_size` and `test_size` subsets' seeds.
const SUBSET_STREAM: u64 = 0x5AB5_E700;
const TEST_SUBSET_STREAM: u64 = 0x7E57_5AB5;

/// Where a task's examples come from.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskSource {
    /// Procedural MNIST-1D (Greydanus 2020), generated in process; see [`mnist1d`].
    Mnist1d(mnist1d::Mnist1dConfig),
    /// A dataset shipped in `datasets/` and embedded in the binary (one of [`shipped::SHIPPED`]).
    Shipped(&'static str),
    /// MNIST-format IDX files in a directory (`mnist` or `fashion_mnist`).
    Idx { family: &'static str, path: PathBuf },
    /// CIFAR-10 binary batches in a directory.
    Cifar10 { path: PathBuf },
}

/// How inputs are normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalize {
    /// Standardise with the training split's statistics (per feature, or per image channel).
    Standard,
    /// Leave values as generated (images scaled to [0, 1]).
    None,
}

impl Normalize {
    fn name(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::None => "none",
        }
    }
}

/// Sizes and shape of a task, known before loading it.
#[derive(Debug, Clone, PartialEq)]
struct TaskInfo {
    /// Training examples before any `train_size` subset.
    full_train: usize,
    test: usize,
    shape: Vec<usize>,
    num_classes: usize,
}

/// A validated task.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Where the examples come from.
    pub source: TaskSource,
    /// Keep only this many training examples (a seeded subset).
    pub train_size: Option<usize>,
    /// Keep only this many test examples (a seeded subset).
    pub test_size: Option<usize>,
    /// Seed of that subset.
    pub subset_seed: u64,
    /// Input normalisation.
    pub normalize: Normalize,
    info: TaskInfo,
}

impl Task {
    /// MNIST-1D with `config` and default options.
    pub fn mnist1d(config: mnist1d::Mnist1dConfig) -> Self {
        let full_train = config.num_train();
        let test = config.total_samples() - full_train;
        let info = TaskInfo {
            full_train,
            test,
            shape: vec![config.final_seq_length],
            num_classes: mnist1d::NUM_CLASSES,
        };
        Self::with_defaults(TaskSource::Mnist1d(config), info)
    }

    /// Validate a spec such as `mnist1d`, `digits:train_size=500` or `cifar10:path=/data/cifar`.
    /// File-backed tasks read their files here, so a missing or corrupt file is reported before any
    /// training starts. Errors name the key or file and list the valid choices.
    pub fn from_spec(spec: &KeyValueSpec) -> std::result::Result<Self, String> {
        const OPTIONS: [&str; 4] = ["train_size", "test_size", "subset_seed", "normalize"];
        let with_options = |keys: &[&'static str]| -> Vec<&'static str> {
            keys.iter().copied().chain(OPTIONS).collect()
        };
        let name = spec.name.as_str();
        let mut task = match name {
            "mnist1d" => {
                spec.expect_keys(&with_options(&["num_samples", "seed", "train_split"]))?;
                let defaults = mnist1d::Mnist1dConfig::default();
                let config = mnist1d::Mnist1dConfig {
                    num_samples: spec.usize_or("num_samples", defaults.num_samples)?,
                    seed: spec.usize_or("seed", defaults.seed as usize)? as u64,
                    train_split: spec.f64_or("train_split", defaults.train_split)?,
                    ..defaults
                };
                config.validate().map_err(|e| format!("`{spec}`: {e}"))?;
                Task::mnist1d(config)
            }
            "mnist" | "fashion_mnist" | "cifar10" => {
                spec.expect_keys(&with_options(&["path"]))?;
                let Some(path) = spec.params.get("path") else {
                    return Err(format!(
                        "`{name}` reads the standard files from a directory; give it as {name}:path=DIR"
                    ));
                };
                let path = PathBuf::from(path);
                let source = if name == "cifar10" {
                    TaskSource::Cifar10 { path }
                } else {
                    let family = if name == "mnist" {
                        "mnist"
                    } else {
                        "fashion_mnist"
                    };
                    TaskSource::Idx { family, path }
                };
                let (train, test) = load_source(&source).map_err(|e| e.to_string())?;
                Self::from_examples(source, &train, &test)
            }
            shipped_name => {
                let Some(&shipped_name) = shipped::SHIPPED.iter().find(|&&s| s == shipped_name)
                else {
                    return Err(format!(
                        "unknown task `{name}`; valid: {}",
                        TASK_NAMES.join(", ")
                    ));
                };
                spec.expect_keys(&OPTIONS)?;
                let (full_train, test, shape, num_classes) = shipped_info(shipped_name);
                let info = TaskInfo {
                    full_train,
                    test,
                    shape,
                    num_classes,
                };
                Self::with_defaults(TaskSource::Shipped(shipped_name), info)
            }
        };
        let subset = |key: &str, available: usize, what: &str| -> std::result::Result<_, String> {
            let Some(n) = spec.params.get(key) else {
                return Ok(None);
            };
            match n.parse::<usize>() {
                Ok(n) if (1..=available).contains(&n) => Ok(Some(n)),
                _ => Err(format!(
                    "`{key}={n}` in `{spec}`: the task has {available} {what} examples; \
                     choose 1..={available}"
                )),
            }
        };
        task.train_size = subset("train_size", task.info.full_train, "training")?;
        task.test_size = subset("test_size", task.info.test, "test")?;
        task.subset_seed = spec.usize_or("subset_seed", 0)? as u64;
        if let Some(value) = spec.params.get("normalize") {
            task.normalize = match value.as_str() {
                "standard" => Normalize::Standard,
                "none" => Normalize::None,
                other => {
                    return Err(format!(
                        "`normalize={other}` in `{spec}`; valid: standard, none"
                    ));
                }
            };
        }
        Ok(task)
    }

    fn from_examples(source: TaskSource, train: &Examples, test: &Examples) -> Self {
        let info = TaskInfo {
            full_train: train.len(),
            test: test.len(),
            shape: train.shape.clone(),
            num_classes: train.num_classes.max(test.num_classes),
        };
        Self::with_defaults(source, info)
    }

    /// A task with every option at its default.
    fn with_defaults(source: TaskSource, info: TaskInfo) -> Self {
        let mut task = Task {
            source,
            train_size: None,
            test_size: None,
            subset_seed: 0,
            normalize: Normalize::Standard,
            info,
        };
        task.normalize = task.default_normalize();
        task
    }

    /// Family name used as the one-hot category.
    pub fn family(&self) -> &'static str {
        match &self.source {
            TaskSource::Mnist1d(_) => "mnist1d",
            TaskSource::Shipped(name) => name,
            TaskSource::Idx { family, .. } => family,
            TaskSource::Cifar10 { .. } => "cifar10",
        }
    }

    /// The default normalisation of this task's source.
    fn default_normalize(&self) -> Normalize {
        match self.source {
            TaskSource::Mnist1d(_) => Normalize::None,
            _ => Normalize::Standard,
        }
    }

    /// Canonical spec text: every parameter of the source spelled out, options only when set.
    pub fn spec_string(&self) -> String {
        let mut text = match &self.source {
            TaskSource::Mnist1d(c) => format!(
                "mnist1d:num_samples={},seed={},train_split={}",
                c.num_samples, c.seed, c.train_split
            ),
            TaskSource::Shipped(name) => name.to_string(),
            TaskSource::Idx { family, path } => format!("{family}:path={}", path.display()),
            TaskSource::Cifar10 { path } => format!("cifar10:path={}", path.display()),
        };
        let mut options = Vec::new();
        if self.normalize != self.default_normalize() {
            options.push(format!("normalize={}", self.normalize.name()));
        }
        if let Some(n) = self.train_size {
            options.push(format!("train_size={n}"));
        }
        if let Some(n) = self.test_size {
            options.push(format!("test_size={n}"));
        }
        if self.subset_seed != 0 && (self.train_size.is_some() || self.test_size.is_some()) {
            options.push(format!("subset_seed={}", self.subset_seed));
        }
        for option in options {
            text.push(if text.contains(':') { ',' } else { ':' });
            text.push_str(&option);
        }
        text
    }

    /// Training examples the task yields (after `train_size`, before any validation split); known
    /// before loading, so a plan can resolve epoch-based schedule lengths.
    pub fn train_size(&self) -> usize {
        self.train_size.unwrap_or(self.info.full_train)
    }

    /// Test examples (after `test_size`).
    pub fn test_size(&self) -> usize {
        self.test_size.unwrap_or(self.info.test)
    }

    /// Length of one flattened example.
    pub fn input_len(&self) -> usize {
        self.info.shape.iter().product()
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.info.num_classes
    }

    /// Shape of one example.
    pub fn shape(&self) -> Vec<usize> {
        self.info.shape.clone()
    }

    /// Load the dataset: split, take the `train_size` subset, carve the validation split
    /// (`fraction`, `seed`), then normalise with statistics of what is left for training.
    /// Deterministic for a spec.
    pub fn load(&self, validation: Option<(f64, u64)>) -> Result<Dataset> {
        let mut data = match &self.source {
            TaskSource::Mnist1d(config) => {
                let d = mnist1d::generate(config);
                Dataset {
                    task: String::new(),
                    shape: vec![d.seq_len],
                    num_classes: mnist1d::NUM_CLASSES,
                    x_train: d.x_train,
                    y_train: d.y_train,
                    x_val: Vec::new(),
                    y_val: Vec::new(),
                    x_test: d.x_test,
                    y_test: d.y_test,
                }
            }
            source => {
                let (train, test) = load_source(source)?;
                from_examples(train, test)
            }
        };
        data.task = self.spec_string();
        if let Some(n) = self.train_size {
            let keep = seeded_subset(data.n_train(), n, self.subset_seed ^ SUBSET_STREAM);
            (data.x_train, data.y_train) = select_rows(&data.x_train, &data.y_train, &keep);
        }
        if let Some(n) = self.test_size {
            let keep = seeded_subset(data.n_test(), n, self.subset_seed ^ TEST_SUBSET_STREAM);
            (data.x_test, data.y_test) = select_rows(&data.x_test, &data.y_test, &keep);
        }
        if let Some((fraction, seed)) = validation {
            data = data.carve_validation(fraction, seed);
        }
        if data.shape.len() == 3 {
            // Pixels to [0, 1] whatever the normalisation, so `none` still trains.
            for x in [&mut data.x_train, &mut data.x_val, &mut data.x_test] {
                x.iter_mut().for_each(|v| *v /= 255.0);
            }
        }
        if self.normalize == Normalize::Standard {
            standardize(&mut data);
        }
        Ok(data)
    }
}

/// (training examples, test examples, shape, classes) of a shipped dataset, with the i mod 5 = 4
/// test rule applied.
fn shipped_info(name: &str) -> (usize, usize, Vec<usize>, usize) {
    let (n, shape, classes) = match name {
        "digits" => (1797, vec![64], 10),
        "wine" => (178, vec![13], 3),
        "breast_cancer" => (569, vec![30], 2),
        "mnist10k" | "fashion10k" => (10_000, vec![1, 28, 28], 10),
        other => unreachable!("`{other}` is not shipped"),
    };
    let test = n / 5;
    (n - test, test, shape, classes)
}

/// Raw (train, test) examples of a non-procedural source.
fn load_source(source: &TaskSource) -> Result<(Examples, Examples)> {
    match source {
        TaskSource::Shipped(name) => {
            let all = shipped::load(name).expect("a shipped name")?;
            Ok(split_every_fifth(all))
        }
        TaskSource::Idx { path, .. } => idx::load_mnist_dir(path),
        TaskSource::Cifar10 { path } => cifar::load_cifar10_dir(path),
        TaskSource::Mnist1d(_) => unreachable!("mnist1d is generated, not loaded"),
    }
}

/// Example i goes to the test split when i mod 5 = 4 (a fixed, reproducible 80/20 split that
/// interleaves a class-sorted file).
fn split_every_fifth(all: Examples) -> (Examples, Examples) {
    let d = all.example_len();
    let empty = || Examples {
        x: Vec::new(),
        y: Vec::new(),
        shape: all.shape.clone(),
        num_classes: all.num_classes,
    };
    let (mut train, mut test) = (empty(), empty());
    for (i, &label) in all.y.iter().enumerate() {
        let to = if i % 5 == 4 { &mut test } else { &mut train };
        to.x.extend_from_slice(&all.x[i * d..(i + 1) * d]);
        to.y.push(label);
    }
    (train, test)
}

fn from_examples(train: Examples, test: Examples) -> Dataset {
    Dataset {
        task: String::new(),
        shape: train.shape.clone(),
        num_classes: train.num_classes.max(test.num_classes),
        x_train: train.x,
        y_train: train.y,
        x_val: Vec::new(),
        y_val: Vec::new(),
        x_test: test.x,
        y_test: test.y,
    }
}

/// Standardise every split with the training split's mean and population standard deviation: per
/// channel for images `[C, H, W]`, per feature otherwise (a constant feature keeps std 1).
fn standardize(data: &mut Dataset) {
    let d = data.input_len();
    let (groups, group_len) = match data.shape.as_slice() {
        [c, h, w] => (*c, h * w),
        _ => (d, 1),
    };
    let group_of = |j: usize| if group_len == 1 { j } else { j / group_len };
    let n = data.n_train().max(1) as f64;
    let count = n * group_len as f64;
    let mut mean = vec![0.0f64; groups];
    for row in data.x_train.chunks_exact(d) {
        for (j, &v) in row.iter().enumerate() {
            mean[group_of(j)] += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= count);
    let mut var = vec![0.0f64; groups];
    for row in data.x_train.chunks_exact(d) {
        for (j, &v) in row.iter().enumerate() {
            var[group_of(j)] += (v as f64 - mean[group_of(j)]).powi(2);
        }
    }
    let std: Vec<f64> = var
        .iter()
        .map(|v| (v / count).sqrt())
        .map(|s| if s > 1e-12 { s } else { 1.0 })
        .collect();
    for x in [&mut data.x_train, &mut data.x_val, &mut data.x_test] {
        for row in x.chunks_exact_mut(d) {
            for (j, v) in row.iter_mut().enumerate() {
                let g = group_of(j);
                *v = ((*v as f64 - mean[g]) / std[g]) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(spec: &str) -> std::result::Result<Task, String> {
        Task::from_spec(&KeyValueSpec::parse(spec).unwrap())
    }

    #[test]
    fn mnist1d_spec_is_unchanged_and_options_are_appended_only_when_set() {
        let t = task("mnist1d").unwrap();
        assert_eq!(
            t.spec_string(),
            "mnist1d:num_samples=5000,seed=42,train_split=0.8"
        );
        let t = task("mnist1d:train_size=1000,normalize=standard").unwrap();
        assert_eq!(
            t.spec_string(),
            "mnist1d:num_samples=5000,seed=42,train_split=0.8,normalize=standard,train_size=1000"
        );
        assert_eq!(task("digits").unwrap().spec_string(), "digits");
        assert_eq!(
            task("digits:train_size=100,subset_seed=3")
                .unwrap()
                .spec_string(),
            "digits:train_size=100,subset_seed=3"
        );
        let t = task("fashion10k:test_size=500").unwrap();
        assert_eq!(
            (t.spec_string().as_str(), t.test_size()),
            ("fashion10k:test_size=500", 500)
        );
        assert_eq!(t.load(None).unwrap().n_test(), 500);
    }

    #[test]
    fn shipped_tasks_have_the_documented_sizes_and_are_standardised() {
        for (name, train, test, shape, classes) in [
            ("digits", 1438, 359, vec![64], 10),
            ("wine", 143, 35, vec![13], 3),
            ("breast_cancer", 456, 113, vec![30], 2),
            ("mnist10k", 8000, 2000, vec![1, 28, 28], 10),
        ] {
            let t = task(name).unwrap();
            assert_eq!(
                (t.train_size(), t.test_size(), t.shape(), t.num_classes()),
                (train, test, shape.clone(), classes)
            );
            let data = t.load(None).unwrap();
            assert_eq!((data.n_train(), data.n_test()), (train, test), "{name}");
            assert_eq!(data.shape, shape);
            // Standardised with training statistics: mean ≈ 0 and std ≈ 1 per feature / channel.
            let d = data.input_len();
            let mean: f64 =
                data.x_train.iter().map(|&v| v as f64).sum::<f64>() / data.x_train.len() as f64;
            assert!(mean.abs() < 1e-3, "{name}: mean {mean}");
            if d < 100 {
                let col0: Vec<f64> = data.x_train.chunks(d).map(|r| r[1] as f64).collect();
                let var = col0.iter().map(|v| v * v).sum::<f64>() / col0.len() as f64;
                assert!(var < 1.0 + 1e-3, "{name}: {var}");
            }
        }
    }

    #[test]
    fn train_size_keeps_a_seeded_subset_and_validation_comes_out_of_it() {
        let a = task("digits:train_size=500").unwrap();
        assert_eq!(a.train_size(), 500);
        let data = a.load(Some((0.2, 0))).unwrap();
        assert_eq!(
            (data.n_train(), data.n_val(), data.n_test()),
            (400, 100, 359)
        );
        let again = a.load(Some((0.2, 0))).unwrap();
        assert_eq!(data.y_train, again.y_train);
        let other = task("digits:train_size=500,subset_seed=1")
            .unwrap()
            .load(Some((0.2, 0)))
            .unwrap();
        assert_ne!(data.x_train, other.x_train);
    }

    #[test]
    fn bad_task_specs_name_the_key_and_the_choices() {
        let err = task("imagenet").unwrap_err();
        assert!(
            err.contains("imagenet") && err.contains("fashion10k"),
            "{err}"
        );
        let err = task("digits:train_size=5000").unwrap_err();
        assert!(
            err.contains("train_size=5000") && err.contains("1..=1438"),
            "{err}"
        );
        let err = task("digits:test_size=0").unwrap_err();
        assert!(err.contains("1..=359"), "{err}");
        let err = task("digits:normalize=minmax").unwrap_err();
        assert!(err.contains("standard, none"), "{err}");
        let err = task("cifar10").unwrap_err();
        assert!(err.contains("cifar10:path=DIR"), "{err}");
        let err = task("mnist:path=/nonexistent/mnist").unwrap_err();
        assert!(
            err.contains("/nonexistent/mnist") && err.contains("t10k"),
            "{err}"
        );
        let err = task("wine:path=x").unwrap_err();
        assert!(err.contains("valid keys"), "{err}");
    }
}
