//! SGD whose momentum and weight decay can change at every step (PyTorch `torch.optim.SGD` semantics).
//!
//! burn's `Sgd` fixes momentum at construction, but cyclical and one-cycle policies cycle momentum per
//! step, and the roadmap's stacked training gives every member its own values. The learning rate is
//! passed to `Optimizer::step` as usual; momentum / weight decay are read from shared [`StepHyperparams`]
//! that the training loop sets before each step.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::module::AutodiffModule;
use burn::optim::SimpleOptimizer;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::record::Record;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

/// Per-step optimizer hyperparameters, shared between the training loop and the optimizer.
#[derive(Debug, Default)]
pub struct StepHyperparams {
    momentum: AtomicU64,
    weight_decay: AtomicU64,
}

impl StepHyperparams {
    /// Set the momentum coefficient μ used by the next step.
    pub fn set_momentum(&self, momentum: f64) {
        self.momentum.store(momentum.to_bits(), Ordering::Relaxed);
    }
    /// Set the L2 weight-decay coefficient λ used by the next step.
    pub fn set_weight_decay(&self, weight_decay: f64) {
        self.weight_decay
            .store(weight_decay.to_bits(), Ordering::Relaxed);
    }
    fn momentum(&self) -> f64 {
        f64::from_bits(self.momentum.load(Ordering::Relaxed))
    }
    fn weight_decay(&self) -> f64 {
        f64::from_bits(self.weight_decay.load(Ordering::Relaxed))
    }
}

/// SGD with heavy-ball or Nesterov momentum and L2 weight decay, exactly as PyTorch (dampening 0):
/// `g ← ∇ + λ·w;  v ← g` on the first step, else `v ← μ·v + g;  d ← nesterov ? g + μ·v : v;  w ← w − lr·d`.
#[derive(Clone)]
pub struct ScheduledSgd {
    hyper: Arc<StepHyperparams>,
    nesterov: bool,
}

/// Velocity buffer of [`ScheduledSgd`] for one parameter tensor.
#[derive(Record, Clone)]
pub struct ScheduledSgdState<B: Backend, const D: usize> {
    /// Momentum buffer `v`.
    pub velocity: Tensor<B, D>,
}

impl ScheduledSgd {
    /// An optimizer reading its per-step settings from `hyper`.
    pub fn new(hyper: Arc<StepHyperparams>, nesterov: bool) -> Self {
        Self { hyper, nesterov }
    }

    /// Wrap into burn's module-level optimizer.
    pub fn into_optimizer<B: AutodiffBackend, M: AutodiffModule<B>>(
        self,
    ) -> OptimizerAdaptor<ScheduledSgd, M, B> {
        OptimizerAdaptor::from(self)
    }
}

impl<B: Backend> SimpleOptimizer<B> for ScheduledSgd {
    type State<const D: usize> = ScheduledSgdState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<B, D>,
        mut grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let weight_decay = self.hyper.weight_decay();
        if weight_decay != 0.0 {
            grad = tensor.clone().mul_scalar(weight_decay).add(grad);
        }
        let momentum = self.hyper.momentum();
        if momentum == 0.0 {
            // Plain SGD keeps no buffer, like PyTorch with momentum=0.
            return (tensor - grad.mul_scalar(lr), None);
        }
        let velocity = match state {
            Some(state) => state.velocity.mul_scalar(momentum).add(grad.clone()),
            None => grad.clone(),
        };
        let direction = if self.nesterov {
            velocity.clone().mul_scalar(momentum).add(grad)
        } else {
            velocity.clone()
        };
        (
            tensor - direction.mul_scalar(lr),
            Some(ScheduledSgdState { velocity }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        ScheduledSgdState {
            velocity: state.velocity.to_device(device),
        }
    }
}
