//! A stack of K MLPs of one shape ([`crate::model::mlp::Mlp`]).

use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};

use super::dropout::StackedDropout;
use super::linear::StackedLinear;
use super::{StackedClassifier, select_members};
use crate::model::mlp::Mlp;

/// K MLPs: `[batch, input_len]` → `[members, batch, num_classes]`.
#[derive(Module, Debug)]
pub struct StackedMlp<B: Backend> {
    layers: Vec<StackedLinear<B>>,
    dropout: StackedDropout,
}

impl<B: Backend> StackedMlp<B> {
    /// Stack `members` (same widths).
    pub fn from_members(members: &[Mlp<B>]) -> Self {
        let depth = members[0].layers.len();
        Self {
            layers: (0..depth)
                .map(|i| StackedLinear::from_members(members.iter().map(|m| &m.layers[i])))
                .collect(),
            dropout: StackedDropout::new(members.iter().map(|m| m.dropout.clone()).collect()),
        }
    }
}

impl<B: Backend> StackedClassifier<B> for StackedMlp<B> {
    fn stacked_logits(&self, x: Tensor<B, 2>) -> Tensor<B, 3> {
        // ReLU after every layer but the last, fused into the layer.
        let last = self.layers.len() - 1;
        let mut h = self.layers[0].forward_shared(x, last > 0);
        for (i, layer) in self.layers.iter().enumerate().skip(1) {
            h = layer.forward(self.dropout.forward(h), i < last);
        }
        h
    }

    fn members(&self) -> usize {
        self.layers[0].members()
    }

    fn retain_members(self, keep: &[usize]) -> Self {
        let dropout = self.dropout.retain(keep);
        Self {
            dropout,
            ..select_members(self, keep)
        }
    }
}
