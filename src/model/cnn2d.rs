//! Plain 2-D CNN for small images: [conv 5×5 → ReLU → max-pool 2×2]… → (Linear → ReLU) → Linear.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Tensor, activation::relu, backend::Backend};

use super::Classifier;
use super::conv::conv2d_module_plus_bias;
use super::init::SeededInit;
use super::pool::max_pool2d_module;

/// Convolution kernel size; padding `KERNEL / 2` keeps the spatial size, so only the pools shrink it.
pub const KERNEL: usize = 5;

/// Spatial size `(h, w)` after one 2×2/stride-2 max-pool per conv layer (floor: 28 → 14 → 7 → 3).
pub fn output_hw(h: usize, w: usize, num_convs: usize) -> (usize, usize) {
    (h >> num_convs, w >> num_convs)
}

/// Number of trainable parameters for input `[c, h, w]`.
pub fn num_params(
    [c, h, w]: [usize; 3],
    channels: &[usize],
    hidden: usize,
    num_classes: usize,
) -> usize {
    let mut total = 0;
    let mut c_in = c;
    for &c_out in channels {
        total += c_in * KERNEL * KERNEL * c_out + c_out;
        c_in = c_out;
    }
    let (h, w) = output_hw(h, w, channels.len());
    let flat = c_in * h * w;
    total
        + if hidden == 0 {
            flat * num_classes + num_classes
        } else {
            flat * hidden + hidden + hidden * num_classes + num_classes
        }
}

/// 2-D CNN. Shapes: `[batch, c·h·w]` → reshaped `[batch, c, h, w]` → for each entry cᵢ of
/// `channels`: conv(cᵢ₋₁→cᵢ, 5×5, s1, p2) → ReLU → max-pool(2×2, s2) → flatten
/// `[batch, c_last·h'·w']` → linear(→hidden) → ReLU → linear(→classes) `[batch, classes]`
/// (`hidden = 0`: one linear to the classes).
#[derive(Module, Debug)]
pub struct Cnn2d<B: Backend> {
    /// Bias-free convolutions; `biases[i]` is held separately (see [`conv2d_module_plus_bias`]).
    pub(crate) convs: Vec<Conv2d<B>>,
    pub(crate) biases: Vec<Param<Tensor<B, 1>>>,
    pub(crate) pool: MaxPool2d,
    pub(crate) hidden: Option<Linear<B>>,
    pub(crate) readout: Linear<B>,
    /// One example's `[c, h, w]`, to undo the caller's flattening.
    pub(crate) input_shape: [usize; 3],
}

impl<B: Backend> Cnn2d<B> {
    /// Build for images `input_shape = [c, h, w]` (h, w ≥ 2^`channels.len()`), initialised from
    /// `seed` with PyTorch's default bounds U(±1/√fan_in), fan_in = c_in·5·5 for the convolutions.
    pub fn new(
        input_shape: [usize; 3],
        channels: &[usize],
        hidden: usize,
        num_classes: usize,
        seed: u64,
        device: &B::Device,
    ) -> Self {
        let [c, h, w] = input_shape;
        let mut init = SeededInit::new(seed);
        let (mut convs, mut biases) = (Vec::new(), Vec::new());
        let mut c_in = c;
        let pad = KERNEL / 2;
        for &c_out in channels {
            let mut conv = Conv2dConfig::new([c_in, c_out], [KERNEL, KERNEL])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_bias(false)
                .init(device);
            let fan_in = c_in * KERNEL * KERNEL;
            conv.weight = init.uniform([c_out, c_in, KERNEL, KERNEL], fan_in, device);
            biases.push(init.uniform([c_out], fan_in, device));
            convs.push(conv);
            c_in = c_out;
        }
        let (h_out, w_out) = output_hw(h, w, channels.len());
        let flat = c_in * h_out * w_out;
        let mut linear = |d_in: usize, d_out: usize| {
            let mut layer = LinearConfig::new(d_in, d_out).init(device);
            layer.weight = init.uniform([d_in, d_out], d_in, device);
            layer.bias = Some(init.uniform([d_out], d_in, device));
            layer
        };
        let (hidden, readout) = if hidden == 0 {
            (None, linear(flat, num_classes))
        } else {
            let first = linear(flat, hidden);
            (Some(first), linear(hidden, num_classes))
        };
        Self {
            convs,
            biases,
            // Floor mode (PyTorch's default): an odd row/column at the edge is dropped.
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            hidden,
            readout,
            input_shape,
        }
    }
}

impl<B: Backend> Classifier<B> for Cnn2d<B> {
    fn logits(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let [batch, _] = x.dims();
        let [c, h, w] = self.input_shape;
        let mut x = x.reshape([batch, c, h, w]);
        for (conv, bias) in self.convs.iter().zip(&self.biases) {
            x = max_pool2d_module(
                &self.pool,
                relu(conv2d_module_plus_bias(conv, x, bias.val())),
            );
        }
        let [batch, c, h, w] = x.dims();
        let mut x = x.reshape([batch, c * h * w]);
        if let Some(hidden) = &self.hidden {
            x = relu(hidden.forward(x));
        }
        self.readout.forward(x)
    }
}
