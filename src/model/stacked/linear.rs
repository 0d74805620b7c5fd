//! A stack of K linear layers: weight `[K, d_in, d_out]`, bias `[K, d_out]`, applied by batched matmul.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};

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

    /// `[members, batch, d_in]` → `[members, batch, d_out]`, member k through its own layer.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let rows = x.dims()[1];
        // Materialised: burn-flex 0.21's broadcasting add over a middle dimension is ~30× slower.
        x.matmul(self.weight.val()) + self.bias.val().unsqueeze_dim::<3>(1).repeat_dim(1, rows)
    }

    /// `[batch, d_in]`, the same input for every member → `[members, batch, d_out]`.
    pub fn forward_shared(&self, x: Tensor<B, 2>) -> Tensor<B, 3> {
        let [members, ..] = self.weight.dims();
        let [batch, d_in] = x.dims();
        self.forward(x.unsqueeze::<3>().expand([members, batch, d_in]))
    }
}
