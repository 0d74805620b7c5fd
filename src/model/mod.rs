//! Architectures: the validated [`Arch`] choice and the [`Classifier`] trait every model implements.

pub mod cnn1d;
pub mod init;
pub mod mlp;

use burn::module::{AutodiffModule, Module};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, backend::Backend};

use crate::spec::KeyValueSpec;

/// A classifier over fixed-length input vectors.
pub trait Classifier<B: Backend>: Module<B> {
    /// `x: [batch, input_len]` → logits `[batch, num_classes]`.
    fn logits(&self, x: Tensor<B, 2>) -> Tensor<B, 2>;

    /// Every weight tensor that feeds a batch-norm layer, by name, flattened (for ‖w‖ and the
    /// effective LR); empty for models without batch norm.
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

/// Build `arch` for inputs of `input_len` and `num_classes` classes, initialised from `seed`, and
/// hand it to `work`. This is the one place that maps architectures to model types.
pub fn with_model<B: AutodiffBackend, W: OnModel<B>>(
    arch: &Arch,
    input_shape: &[usize],
    num_classes: usize,
    seed: u64,
    device: &B::Device,
    work: W,
) -> W::Output {
    let input_len = input_shape.iter().product();
    match arch {
        Arch::Mlp { hidden, .. } => work.run(mlp::Mlp::<B>::new(
            input_len,
            hidden,
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
    }
}

/// A validated architecture, parsed from a spec such as `mlp:hidden=100;100` or `cnn1d:channels=25`.
#[derive(Debug, Clone, PartialEq)]
pub enum Arch {
    /// Fully connected ReLU network; see [`mlp::Mlp`].
    Mlp { hidden: Vec<usize>, dropout: f64 },
    /// MNIST-1D paper's three-layer 1-D convolutional network; see [`cnn1d::Cnn1d`].
    Cnn1d { channels: usize },
}

/// Architecture names accepted in specs.
pub const ARCH_NAMES: &[&str] = &["mlp", "cnn1d"];

impl Arch {
    /// Validate a spec. Errors name the bad key or value and list the valid choices.
    pub fn from_spec(spec: &KeyValueSpec) -> Result<Self, String> {
        match spec.name.as_str() {
            "mlp" => {
                spec.expect_keys(&["hidden"])?;
                let hidden = spec.usize_list_or("hidden", &[100, 100])?;
                if hidden.is_empty() || hidden.contains(&0) || hidden.iter().any(|&h| h > 65_536) {
                    return Err(format!(
                        "`hidden` in `{spec}` must be layer widths in 1..=65536 separated by `;`"
                    ));
                }
                Ok(Arch::Mlp {
                    hidden,
                    dropout: 0.0,
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

    /// Family name (`mlp`, `cnn1d`).
    pub fn family(&self) -> &'static str {
        match self {
            Arch::Mlp { .. } => "mlp",
            Arch::Cnn1d { .. } => "cnn1d",
        }
    }

    /// Canonical spec text with every parameter spelled out (used in run ids and as a category).
    pub fn spec_string(&self) -> String {
        match self {
            Arch::Mlp { hidden, .. } => format!(
                "mlp:hidden={}",
                hidden
                    .iter()
                    .map(|h| h.to_string())
                    .collect::<Vec<_>>()
                    .join(";")
            ),
            Arch::Cnn1d { channels } => format!("cnn1d:channels={channels}"),
        }
    }

    /// Number of trainable parameters for the given input length and class count.
    pub fn num_params(&self, input_shape: &[usize], num_classes: usize) -> usize {
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
        }
    }
}
