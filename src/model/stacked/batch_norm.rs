//! K batch norms side by side over a grouped layout `[n, K·c, h, w]`: member k normalises channels
//! `k·c .. (k+1)·c` with its own γ, β and running statistics. Statistics per channel of that layout
//! are exactly per-member statistics, so the arithmetic is the unstacked layer's
//! ([`crate::model::batch_norm`]), on `K·c` channels.

use burn::module::{Module, Param, RunningState};
use burn::tensor::{Tensor, backend::Backend};

use super::stack_param;
use crate::model::batch_norm::{
    BatchNorm2d, normalize_with_batch_statistics, normalize_with_running_statistics,
    update_running_average,
};

/// K batch norms of `c` channels each, with PyTorch's semantics per member (batch statistics on an
/// autodiff backend, running statistics on the `.valid()` model).
#[derive(Module, Debug)]
pub struct StackedBatchNorm2d<B: Backend> {
    /// `[members, c]`.
    gamma: Param<Tensor<B, 2>>,
    /// `[members, c]`.
    beta: Param<Tensor<B, 2>>,
    /// `[members, c]`.
    running_mean: RunningState<Tensor<B, 2>>,
    /// `[members, c]`.
    running_var: RunningState<Tensor<B, 2>>,
}

impl<B: Backend> StackedBatchNorm2d<B> {
    /// Stack the members' layers (same channel count), their running statistics included.
    pub fn from_members<'a>(layers: impl Iterator<Item = &'a BatchNorm2d<B>> + Clone) -> Self {
        let running = |state: fn(&BatchNorm2d<B>) -> &RunningState<Tensor<B, 1>>| {
            let values = layers.clone().map(|l| state(l).value_sync()).collect();
            RunningState::new(Tensor::stack(values, 0).detach())
        };
        Self {
            gamma: stack_param(layers.clone().map(|l| l.gamma.val())),
            beta: stack_param(layers.clone().map(|l| l.beta.val())),
            running_mean: running(|l| &l.running_mean),
            running_var: running(|l| &l.running_var),
        }
    }

    /// Normalise each member's channels of `x: [n, members·c, h, w]` → `[n, members·c, h, w]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [members, c] = self.gamma.dims();
        let flat = |t: Tensor<B, 2>| t.reshape([members * c]);
        if B::ad_enabled(&x.device()) {
            let (y, mean, var) = normalize_with_batch_statistics(
                x,
                flat(self.gamma.val()),
                flat(self.beta.val()),
                true,
            );
            update_running_average(&self.running_mean, mean.reshape([members, c]));
            update_running_average(&self.running_var, var.reshape([members, c]));
            // Settle the updates now: selecting members maps the settled value only, and a
            // pending update of the old member count would overwrite the selection later.
            self.running_mean.value_sync();
            self.running_var.value_sync();
            y
        } else {
            normalize_with_running_statistics(
                x,
                flat(self.gamma.val()),
                flat(self.beta.val()),
                flat(self.running_mean.value()),
                flat(self.running_var.value()),
            )
        }
    }
}
