//! Architectures: the validated [`Arch`] choice and the [`Classifier`] trait every model implements.

pub mod batch_norm;
mod batch_norm_node;
pub mod cnn1d;
pub mod cnn2d;
pub mod conv;
pub mod dropout;
mod flex;
mod gemm;
pub mod init;
pub mod mlp;
pub mod pool;
pub mod resnet;
pub mod stacked;

#[cfg(test)]
mod tests;

use burn::module::{AutodiffModule, Module};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, backend::Backend};

use crate::spec::KeyValueSpec;

/// A classifier over fixed-shape examples, fed as flattened rows.
pub trait Classifier<B: Backend>: Module<B> {
    /// `x: [batch, prod(input_shape)]` (examples flattened row-major) → logits
    /// `[batch, num_classes]`. Image models reshape to `[batch, C, H, W]` internally.
    fn logits(&self, x: Tensor<B, 2>) -> Tensor<B, 2>;

    /// Every weight tensor that feeds a batch-norm layer (a convolution directly followed by BN),
    /// as (name, weight flattened to 1-D and detached). With BN after it, the network is invariant
    /// to the scale of such a weight, so its effective learning rate is LR / ‖w‖². Empty for
    /// models without batch norm; see [`resnet::ResNet`] for its names.
    fn bn_fed_weights(&self) -> Vec<(String, Tensor<B, 1>)> {
        Vec::new()
    }
}

/// Work that runs on any trainable classifier of backend `B`; [`with_model`] builds the model.
pub trait OnModel<B: AutodiffBackend> {
    /// What the work returns.
    type Output;
    /// Do the work with `model`.
    fn run<M>(self, model: M) -> Self::Output
    where
        M: AutodiffModule<B> + Classifier<B>,
        M::InnerModule: Classifier<B::InnerBackend>;
}

/// Build `arch` for examples of shape `input_shape` (`[len]`, `[C, H, W]` or `[n_features]`) and
/// `num_classes` classes, initialised from `seed`, and hand it to `work`. This is the one place
/// that maps architectures to model types.
///
/// # Panics
/// If `arch.check_input(input_shape)` fails; validate first.
pub fn with_model<B: AutodiffBackend, W: OnModel<B>>(
    arch: &Arch,
    input_shape: &[usize],
    num_classes: usize,
    seed: u64,
    device: &B::Device,
    work: W,
) -> W::Output {
    if let Err(e) = arch.check_input(input_shape) {
        panic!("{e}");
    }
    let input_len = input_shape.iter().product();
    match arch {
        Arch::Mlp { hidden, dropout } => work.run(mlp::Mlp::<B>::new(
            input_len,
            hidden,
            *dropout,
            num_classes,
            seed,
            device,
        )),
        Arch::Cnn1d { channels } => work.run(cnn1d::Cnn1d::<B>::new(
            input_len,
            *channels,
            num_classes,
            seed,
            device,
        )),
        Arch::Cnn2d { channels, hidden } => work.run(cnn2d::Cnn2d::<B>::new(
            image_shape(input_shape).expect("checked"),
            channels,
            *hidden,
            num_classes,
            seed,
            device,
        )),
        Arch::ResNet { depth, width } => work.run(resnet::ResNet::<B>::new(
            image_shape(input_shape).expect("checked"),
            *depth,
            *width,
            num_classes,
            seed,
            device,
        )),
    }
}

/// A validated architecture, parsed from a spec such as `mlp:hidden=100;100`, `cnn1d:channels=25`,
/// `cnn2d:channels=32;32;64,hidden=64` or `resnet:depth=8,width=16`.
///
/// `PartialEq` only: the MLP's dropout is an `f64`.
#[derive(Debug, Clone, PartialEq)]
pub enum Arch {
    /// Fully connected ReLU network with optional dropout; see [`mlp::Mlp`].
    Mlp { hidden: Vec<usize>, dropout: f64 },
    /// MNIST-1D paper's three-layer 1-D convolutional network; see [`cnn1d::Cnn1d`].
    Cnn1d { channels: usize },
    /// Conv 5×5 → ReLU → max-pool per entry of `channels`, then an MLP head; see [`cnn2d::Cnn2d`].
    Cnn2d { channels: Vec<usize>, hidden: usize },
    /// CIFAR-style ResNet-`depth` with base width `width`; see [`resnet::ResNet`].
    ResNet { depth: usize, width: usize },
}

