//! SGD, Adam and AdamW with PyTorch's semantics, whose hyperparameters are plain values passed to every
//! step (so schedules can set the learning rate, momentum / β₁ and weight decay per step, and stacked
//! training passes one value per member).
//!
//! burn's optimizers fix momentum and weight decay at construction, and its gradient clipping is per
//! tensor where PyTorch's `clip_grad_norm_` uses the norm over all parameters; this module owns the
//! optimizer state (one set of buffers per parameter, kept flat) and applies both as PyTorch does.

use std::collections::HashMap;

use burn::module::{AutodiffModule, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};

/// Optimizer names accepted in recipes and on the command line.
pub const OPTIMIZER_NAMES: &[&str] = &["sgd", "adam", "adamw"];

/// The update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizerKind {
    /// `torch.optim.SGD` (dampening 0), heavy-ball or Nesterov momentum.
    Sgd,
    /// `torch.optim.Adam` (weight decay as an L2 term added to the gradient).
    Adam,
    /// `torch.optim.AdamW` (decoupled weight decay).
    AdamW,
}

impl OptimizerKind {
    /// Parse a name; the error lists the valid names.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "sgd" => Ok(Self::Sgd),
            "adam" => Ok(Self::Adam),
            "adamw" => Ok(Self::AdamW),
            other => Err(format!(
                "unknown optimizer `{other}`; valid: {}",
                OPTIMIZER_NAMES.join(", ")
            )),
        }
    }

    /// Name as written in recipes and the corpus.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sgd => "sgd",
            Self::Adam => "adam",
            Self::AdamW => "adamw",
        }
    }
}

/// Validated optimizer settings that stay fixed over a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimizerSettings {
    /// Update rule.
    pub kind: OptimizerKind,
    /// SGD only: Nesterov momentum.
    pub nesterov: bool,
    /// Weight decay applied to the weights (`w ← w·(1 − lr·λ)`) instead of added to the gradient.
    /// Always true for AdamW; optional for SGD ("SGDW"); false for Adam.
    pub decoupled_weight_decay: bool,
    /// Adam/AdamW β₂.
    pub beta2: f64,
    /// Adam/AdamW ε.
    pub eps: f64,
    /// Clip the gradient to this global L2 norm over all parameters (`clip_grad_norm_`), if set.
    pub clip_grad_norm: Option<f64>,
}

impl Default for OptimizerSettings {
    fn default() -> Self {
        Self {
            kind: OptimizerKind::Sgd,
            nesterov: false,
            decoupled_weight_decay: false,
            beta2: 0.999,
            eps: 1e-8,
            clip_grad_norm: None,
        }
    }
}

/// Hyperparameters of one optimizer step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepHyperparams {
    /// Learning rate.
    pub lr: f64,
    /// SGD momentum μ, or Adam's β₁.
    pub momentum: f64,
    /// Weight decay λ (coupled or decoupled per [`OptimizerSettings`]).
    pub weight_decay: f64,
}

/// Hyperparameters of one optimizer step of a stack of K models trained as one (every parameter
/// carries a leading member dimension K): one value per member.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberHyperparams {
    /// Learning rate of each member.
    pub lr: Vec<f64>,
    /// SGD momentum μ, or Adam's β₁, of each member.
    pub momentum: Vec<f64>,
    /// Weight decay λ of each member.
    pub weight_decay: Vec<f64>,
}

impl MemberHyperparams {
    /// Number of members.
    pub fn members(&self) -> usize {
        self.lr.len()
    }

    /// Append one member's values.
    pub fn push(&mut self, hyper: StepHyperparams) {
        self.lr.push(hyper.lr);
        self.momentum.push(hyper.momentum);
        self.weight_decay.push(hyper.weight_decay);
    }
}

impl From<&StepHyperparams> for MemberHyperparams {
    fn from(hyper: &StepHyperparams) -> Self {
        let mut members = Self::default();
        members.push(*hyper);
        members
    }
}

/// A per-member factor: a plain scalar when every member shares it (the single-model path then runs
/// exactly the scalar operations it always ran), else a `[K, 1]` column broadcast over each member's
/// row of a `[K, m]` parameter.
enum Coef<B: Backend> {
    Same(f64),
    PerMember(Tensor<B, 2>),
}

impl<B: Backend> Coef<B> {
    fn of(values: &[f64], device: &B::Device) -> Self {
        if values.iter().all(|&v| v == values[0]) {
            return Self::Same(values[0]);
        }
        let column: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        Self::PerMember(Tensor::from_data(
            TensorData::new(column, [values.len(), 1]),
            device,
        ))
    }

    fn scale(&self, t: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            Self::Same(v) => t.mul_scalar(*v),
            Self::PerMember(column) => t.mul(column.clone()),
        }
    }

    fn is_same(&self, value: f64) -> bool {
        matches!(self, Self::Same(v) if *v == value)
    }
}

