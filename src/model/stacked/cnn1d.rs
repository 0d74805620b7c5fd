//! A stack of K MNIST-1D CNNs ([`crate::model::cnn1d::Cnn1d`]): member k owns channels
//! `k·c .. (k+1)·c` of every convolution (grouped convolutions, groups = K, after the first, which
//! reads the shared input).

use burn::module::{Module, Param};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, activation::relu, backend::Backend};

use super::linear::StackedLinear;
use super::{StackedClassifier, select_members, split_members, stack_param};
use crate::model::cnn1d::{Cnn1d, LAYERS};
use crate::model::conv::conv1d;

/// K 1-D CNNs: `[batch, len]` → `[members, batch, num_classes]`.
#[derive(Module, Debug)]
pub struct StackedCnn1d<B: Backend> {
    /// Per convolution `[members, c_out, c_in, kernel]`.
    weights: Vec<Param<Tensor<B, 4>>>,
    /// Per convolution `[members, c_out]`.
    biases: Vec<Param<Tensor<B, 2>>>,
    readout: StackedLinear<B>,
}

impl<B: Backend> StackedCnn1d<B> {
    /// Stack `members` (same shape).
    pub fn from_members(members: &[Cnn1d<B>]) -> Self {
        let convs = members[0].convs.len();
        Self {
            weights: (0..convs)
                .map(|i| stack_param(members.iter().map(|m| m.convs[i].weight.val())))
                .collect(),
            biases: (0..convs)
                .map(|i| {
                    stack_param(
                        members
                            .iter()
                            .map(|m| m.convs[i].bias.as_ref().expect("biased").val()),
                    )
                })
                .collect(),
            readout: StackedLinear::from_members(members.iter().map(|m| &m.readout)),
        }
    }
}

impl<B: Backend> StackedClassifier<B> for StackedCnn1d<B> {
    fn stacked_logits(&self, x: Tensor<B, 2>) -> Tensor<B, 3> {
        let [batch, len] = x.dims();
        let members = self.members();
        let mut h = x.reshape([batch, 1, len]);
        for (i, ((weight, bias), &(_, stride, padding))) in self
            .weights
            .iter()
            .zip(&self.biases)
            .zip(&LAYERS)
            .enumerate()
        {
            let [_, c_out, c_in, kernel] = weight.dims();
            let groups = if i == 0 { 1 } else { members };
            let options = ConvOptions::new([stride], [padding], [1], groups);
            h = relu(conv1d(
                h,
                weight.val().reshape([members * c_out, c_in, kernel]),
                Some(bias.val().reshape([members * c_out])),
                options,
            ));
        }
        let [batch, channels, len] = h.dims();
        self.readout.forward(
            split_members(h.reshape([batch, channels * len]), members),
            false,
        )
    }

    fn members(&self) -> usize {
        self.weights[0].dims()[0]
    }

    fn retain_members(self, keep: &[usize]) -> Self {
        select_members(self, keep)
    }
}
