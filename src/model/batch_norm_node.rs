//! Batch norm in training on the CPU backend (`Autodiff<Flex>`, f32) as one autodiff node: the
//! forward computes each channel's batch mean and variance and normalises (two passes over the
//! input), the backward computes the input, γ and β gradients (two passes) — where burn's generic
//! element-wise ops took a dozen passes and 10–15 % of a ResNet step. Channels are independent
//! parallel tasks, each summing in a fixed order, so results do not depend on the thread count.

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Shape, Tensor, TensorPrimitive, backend::Backend};
use rayon::prelude::*;

use super::flex::{Ad, cast, contiguous, f32s, filled, flex_tensor, float, moved, register_grads};

/// Output of [`try_batch_norm_train`]: the normalised tensor and each channel's batch mean and
/// biased variance (for the running statistics).
pub struct Normalised<B: Backend> {
    pub y: Tensor<B, 4>,
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
}

/// `γ·(x − mean)/√(var + eps) + β` per channel of `x: [n, c, h, w]` with batch statistics, as
/// one node, when the backend is `Autodiff<Flex>` and everything is f32; else the inputs back.
#[allow(clippy::type_complexity)]
pub fn try_batch_norm_train<B: Backend>(
    x: Tensor<B, 4>,
    gamma: Tensor<B, 1>,
    beta: Tensor<B, 1>,
    eps: f64,
) -> Result<Normalised<B>, (Tensor<B, 4>, Tensor<B, 1>, Tensor<B, 1>)> {
    let f32s_in =
        x.dtype() == DType::F32 && gamma.dtype() == DType::F32 && beta.dtype() == DType::F32;
    let [_, c, _, _] = x.dims();
    if !f32s_in || gamma.dims()[0] != c || beta.dims()[0] != c || x.shape().num_elements() == 0 {
        return Err((x, gamma, beta));
    }
    let x = match cast::<_, Tensor<Ad, 4>>(x) {
        Ok(x) => x,
        Err(x) => return Err((x, gamma, beta)),
    };
    let (y, mean, var) = forward_autodiff(x, moved(gamma), moved(beta), eps);
    Ok(Normalised {
        y: moved(y),
        mean,
        var,
    })
}

/// Σ f(a[i], b[i]) in 8 interleaved f32 partial sums (vectorises; fixed order), as f64.
fn sum8(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| f(x, y))
        .sum();
    for (ca, cb) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += f(ca[k], cb[k]);
        }
    }
    acc.iter().map(|&v| v as f64).sum::<f64>() + tail as f64
}

/// Forward kernel: `y`, the batch means, biased variances and `1/√(var + eps)`.
#[allow(clippy::type_complexity)]
fn forward_kernel(
    x: &[f32],
    dims: [usize; 3],
    gamma: &[f32],
    beta: &[f32],
    eps: f64,
) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let [n, c, hw] = dims;
    let count = (n * hw) as f64;
    // One pass: sums of (x − k) and (x − k)² with k the channel's first value, so the
    // difference of squares does not cancel when the mean is far from zero.
    let moments: Vec<(f64, f64)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            let k = x[ch * hw];
            (0..n).fold((0.0, 0.0), |(s1, s2), s| {
                let p = &x[(s * c + ch) * hw..][..hw];
                (
                    s1 + sum8(p, p, |v, _| v - k),
                    s2 + sum8(p, p, |v, _| (v - k) * (v - k)),
                )
            })
        })
        .collect();
    let (mean, var): (Vec<f32>, Vec<f32>) = moments
        .iter()
        .enumerate()
        .map(|(ch, &(s1, s2))| {
            let d = s1 / count;
            (
                (x[ch * hw] as f64 + d) as f32,
                (s2 / count - d * d).max(0.0) as f32,
            )
        })
        .unzip();
    let inv_std: Vec<f32> = var
        .iter()
        .map(|&v| (1.0 / (v as f64 + eps).sqrt()) as f32)
        .collect();
    let y = filled(x.len(), |y| {
        y.par_chunks_mut(hw)
            .zip(x.par_chunks(hw))
            .enumerate()
            .for_each(|(i, (y, x))| {
                let ch = i % c;
                let scale = gamma[ch] * inv_std[ch];
                let shift = beta[ch] - mean[ch] * scale;
                for (y, x) in y.iter_mut().zip(x) {
                    y.write(x * scale + shift);
                }
            });
    });
    (y, mean, var, inv_std)
}