/// The factors of one step, built once and used for every parameter.
struct StepCoefficients<B: Backend> {
    lr: Vec<f64>,
    beta1: Vec<f64>,
    momentum: Coef<B>,
    weight_decay: Coef<B>,
    /// `1 − lr·λ` (decoupled decay).
    decay_factor: Coef<B>,
    /// `1 − β₁` (Adam).
    one_minus_beta1: Coef<B>,
    /// Per-member learning rate.
    lr_coef: Coef<B>,
}

impl<B: Backend> StepCoefficients<B> {
    fn new(hyper: &MemberHyperparams, device: &B::Device) -> Self {
        let (lr, momentum, decay) = (&hyper.lr, &hyper.momentum, &hyper.weight_decay);
        let decay_factor: Vec<f64> = lr.iter().zip(decay).map(|(l, d)| 1.0 - l * d).collect();
        let one_minus: Vec<f64> = momentum.iter().map(|m| 1.0 - m).collect();
        Self {
            lr: lr.clone(),
            beta1: momentum.clone(),
            momentum: Coef::of(momentum, device),
            weight_decay: Coef::of(decay, device),
            decay_factor: Coef::of(&decay_factor, device),
            one_minus_beta1: Coef::of(&one_minus, device),
            lr_coef: Coef::of(lr, device),
        }
    }
}

/// Buffers of one parameter tensor, kept as `[members, numel / members]`.
struct ParamState<B: Backend> {
    /// SGD velocity, or Adam's first moment.
    first: Option<Tensor<B, 2>>,
    /// Adam's second moment.
    second: Option<Tensor<B, 2>>,
    /// Adam steps taken by this parameter.
    steps: i32,
}

/// An optimizer for models of backend `B`, holding its per-parameter state.
pub struct ScheduledOptimizer<B: AutodiffBackend> {
    settings: OptimizerSettings,
    state: HashMap<ParamId, ParamState<B::InnerBackend>>,
}

impl<B: AutodiffBackend> ScheduledOptimizer<B> {
    /// A fresh optimizer (no state yet).
    pub fn new(settings: OptimizerSettings) -> Self {
        Self {
            settings,
            state: HashMap::new(),
        }
    }

    /// Apply one update to `model` from `grads` with this step's hyperparameters.
    pub fn step<M: AutodiffModule<B>>(
        &mut self,
        hyper: &StepHyperparams,
        model: M,
        grads: GradientsParams,
    ) -> M {
        self.step_members(&MemberHyperparams::from(hyper), model, grads)
    }

    /// Apply one update to a stacked `model` (every parameter's leading dimension is the member) with
    /// each member's own hyperparameters. Members never mix: clipping uses each member's own norm.
    pub fn step_members<M: AutodiffModule<B>>(
        &mut self,
        hyper: &MemberHyperparams,
        model: M,
        grads: GradientsParams,
    ) -> M {
        let members = hyper.members();
        let device = model.devices().into_iter().next().expect("a model device");
        // PyTorch's clip_grad_norm_: per member, one coefficient min(1, max / (‖g‖ + 1e-6)) for all
        // its parameters, kept on the device (no read-back).
        let clip = self.settings.clip_grad_norm.map(|max_norm| {
            let mut norm = GradNormSquared::<B> {
                grads: &grads,
                members,
                total: None,
            };
            model.visit(&mut norm);
            norm.total.map(|total| {
                total
                    .sqrt()
                    .add_scalar(1e-6)
                    .recip()
                    .mul_scalar(max_norm)
                    .clamp_max(1.0)
            })
        });
        let mut mapper = UpdateMapper {
            optimizer: self,
            coefficients: StepCoefficients::new(hyper, &device),
            members,
            grads,
            clip: clip.flatten(),
        };
        model.map(&mut mapper)
    }

    /// Keep only the state rows of members `keep` (of `members`), as the stacked model drops members.
    pub fn retain_members(&mut self, keep: &[usize]) {
        for state in self.state.values_mut() {
            let pick = |t: Tensor<B::InnerBackend, 2>| {
                let index = Tensor::from_data(
                    TensorData::new(keep.iter().map(|&i| i as i64).collect(), [keep.len()]),
                    &t.device(),
                );
                t.select(0, index)
            };
            state.first = state.first.take().map(pick);
            state.second = state.second.take().map(pick);
        }
    }

