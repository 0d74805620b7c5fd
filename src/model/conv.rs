//! The convolutions every model calls: 1-D and 2-D, with groups (stacked models put each member in
//! its own group). On the CPU backend (`Flex`, and `Autodiff<Flex>` for training) f32
//! convolutions run our im2col + gemm kernels ([`autodiff`], [`im2col`]); every other backend or
//! dtype uses burn's functional convolutions.

mod autodiff;
mod im2col;
#[cfg(test)]
mod tests;

use burn::nn::conv::{Conv1d, Conv2d};
use burn::nn::{PaddingConfig1d, PaddingConfig2d};
use burn::tensor::module;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, backend::Backend};

use super::batch_norm::add_per_channel;
use super::flex;

/// `x: [batch, c_in, len]`, `weight: [c_out, c_in / groups, kernel]`, `bias: [c_out]` →
/// `[batch, c_out, len']`, as PyTorch's `F.conv1d`.
pub fn conv1d<B: Backend>(
    x: Tensor<B, 3>,
    weight: Tensor<B, 3>,
    bias: Option<Tensor<B, 1>>,
    options: ConvOptions<1>,
) -> Tensor<B, 3> {
    if !flex::fast_backend::<B>() {
        return burn_conv1d(x, weight, bias, options);
    }
    // The fast path is the 2-D kernel with height 1.
    let options2 = ConvOptions::new(
        [1, options.stride[0]],
        [0, options.padding[0]],
        [1, options.dilation[0]],
        options.groups,
    );
    let [x2, w2] = [
        x.clone().unsqueeze_dim::<4>(2),
        weight.clone().unsqueeze_dim(2),
    ];
    match autodiff::try_conv2d(x2, w2, bias.clone(), &options2) {
        Ok(out) => out.squeeze_dim(2),
        Err(_) => burn_conv1d(x, weight, bias, options),
    }
}

/// burn's `conv1d`, around a bug of burn 0.21: its grouped weight gradient is wrong when the last
/// window does not reach the end of the padded input (found by the stacked-training equality test).
/// Then the input is padded explicitly and the tail no window reads is cropped.
fn burn_conv1d<B: Backend>(
    x: Tensor<B, 3>,
    weight: Tensor<B, 3>,
    bias: Option<Tensor<B, 1>>,
    options: ConvOptions<1>,
) -> Tensor<B, 3> {
    let [batch, channels, len] = x.dims();
    let kernel = weight.dims()[2];
    let (stride, pad) = (options.stride[0], options.padding[0]);
    let span = options.dilation[0] * (kernel - 1) + 1;
    let unused = (len + 2 * pad).saturating_sub(span) % stride;
    if options.groups > 1 && unused > 0 {
        let device = x.device();
        let zeros = |n| Tensor::<B, 3>::zeros([batch, channels, n], &device);
        let padded = Tensor::cat(vec![zeros(pad), x, zeros(pad)], 2);
        let used = len + 2 * pad - unused;
        let options = ConvOptions::new(options.stride, [0], options.dilation, options.groups);
        return module::conv1d(padded.narrow(2, 0, used), weight, bias, options);
    }
    module::conv1d(x, weight, bias, options)
}

/// `x: [batch, c_in, h, w]`, `weight: [c_out, c_in / groups, kh, kw]`, `bias: [c_out]` →
/// `[batch, c_out, h', w']`, as PyTorch's `F.conv2d`.
pub fn conv2d<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    options: ConvOptions<2>,
) -> Tensor<B, 4> {
    match autodiff::try_conv2d(x, weight, bias, &options) {
        Ok(out) => out,
        Err((x, weight, bias)) => module::conv2d(x, weight, bias, options),
    }
}

/// `conv.forward(x)` through [`conv1d`]: the module holds the parameters and options. Padding
/// other than explicit-symmetric or valid (which no model uses) is left to the module.
pub fn conv1d_module<B: Backend>(conv: &Conv1d<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let padding = match conv.padding {
        PaddingConfig1d::Valid => 0,
        PaddingConfig1d::Explicit(left, right) if left == right => left,
        _ => return conv.forward(x),
    };
    let options = ConvOptions::new([conv.stride], [padding], [conv.dilation], conv.groups);
    conv1d(
        x,
        conv.weight.val(),
        conv.bias.as_ref().map(|b| b.val()),
        options,
    )
}

/// `conv.forward(x)` through [`conv2d`], as [`conv1d_module`].
pub fn conv2d_module<B: Backend>(conv: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    match options_2d(conv) {
        Some(options) => conv2d(
            x,
            conv.weight.val(),
            conv.bias.as_ref().map(|b| b.val()),
            options,
        ),
        None => conv.forward(x),
    }
}

/// `conv.forward(x) + bias` per channel, for a bias-free `conv` whose bias is a separate
/// parameter (cnn2d). On the fast path the bias goes into the convolution (added in its output
/// pass, its gradient summed in its backward); elsewhere [`add_per_channel`] adds it.
pub fn conv2d_module_plus_bias<B: Backend>(
    conv: &Conv2d<B>,
    x: Tensor<B, 4>,
    bias: Tensor<B, 1>,
) -> Tensor<B, 4> {
    match options_2d(conv) {
        Some(options) if conv.bias.is_none() && flex::fast_backend::<B>() => {
            conv2d(x, conv.weight.val(), Some(bias), options)
        }
        _ => add_per_channel(conv2d_module(conv, x), bias),
    }
}

/// The functional options of `conv`, when its padding is valid or explicit-symmetric.
fn options_2d<B: Backend>(conv: &Conv2d<B>) -> Option<ConvOptions<2>> {
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [0, 0],
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => {
            [top, left]
        }
        _ => return None,
    };
    Some(ConvOptions::new(
        conv.stride,
        padding,
        conv.dilation,
        conv.groups,
    ))
}
