//! How much memory one member of a stack needs, to choose the stack size from a memory budget.

use crate::model::{Arch, cnn1d, image_shape};

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
            // Per 3×3 conv: output, BN output, ReLU, im2col (9×); the widest stage dominates.
            12 * depth * width * h * w
        }
    };
    input_len + layers + 3 * num_classes
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
