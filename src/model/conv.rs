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
    let [batch, channels, len] = x.dims();
    let kernel = weight.dims()[2];
    let (stride, pad) = (options.stride[0], options.padding[0]);
    let span = options.dilation[0] * (kernel - 1) + 1;
    let unused = (len + 2 * pad).saturating_sub(span) % stride;
    if options.groups > 1 && unused > 0 {
        // burn 0.21's grouped weight gradient is wrong when the last window does not reach the
        // end of the padded input (found by the stacked-training equality test): pad explicitly and
        // crop the tail no window reads, so every position is read.
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
    module::conv2d(x, weight, bias, options)
}