    fn update(
        &mut self,
        id: ParamId,
        weights: Tensor<B::InnerBackend, 2>,
        mut grad: Tensor<B::InnerBackend, 2>,
        c: &StepCoefficients<B::InnerBackend>,
    ) -> Tensor<B::InnerBackend, 2> {
        let s = self.settings;
        let decoupled = s.decoupled_weight_decay || s.kind == OptimizerKind::AdamW;
        let mut weights = weights;
        if !c.weight_decay.is_same(0.0) {
            if decoupled {
                weights = c.decay_factor.scale(weights);
            } else {
                grad = c.weight_decay.scale(weights.clone()).add(grad);
            }
        }
        let state = self.state.entry(id).or_insert(ParamState {
            first: None,
            second: None,
            steps: 0,
        });
        match s.kind {
            OptimizerKind::Sgd => {
                if c.momentum.is_same(0.0) {
                    // Plain SGD keeps no buffer, like PyTorch with momentum=0.
                    return weights - c.lr_coef.scale(grad);
                }
                let velocity = match state.first.take() {
                    Some(v) => c.momentum.scale(v).add(grad.clone()),
                    None => grad.clone(),
                };
                let direction = if s.nesterov {
                    c.momentum.scale(velocity.clone()).add(grad)
                } else {
                    velocity.clone()
                };
                state.first = Some(velocity);
                weights - c.lr_coef.scale(direction)
            }
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                state.steps += 1;
                let beta2 = s.beta2;
                let first = match state.first.take() {
                    Some(m) => c
                        .momentum
                        .scale(m)
                        .add(c.one_minus_beta1.scale(grad.clone())),
                    None => c.one_minus_beta1.scale(grad.clone()),
                };
                let squared = grad.clone().mul(grad).mul_scalar(1.0 - beta2);
                let second = match state.second.take() {
                    Some(v) => v.mul_scalar(beta2).add(squared),
                    None => squared,
                };
                // As torch.optim.Adam: the bias corrections use this step's β₁ (which a schedule
                // may cycle) raised to the parameter's step count.
                let step_size: Vec<f64> =
                    c.lr.iter()
                        .zip(&c.beta1)
                        .map(|(lr, beta1)| lr / (1.0 - beta1.powi(state.steps)))
                        .collect();
                let bias2 = 1.0 - beta2.powi(state.steps);
                let denom = second
                    .clone()
                    .sqrt()
                    .div_scalar(bias2.sqrt())
                    .add_scalar(s.eps);
                let step_size = Coef::of(&step_size, &weights.device());
                let update = step_size.scale(first.clone().div(denom));
                state.first = Some(first);
                state.second = Some(second);
                weights - update
            }
        }
    }
}

/// Sums ‖g‖² over every parameter that has a gradient.
struct GradNormSquared<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    members: usize,
    /// `[members, 1]`.
    total: Option<Tensor<B::InnerBackend, 2>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for GradNormSquared<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(grad) = self.grads.get::<B::InnerBackend, D>(param.id) {
            let squared = if self.members == 1 {
                grad.square().sum().reshape([1, 1])
            } else {
                let numel = grad.shape().num_elements();
                grad.reshape([self.members, numel / self.members])
                    .square()
                    .sum_dim(1)
            };
            self.total = Some(match self.total.take() {
                Some(total) => total.add(squared),
                None => squared,
            });
        }
    }
}

/// Maps every parameter with a gradient to its updated value.
struct UpdateMapper<'a, B: AutodiffBackend> {
    optimizer: &'a mut ScheduledOptimizer<B>,
    coefficients: StepCoefficients<B::InnerBackend>,
    members: usize,
    grads: GradientsParams,
    /// `[members, 1]`.
    clip: Option<Tensor<B::InnerBackend, 2>>,
}

impl<B: AutodiffBackend> ModuleMapper<B> for UpdateMapper<'_, B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<B::InnerBackend, D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let require_grad = tensor.is_require_grad();
        let dims = tensor.dims();
        let numel = dims.iter().product::<usize>();
        let rows = [self.members, numel / self.members];
        let grad = grad.reshape(rows);
        let grad = match &self.clip {
            Some(coefficient) => grad.mul(coefficient.clone()),
            None => grad,
        };
        let updated =
            self.optimizer
                .update(id, tensor.inner().reshape(rows), grad, &self.coefficients);
        let mut tensor = Tensor::from_inner(updated.reshape(dims));
        if require_grad {
            tensor = tensor.require_grad();
        }
        Param::from_mapped_value(id, tensor, mapper)
    }
}

/// Every optimizer against PyTorch: `fixtures/optimizer_steps.json` holds 5 steps of a tiny
/// Linear(4,3)→ReLU→Linear(3,2) under 9 configurations (made by `fixtures/make_optimizer_fixture.py`).
#[cfg(test)]
mod pytorch_parity {
    use burn::backend::{Autodiff, Flex};
    use burn::module::Module;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::activation::relu;
    use burn::tensor::{Tensor, TensorData};
    use serde_json::Value;

    use super::*;
    use crate::model::Classifier;
    use crate::train::engine::{DeviceSplit, Engine, LossSettings};

    type B = Autodiff<Flex>;