/// Architecture names accepted in specs.
pub const ARCH_NAMES: &[&str] = &["mlp", "cnn1d", "cnn2d", "resnet"];

/// `[C, H, W]` if `shape` has three dimensions.
fn image_shape(shape: &[usize]) -> Option<[usize; 3]> {
    shape.try_into().ok()
}

/// `a;b;c` list text.
fn join(values: &[usize]) -> String {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(";")
}

impl Arch {
    /// Validate a spec. Errors name the bad key or value and list the valid choices.
    pub fn from_spec(spec: &KeyValueSpec) -> Result<Self, String> {
        match spec.name.as_str() {
            "mlp" => {
                spec.expect_keys(&["hidden", "dropout"])?;
                let hidden = spec.usize_list_or("hidden", &[100, 100])?;
                if hidden.is_empty() || hidden.contains(&0) || hidden.iter().any(|&h| h > 65_536) {
                    return Err(format!(
                        "`hidden` in `{spec}` must be layer widths in 1..=65536 separated by `;`"
                    ));
                }
                let dropout = spec.f64_or("dropout", 0.0)?;
                if !(0.0..1.0).contains(&dropout) {
                    return Err(format!(
                        "`dropout={dropout}` in `{spec}` must be a probability in [0, 1)"
                    ));
                }
                // +0.0 so that `dropout=-0` prints (and hashes into run ids) like the default.
                Ok(Arch::Mlp {
                    hidden,
                    dropout: dropout + 0.0,
                })
            }
            "cnn1d" => {
                spec.expect_keys(&["channels"])?;
                let channels = spec.usize_or("channels", 25)?;
                if !(1..=4096).contains(&channels) {
                    return Err(format!("`channels` in `{spec}` must be in 1..=4096"));
                }
                Ok(Arch::Cnn1d { channels })
            }
            "cnn2d" => {
                spec.expect_keys(&["channels", "hidden"])?;
                let channels = spec.usize_list_or("channels", &[32, 32, 64])?;
                if !(1..=4).contains(&channels.len())
                    || channels.iter().any(|c| !(1..=4096).contains(c))
                {
                    return Err(format!(
                        "`channels={}` in `{spec}` must be 1 to 4 conv widths in 1..=4096 \
                         separated by `;`",
                        join(&channels)
                    ));
                }
                let hidden = spec.usize_or("hidden", 64)?;
                if hidden > 65_536 {
                    return Err(format!(
                        "`hidden={hidden}` in `{spec}` must be in 0..=65536 (0: no hidden layer)"
                    ));
                }
                Ok(Arch::Cnn2d { channels, hidden })
            }
            "resnet" => {
                spec.expect_keys(&["depth", "width"])?;
                let depth = spec.usize_or("depth", 8)?;
                if !resnet::is_valid_depth(depth) {
                    let valid: Vec<String> = resnet::DEPTHS
                        .filter(|&d| resnet::is_valid_depth(d))
                        .map(|d| d.to_string())
                        .collect();
                    return Err(format!(
                        "`depth={depth}` in `{spec}` must be 6n+2, one of {}",
                        valid.join(", ")
                    ));
                }
                let width = spec.usize_or("width", 16)?;
                if !(1..=256).contains(&width) {
                    return Err(format!("`width={width}` in `{spec}` must be in 1..=256"));
                }
                Ok(Arch::ResNet { depth, width })
            }
            other => Err(format!(
                "unknown architecture `{other}`; valid: {}",
                ARCH_NAMES.join(", ")
            )),
        }
    }

    /// Dropout probability (0 for architectures without dropout).
    pub fn dropout(&self) -> f64 {
        match self {
            Arch::Mlp { dropout, .. } => *dropout,
            _ => 0.0,
        }
    }

