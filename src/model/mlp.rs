//! Multi-layer perceptron: Linear → ReLU → [dropout] → … → Linear, hidden widths configurable.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Tensor, activation::relu, backend::Backend};

use super::Classifier;
use super::dropout::SeededDropout;
use super::init::SeededInit;

/// Fully connected ReLU network with optional inverted dropout after each hidden ReLU (training
/// only). Shapes: `[batch, input_len]` → `[batch, num_classes]`.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    pub(crate) layers: Vec<Linear<B>>,
    pub(crate) dropout: SeededDropout,
}

impl<B: Backend> Mlp<B> {
    /// Build with widths `input_len → hidden… → num_classes` and dropout probability `dropout` in
    /// [0, 1), initialised from `seed`. The initial weights do not depend on `dropout`.
    pub fn new(
        input_len: usize,
        hidden: &[usize],
        dropout: f64,
        num_classes: usize,
        seed: u64,
        device: &B::Device,
    ) -> Self {
        let mut init = SeededInit::new(seed);
        let mut widths = vec![input_len];
        widths.extend_from_slice(hidden);
        widths.push(num_classes);
        let layers = widths
            .windows(2)
            .map(|w| {
                let mut layer = LinearConfig::new(w[0], w[1]).init(device);
                // Row layout: weight is [d_input, d_output].
                layer.weight = init.uniform([w[0], w[1]], w[0], device);
                layer.bias = Some(init.uniform([w[1]], w[0], device));
                layer
            })
            .collect();
        Self {
            layers,
            dropout: SeededDropout::new(dropout, seed),
        }
    }
}

impl<B: Backend> Classifier<B> for Mlp<B> {
    fn logits(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = self.dropout.forward(relu(h));
            }
        }
        h
    }
}
