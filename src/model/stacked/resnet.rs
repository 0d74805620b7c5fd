//! A stack of K ResNets ([`crate::model::resnet::ResNet`]): member k owns channels `k·c .. (k+1)·c`
//! of every convolution (grouped convolutions, groups = K, after the stem, which reads the shared
//! input) and of every batch norm ([`StackedBatchNorm2d`]: its own γ, β, batch and running
//! statistics); identity shortcuts and the global average pool are per channel, so they need nothing
//! stacked.

use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, activation::relu, backend::Backend};

use super::batch_norm::StackedBatchNorm2d;
use super::linear::StackedLinear;
use super::{StackedClassifier, select_members, split_members, stack_param};
use crate::model::batch_norm::BatchNorm2d;
use crate::model::conv::conv2d;
use crate::model::resnet::{BasicBlock, ResNet, bn_fed_weight_name};

/// K bias-free convolutions, each followed by its own batch norm.
#[derive(Module, Debug)]
struct StackedConvBatchNorm<B: Backend> {
    /// `[members, c_out, c_in, k, k]`.
    weight: Param<Tensor<B, 5>>,
    bn: StackedBatchNorm2d<B>,
    stride: usize,
}

impl<B: Backend> StackedConvBatchNorm<B> {
    /// Stack the members' (convolution, batch norm) pairs.
    fn from_members<'a>(
        pairs: impl Iterator<Item = (&'a Conv2d<B>, &'a BatchNorm2d<B>)> + Clone,
    ) -> Self {
        let first = pairs.clone().next().expect("at least one member").0;
        Self {
            weight: stack_param(pairs.clone().map(|(conv, _)| conv.weight.val())),
            bn: StackedBatchNorm2d::from_members(pairs.map(|(_, bn)| bn)),
            stride: first.stride[0],
        }
    }

    /// `x: [batch, c_in, h, w]` read by every member (`shared_input`) or `[batch, members·c_in, h,
    /// w]` (member k's channels k·c_in..) → `[batch, members·c_out, ⌈h/s⌉, ⌈w/s⌉]`.
    fn forward(&self, x: Tensor<B, 4>, shared_input: bool) -> Tensor<B, 4> {
        let [members, c_out, c_in, kh, kw] = self.weight.dims();
        let groups = if shared_input { 1 } else { members };
        let stride = self.stride;
        let options = ConvOptions::new([stride, stride], [kh / 2, kw / 2], [1, 1], groups);
        let weight = self.weight.val().reshape([members * c_out, c_in, kh, kw]);
        self.bn.forward(conv2d(x, weight, None, options))
    }

    /// `[members, c_out·c_in·k·k]`, detached.
    fn flat_weight(&self) -> Tensor<B, 2> {
        let weight = self.weight.val().detach();
        let members = weight.dims()[0];
        let per_member = weight.shape().num_elements() / members;
        weight.reshape([members, per_member])
    }
}

/// K basic residual blocks: `[batch, members·c_in, h, w]` → `[batch, members·c_out, h', w']`.
#[derive(Module, Debug)]
struct StackedBasicBlock<B: Backend> {
    conv1: StackedConvBatchNorm<B>,
    conv2: StackedConvBatchNorm<B>,
    shortcut: Option<StackedConvBatchNorm<B>>,
}

impl<B: Backend> StackedBasicBlock<B> {
    fn from_members(blocks: &[&BasicBlock<B>]) -> Self {
        let shortcut = blocks[0].shortcut.as_ref().map(|_| {
            StackedConvBatchNorm::from_members(blocks.iter().map(|b| {
                let p = b.shortcut.as_ref().expect("same shape");
                (&p.conv, &p.bn)
            }))
        });
        Self {
            conv1: StackedConvBatchNorm::from_members(blocks.iter().map(|b| (&b.conv1, &b.bn1))),
            conv2: StackedConvBatchNorm::from_members(blocks.iter().map(|b| (&b.conv2, &b.bn2))),
            shortcut,
        }
    }

    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let out = relu(self.conv1.forward(x.clone(), false));
        let out = self.conv2.forward(out, false);
        let shortcut = match &self.shortcut {
            Some(projection) => projection.forward(x, false),
            None => x,
        };
        relu(out + shortcut)
    }
}

/// K ResNets: `[batch, c·h·w]` → `[members, batch, num_classes]`.
#[derive(Module, Debug)]
pub struct StackedResNet<B: Backend> {
    stem: StackedConvBatchNorm<B>,
    /// `stages[s][b]`: block `b` of stage `s + 1`.
    stages: Vec<Vec<StackedBasicBlock<B>>>,
    readout: StackedLinear<B>,
    input_shape: [usize; 3],
}

impl<B: Backend> StackedResNet<B> {
    /// Stack `members` (same depth, width and input shape), running statistics included.
    pub fn from_members(members: &[ResNet<B>]) -> Self {
        let first = &members[0];
        let stages = (0..first.stages.len())
            .map(|s| {
                (0..first.stages[s].len())
                    .map(|b| {
                        let blocks: Vec<&BasicBlock<B>> =
                            members.iter().map(|m| &m.stages[s][b]).collect();
                        StackedBasicBlock::from_members(&blocks)
                    })
                    .collect()
            })
            .collect();
        Self {
            stem: StackedConvBatchNorm::from_members(
                members.iter().map(|m| (&m.stem_conv, &m.stem_bn)),
            ),
            stages,
            readout: StackedLinear::from_members(members.iter().map(|m| &m.readout)),
            input_shape: first.input_shape,
        }
    }
}

impl<B: Backend> StackedClassifier<B> for StackedResNet<B> {
    fn stacked_logits(&self, x: Tensor<B, 2>) -> Tensor<B, 3> {
        let [batch, _] = x.dims();
        let [c, h, w] = self.input_shape;
        let mut x = relu(self.stem.forward(x.reshape([batch, c, h, w]), true));
        for block in self.stages.iter().flatten() {
            x = block.forward(x);
        }
        let [batch, channels, h, w] = x.dims();
        let pooled = x
            .reshape([batch, channels, h * w])
            .mean_dim(2)
            .reshape([batch, channels]);
        self.readout
            .forward(split_members(pooled, self.members()), false)
    }

    fn members(&self) -> usize {
        self.stem.weight.dims()[0]
    }

    fn retain_members(self, keep: &[usize]) -> Self {
        select_members(self, keep)
    }

    fn bn_fed_weights(&self) -> Vec<(String, Tensor<B, 2>)> {
        let mut out = vec![(bn_fed_weight_name(None, "conv"), self.stem.flat_weight())];
        for (s, stage) in self.stages.iter().enumerate() {
            for (b, block) in stage.iter().enumerate() {
                let name = |part| bn_fed_weight_name(Some((s, b)), part);
                out.push((name("conv1"), block.conv1.flat_weight()));
                out.push((name("conv2"), block.conv2.flat_weight()));
                if let Some(projection) = &block.shortcut {
                    out.push((name("shortcut"), projection.flat_weight()));
                }
            }
        }
        out
    }
}
