//! 2×2 / stride-2 max-pooling on the CPU backend: one pass that keeps the winner's position, and
//! a backward that scatters the gradient to it (burn's generic 3-D pooling path with i64
//! indices took ~28 ms fwd+bwd for `[128, 32, 28, 28]` on 2 cores). Other pools, backends and
//! dtypes use burn's module.

use std::sync::Arc;

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::tensor::{DType, Tensor, TensorPrimitive, backend::Backend};
use rayon::prelude::*;

use super::flex::{Ad, cast, contiguous, f32s, fast_backend, flex_tensor, float, moved};

/// `pool.forward(x)`, on the fast path when `pool` is a plain 2×2 / stride-2 pool without
/// padding and the backend is `Flex` or `Autodiff<Flex>` with f32 data.
pub fn max_pool2d_module<B: Backend>(pool: &MaxPool2d, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let plain = pool.kernel_size == [2, 2]
        && pool.stride == [2, 2]
        && pool.dilation == [1, 1]
        && !pool.ceil_mode
        && matches!(
            pool.padding,
            PaddingConfig2d::Valid | PaddingConfig2d::Explicit(0, 0, 0, 0)
        );
    let [_, _, h, w] = x.dims();
    if !(plain && fast_backend::<B>() && x.dtype() == DType::F32 && h >= 2 && w >= 2) {
        return pool.forward(x);
    }
    match cast::<_, Tensor<Flex, 4>>(x) {
        Ok(x) => {
            let x = contiguous(float(x));
            let (out, _) = pool_forward(&x, false);
            moved(Tensor::<Flex, 4>::from_primitive(TensorPrimitive::Float(
                out,
            )))
        }
        Err(x) => moved(pool_autodiff(moved(x))),
    }
}

/// `[n, c, h, w]` → `[n, c, h/2, w/2]` (floor) and, when asked, each output's winner as 0–3
/// (row-major in its 2×2 window; the first maximum wins, as in burn and PyTorch).
fn pool_forward(x: &FlexTensor, with_argmax: bool) -> (FlexTensor, Vec<u8>) {
    let shape = x.layout().shape();
    let [n, c, h, w] = [shape[0], shape[1], shape[2], shape[3]];
    let (oh, ow) = (h / 2, w / 2);
    let src = f32s(x);
    let mut out = vec![0.0f32; n * c * oh * ow];
    let mut arg = vec![0u8; if with_argmax { out.len() } else { 0 }];
    let plane = |(o, (a, x)): (&mut [f32], (&mut [u8], &[f32]))| {
        for i in 0..oh {
            let (r0, r1) = (&x[2 * i * w..][..w], &x[(2 * i + 1) * w..][..w]);
            for j in 0..ow {
                let vals = [r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1]];
                let (mut best, mut at) = (vals[0], 0u8);
                for (k, &v) in vals.iter().enumerate().skip(1) {
                    if v > best {
                        (best, at) = (v, k as u8);
                    }
                }
                o[i * ow + j] = best;
                if !a.is_empty() {
                    a[i * ow + j] = at;
                }
            }
        }
    };
    let planes = (oh * ow).max(1);
    if with_argmax {
        out.par_chunks_mut(planes)
            .zip(arg.par_chunks_mut(planes).zip(src.par_chunks(h * w)))
            .for_each(plane);
    } else {
        out.par_chunks_mut(planes)
            .zip(src.par_chunks(h * w))
            .for_each(|(o, x)| plane((o, (&mut [], x))));
    }
    (flex_tensor(out, [n, c, oh, ow]), arg)
}

/// Saved for the backward pass: the input shape and the winners.
type State = ([usize; 4], Arc<Vec<u8>>);

#[derive(Debug)]
struct MaxPoolBackward;

impl Backward<Flex, 1> for MaxPoolBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let gout = contiguous(grads.consume::<Flex>(&ops.node));
        let ([n, c, h, w], arg) = ops.state;
        let Some(node) = &ops.parents[0] else {
            return;
        };
        let (oh, ow) = (h / 2, w / 2);
        let gout = f32s(&gout);
        let mut gx = vec![0.0f32; n * c * h * w];
        gx.par_chunks_mut(h * w)
            .zip(
                gout.par_chunks((oh * ow).max(1))
                    .zip(arg.par_chunks((oh * ow).max(1))),
            )
            .for_each(|(gx, (g, a))| {
                for i in 0..oh {
                    for j in 0..ow {
                        let at = a[i * ow + j] as usize;
                        gx[(2 * i + at / 2) * w + 2 * j + at % 2] = g[i * ow + j];
                    }
                }
            });
        grads.register::<Flex>(node.id, flex_tensor(gx, [n, c, h, w]));
    }
}

fn pool_autodiff(x: Tensor<Ad, 4>) -> Tensor<Ad, 4> {
    let x = float(x);
    let xc = contiguous(x.primitive.clone());
    let shape = x.primitive.layout().shape().clone();
    let dims = [shape[0], shape[1], shape[2], shape[3]];
    let out = match MaxPoolBackward
        .prepare::<NoCheckpointing>([x.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (out, arg) = pool_forward(&xc, true);
            prep.finish((dims, Arc::new(arg)), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(pool_forward(&xc, false).0),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, Flex};
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::{Distribution, Tensor};

    use super::max_pool2d_module;

    type Ad = Autodiff<Flex>;

    #[test]
    fn max_pool_matches_burn_forward_and_backward() {
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        let d = Default::default();
        for shape in [[2, 3, 8, 8], [3, 2, 7, 5], [1, 1, 2, 3]] {
            // Half the values 0 (ReLU outputs: ties), the rest random.
            let x = Tensor::<Ad, 4>::random(shape, Distribution::Uniform(-1.0, 1.0), &d)
                .clamp_min(0.0)
                .detach()
                .require_grad();
            let r = Tensor::<Ad, 4>::random(
                [shape[0], shape[1], shape[2] / 2, shape[3] / 2],
                Distribution::Default,
                &d,
            );
            let run = |fast: bool| {
                let y = if fast {
                    max_pool2d_module(&pool, x.clone())
                } else {
                    pool.forward(x.clone())
                };
                let grads = (y.clone() * r.clone()).sum().backward();
                (y.inner().into_data(), x.grad(&grads).unwrap().into_data())
            };
            let (fast, reference) = (run(true), run(false));
            assert_eq!(fast.0, reference.0, "{shape:?} forward");
            assert_eq!(fast.1, reference.1, "{shape:?} grad");
            let xf = x.clone().inner();
            assert_eq!(
                max_pool2d_module(&pool, xf.clone()).into_data(),
                pool.forward(xf).into_data(),
                "{shape:?} Flex forward"
            );
        }
    }
}
