//! CIFAR-style ResNet-(6n+2) (He et al. 2016, §4.2) with batch norm and 1×1 projection shortcuts.
//!
//! Batch norm is [`BatchNorm2d`]: PyTorch's semantics (eps 1e-5, momentum 0.1, γ = 1, β = 0,
//! unbiased running variance), batch statistics on the autodiff backend (training) and running
//! statistics on the `.valid()` model — so evaluate with the `.valid()` model; the autodiff model
//! would use batch statistics and move the running averages. See [`super::batch_norm`] for how it
//! differs from burn 0.21's `nn::BatchNorm`.
//!
//! Shortcuts that change shape use PyTorch-torchvision-style 1×1 conv → BN projections ("option
//! B"), not the paper's zero-padding identity ("option A"); identity shortcuts elsewhere.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Tensor, activation::relu, backend::Backend};

use super::Classifier;
use super::batch_norm::BatchNorm2d;
use super::conv::conv2d_module;
use super::init::SeededInit;

/// Valid depths: 6n + 2 for n = 1..=9.
pub const DEPTHS: std::ops::RangeInclusive<usize> = 8..=56;

/// Blocks per stage for a valid depth (`(depth − 2) / 6`).
pub fn blocks_per_stage(depth: usize) -> usize {
    (depth - 2) / 6
}

/// Whether `depth` is 6n + 2 within [`DEPTHS`].
pub fn is_valid_depth(depth: usize) -> bool {
    DEPTHS.contains(&depth) && (depth - 2).is_multiple_of(6)
}

/// Smallest image side accepted: the two stride-2 stages then each halve a map of ≥ 2 pixels
/// (4 → 2 → 1). Any side ≥ 1 would run, but smaller images leave nothing to downsample.
pub const MIN_SIDE: usize = 4;

/// (stage width, stride of its first block) for stages 1..=3 of base width `width`.
pub(crate) fn stages(width: usize) -> [(usize, usize); 3] {
    [(width, 1), (2 * width, 2), (4 * width, 2)]
}

/// Number of trainable parameters (conv weights, BN γ and β, read-out) for `c_in` input channels.
pub fn num_params(c_in: usize, depth: usize, width: usize, num_classes: usize) -> usize {
    let conv_bn = |c_in: usize, c_out: usize, k: usize| c_in * c_out * k * k + 2 * c_out;
    let mut total = conv_bn(c_in, width, 3);
    let mut c = width;
    for (c_out, stride) in stages(width) {
        for block in 0..blocks_per_stage(depth) {
            let stride = if block == 0 { stride } else { 1 };
            total += conv_bn(c, c_out, 3) + conv_bn(c_out, c_out, 3);
            if stride != 1 || c != c_out {
                total += conv_bn(c, c_out, 1);
            }
            c = c_out;
        }
    }
    total + c * num_classes + num_classes
}

/// A bias-free convolution with seeded U(±1/√fan_in) weights (PyTorch's `Conv2d` default).
fn conv<B: Backend>(
    init: &mut SeededInit,
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    device: &B::Device,
) -> Conv2d<B> {
    let pad = kernel / 2;
    let mut conv = Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        // BN right after makes a bias redundant (its β plays that role).
        .with_bias(false)
        .init(device);
    conv.weight = init.uniform(
        [c_out, c_in, kernel, kernel],
        c_in * kernel * kernel,
        device,
    );
    conv
}

/// Batch norm with PyTorch's defaults (eps 1e-5, momentum 0.1, γ = 1, β = 0).
fn bn<B: Backend>(channels: usize, device: &B::Device) -> BatchNorm2d<B> {
    BatchNorm2d::new(channels, device)
}

/// Weight flattened to 1-D, detached from the autodiff graph.
fn flat_weight<B: Backend>(conv: &Conv2d<B>) -> Tensor<B, 1> {
    let w = conv.weight.val().detach();
    let n = w.shape().num_elements();
    w.reshape([n])
}

/// Name of a batch-normalised weight in the corpus: `stem.conv` (`block` None); for block `b` of
/// stage `s + 1` (`block = Some((s, b))`, s = 0..3, b = 0..n) `stage{s+1}.block{b}.{part}`, part
/// `conv1`, `conv2`, or `shortcut` where the block changes shape.
pub fn bn_fed_weight_name(block: Option<(usize, usize)>, part: &str) -> String {
    match block {
        None => format!("stem.{part}"),
        Some((s, b)) => format!("stage{}.block{b}.{part}", s + 1),
    }
}

/// 1×1 conv → BN projection for shortcuts that change the shape.
#[derive(Module, Debug)]
pub struct Projection<B: Backend> {
    pub(crate) conv: Conv2d<B>,
    pub(crate) bn: BatchNorm2d<B>,
}

/// Basic residual block. Shapes: `[batch, c_in, h, w]` → `[batch, c_out, ⌈h/s⌉, ⌈w/s⌉]`:
/// ReLU(BN(conv3×3(ReLU(BN(conv3×3ₛ(x))))) + shortcut(x)).
#[derive(Module, Debug)]
pub struct BasicBlock<B: Backend> {
    pub(crate) conv1: Conv2d<B>,
    pub(crate) bn1: BatchNorm2d<B>,
    pub(crate) conv2: Conv2d<B>,
    pub(crate) bn2: BatchNorm2d<B>,
    pub(crate) shortcut: Option<Projection<B>>,
}

