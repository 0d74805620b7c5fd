//! The MNIST-1D paper's 1-D CNN (`ConvBase`): three strided convolutions and a linear read-out.

use burn::module::Module;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig1d};
use burn::tensor::{Tensor, activation::relu, backend::Backend};

use super::Classifier;
use super::conv::conv1d_module;
use super::init::SeededInit;

/// (kernel, stride, padding) of the three convolutions, as in greydanus/mnist1d `ConvBase`.
pub(crate) const LAYERS: [(usize, usize, usize); 3] = [(5, 2, 1), (3, 2, 1), (3, 2, 1)];

/// Sequence length after the three convolutions (40 → 19 → 10 → 5 for MNIST-1D).
pub fn output_length(input_len: usize) -> usize {
    LAYERS.iter().fold(input_len, |len, &(k, s, p)| {
        (len + 2 * p).saturating_sub(k) / s + 1
    })
}

/// Shortest sequence the three convolutions accept (see [`fits`]).
pub const MIN_LEN: usize = 3;

/// Whether every convolution gets an input at least as long as its kernel (len + 2·pad ≥ k).
pub fn fits(input_len: usize) -> bool {
    LAYERS
        .iter()
        .try_fold(input_len, |len, &(k, s, p)| {
            (len + 2 * p).checked_sub(k).map(|d| d / s + 1)
        })
        .is_some()
}

/// 1-D CNN. Shapes: `[batch, len]` → reshaped `[batch, 1, len]` → conv(1→c, k5, s2, p1) → ReLU →
/// conv(c→c, k3, s2, p1) → ReLU → conv(c→c, k3, s2, p1) → ReLU → flatten `[batch, c·L']` → linear → `[batch, classes]`.
#[derive(Module, Debug)]
pub struct Cnn1d<B: Backend> {
    pub(crate) convs: Vec<Conv1d<B>>,
    pub(crate) readout: Linear<B>,
}

impl<B: Backend> Cnn1d<B> {
    /// Build for sequences of `input_len` with `channels` feature maps, initialised from `seed`.
    pub fn new(
        input_len: usize,
        channels: usize,
        num_classes: usize,
        seed: u64,
        device: &B::Device,
    ) -> Self {
        let mut init = SeededInit::new(seed);
        let mut convs = Vec::new();
        let mut c_in = 1;
        for &(kernel, stride, padding) in &LAYERS {
            let mut conv = Conv1dConfig::new(c_in, channels, kernel)
                .with_stride(stride)
                .with_padding(PaddingConfig1d::Explicit(padding, padding))
                .init(device);
            let fan_in = c_in * kernel;
            conv.weight = init.uniform([channels, c_in, kernel], fan_in, device);
            conv.bias = Some(init.uniform([channels], fan_in, device));
            convs.push(conv);
            c_in = channels;
        }
        let flat = channels * output_length(input_len);
        let mut readout = LinearConfig::new(flat, num_classes).init(device);
        readout.weight = init.uniform([flat, num_classes], flat, device);
        readout.bias = Some(init.uniform([num_classes], flat, device));
        Self { convs, readout }
    }
}

impl<B: Backend> Classifier<B> for Cnn1d<B> {
    fn logits(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let [batch, len] = x.dims();
        let mut h = x.reshape([batch, 1, len]);
        for conv in &self.convs {
            h = relu(conv1d_module(conv, h));
        }
        let [batch, channels, len] = h.dims();
        self.readout.forward(h.reshape([batch, channels * len]))
    }
}
