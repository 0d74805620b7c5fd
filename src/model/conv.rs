//! The convolutions every model calls: 1-D and 2-D, with groups (stacked models put each member in
//! its own group). Today they forward to burn's functional convolutions.

use burn::tensor::module;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, backend::Backend};

/// `x: [batch, c_in, len]`, `weight: [c_out, c_in / groups, kernel]`, `bias: [c_out]` →
/// `[batch, c_out, len']`, as PyTorch's `F.conv1d`.
pub fn conv1d<B: Backend>(
    x: Tensor<B, 3>,
    weight: Tensor<B, 3>,
    bias: Option<Tensor<B, 1>>,
    options: ConvOptions<1>,
) -> Tensor<B, 3> {
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
    module::conv2d(x, weight, bias, options)
}