impl<B: Backend> BasicBlock<B> {
    fn new(
        init: &mut SeededInit,
        c_in: usize,
        c_out: usize,
        stride: usize,
        device: &B::Device,
    ) -> Self {
        let conv1 = conv(init, c_in, c_out, 3, stride, device);
        let conv2 = conv(init, c_out, c_out, 3, 1, device);
        let shortcut = (stride != 1 || c_in != c_out).then(|| Projection {
            conv: conv(init, c_in, c_out, 1, stride, device),
            bn: bn(c_out, device),
        });
        Self {
            conv1,
            bn1: bn(c_out, device),
            conv2,
            bn2: bn(c_out, device),
            shortcut,
        }
    }

    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let out = relu(self.bn1.forward(conv2d_module(&self.conv1, x.clone())));
        let out = self.bn2.forward(conv2d_module(&self.conv2, out));
        let shortcut = match &self.shortcut {
            Some(p) => p.bn.forward(conv2d_module(&p.conv, x)),
            None => x,
        };
        relu(out + shortcut)
    }
}

/// ResNet-(6n+2). Shapes: `[batch, c·h·w]` → reshaped `[batch, c, h, w]` → conv3×3(c→w) → BN →
/// ReLU `[batch, w, h, w']` → stage 1: n blocks at width w → stage 2: n blocks at 2w, first with
/// stride 2 → stage 3: n blocks at 4w, first with stride 2 `[batch, 4w, h″, w″]` → global average
/// pool `[batch, 4w]` → linear `[batch, classes]`.
#[derive(Module, Debug)]
pub struct ResNet<B: Backend> {
    pub(crate) stem_conv: Conv2d<B>,
    pub(crate) stem_bn: BatchNorm2d<B>,
    /// `stages[s][b]`: block `b` of stage `s + 1`.
    pub(crate) stages: Vec<Vec<BasicBlock<B>>>,
    pub(crate) readout: Linear<B>,
    /// One example's `[c, h, w]`, to undo the caller's flattening.
    pub(crate) input_shape: [usize; 3],
}

impl<B: Backend> ResNet<B> {
    /// Build ResNet-`depth` (6n + 2) of base width `width` for images `input_shape = [c, h, w]`,
    /// initialised from `seed` (convolutions in order stem, then per block conv1, conv2, shortcut;
    /// then the read-out).
    pub fn new(
        input_shape: [usize; 3],
        depth: usize,
        width: usize,
        num_classes: usize,
        seed: u64,
        device: &B::Device,
    ) -> Self {
        assert!(is_valid_depth(depth), "ResNet depth {depth} is not 6n+2");
        let mut init = SeededInit::new(seed);
        let stem_conv = conv(&mut init, input_shape[0], width, 3, 1, device);
        let mut c = width;
        let stages = stages(width)
            .into_iter()
            .map(|(c_out, stride)| {
                (0..blocks_per_stage(depth))
                    .map(|block| {
                        let stride = if block == 0 { stride } else { 1 };
                        let b = BasicBlock::new(&mut init, c, c_out, stride, device);
                        c = c_out;
                        b
                    })
                    .collect()
            })
            .collect();
        let mut readout = LinearConfig::new(c, num_classes).init(device);
        readout.weight = init.uniform([c, num_classes], c, device);
        readout.bias = Some(init.uniform([num_classes], c, device));
        Self {
            stem_conv,
            stem_bn: bn(width, device),
            stages,
            readout,
            input_shape,
        }
    }
}

impl<B: Backend> Classifier<B> for ResNet<B> {
    fn logits(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let [batch, _] = x.dims();
        let [c, h, w] = self.input_shape;
        let mut x = relu(
            self.stem_bn
                .forward(conv2d_module(&self.stem_conv, x.reshape([batch, c, h, w]))),
        );
        for block in self.stages.iter().flatten() {
            x = block.forward(x);
        }
        let [batch, c, h, w] = x.dims();
        let pooled = x.reshape([batch, c, h * w]).mean_dim(2).reshape([batch, c]);
        self.readout.forward(pooled)
    }

    /// Names: see [`bn_fed_weight_name`]; in forward order.
    fn bn_fed_weights(&self) -> Vec<(String, Tensor<B, 1>)> {
        let mut out = vec![(
            bn_fed_weight_name(None, "conv"),
            flat_weight(&self.stem_conv),
        )];
        for (s, stage) in self.stages.iter().enumerate() {
            for (b, block) in stage.iter().enumerate() {
                let name = |part| bn_fed_weight_name(Some((s, b)), part);
                out.push((name("conv1"), flat_weight(&block.conv1)));
                out.push((name("conv2"), flat_weight(&block.conv2)));
                if let Some(p) = &block.shortcut {
                    out.push((name("shortcut"), flat_weight(&p.conv)));
                }
            }
        }
        out
    }
}
