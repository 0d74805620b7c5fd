//! The fast convolutions against burn's own (`burn::tensor::module::conv1d/conv2d`): forward and
//! the input, weight and bias gradients on `Autodiff<Flex>`, the forward on `Flex`.

use burn::backend::{Autodiff, Flex};
use burn::tensor::module;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorData, backend::Backend};

type Ad = Autodiff<Flex>;

/// Deterministic values in [-1, 1) (an LCG; the test needs variety, not quality).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn tensor<B: Backend, const D: usize>(shape: [usize; D], seed: u64) -> Tensor<B, D> {
    let data = TensorData::new(values(shape.iter().product(), seed), shape);
    Tensor::from_data(data, &Default::default())
}

/// `max |a − b| ≤ 1e-5 · max |b|` (relative to the tensor's scale, so entries near zero from
/// cancellation do not fail on rounding).
fn assert_close<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>, what: &str) {
    assert_eq!(a.dims(), b.dims(), "{what}: shape");
    let a = a.into_data().to_vec::<f32>().unwrap();
    let b = b.into_data().to_vec::<f32>().unwrap();
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-30);
    let diff = a
        .iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(
        diff <= 1e-5 * scale,
        "{what}: max diff {diff} vs scale {scale}"
    );
}

/// One convolution case.
#[derive(Debug, Clone, Copy)]
struct Case {
    batch: usize,
    c_in: usize,
    hw: [usize; 2],
    c_out: usize,
    kernel: [usize; 2],
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
    bias: bool,
    /// Build the input as a permuted, narrowed view (non-contiguous).
    strided_input: bool,
}

#[allow(clippy::too_many_arguments)]
const fn case(
    batch: usize,
    c_in: usize,
    hw: [usize; 2],
    c_out: usize,
    kernel: [usize; 2],
    stride: usize,
    padding: usize,
    groups: usize,
    bias: bool,
) -> Case {
    Case {
        batch,
        c_in,
        hw,
        c_out,
        kernel,
        stride,
        padding,
        dilation: 1,
        groups,
        bias,
        strided_input: false,
    }
}

fn cases() -> Vec<Case> {
    let mut cases = vec![
        case(1, 1, [5, 5], 1, [1, 1], 1, 0, 1, false),
        case(3, 3, [8, 8], 4, [3, 3], 1, 1, 1, true),
        case(3, 3, [7, 9], 5, [3, 3], 2, 1, 1, true),
        case(1, 2, [6, 11], 3, [5, 5], 1, 2, 1, false),
        case(3, 4, [9, 6], 8, [5, 5], 2, 2, 2, true),
        case(3, 4, [10, 7], 8, [1, 1], 2, 0, 4, false),
        case(1, 8, [5, 6], 4, [3, 3], 1, 0, 4, true),
        case(3, 6, [12, 12], 6, [3, 3], 2, 1, 2, false),
        case(3, 2, [4, 13], 6, [3, 5], 1, 2, 2, true),
        case(3, 16, [14, 14], 32, [3, 3], 1, 1, 1, false),
        case(3, 1, [28, 28], 8, [5, 5], 1, 2, 1, true),
        case(3, 8, [7, 7], 16, [1, 1], 1, 0, 1, false),
    ];
    let mut strided = case(3, 4, [9, 7], 6, [3, 3], 1, 1, 2, true);
    strided.strided_input = true;
    let mut dilated = case(3, 2, [11, 9], 4, [3, 3], 1, 2, 1, true);
    dilated.dilation = 2;
    cases.extend([strided, dilated]);
    cases
}

/// The case's input: `[batch, c_in, h, w]`, contiguous or as a view of a bigger, permuted tensor.
fn input<B: Backend>(c: &Case, seed: u64) -> Tensor<B, 4> {
    let [h, w] = c.hw;
    if c.strided_input {
        tensor::<B, 4>([c.batch, h, c.c_in + 2, w], seed)
            .permute([0, 2, 1, 3])
            .narrow(1, 1, c.c_in)
    } else {
        tensor([c.batch, c.c_in, h, w], seed)
    }
}

