//! The stacked linear layer as one CPU kernel: `y[k] = act(x[k]·W[k] + b[k])` for K members, forward
//! and backward each one gemm per member and product, members in parallel. On `Autodiff<Flex>` it is
//! one autodiff node; every other backend composes burn's batched matmul, add and ReLU.
//!
//! Why: composed from burn-flex 0.21's ops, a stack of MLPs spent more time on the bias (broadcast
//! add materialised by `repeat_dim`, its gradient's sum), the shared input's `expand`, the
//! transposes of the backward matmuls and zero-filling than on the products themselves.

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Tensor, TensorPrimitive, activation::relu, backend::Backend};
use rayon::prelude::*;

use crate::model::flex::{
    Ad, cast, contiguous, f32s, fast_backend, flex_tensor, float, moved, register_grads,
};
use crate::model::gemm::{Mat, gemm, gemm_parallelism};

/// The layer's input: one `[members, batch, d_in]` tensor, or one `[batch, d_in]` shared by all.
pub enum DenseInput<B: Backend> {
    /// Member k reads `x[k]`.
    PerMember(Tensor<B, 3>),
    /// Every member reads the same rows.
    Shared(Tensor<B, 2>),
}

impl<B: Backend> DenseInput<B> {
    fn dtype(&self) -> DType {
        match self {
            Self::PerMember(x) => x.dtype(),
            Self::Shared(x) => x.dtype(),
        }
    }

    /// The same input as a tensor of backend `C` (the caller checked that `C` is `B`).
    fn moved<C: Backend>(self) -> DenseInput<C> {
        match self {
            Self::PerMember(x) => DenseInput::PerMember(moved(x)),
            Self::Shared(x) => DenseInput::Shared(moved(x)),
        }
    }

    fn into_primitive(self) -> B::FloatTensorPrimitive {
        match self {
            Self::PerMember(x) => float(x),
            Self::Shared(x) => float(x),
        }
    }
}

/// `x·W + b` per member, then ReLU when `relu` — `weight: [K, d_in, d_out]`, `bias: [K, d_out]` →
/// `[K, batch, d_out]`.
pub fn stacked_dense<B: Backend>(
    x: DenseInput<B>,
    weight: Tensor<B, 3>,
    bias: Tensor<B, 2>,
    relu_after: bool,
) -> Tensor<B, 3> {
    let all_f32 = [x.dtype(), weight.dtype(), bias.dtype()] == [DType::F32; 3];
    if !(fast_backend::<B>() && all_f32) {
        return composed(x, weight, bias, relu_after);
    }
    match cast::<_, Tensor<Flex, 3>>(weight) {
        Ok(weight) => moved(dense_flex(x.moved(), weight, moved(bias), relu_after)),
        Err(weight) => moved(dense_autodiff(
            x.moved(),
            moved(weight),
            moved(bias),
            relu_after,
        )),
    }
}

/// The same layer from burn's own ops (any backend).
fn composed<B: Backend>(
    x: DenseInput<B>,
    weight: Tensor<B, 3>,
    bias: Tensor<B, 2>,
    relu_after: bool,
) -> Tensor<B, 3> {
    let members = weight.dims()[0];
    let x = match x {
        DenseInput::PerMember(x) => x,
        DenseInput::Shared(x) => {
            let [batch, d_in] = x.dims();
            x.unsqueeze::<3>().expand([members, batch, d_in])
        }
    };
    let rows = x.dims()[1];
    // Materialised: burn-flex 0.21's broadcasting add over a middle dimension is ~30× slower.
    let y = x.matmul(weight) + bias.unsqueeze_dim::<3>(1).repeat_dim(1, rows);
    if relu_after { relu(y) } else { y }
}

/// Sizes of one call: members, batch rows, input and output widths; whether the input is shared.
#[derive(Debug, Clone, Copy)]
struct Dims {
    members: usize,
    batch: usize,
    d_in: usize,
    d_out: usize,
    shared: bool,
}

impl Dims {
    fn new(x: &FlexTensor, weight: &FlexTensor) -> Self {
        let w = weight.layout().shape();
        let xs = x.layout().shape();
        let shared = xs.num_dims() == 2;
        let (batch, d_in) = if shared {
            (xs[0], xs[1])
        } else {
            (xs[1], xs[2])
        };
        assert_eq!(
            d_in, w[1],
            "stacked dense: input width {d_in} against weight {w:?}"
        );
        Self {
            members: w[0],
            batch,
            d_in,
            d_out: w[2],
            shared,
        }
    }

    /// Member k's input rows.
    fn input<'a>(&self, x: &'a [f32], k: usize) -> &'a [f32] {
        let len = self.batch * self.d_in;
        if self.shared {
            x
        } else {
            &x[k * len..(k + 1) * len]
        }
    }
}

