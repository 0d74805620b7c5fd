//! Stacked models: K models of one architecture trained as one, every parameter with a leading member
//! dimension K (batched matmul for linear layers, grouped convolutions for convolutions, batch norm per
//! member). Member k of a stack computes exactly what the same model trained alone computes; members
//! never mix.

mod batch_norm;
mod cnn1d;
mod cnn2d;
mod dense;
mod dropout;
mod linear;
pub mod memory;
mod mlp;
mod resnet;

#[cfg(test)]
mod tests;

use burn::module::{AutodiffModule, Module, ModuleMapper, Param};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};

pub use cnn1d::StackedCnn1d;
pub use cnn2d::StackedCnn2d;
pub use mlp::StackedMlp;
pub use resnet::StackedResNet;

use super::{Arch, cnn1d::Cnn1d, cnn2d::Cnn2d, image_shape, mlp::Mlp, resnet::ResNet};

/// K classifiers of one architecture evaluated on one shared input.
pub trait StackedClassifier<B: Backend>: Module<B> {
    /// `x: [batch, prod(input_shape)]`, the same examples for every member → logits
    /// `[members, batch, num_classes]`.
    fn stacked_logits(&self, x: Tensor<B, 2>) -> Tensor<B, 3>;

    /// Number of members.
    fn members(&self) -> usize;

    /// The stack of members `keep` only (indices into this stack, in that order). Parameter ids stay
    /// the same, so an optimizer's state can follow with
    /// [`crate::train::ScheduledOptimizer::retain_members`].
    fn retain_members(self, keep: &[usize]) -> Self;

    /// Every weight tensor that feeds a batch norm, per member: (name, `[members, numel]`
    /// detached), names and order as [`crate::model::Classifier::bn_fed_weights`] of one member.
    /// Empty for models without batch norm.
    fn bn_fed_weights(&self) -> Vec<(String, Tensor<B, 2>)> {
        Vec::new()
    }
}

/// Work that runs on any trainable stacked classifier of backend `B`; see [`with_stacked_model`].
pub trait OnStackedModel<B: AutodiffBackend> {
    /// What the work returns.
    type Output;
    /// Do the work with `model`.
    fn run<M>(self, model: M) -> Self::Output
    where
        M: AutodiffModule<B> + StackedClassifier<B>,
        M::InnerModule: StackedClassifier<B::InnerBackend>;
}

/// Whether models of `arch` can be trained as a stack: every architecture today (the ResNet with
/// batch norm per member); an architecture without a stacked form would train alone.
pub fn is_stackable(arch: &Arch) -> bool {
    match arch {
        Arch::Mlp { .. } | Arch::Cnn1d { .. } | Arch::Cnn2d { .. } | Arch::ResNet { .. } => true,
    }
}

/// Build one model of `arch` per seed of `seeds` (each exactly as [`super::with_model`] builds it
/// alone), stack them, and hand the stack to `work`.
///
/// # Panics
/// If `arch` is not [stackable](is_stackable), `seeds` is empty, or `arch.check_input` fails.
pub fn with_stacked_model<B: AutodiffBackend, W: OnStackedModel<B>>(
    arch: &Arch,
    input_shape: &[usize],
    num_classes: usize,
    seeds: &[u64],
    device: &B::Device,
    work: W,
) -> W::Output {
    assert!(!seeds.is_empty(), "a stack needs at least one member");
    if let Err(e) = arch.check_input(input_shape) {
        panic!("{e}");
    }
    let input_len = input_shape.iter().product();
    match arch {
        Arch::Mlp { hidden, dropout } => {
            let members: Vec<Mlp<B>> = seeds
                .iter()
                .map(|&seed| Mlp::new(input_len, hidden, *dropout, num_classes, seed, device))
                .collect();
            work.run(StackedMlp::from_members(&members))
        }
        Arch::Cnn1d { channels } => {
            let members: Vec<Cnn1d<B>> = seeds
                .iter()
                .map(|&seed| Cnn1d::new(input_len, *channels, num_classes, seed, device))
                .collect();
            work.run(StackedCnn1d::from_members(&members))
        }
        Arch::Cnn2d { channels, hidden } => {
            let shape = image_shape(input_shape).expect("checked");
            let members: Vec<Cnn2d<B>> = seeds
                .iter()
                .map(|&seed| Cnn2d::new(shape, channels, *hidden, num_classes, seed, device))
                .collect();
            work.run(StackedCnn2d::from_members(&members))
        }
        Arch::ResNet { depth, width } => {
            let shape = image_shape(input_shape).expect("checked");
            let members: Vec<ResNet<B>> = seeds
                .iter()
                .map(|&seed| ResNet::new(shape, *depth, *width, num_classes, seed, device))
                .collect();
            work.run(StackedResNet::from_members(&members))
        }
    }
}

/// Stack the members' copies of one parameter along a new leading dimension.
fn stack_param<B: Backend, const D: usize, const D1: usize>(
    members: impl Iterator<Item = Tensor<B, D>>,
) -> Param<Tensor<B, D1>> {
    Param::from_tensor(Tensor::stack(members.collect::<Vec<_>>(), 0).detach())
}

/// Maps every parameter to its rows `keep` along the member dimension, keeping its id.
struct SelectMembers<'a> {
    keep: &'a [usize],
}

impl<B: Backend> ModuleMapper<B> for SelectMembers<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let require_grad = tensor.is_require_grad();
        let index = Tensor::<B, 1, Int>::from_data(
            TensorData::new(
                self.keep.iter().map(|&i| i as i64).collect(),
                [self.keep.len()],
            ),
            &tensor.device(),
        );
        let mut selected = tensor.select(0, index).detach();
        if require_grad {
            selected = selected.require_grad();
        }
        Param::from_mapped_value(id, selected, mapper)
    }
}

/// `module` with every parameter reduced to the members `keep`.
fn select_members<B: Backend, M: Module<B>>(module: M, keep: &[usize]) -> M {
    module.map(&mut SelectMembers { keep })
}

/// `[batch, members·f]` (member-major features, as a grouped layer lays them out) →
/// `[members, batch, f]`.
fn split_members<B: Backend>(x: Tensor<B, 2>, members: usize) -> Tensor<B, 3> {
    let [batch, width] = x.dims();
    x.reshape([batch, members, width / members]).swap_dims(0, 1)
}
