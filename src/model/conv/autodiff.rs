//! The CPU fast path of [`super::conv2d`]: on `Flex` one forward kernel call, on `Autodiff<Flex>`
//! one autodiff node whose backward runs the im2col kernels (no conv-transpose).

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Shape, Tensor, TensorPrimitive, backend::Backend};

use crate::model::flex::{
    Ad, cast, contiguous, f32s, fast_backend, flex_tensor, float, moved, register_grads,
};

use super::im2col::{ConvGeom, Wanted, conv2d_backward, conv2d_forward};

/// The geometry when this convolution can take the fast path: backend `Flex` or
/// `Autodiff<Flex>`, every tensor f32, shapes consistent, no output padding.
fn fast_geometry<B: Backend>(
    x: &Tensor<B, 4>,
    weight: &Tensor<B, 4>,
    bias: Option<&Tensor<B, 1>>,
    options: &ConvOptions<2>,
) -> Option<ConvGeom> {
    if !fast_backend::<B>() {
        return None;
    }
    let f32s = x.dtype() == DType::F32
        && weight.dtype() == DType::F32
        && bias.is_none_or(|b| b.dtype() == DType::F32 && b.dims()[0] == weight.dims()[0]);
    if !f32s {
        return None;
    }
    ConvGeom::new(
        x.dims(),
        weight.dims(),
        options.stride,
        options.padding,
        options.dilation,
        options.groups,
    )
}

/// The convolution on the fast path, or the inputs back when it does not apply.
#[allow(clippy::type_complexity)]
pub fn try_conv2d<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    options: &ConvOptions<2>,
) -> Result<Tensor<B, 4>, (Tensor<B, 4>, Tensor<B, 4>, Option<Tensor<B, 1>>)> {
    let Some(geom) = fast_geometry(&x, &weight, bias.as_ref(), options) else {
        return Err((x, weight, bias));
    };
    let x = match cast::<_, Tensor<Flex, 4>>(x) {
        Ok(x) => {
            let weight = moved(weight);
            let bias = bias.map(moved);
            let out = forward_flex(geom, x, weight, bias);
            return Ok(moved(out));
        }
        Err(x) => x,
    };
    let x: Tensor<Ad, 4> = moved(x);
    let weight = moved(weight);
    let bias = bias.map(moved);
    Ok(moved(forward_autodiff(geom, x, weight, bias)))
}

fn run_forward(
    geom: &ConvGeom,
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: Option<&FlexTensor>,
) -> FlexTensor {
    let out = conv2d_forward(geom, f32s(x), f32s(weight), bias.map(f32s));
    flex_tensor(out, geom.out_shape())
}

fn forward_flex(
    geom: ConvGeom,
    x: Tensor<Flex, 4>,
    weight: Tensor<Flex, 4>,
    bias: Option<Tensor<Flex, 1>>,
) -> Tensor<Flex, 4> {
    let x = contiguous(float(x));
    let weight = contiguous(float(weight));
    let bias = bias.map(|b| contiguous(float(b)));
    let out = run_forward(&geom, &x, &weight, bias.as_ref());
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// Saved for the backward pass: the contiguous input and weight, and the geometry.
type State = (FlexTensor, FlexTensor, ConvGeom);

/// The gradients of `ops`' parents (`[x, weight]` or `[x, weight, bias]`).
fn backward<const N: usize>(ops: Ops<State, N>, grads: &mut Gradients) {
    let gout = contiguous(grads.consume::<Flex>(&ops.node));
    let (x, weight, geom) = ops.state;
    let wanted = Wanted {
        input: ops.parents[0].is_some(),
        weight: ops.parents[1].is_some(),
        bias: N == 3 && ops.parents[2].is_some(),
    };
    let g = conv2d_backward(&geom, f32s(&x), f32s(&weight), f32s(&gout), wanted);
    register_grads(
        grads,
        ops.parents.iter().map(|p| p.as_ref().map(|node| node.id)),
        [
            (g.input, x.layout().shape().clone()),
            (g.weight, weight.layout().shape().clone()),
            (g.bias, Shape::new([geom.c_out])),
        ],
    );
}

#[derive(Debug)]
struct ConvWithBias;

impl Backward<Flex, 3> for ConvWithBias {
    type State = State;

    fn backward(self, ops: Ops<State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        backward(ops, grads);
    }
}

#[derive(Debug)]
struct ConvNoBias;

impl Backward<Flex, 2> for ConvNoBias {
    type State = State;

    fn backward(self, ops: Ops<State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        backward(ops, grads);
    }
}

fn forward_autodiff(
    geom: ConvGeom,
    x: Tensor<Ad, 4>,
    weight: Tensor<Ad, 4>,
    bias: Option<Tensor<Ad, 1>>,
) -> Tensor<Ad, 4> {
    let x = float(x);
    let weight = float(weight);
    let xc = contiguous(x.primitive.clone());
    let wc = contiguous(weight.primitive.clone());
    let out = match bias {
        Some(bias) => {
            let bias = float(bias);
            let bc = contiguous(bias.primitive.clone());
            let out = run_forward(&geom, &xc, &wc, Some(&bc));
            match ConvWithBias
                .prepare::<NoCheckpointing>([
                    x.node.clone(),
                    weight.node.clone(),
                    bias.node.clone(),
                ])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish((xc, wc, geom), out),
                OpsKind::UnTracked(prep) => prep.finish(out),
            }
        }
        None => {
            let out = run_forward(&geom, &xc, &wc, None);
            match ConvNoBias
                .prepare::<NoCheckpointing>([x.node.clone(), weight.node.clone()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish((xc, wc, geom), out),
                OpsKind::UnTracked(prep) => prep.finish(out),
            }
        }
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}