fn options(c: &Case) -> ConvOptions<2> {
    ConvOptions::new([c.stride; 2], [c.padding; 2], [c.dilation; 2], c.groups)
}

/// Output and the (input, weight, bias) gradients of `Σ out·r` for random `r`.
fn run_2d(
    c: &Case,
    conv: impl Fn(Tensor<Ad, 4>, Tensor<Ad, 4>, Option<Tensor<Ad, 1>>) -> Tensor<Ad, 4>,
) -> (
    Tensor<Flex, 4>,
    Tensor<Flex, 4>,
    Tensor<Flex, 4>,
    Option<Tensor<Flex, 1>>,
) {
    let x = input::<Ad>(c, 1).require_grad();
    let weight =
        tensor::<Ad, 4>([c.c_out, c.c_in / c.groups, c.kernel[0], c.kernel[1]], 2).require_grad();
    let bias = c.bias.then(|| tensor::<Ad, 1>([c.c_out], 3).require_grad());
    let out = conv(x.clone(), weight.clone(), bias.clone());
    let r = tensor::<Ad, 4>(out.dims(), 4);
    let grads = (out.clone() * r).sum().backward();
    (
        out.inner(),
        x.grad(&grads).expect("input grad"),
        weight.grad(&grads).expect("weight grad"),
        bias.map(|b| b.grad(&grads).expect("bias grad")),
    )
}

#[test]
fn conv2d_forward_and_gradients_match_burn() {
    for c in cases() {
        let opts = options(&c);
        let fast = run_2d(&c, |x, w, b| super::conv2d(x, w, b, opts.clone()));
        let reference = run_2d(&c, |x, w, b| module::conv2d(x, w, b, opts.clone()));
        let what = |part: &str| format!("{c:?}: {part}");
        assert_close(fast.0, reference.0, &what("output"));
        assert_close(fast.1, reference.1, &what("grad input"));
        assert_close(fast.2, reference.2, &what("grad weight"));
        match (fast.3, reference.3) {
            (Some(a), Some(b)) => assert_close(a, b, &what("grad bias")),
            (None, None) => {}
            _ => panic!("{}", what("bias grad presence")),
        }
    }
}

#[test]
fn conv2d_forward_on_flex_matches_burn() {
    for c in cases() {
        let opts = options(&c);
        let x = input::<Flex>(&c, 1);
        let weight = tensor::<Flex, 4>([c.c_out, c.c_in / c.groups, c.kernel[0], c.kernel[1]], 2);
        let bias = c.bias.then(|| tensor::<Flex, 1>([c.c_out], 3));
        let fast = super::conv2d(x.clone(), weight.clone(), bias.clone(), opts.clone());
        let reference = module::conv2d(x, weight, bias, opts);
        assert_close(fast, reference, &format!("{c:?}"));
    }
}

#[test]
fn conv1d_forward_and_gradients_match_burn() {
    // (batch, c_in, len, c_out, kernel, stride, padding, groups, bias): the MNIST-1D layers,
    // and grouped / stacked-model shapes.
    let table = [
        (3, 1, 40, 25, 5, 2, 1, 1, true),
        (3, 25, 19, 25, 3, 2, 1, 1, true),
        (1, 25, 10, 25, 3, 2, 1, 1, false),
        (3, 4, 17, 8, 3, 1, 0, 2, true),
        (3, 8, 12, 12, 5, 1, 2, 4, true),
        (1, 2, 9, 4, 1, 2, 0, 2, false),
    ];
    for (batch, c_in, len, c_out, kernel, stride, padding, groups, with_bias) in table {
        let opts = ConvOptions::new([stride], [padding], [1], groups);
        let run = |fast: bool| {
            let x = tensor::<Ad, 3>([batch, c_in, len], 5).require_grad();
            let weight = tensor::<Ad, 3>([c_out, c_in / groups, kernel], 6).require_grad();
            let bias = with_bias.then(|| tensor::<Ad, 1>([c_out], 7).require_grad());
            let (xs, ws, bs) = (x.clone(), weight.clone(), bias.clone());
            let out = if fast {
                super::conv1d(xs, ws, bs, opts.clone())
            } else {
                module::conv1d(xs, ws, bs, opts.clone())
            };
            let r = tensor::<Ad, 3>(out.dims(), 8);
            let grads = (out.clone() * r).sum().backward();
            (
                out.inner(),
                x.grad(&grads).unwrap(),
                weight.grad(&grads).unwrap(),
                bias.map(|b| b.grad(&grads).unwrap()),
            )
        };
        let (fast, reference) = (run(true), run(false));
        let what =
            |part: &str| format!("conv1d b{batch} c{c_in}→{c_out} k{kernel} g{groups}: {part}");
        assert_close(fast.0, reference.0, &what("output"));
        assert_close(fast.1, reference.1, &what("grad input"));
        assert_close(fast.2, reference.2, &what("grad weight"));
        if let (Some(a), Some(b)) = (fast.3, reference.3) {
            assert_close(a, b, &what("grad bias"));
        }
    }
}