    #[derive(Module, Debug)]
    struct Tiny<B: Backend> {
        l0: Linear<B>,
        l1: Linear<B>,
    }

    impl<B: Backend> Classifier<B> for Tiny<B> {
        fn logits(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
            self.l1.forward(relu(self.l0.forward(x)))
        }
    }

    fn matrix(v: &Value) -> Vec<Vec<f64>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            })
            .collect()
    }

    fn vector(v: &Value) -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    }

    /// A Linear layer with PyTorch's `[out, in]` weight (burn stores `[in, out]`).
    fn linear(weight: &[Vec<f64>], bias: &[f64]) -> Linear<B> {
        let (out, inp) = (weight.len(), weight[0].len());
        let device = Default::default();
        let mut layer = LinearConfig::new(inp, out).init::<B>(&device);
        let transposed: Vec<f32> = (0..inp)
            .flat_map(|i| weight.iter().map(move |row| row[i] as f32))
            .collect();
        layer.weight = burn::module::Param::from_tensor(Tensor::from_data(
            TensorData::new(transposed, [inp, out]),
            &device,
        ));
        let bias: Vec<f32> = bias.iter().map(|&b| b as f32).collect();
        layer.bias = Some(burn::module::Param::from_tensor(Tensor::from_data(
            TensorData::new(bias, [out]),
            &device,
        )));
        layer
    }

    /// Largest |lrcast − PyTorch| over a layer's weight (PyTorch layout) and bias.
    fn max_diff(layer: &Linear<B>, weight: &[Vec<f64>], bias: &[f64]) -> f64 {
        let w = layer
            .weight
            .val()
            .into_data()
            .convert::<f64>()
            .to_vec::<f64>()
            .unwrap();
        let out = weight.len();
        let mut diff: f64 = 0.0;
        for (o, row) in weight.iter().enumerate() {
            for (i, &expected) in row.iter().enumerate() {
                diff = diff.max((w[i * out + o] - expected).abs());
            }
        }
        let b = layer
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .convert::<f64>();
        for (got, expected) in b.to_vec::<f64>().unwrap().iter().zip(bias) {
            diff = diff.max((got - expected).abs());
        }
        diff
    }

    #[test]
    fn every_optimizer_matches_pytorch_step_by_step() {
        let fixture: Value =
            serde_json::from_str(include_str!("fixtures/optimizer_steps.json")).unwrap();
        let init = &fixture["init"];
        let x: Vec<f32> = matrix(&fixture["x"])
            .concat()
            .iter()
            .map(|&v| v as f32)
            .collect();
        let y: Vec<u8> = vector(&fixture["y"]).iter().map(|&v| v as u8).collect();
        let cases = fixture["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 9);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let kind = OptimizerKind::parse(case["optimizer"].as_str().unwrap()).unwrap();
            let settings = OptimizerSettings {
                kind,
                nesterov: case["nesterov"].as_bool().unwrap_or(false),
                decoupled_weight_decay: case["decoupled_weight_decay"].as_bool().unwrap_or(false)
                    || kind == OptimizerKind::AdamW,
                beta2: case["beta2"].as_f64().unwrap_or(0.999),
                eps: case["eps"].as_f64().unwrap_or(1e-8),
                clip_grad_norm: case["clip_grad_norm"].as_f64(),
            };
            let device = Default::default();
            let model = Tiny {
                l0: linear(&matrix(&init["w0"]), &vector(&init["b0"])),
                l1: linear(&matrix(&init["w1"]), &vector(&init["b1"])),
            };
            let loss = LossSettings {
                label_smoothing: case["label_smoothing"].as_f64().unwrap(),
                divergence_bound: f64::INFINITY,
            };
            let train = DeviceSplit::upload(&x, &y, 4, &device);
            let mut engine = Engine::new(model, train, settings, loss, &device);
            let (lrs, momenta) = (vector(&case["lr"]), vector(&case["momentum"]));
            let batch: Vec<usize> = (0..y.len()).collect();
            for (k, step) in case["steps"].as_array().unwrap().iter().enumerate() {
                let hyper = StepHyperparams {
                    lr: lrs[k],
                    momentum: momenta[k],
                    weight_decay: case["weight_decay"].as_f64().unwrap(),
                };
                engine.step(&batch, &hyper);
                let loss_diff = (engine.losses()[k] - step["loss"].as_f64().unwrap()).abs();
                assert!(loss_diff < 1e-5, "{name} step {k}: loss off by {loss_diff}");
                let m = engine.model();
                let diff = max_diff(&m.l0, &matrix(&step["w0"]), &vector(&step["b0"]))
                    .max(max_diff(&m.l1, &matrix(&step["w1"]), &vector(&step["b1"])));
                assert!(diff < 2e-5, "{name} step {k}: parameters off by {diff}");
            }
        }
    }
}