/// Forward on slices: `out[k] = act(b[k] + x[k]·W[k])`.
fn forward_kernel(
    dims: Dims,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    relu_after: bool,
) -> Vec<f32> {
    let Dims {
        members,
        batch,
        d_in,
        d_out,
        ..
    } = dims;
    let mut out = vec![0.0f32; members * batch * d_out];
    let parallelism = gemm_parallelism(members, [batch, d_out, d_in]);
    out.par_chunks_mut(batch * d_out)
        .enumerate()
        .for_each(|(k, out)| {
            let b = &bias[k * d_out..(k + 1) * d_out];
            for row in out.chunks_mut(d_out) {
                row.copy_from_slice(b);
            }
            let w = &weight[k * d_in * d_out..(k + 1) * d_in * d_out];
            gemm(
                [batch, d_out, d_in],
                out,
                d_out,
                true,
                Mat {
                    data: dims.input(x, k),
                    rs: d_in,
                    cs: 1,
                },
                Mat {
                    data: w,
                    rs: d_out,
                    cs: 1,
                },
                parallelism,
            );
            if relu_after {
                for v in out.iter_mut() {
                    *v = v.max(0.0);
                }
            }
        });
    out
}

/// The gradients the backward pass computes (each only when wanted).
struct DenseGrads {
    input: Option<Vec<f32>>,
    weight: Option<Vec<f32>>,
    bias: Option<Vec<f32>>,
}

/// Backward on slices. `grad_out` is the gradient of the layer's output; with ReLU it is masked by
/// `out > 0` first (burn's ReLU gradient). A shared input's gradient sums the members'.
fn backward_kernel(
    dims: Dims,
    x: &[f32],
    weight: &[f32],
    out: Option<&[f32]>,
    mut grad_out: Vec<f32>,
    wanted: [bool; 3],
) -> DenseGrads {
    let Dims {
        members,
        batch,
        d_in,
        d_out,
        shared,
    } = dims;
    let [want_input, want_weight, want_bias] = wanted;
    let mut grad_input = want_input.then(|| vec![0.0f32; members * batch * d_in]);
    let mut grad_weight = want_weight.then(|| vec![0.0f32; members * d_in * d_out]);
    let mut grad_bias = want_bias.then(|| vec![0.0f32; members * d_out]);
    let work: Vec<_> = grad_out
        .chunks_mut(batch * d_out)
        .zip(per_member(&mut grad_input, members, batch * d_in))
        .zip(per_member(&mut grad_weight, members, d_in * d_out))
        .zip(per_member(&mut grad_bias, members, d_out))
        .enumerate()
        .collect();
    let parallelism = gemm_parallelism(members, [batch, d_out, d_in]);
    work.into_par_iter().for_each(|(k, (((g, gx), gw), gb))| {
        if let Some(out) = out {
            let y = &out[k * batch * d_out..(k + 1) * batch * d_out];
            // A select, not a branch, so it vectorises.
            for (g, &y) in g.iter_mut().zip(y) {
                *g = if y > 0.0 { *g } else { 0.0 };
            }
        }
        let g = &*g;
        let w = &weight[k * d_in * d_out..(k + 1) * d_in * d_out];
        let g_mat = Mat {
            data: g,
            rs: d_out,
            cs: 1,
        };
        if let Some(gx) = gx {
            // dx = g · Wᵀ
            gemm(
                [batch, d_in, d_out],
                gx,
                d_in,
                false,
                g_mat,
                Mat {
                    data: w,
                    rs: 1,
                    cs: d_out,
                },
                parallelism,
            );
        }
        if let Some(gw) = gw {
            // dW = xᵀ · g
            gemm(
                [d_in, d_out, batch],
                gw,
                d_out,
                false,
                Mat {
                    data: dims.input(x, k),
                    rs: 1,
                    cs: d_in,
                },
                g_mat,
                parallelism,
            );
        }
        if let Some(gb) = gb {
            for row in g.chunks(d_out) {
                for (acc, v) in gb.iter_mut().zip(row) {
                    *acc += v;
                }
            }
        }
    });
    let input = grad_input.map(|per_member| {
        if shared {
            // Summed in member order, so the result does not depend on the thread count.
            let mut sum = per_member[..batch * d_in].to_vec();
            for member in per_member.chunks(batch * d_in).skip(1) {
                for (acc, v) in sum.iter_mut().zip(member) {
                    *acc += v;
                }
            }
            sum
        } else {
            per_member
        }
    });
    DenseGrads {
        input,
        weight: grad_weight,
        bias: grad_bias,
    }
}

/// `members` slices of `len` of `buffer`, or `members` times `None` without one.
fn per_member(
    buffer: &mut Option<Vec<f32>>,
    members: usize,
    len: usize,
) -> Vec<Option<&mut [f32]>> {
    match buffer {
        Some(v) => v.chunks_mut(len).map(Some).collect(),
        None => (0..members).map(|_| None).collect(),
    }
}

fn dense_flex(
    x: DenseInput<Flex>,
    weight: Tensor<Flex, 3>,
    bias: Tensor<Flex, 2>,
    relu_after: bool,
) -> Tensor<Flex, 3> {
    let x = contiguous(x.into_primitive());
    let weight = contiguous(float(weight));
    let bias = contiguous(float(bias));
    let dims = Dims::new(&x, &weight);
    let out = forward_kernel(dims, f32s(&x), f32s(&weight), f32s(&bias), relu_after);
    Tensor::from_primitive(TensorPrimitive::Float(flex_tensor(
        out,
        [dims.members, dims.batch, dims.d_out],
    )))
}