/// Saved for the backward pass: the input, its batch means, `1/√(var + eps)` and γ.
type State = (FlexTensor, Vec<f32>, Vec<f32>, Vec<f32>);

/// Backward kernel from `gy`: (input gradient when `want_x`, γ gradient, β gradient). With
/// `x̂ = (x − mean)·inv_std`: `dβ = Σ gy`, `dγ = Σ gy·x̂`,
/// `dx = γ·inv_std·(gy − dβ/N − x̂·dγ/N)`.
fn backward_kernel(
    x: &[f32],
    gy: &[f32],
    dims: [usize; 3],
    (mean, inv_std, gamma): (&[f32], &[f32], &[f32]),
    want_x: bool,
) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let [n, c, hw] = dims;
    let count = (n * hw) as f32;
    let sums: Vec<(f64, f64)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            let (m, is) = (mean[ch], inv_std[ch]);
            (0..n).fold((0.0, 0.0), |(sb, sg), s| {
                let at = (s * c + ch) * hw;
                let (x, g) = (&x[at..][..hw], &gy[at..][..hw]);
                (
                    sb + sum8(g, g, |g, _| g),
                    sg + sum8(g, x, |g, x| g * (x - m) * is),
                )
            })
        })
        .collect();
    let grad_beta: Vec<f32> = sums.iter().map(|s| s.0 as f32).collect();
    let grad_gamma: Vec<f32> = sums.iter().map(|s| s.1 as f32).collect();
    let grad_x = want_x.then(|| {
        filled(x.len(), |gx| {
            gx.par_chunks_mut(hw)
                .zip(x.par_chunks(hw).zip(gy.par_chunks(hw)))
                .enumerate()
                .for_each(|(i, (gx, (x, gy)))| {
                    let ch = i % c;
                    let (m, is) = (mean[ch], inv_std[ch]);
                    let k = gamma[ch] * is;
                    let (mb, mg) = (grad_beta[ch] / count, grad_gamma[ch] / count);
                    for ((d, &x), &g) in gx.iter_mut().zip(x).zip(gy) {
                        d.write(k * (g - mb - (x - m) * is * mg));
                    }
                });
        })
    });
    (grad_x, grad_gamma, grad_beta)
}

#[derive(Debug)]
struct BatchNormBackward;

impl Backward<Flex, 3> for BatchNormBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let gy = contiguous(grads.consume::<Flex>(&ops.node));
        let (x, mean, inv_std, gamma) = ops.state;
        let shape = x.layout().shape().clone();
        let dims = [shape[0], shape[1], shape[2] * shape[3]];
        let (gx, gg, gb) = backward_kernel(
            f32s(&x),
            f32s(&gy),
            dims,
            (&mean, &inv_std, &gamma),
            ops.parents[0].is_some(),
        );
        let channels = Shape::new([dims[1]]);
        register_grads(
            grads,
            ops.parents.iter().map(|p| p.as_ref().map(|node| node.id)),
            [
                (gx, shape),
                (Some(gg), channels.clone()),
                (Some(gb), channels),
            ],
        );
    }
}

fn forward_autodiff(
    x: Tensor<Ad, 4>,
    gamma: Tensor<Ad, 1>,
    beta: Tensor<Ad, 1>,
    eps: f64,
) -> (Tensor<Ad, 4>, Vec<f32>, Vec<f32>) {
    let [n, c, h, w] = x.dims();
    let (x, gamma, beta) = (float(x), float(gamma), float(beta));
    let xc = contiguous(x.primitive.clone());
    let gamma_values = f32s(&contiguous(gamma.primitive.clone())).to_vec();
    let beta_values = f32s(&contiguous(beta.primitive.clone())).to_vec();
    let dims = [n, c, h * w];
    let (y, mean, var, inv_std) = forward_kernel(f32s(&xc), dims, &gamma_values, &beta_values, eps);
    let out = flex_tensor(y, [n, c, h, w]);
    let out = match BatchNormBackward
        .prepare::<NoCheckpointing>([x.node.clone(), gamma.node.clone(), beta.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((xc, mean.clone(), inv_std, gamma_values), out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    (
        Tensor::from_primitive(TensorPrimitive::Float(out)),
        mean,
        var,
    )
}