#[test]
fn conv2d_without_tracked_inputs_has_no_gradient_node() {
    // Inputs that need no gradient (evaluation on the training backend) take the untracked path.
    let c = case(2, 3, [6, 6], 4, [3, 3], 1, 1, 1, true);
    let opts = options(&c);
    let x = input::<Ad>(&c, 1);
    let weight = tensor::<Ad, 4>([4, 3, 3, 3], 2);
    let bias = Some(tensor::<Ad, 1>([4], 3));
    let fast = super::conv2d(x.clone(), weight.clone(), bias.clone(), opts.clone());
    assert!(!fast.is_require_grad());
    assert_close(
        fast.inner(),
        module::conv2d(x, weight, bias, opts).inner(),
        "untracked",
    );
}

#[test]
fn cpu_backends_take_the_fast_path() {
    assert!(crate::model::flex::fast_backend::<Flex>());
    assert!(crate::model::flex::fast_backend::<Ad>());
    assert!(!crate::model::flex::fast_backend::<Autodiff<Ad>>());
}

#[test]
fn conv_module_plus_bias_matches_conv_then_add_per_channel() {
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;

    use crate::model::batch_norm::add_per_channel;

    let d = Default::default();
    let conv = Conv2dConfig::new([3, 4], [5, 5])
        .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
        .with_bias(false)
        .init::<Ad>(&d);
    let x = tensor::<Ad, 4>([2, 3, 9, 8], 1).require_grad();
    let bias = tensor::<Ad, 1>([4], 3).require_grad();
    let run = |fused: bool| {
        let out = if fused {
            super::conv2d_module_plus_bias(&conv, x.clone(), bias.clone())
        } else {
            add_per_channel(conv.forward(x.clone()), bias.clone())
        };
        let r = tensor::<Ad, 4>(out.dims(), 4);
        let grads = (out.clone() * r).sum().backward();
        let grad_w = conv.weight.val().grad(&grads).unwrap();
        (
            out.inner(),
            x.grad(&grads).unwrap(),
            grad_w,
            bias.grad(&grads).unwrap(),
        )
    };
    let (fused, reference) = (run(true), run(false));
    assert_close(fused.0, reference.0, "output");
    assert_close(fused.1, reference.1, "grad input");
    assert_close(fused.2, reference.2, "grad weight");
    assert_close(fused.3, reference.3, "grad bias");
}

/// Outputs and gradients are bit-identical on 1 and 3 threads (fixed chunks and lanes; gemm
/// never splits its sum), including batches that leave a short last chunk.
#[test]
fn conv2d_results_do_not_depend_on_the_thread_count() {
    let cases = [
        case(37, 8, [14, 14], 16, [5, 5], 1, 2, 1, true),
        case(21, 16, [9, 9], 8, [3, 3], 2, 1, 1, false),
        case(19, 4, [7, 7], 8, [3, 3], 1, 1, 2, true),
    ];
    for c in cases {
        let opts = options(&c);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let (out, gx, gw, gb) = run_2d(&c, |x, w, b| super::conv2d(x, w, b, opts.clone()));
                (
                    out.into_data(),
                    gx.into_data(),
                    gw.into_data(),
                    gb.map(|b| b.into_data()),
                )
            })
        };
        assert_eq!(run(1), run(3), "{c:?}");
    }
}
