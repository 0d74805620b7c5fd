//! A stack of K linear layers: weight `[K, d_in, d_out]`, bias `[K, d_out]`, applied by batched matmul
//! (one fused kernel on the CPU, [`super::dense`]).

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};

use super::dense::{DenseInput, stacked_dense};
use super::stack_param;

/// K linear layers (`y = x·W + b` per member, burn's row layout).
#[derive(Module, Debug)]
pub struct StackedLinear<B: Backend> {
    /// `[members, d_in, d_out]`.
    weight: Param<Tensor<B, 3>>,
    /// `[members, d_out]`.
    bias: Param<Tensor<B, 2>>,
}

impl<B: Backend> StackedLinear<B> {
    /// Stack the members' layers (each with a bias).
    pub fn from_members<'a>(layers: impl Iterator<Item = &'a Linear<B>> + Clone) -> Self {
        Self {
            weight: stack_param(layers.clone().map(|l| l.weight.val())),
            bias: stack_param(
                layers.map(|l| l.bias.as_ref().expect("lrcast layers have biases").val()),
            ),
        }
    }

    /// Number of members.
    pub fn members(&self) -> usize {
        self.weight.dims()[0]
    }

    /// `[members, batch, d_in]` → `[members, batch, d_out]`, member k through its own layer, then
    /// ReLU when `relu_after`.
    pub fn forward(&self, x: Tensor<B, 3>, relu_after: bool) -> Tensor<B, 3> {
        self.apply(DenseInput::PerMember(x), relu_after)
    }

    /// `[batch, d_in]`, the same input for every member → `[members, batch, d_out]` (then ReLU
    /// when `relu_after`).
    pub fn forward_shared(&self, x: Tensor<B, 2>, relu_after: bool) -> Tensor<B, 3> {
        self.apply(DenseInput::Shared(x), relu_after)
    }

    fn apply(&self, x: DenseInput<B>, relu_after: bool) -> Tensor<B, 3> {
        stacked_dense(x, self.weight.val(), self.bias.val(), relu_after)
    }
}
