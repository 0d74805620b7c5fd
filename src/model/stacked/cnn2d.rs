//! A stack of K 2-D CNNs ([`crate::model::cnn2d::Cnn2d`]): member k owns channels `k·c .. (k+1)·c`
//! of every convolution (grouped convolutions, groups = K, after the first, which reads the shared
//! input); max-pooling is per channel, so it needs nothing stacked.

use burn::module::{Module, Param};
use burn::nn::pool::MaxPool2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, activation::relu, backend::Backend};

use super::linear::StackedLinear;
use super::{StackedClassifier, select_members, split_members, stack_param};
use crate::model::cnn2d::{Cnn2d, KERNEL};
use crate::model::conv::conv2d;
use crate::model::pool::max_pool2d_module;

/// K 2-D CNNs: `[batch, c·h·w]` → `[members, batch, num_classes]`.
#[derive(Module, Debug)]
pub struct StackedCnn2d<B: Backend> {
    /// Per convolution `[members, c_out, c_in, 5, 5]`.
    weights: Vec<Param<Tensor<B, 5>>>,
    /// Per convolution `[members, c_out]`.
    biases: Vec<Param<Tensor<B, 2>>>,
    pool: MaxPool2d,
    hidden: Option<StackedLinear<B>>,
    readout: StackedLinear<B>,
    input_shape: [usize; 3],
}

impl<B: Backend> StackedCnn2d<B> {
    /// Stack `members` (same shape).
    pub fn from_members(members: &[Cnn2d<B>]) -> Self {
        let first = &members[0];
        let convs = first.convs.len();
        Self {
            weights: (0..convs)
                .map(|i| stack_param(members.iter().map(|m| m.convs[i].weight.val())))
                .collect(),
            biases: (0..convs)
                .map(|i| stack_param(members.iter().map(|m| m.biases[i].val())))
                .collect(),
            pool: first.pool.clone(),
            hidden: first.hidden.as_ref().map(|_| {
                StackedLinear::from_members(
                    members
                        .iter()
                        .map(|m| m.hidden.as_ref().expect("same shape")),
                )
            }),
            readout: StackedLinear::from_members(members.iter().map(|m| &m.readout)),
            input_shape: first.input_shape,
        }
    }
}

impl<B: Backend> StackedClassifier<B> for StackedCnn2d<B> {
    fn stacked_logits(&self, x: Tensor<B, 2>) -> Tensor<B, 3> {
        let [batch, _] = x.dims();
        let [c, h, w] = self.input_shape;
        let members = self.members();
        let pad = KERNEL / 2;
        let mut x = x.reshape([batch, c, h, w]);
        for (i, (weight, bias)) in self.weights.iter().zip(&self.biases).enumerate() {
            let [_, c_out, c_in, kh, kw] = weight.dims();
            let groups = if i == 0 { 1 } else { members };
            let options = ConvOptions::new([1, 1], [pad, pad], [1, 1], groups);
            let y = conv2d(
                x,
                weight.val().reshape([members * c_out, c_in, kh, kw]),
                Some(bias.val().reshape([members * c_out])),
                options,
            );
            x = max_pool2d_module(&self.pool, relu(y));
        }
        let [batch, channels, h, w] = x.dims();
        let mut x = split_members(x.reshape([batch, channels * h * w]), members);
        if let Some(hidden) = &self.hidden {
            x = hidden.forward(x, true);
        }
        self.readout.forward(x, false)
    }

    fn members(&self) -> usize {
        self.weights[0].dims()[0]
    }

    fn retain_members(self, keep: &[usize]) -> Self {
        select_members(self, keep)
    }
}
