//! How much memory one member of a stack needs, to choose the stack size from a memory budget.

use crate::model::{Arch, cnn1d, image_shape, resnet};

/// Activation values one example produces in a training step of one model (layer outputs, kept for
/// the backward pass), an upper estimate.
pub fn activations_per_example(arch: &Arch, input_shape: &[usize], num_classes: usize) -> usize {
    let input_len: usize = input_shape.iter().product();
    let layers = match arch {
        // Linear output, ReLU output, dropout mask per hidden layer.
        Arch::Mlp { hidden, .. } => 3 * hidden.iter().sum::<usize>(),
        Arch::Cnn1d { channels } => {
            let mut len = input_len;
            let mut total = 0;
            for &(k, s, p) in &cnn1d::LAYERS {
                len = (len + 2 * p).saturating_sub(k) / s + 1;
                // Convolution output, ReLU output, and the im2col matrix (kernel × input).
                total += 2 * channels * len + k * channels * len;
            }
            total
        }
        Arch::Cnn2d { channels, hidden } => {
            let [c, mut h, mut w] = image_shape(input_shape).unwrap_or([1, input_len, 1]);
            let mut c_in = c;
            let mut total = 3 * hidden;
            for &c_out in channels {
                // Convolution output (+ bias, ReLU), the pooled map, and the 5×5 im2col matrix.
                total += 3 * c_out * h * w + c_out * (h / 2) * (w / 2) + 25 * c_in * h * w;
                (h, w, c_in) = (h / 2, w / 2, c_out);
            }
            total
        }
        Arch::ResNet { depth, width } => {
            let [_, h, w] = image_shape(input_shape).unwrap_or([1, input_len, 1]);
            resnet_activations([h, w], *depth, *width)
        }
    };
    input_len + layers + 3 * num_classes
}

/// Activation values of one example in a training step of a ResNet-`depth` of base width `width` on
/// images of `side` (the input itself is counted by the caller), walking its convolutions: per convolution + batch norm two values per
/// output element kept for the backward pass (batch norm's centred values and the ReLU's output),
/// per block the residual sum. Convolution outputs and normalised values are freed as the next
/// operation consumes them, and im2col matrices are per batch chunk, not per example. Measured
/// (ResNet-8, width 16, `[1, 28, 28]`, batch 128, peak RSS of stacks of 1, 2 and 4): about 100 MiB
/// per member, against 152 MiB from [`member_bytes`].
fn resnet_activations(side: [usize; 2], depth: usize, width: usize) -> usize {
    let mut total = 0;
    let [mut h, mut w] = side;
    let mut conv_outputs = width * h * w;
    let mut c_in = width;
    for (c_out, stride) in resnet::stages(width) {
        for block in 0..resnet::blocks_per_stage(depth) {
            let stride = if block == 0 { stride } else { 1 };
            (h, w) = (h.div_ceil(stride), w.div_ceil(stride));
            let projected = stride != 1 || c_in != c_out;
            conv_outputs += (2 + usize::from(projected)) * c_out * h * w;
            total += c_out * h * w;
            c_in = c_out;
        }
    }
    total + 2 * conv_outputs
}

/// Bytes one member of a stack needs while training with batches of `batch_size`: its parameters,
/// gradients and up to two optimizer buffers (plus temporaries), and its activations for the batch
/// (forward values and their gradients), all f32.
pub fn member_bytes(
    arch: &Arch,
    input_shape: &[usize],
    num_classes: usize,
    batch_size: usize,
) -> u64 {
    let params = arch.num_params(input_shape, num_classes) as u64;
    let activations = activations_per_example(arch, input_shape, num_classes) as u64;
    4 * (6 * params + 2 * batch_size as u64 * activations)
}