    /// Family name (`mlp`, `cnn1d`, `cnn2d`, `resnet`).
    pub fn family(&self) -> &'static str {
        match self {
            Arch::Mlp { .. } => "mlp",
            Arch::Cnn1d { .. } => "cnn1d",
            Arch::Cnn2d { .. } => "cnn2d",
            Arch::ResNet { .. } => "resnet",
        }
    }

    /// Canonical spec text (used in run ids and as a category). Every parameter is spelled out,
    /// except optional keys added to an existing family later, which appear only when they differ
    /// from their default so that existing run ids stay unchanged (the MLP's `dropout`).
    pub fn spec_string(&self) -> String {
        match self {
            Arch::Mlp { hidden, dropout } => {
                let mut s = format!("mlp:hidden={}", join(hidden));
                if *dropout != 0.0 {
                    s.push_str(&format!(",dropout={dropout}"));
                }
                s
            }
            Arch::Cnn1d { channels } => format!("cnn1d:channels={channels}"),
            Arch::Cnn2d { channels, hidden } => {
                format!("cnn2d:channels={},hidden={hidden}", join(channels))
            }
            Arch::ResNet { depth, width } => format!("resnet:depth={depth},width={width}"),
        }
    }

    /// Error unless this architecture can take examples of `input_shape`. The message names the
    /// architecture and the shape and lists the families that fit the shape at their defaults.
    pub fn check_input(&self, input_shape: &[usize]) -> Result<(), String> {
        self.input_problem(input_shape).map_or(Ok(()), |need| {
            let fitting: Vec<&str> = ARCH_NAMES
                .iter()
                .filter(|name| {
                    let default = KeyValueSpec::parse(name).and_then(|s| Arch::from_spec(&s));
                    default.is_ok_and(|a| a.input_problem(input_shape).is_none())
                })
                .copied()
                .collect();
            let fitting = if fitting.is_empty() {
                "none".to_string()
            } else {
                fitting.join(", ")
            };
            Err(format!(
                "`{}` needs {need}; this task's examples have shape {input_shape:?}; \
                 valid architectures for it: {fitting}",
                self.spec_string()
            ))
        })
    }

    /// What this architecture needs that `input_shape` lacks, if anything.
    fn input_problem(&self, input_shape: &[usize]) -> Option<String> {
        if input_shape.is_empty() || input_shape.contains(&0) {
            return Some("examples with at least one dimension, none of size 0".into());
        }
        match self {
            Arch::Mlp { .. } => None,
            Arch::Cnn1d { .. } => match input_shape {
                [len] if cnn1d::fits(*len) => None,
                [_] => Some(format!(
                    "sequences of length ≥ {} (three strided convolutions)",
                    cnn1d::MIN_LEN
                )),
                _ => Some("sequence input [len]".into()),
            },
            Arch::Cnn2d { channels, .. } => {
                let min = 1 << channels.len();
                match image_shape(input_shape) {
                    Some([_, h, w]) if h >= min && w >= min => None,
                    Some(_) => Some(format!(
                        "images with H and W ≥ {min} ({} 2×2 max-pools)",
                        channels.len()
                    )),
                    None => Some("image input [C, H, W]".into()),
                }
            }
            Arch::ResNet { .. } => {
                let min = resnet::MIN_SIDE;
                match image_shape(input_shape) {
                    Some([_, h, w]) if h >= min && w >= min => None,
                    Some(_) => Some(format!("images with H and W ≥ {min} (two stride-2 stages)")),
                    None => Some("image input [C, H, W]".into()),
                }
            }
        }
    }

    /// Number of trainable parameters (weights, biases, BN γ and β; not BN running statistics)
    /// for examples of `input_shape` and `num_classes` classes. 0 when
    /// [`check_input`](Self::check_input) rejects the shape.
    pub fn num_params(&self, input_shape: &[usize], num_classes: usize) -> usize {
        if self.input_problem(input_shape).is_some() {
            return 0;
        }
        let input_len: usize = input_shape.iter().product();
        match self {
            Arch::Mlp { hidden, .. } => {
                let mut widths = vec![input_len];
                widths.extend(hidden);
                widths.push(num_classes);
                widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
            }
            Arch::Cnn1d { channels } => {
                let c = *channels;
                let flat = c * cnn1d::output_length(input_len);
                (5 * c + c) + 2 * (3 * c * c + c) + flat * num_classes + num_classes
            }
            Arch::Cnn2d { channels, hidden } => cnn2d::num_params(
                image_shape(input_shape).expect("checked"),
                channels,
                *hidden,
                num_classes,
            ),
            Arch::ResNet { depth, width } => {
                resnet::num_params(input_shape[0], *depth, *width, num_classes)
            }
        }
    }
}