/// Saved for the backward pass: input, weight, the output when ReLU follows, the sizes.
type State = (FlexTensor, FlexTensor, Option<FlexTensor>, Dims);

#[derive(Debug)]
struct DenseBackward;

impl Backward<Flex, 3> for DenseBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        // Owned without a copy when the gradient is not shared (the usual case): the ReLU mask
        // is applied to it in place.
        let grad_out: Vec<f32> = grads
            .consume::<Flex>(&ops.node)
            .into_data()
            .into_vec()
            .expect("f32 gradient");
        let (x, weight, out, dims) = ops.state;
        let wanted = [0, 1, 2].map(|i| ops.parents[i].is_some());
        let g = backward_kernel(
            dims,
            f32s(&x),
            f32s(&weight),
            out.as_ref().map(f32s),
            grad_out,
            wanted,
        );
        register_grads(
            grads,
            ops.parents.iter().map(|p| p.as_ref().map(|node| node.id)),
            [
                (g.input, x.layout().shape().clone()),
                (g.weight, weight.layout().shape().clone()),
                (g.bias, [dims.members, dims.d_out].into()),
            ],
        );
    }
}

fn dense_autodiff(
    x: DenseInput<Ad>,
    weight: Tensor<Ad, 3>,
    bias: Tensor<Ad, 2>,
    relu_after: bool,
) -> Tensor<Ad, 3> {
    let x = x.into_primitive();
    let weight = float(weight);
    let bias = float(bias);
    let xc = contiguous(x.primitive.clone());
    let wc = contiguous(weight.primitive.clone());
    let bc = contiguous(bias.primitive.clone());
    let dims = Dims::new(&xc, &wc);
    let out = forward_kernel(dims, f32s(&xc), f32s(&wc), f32s(&bc), relu_after);
    let out = flex_tensor(out, [dims.members, dims.batch, dims.d_out]);
    let saved_out = relu_after.then(|| out.clone());
    let out = match DenseBackward
        .prepare::<NoCheckpointing>([x.node.clone(), weight.node.clone(), bias.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((xc, wc, saved_out, dims), out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::{Tensor, TensorData};

    use super::{DenseInput, composed, stacked_dense};

    type Ad = Autodiff<Flex>;

    fn values(len: usize, salt: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (((i + salt) * 7919 % 29) as f32 - 14.0) / 9.0)
            .collect()
    }

    fn tensor<const D: usize>(shape: [usize; D], salt: usize) -> Tensor<Ad, D> {
        let len = shape.iter().product();
        Tensor::from_data(
            TensorData::new(values(len, salt), shape),
            &Default::default(),
        )
        .require_grad()
    }

    fn close(a: Tensor<Flex, 3>, b: Tensor<Flex, 3>, what: &str) {
        let (a, b): (Vec<f32>, Vec<f32>) = (
            a.into_data().to_vec().unwrap(),
            b.into_data().to_vec().unwrap(),
        );
        assert_eq!(a.len(), b.len(), "{what}");
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                "{what}[{i}]: {x} vs {y}"
            );
        }
    }

    /// Output and the gradients of input, weight and bias equal burn's composed ops, for shared and
    /// per-member inputs, with and without ReLU (a weighted sum of the output as the loss, so every
    /// output element has its own gradient).
    #[test]
    fn the_fused_layer_equals_burns_ops_forward_and_backward() {
        let [members, batch, d_in, d_out] = [3, 5, 4, 6];
        for shared in [false, true] {
            for relu_after in [false, true] {
                let run = |fused: bool| {
                    let x3 = tensor([members, batch, d_in], 1);
                    let x2 = tensor([batch, d_in], 2);
                    let weight = tensor([members, d_in, d_out], 3);
                    let bias = tensor([members, d_out], 4);
                    let input = if shared {
                        DenseInput::Shared(x2.clone())
                    } else {
                        DenseInput::PerMember(x3.clone())
                    };
                    let y = if fused {
                        stacked_dense(input, weight.clone(), bias.clone(), relu_after)
                    } else {
                        composed(input, weight.clone(), bias.clone(), relu_after)
                    };
                    let out = y.clone().inner();
                    let loss = (y * tensor::<3>([members, batch, d_out], 5).detach()).sum();
                    let grads = loss.backward();
                    let gx = if shared {
                        x2.grad(&grads).unwrap().unsqueeze::<3>()
                    } else {
                        x3.grad(&grads).unwrap()
                    };
                    let gw = weight.grad(&grads).unwrap();
                    let gb = bias.grad(&grads).unwrap().unsqueeze::<3>();
                    [out, gx, gw, gb]
                };
                let [fused, reference] = [run(true), run(false)];
                for ((a, b), what) in fused
                    .into_iter()
                    .zip(reference)
                    .zip(["out", "dx", "dW", "db"])
                {
                    close(
                        a,
                        b,
                        &format!("{what} (shared {shared}, relu {relu_after})"),
                    );
                }
            }
        }
    }
}
