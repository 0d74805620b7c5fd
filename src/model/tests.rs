//! Model tests on the CPU backend: shapes, parameter counts, training signal, BN and dropout modes,
//! seeding, spec and input-shape validation.

use burn::backend::{Autodiff, Flex};
use burn::module::{ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

type B = Autodiff<Flex>;

fn arch(spec: &str) -> Arch {
    Arch::from_spec(&KeyValueSpec::parse(spec).unwrap()).unwrap()
}

fn spec_err(spec: &str) -> String {
    Arch::from_spec(&KeyValueSpec::parse(spec).unwrap()).unwrap_err()
}

/// Uniform noise rows `[batch, prod(shape)]` from a seeded stream.
fn noise(batch: usize, shape: &[usize], seed: u64) -> Tensor<B, 2> {
    let len: usize = shape.iter().product();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let values: Vec<f32> = (0..batch * len)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    Tensor::from_data(TensorData::new(values, [batch, len]), &Default::default())
}

/// Images `[c, s, s]` whose class (0..4) decides which quadrant is bright, plus seeded noise;
/// flattened to rows. A separable task every architecture should start to learn in a few steps.
fn quadrant_task(n: usize, [c, s]: [usize; 2], seed: u64) -> (Tensor<B, 2>, Tensor<B, 1, Int>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for i in 0..n {
        let class = i % 4;
        for _ in 0..c {
            for row in 0..s {
                for col in 0..s {
                    let quadrant = 2 * (row * 2 / s) + col * 2 / s;
                    let signal = if quadrant == class { 1.0 } else { 0.0 };
                    xs.push(signal + rng.random_range(-0.5f32..0.5));
                }
            }
        }
        ys.push(class as i64);
    }
    let device = Default::default();
    (
        Tensor::from_data(TensorData::new(xs, [n, c * s * s]), &device),
        Tensor::from_data(TensorData::new(ys, [n]), &device),
    )
}

/// Trainable parameter count by walking the module, skipping BN running statistics (which burn's
/// `Module::num_params` counts, as it visits every float tensor).
#[derive(Default)]
struct TrainableCount {
    path: Vec<String>,
    total: usize,
    running: usize,
}

impl<BK: Backend> ModuleVisitor<BK> for TrainableCount {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<BK, D>>) {
        let n = param.val().shape().num_elements();
        match self.path.last().map(String::as_str) {
            Some("running_mean" | "running_var") => self.running += n,
            _ => self.total += n,
        }
    }
}

/// Every float tensor of a module, flattened and concatenated in visiting order.
#[derive(Default)]
struct AllValues(Vec<f32>);

impl<BK: Backend> ModuleVisitor<BK> for AllValues {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<BK, D>>) {
        self.0.extend(
            param
                .val()
                .into_data()
                .convert::<f32>()
                .to_vec::<f32>()
                .unwrap(),
        );
    }
}

/// A tensor's values, flattened (to compare outputs).
fn values<BK: Backend, const D: usize>(t: Tensor<BK, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec::<f32>().unwrap()
}

/// What [`Inspect`] learns about a freshly built model.
struct Inspection {
    train_dims: [usize; 2],
    valid_dims: [usize; 2],
    trainable: usize,
    running: usize,
    burn_count: usize,
    bn_fed: Vec<(String, usize)>,
    weights: Vec<f32>,
}

/// Run a batch through the training and eval models and count parameters.
struct Inspect(Tensor<B, 2>);

impl OnModel<B> for Inspect {
    type Output = Inspection;
    fn run<M>(self, model: M) -> Inspection
    where
        M: AutodiffModule<B> + Classifier<B>,
        M::InnerModule: Classifier<<B as AutodiffBackend>::InnerBackend>,
    {
        let mut all = AllValues::default();
        model.visit(&mut all);
        let mut count = TrainableCount::default();
        model.visit(&mut count);
        let valid_dims = model.valid().logits(self.0.clone().inner()).dims();
        Inspection {
            train_dims: model.logits(self.0).dims(),
            valid_dims,
            trainable: count.total,
            running: count.running,
            burn_count: model.num_params(),
            bn_fed: model
                .bn_fed_weights()
                .into_iter()
                .map(|(name, w)| (name, w.dims()[0]))
                .collect(),
            weights: all.0,
        }
    }
}

fn inspect(a: &Arch, shape: &[usize], classes: usize, seed: u64) -> Inspection {
    with_model::<B, _>(
        a,
        shape,
        classes,
        seed,
        &Default::default(),
        Inspect(noise(3, shape, 1)),
    )
}

#[test]
fn output_shapes_and_parameter_counts_match_the_model() {
    let cases: &[(&str, &[usize])] = &[
        ("mlp:hidden=16;8", &[40]),
        ("mlp:hidden=16,dropout=0.3", &[1, 6, 5]),
        ("cnn1d:channels=5", &[40]),
        ("cnn1d:channels=3", &[3]),
        ("cnn2d", &[1, 28, 28]),
        ("cnn2d:channels=4;6;8,hidden=0", &[3, 32, 32]),
        ("cnn2d:channels=2,hidden=5", &[2, 3, 7]),
        ("resnet:depth=8,width=4", &[1, 28, 28]),
        ("resnet:depth=14,width=3", &[3, 9, 7]),
    ];
    for &(spec, shape) in cases {
        let a = arch(spec);
        let got = inspect(&a, shape, 7, 0);
        assert_eq!(got.train_dims, [3, 7], "{spec} on {shape:?}");
        assert_eq!(got.valid_dims, [3, 7], "{spec} on {shape:?}");
        assert_eq!(a.num_params(shape, 7), got.trainable, "{spec} on {shape:?}");
        // burn's own count includes the running statistics; nothing else differs.
        assert_eq!(got.burn_count, got.trainable + got.running, "{spec}");
        assert_eq!(got.running > 0, a.family() == "resnet", "{spec}");
    }
}

#[test]
fn parameter_counts_by_hand() {
    // ResNet-8, width 16, CIFAR: stem 3·16·9+2·16; stage 1: 2 × (16·16·9+32);
    // stage 2: 16·32·9+64 + 32·32·9+64 + 16·32+64; stage 3: likewise at 64; read-out 64·10+10.
    let stem = 3 * 16 * 9 + 32;
    let stage1 = 2 * (16 * 16 * 9 + 32);
    let stage2 = (16 * 32 * 9 + 64) + (32 * 32 * 9 + 64) + (16 * 32 + 64);
    let stage3 = (32 * 64 * 9 + 128) + (64 * 64 * 9 + 128) + (32 * 64 + 128);
    let expected = stem + stage1 + stage2 + stage3 + 64 * 10 + 10;
    assert_eq!(expected, 78_042);
    assert_eq!(arch("resnet").num_params(&[3, 32, 32], 10), expected);
    // cnn2d default on MNIST: convs 1→32→32→64 (5×5), 64·3·3 = 576 → 64 → 10.
    let convs = (25 * 32 + 32) + (32 * 25 * 32 + 32) + (32 * 25 * 64 + 64);
    let head = 576 * 64 + 64 + 64 * 10 + 10;
    assert_eq!(arch("cnn2d").num_params(&[1, 28, 28], 10), convs + head);
    // Unchanged from before input shapes: the MNIST-1D MLP and CNN.
    assert_eq!(
        arch("mlp:hidden=100;100").num_params(&[40], 10),
        40 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10
    );
    assert_eq!(arch("cnn1d:channels=25").num_params(&[40], 10), 5_210);
    // A rejected shape counts nothing.
    assert_eq!(arch("cnn2d").num_params(&[40], 10), 0);
}

#[test]
fn bn_fed_weights_name_every_conv_before_a_batch_norm() {
    let got = inspect(&arch("resnet:depth=8,width=4"), &[3, 8, 8], 5, 0);
    let names: Vec<&str> = got.bn_fed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "stem.conv",
            "stage1.block0.conv1",
            "stage1.block0.conv2",
            "stage2.block0.conv1",
            "stage2.block0.conv2",
            "stage2.block0.shortcut",
            "stage3.block0.conv1",
            "stage3.block0.conv2",
            "stage3.block0.shortcut",
        ]
    );
    let sizes: Vec<usize> = got.bn_fed.iter().map(|&(_, n)| n).collect();
    assert_eq!(
        sizes,
        [
            3 * 4 * 9,
            4 * 4 * 9,
            4 * 4 * 9,
            4 * 8 * 9,
            8 * 8 * 9,
            4 * 8,
            8 * 16 * 9,
            16 * 16 * 9,
            8 * 16
        ]
    );
    let deeper = inspect(&arch("resnet:depth=14,width=2"), &[1, 8, 8], 5, 0);
    assert_eq!(deeper.bn_fed.len(), 1 + 3 * 2 * 2 + 2);
    assert!(
        deeper
            .bn_fed
            .iter()
            .any(|(n, _)| n == "stage3.block1.conv2")
    );
    for spec in ["mlp", "cnn1d", "cnn2d:channels=2"] {
        let shape: &[usize] = if spec == "cnn2d:channels=2" {
            &[1, 4, 4]
        } else {
            &[40]
        };
        assert!(
            inspect(&arch(spec), shape, 5, 0).bn_fed.is_empty(),
            "{spec}"
        );
    }
}

/// Loss before and after `steps` full-batch steps of burn's plain SGD.
struct Train {
    x: Tensor<B, 2>,
    y: Tensor<B, 1, Int>,
    steps: usize,
    lr: f64,
}

impl OnModel<B> for Train {
    type Output = (f64, f64);
    fn run<M>(self, mut model: M) -> (f64, f64)
    where
        M: AutodiffModule<B> + Classifier<B>,
        M::InnerModule: Classifier<<B as AutodiffBackend>::InnerBackend>,
    {
        let mut optim = SgdConfig::new().init::<B, M>();
        let loss_fn = CrossEntropyLossConfig::new().init(&Default::default());
        let mut losses = Vec::new();
        for _ in 0..self.steps {
            let loss = loss_fn.forward(model.logits(self.x.clone()), self.y.clone());
            losses.push(loss.clone().into_scalar().elem::<f64>());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(self.lr, model, grads);
        }
        // Mean of the last three: BN batch statistics and dropout make single steps noisy.
        let tail = &losses[losses.len() - 3..];
        (losses[0], tail.iter().sum::<f64>() / 3.0)
    }
}

#[test]
fn the_loss_falls_for_each_new_architecture() {
    for (spec, steps) in [
        // A deeper plain CNN with a hidden layer sits on a plateau for ~60 steps at this LR.
        ("cnn2d:channels=4,hidden=16", 30),
        ("cnn2d:channels=4;8,hidden=0", 30),
        ("resnet:depth=8,width=4", 30),
        ("mlp:hidden=32,dropout=0.5", 30),
    ] {
        let (x, y) = quadrant_task(64, [1, 8], 3);
        let train = Train {
            x,
            y,
            steps,
            lr: 0.05,
        };
        let (first, last) =
            with_model::<B, _>(&arch(spec), &[1, 8, 8], 4, 0, &Default::default(), train);
        assert!(last < 0.75 * first, "{spec}: loss {first:.4} → {last:.4}");
    }
}

/// Every trainable tensor, by module path, before and after one SGD step.
struct OneStep;

/// Float tensors by module path.
#[derive(Default)]
struct Named {
    path: Vec<String>,
    tensors: Vec<(String, Vec<f32>)>,
}

impl<BK: Backend> ModuleVisitor<BK> for Named {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<BK, D>>) {
        self.tensors
            .push((self.path.join("."), values(param.val())));
    }
}

impl OnModel<B> for OneStep {
    type Output = (Named, Named);
    fn run<M>(self, model: M) -> (Named, Named)
    where
        M: AutodiffModule<B> + Classifier<B>,
        M::InnerModule: Classifier<<B as AutodiffBackend>::InnerBackend>,
    {
        let (x, y) = quadrant_task(8, [2, 8], 9);
        let mut before = Named::default();
        model.visit(&mut before);
        let loss = CrossEntropyLossConfig::new()
            .init(&Default::default())
            .forward(model.logits(x), y);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = SgdConfig::new().init::<B, M>().step(0.1, model, grads);
        let mut after = Named::default();
        model.visit(&mut after);
        (before, after)
    }
}

#[test]
fn one_sgd_step_moves_every_trainable_tensor() {
    for spec in [
        "mlp:hidden=8;8,dropout=0.2",
        "cnn2d:channels=3;4,hidden=6",
        "resnet:depth=14,width=2",
    ] {
        let (before, after) =
            with_model::<B, _>(&arch(spec), &[2, 8, 8], 4, 0, &Default::default(), OneStep);
        assert_eq!(before.tensors.len(), after.tensors.len());
        for ((name, b), (_, a)) in before.tensors.iter().zip(&after.tensors) {
            // Running statistics are not trained (and a visitor sees them unsynced).
            if name.ends_with("running_mean") || name.ends_with("running_var") {
                continue;
            }
            assert_ne!(a, b, "{spec}: `{name}` did not move");
        }
    }
}

/// Logits of sample 0 in two batches that differ elsewhere, under the training and eval models,
/// and the eval model's logits before and after one training forward pass.
struct BatchDependence;

struct Dependence {
    train: [Vec<f32>; 2],
    valid: [Vec<f32>; 2],
    valid_before_after: [Vec<f32>; 2],
}

impl OnModel<B> for BatchDependence {
    type Output = Dependence;
    fn run<M>(self, model: M) -> Dependence
    where
        M: AutodiffModule<B> + Classifier<B>,
        M::InnerModule: Classifier<<B as AutodiffBackend>::InnerBackend>,
    {
        let shape = [3, 8, 8];
        let a = noise(6, &shape, 10);
        // Same first sample, different rest of the batch.
        let b = Tensor::cat(vec![a.clone().narrow(0, 0, 1), noise(5, &shape, 11)], 0);
        let first = |t: Tensor<B, 2>| values(t.narrow(0, 0, 1));
        let first_inner = |t: Tensor<Flex, 2>| values(t.narrow(0, 0, 1));
        let valid_before = first_inner(model.valid().logits(a.clone().inner()));
        let valid = [
            first_inner(model.valid().logits(a.clone().inner())),
            first_inner(model.valid().logits(b.clone().inner())),
        ];
        let train = [first(model.logits(a.clone())), first(model.logits(b))];
        let valid_after = first_inner(model.valid().logits(a.inner()));
        Dependence {
            train,
            valid,
            valid_before_after: [valid_before, valid_after],
        }
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn batch_norm_uses_batch_statistics_in_training_and_running_ones_in_eval() {
    let d = with_model::<B, _>(
        &arch("resnet:depth=8,width=4"),
        &[3, 8, 8],
        5,
        0,
        &Default::default(),
        BatchDependence,
    );
    assert!(
        max_abs_diff(&d.train[0], &d.train[1]) > 1e-3,
        "training output should depend on the batch: {:?}",
        d.train
    );
    assert!(
        max_abs_diff(&d.valid[0], &d.valid[1]) < 1e-5,
        "eval output should not depend on the batch: {:?}",
        d.valid
    );
    assert!(
        max_abs_diff(&d.valid_before_after[0], &d.valid_before_after[1]) > 1e-4,
        "a training forward pass should move the running statistics"
    );
}

/// Training-model logits twice and eval-model logits twice for the same batch.
struct Outputs(Tensor<B, 2>);

impl OnModel<B> for Outputs {
    type Output = ([Vec<f32>; 2], [Vec<f32>; 2]);
    fn run<M>(self, model: M) -> Self::Output
    where
        M: AutodiffModule<B> + Classifier<B>,
        M::InnerModule: Classifier<<B as AutodiffBackend>::InnerBackend>,
    {
        let train = [
            values(model.logits(self.0.clone())),
            values(model.logits(self.0.clone())),
        ];
        let valid = model.valid();
        let eval = [
            values(valid.logits(self.0.clone().inner())),
            values(valid.logits(self.0.inner())),
        ];
        (train, eval)
    }
}

fn outputs(spec: &str, seed: u64) -> ([Vec<f32>; 2], [Vec<f32>; 2]) {
    let x = noise(8, &[20], 5);
    with_model::<B, _>(&arch(spec), &[20], 3, seed, &Default::default(), Outputs(x))
}

#[test]
fn dropout_is_active_in_training_only_and_seeded() {
    let (train, eval) = outputs("mlp:hidden=64;64,dropout=0.5", 4);
    assert_ne!(
        train[0], train[1],
        "dropout masks should differ between passes"
    );
    assert_eq!(eval[0], eval[1], "the eval model is deterministic");
    let (plain_train, plain_eval) = outputs("mlp:hidden=64;64", 4);
    assert_eq!(
        eval[0], plain_eval[0],
        "eval model = the dropout-free model"
    );
    assert_eq!(plain_train[0], plain_eval[0]);
    // Masks come from the run seed: the same seed repeats them, another seed does not.
    assert_eq!(outputs("mlp:hidden=64;64,dropout=0.5", 4).0, train);
    assert_ne!(outputs("mlp:hidden=64;64,dropout=0.5", 5).0[0], train[0]);
}

#[test]
fn initial_weights_are_a_function_of_the_seed() {
    for (spec, shape) in [
        ("mlp:hidden=8,dropout=0.1", &[1usize, 4, 4][..]),
        ("cnn1d:channels=3", &[40]),
        ("cnn2d:channels=2;3,hidden=4", &[1, 8, 8]),
        ("resnet:depth=8,width=2", &[2, 8, 8]),
    ] {
        let a = arch(spec);
        let w = |seed| inspect(&a, shape, 3, seed).weights;
        let w7 = w(7);
        assert_eq!(w7, w(7), "{spec}");
        assert_ne!(w7, w(8), "{spec}");
        // PyTorch's default bound for every drawn tensor; BN γ = 1, β = 0, running var = 1.
        assert!(w7.iter().all(|v| v.abs() <= 1.0), "{spec}");
    }
}

#[test]
fn spec_strings_are_canonical_and_unchanged_for_existing_families() {
    for (spec, canonical) in [
        ("mlp:hidden=100;100", "mlp:hidden=100;100"),
        ("mlp", "mlp:hidden=100;100"),
        ("mlp:hidden=100;100,dropout=0", "mlp:hidden=100;100"),
        ("mlp:dropout=-0", "mlp:hidden=100;100"),
        (
            "mlp:hidden=100;100,dropout=0.2",
            "mlp:hidden=100;100,dropout=0.2",
        ),
        ("cnn1d:channels=25", "cnn1d:channels=25"),
        ("cnn1d", "cnn1d:channels=25"),
        ("cnn2d", "cnn2d:channels=32;32;64,hidden=64"),
        ("cnn2d:hidden=0,channels=8", "cnn2d:channels=8,hidden=0"),
        ("resnet", "resnet:depth=8,width=16"),
        ("resnet:depth=20", "resnet:depth=20,width=16"),
    ] {
        let a = arch(spec);
        assert_eq!(a.spec_string(), canonical, "{spec}");
        assert_eq!(arch(canonical), a, "{spec} round trip");
    }
    assert_eq!(
        arch("mlp:dropout=0.2"),
        Arch::Mlp {
            hidden: vec![100, 100],
            dropout: 0.2
        }
    );
    let families: Vec<&str> = ARCH_NAMES.iter().map(|n| arch(n).family()).collect();
    assert_eq!(families, ARCH_NAMES);
}

#[test]
fn spec_errors_name_the_key_value_and_valid_choices() {
    for (spec, needles) in [
        (
            "resnet:depth=9",
            &["depth=9", "8, 14, 20, 26, 32, 38, 44, 50, 56"][..],
        ),
        ("resnet:depth=2", &["depth=2", "6n+2"]),
        ("resnet:width=0", &["width=0", "1..=256"]),
        ("resnet:width=257", &["width=257", "1..=256"]),
        ("resnet:blocks=3", &["blocks", "depth, width"]),
        ("mlp:dropout=1.0", &["dropout=1", "[0, 1)"]),
        ("mlp:dropout=-0.1", &["dropout=-0.1", "[0, 1)"]),
        ("mlp:dropout=NaN", &["dropout=NaN", "[0, 1)"]),
        ("mlp:dropout=x", &["dropout=x", "number"]),
        ("mlp:width=3", &["width", "hidden, dropout"]),
        (
            "cnn2d:channels=8;8;8;8;8",
            &["channels=8;8;8;8;8", "1 to 4", "1..=4096"],
        ),
        ("cnn2d:channels=0", &["channels=0", "1..=4096"]),
        ("cnn2d:hidden=70000", &["hidden=70000", "0..=65536"]),
        ("cnn2d:kernel=3", &["kernel", "channels, hidden"]),
        ("vgg", &["vgg", "mlp, cnn1d, cnn2d, resnet"]),
    ] {
        let err = spec_err(spec);
        for needle in needles {
            assert!(err.contains(needle), "{spec}: `{err}` lacks `{needle}`");
        }
    }
}

#[test]
fn check_input_names_the_shape_and_the_architectures_that_fit() {
    let err = arch("cnn2d").check_input(&[40]).unwrap_err();
    assert_eq!(
        err,
        "`cnn2d:channels=32;32;64,hidden=64` needs image input [C, H, W]; this task's examples \
         have shape [40]; valid architectures for it: mlp, cnn1d"
    );
    let err = arch("resnet").check_input(&[40]).unwrap_err();
    assert!(
        err.contains("[C, H, W]") && err.contains("mlp, cnn1d"),
        "{err}"
    );
    let err = arch("cnn1d").check_input(&[1, 28, 28]).unwrap_err();
    assert!(
        err.contains("[len]") && err.contains("[1, 28, 28]") && err.contains("mlp, cnn2d, resnet"),
        "{err}"
    );
    let err = arch("cnn2d:channels=4;4;4;4")
        .check_input(&[1, 8, 8])
        .unwrap_err();
    assert!(err.contains("≥ 16") && err.contains("[1, 8, 8]"), "{err}");
    let err = arch("cnn2d").check_input(&[3, 4, 4]).unwrap_err();
    assert!(
        err.contains("valid architectures for it: mlp, resnet"),
        "{err}"
    );
    let err = arch("resnet").check_input(&[1, 3, 8]).unwrap_err();
    assert!(err.contains("≥ 4"), "{err}");
    let err = arch("cnn1d").check_input(&[2]).unwrap_err();
    assert!(
        err.contains("≥ 3") && err.contains("valid architectures for it: mlp"),
        "{err}"
    );
    let err = arch("mlp").check_input(&[3, 0]).unwrap_err();
    assert!(err.contains("[3, 0]") && err.contains("none"), "{err}");
    assert!(arch("mlp").check_input(&[]).is_err());

    assert!(arch("mlp").check_input(&[3, 32, 32]).is_ok());
    assert!(arch("mlp").check_input(&[7]).is_ok());
    assert!(arch("cnn1d").check_input(&[40]).is_ok());
    assert!(arch("cnn1d").check_input(&[3]).is_ok());
    assert!(arch("cnn2d").check_input(&[1, 8, 8]).is_ok());
    assert!(arch("cnn2d").check_input(&[3, 32, 32]).is_ok());
    assert!(arch("resnet").check_input(&[1, 4, 4]).is_ok());
    assert!(cnn1d::fits(cnn1d::MIN_LEN) && !cnn1d::fits(cnn1d::MIN_LEN - 1));
}

/// Milliseconds per training step (forward, cross-entropy, backward, SGD update).
struct StepTime {
    x: Tensor<B, 2>,
    y: Tensor<B, 1, Int>,
    warmup: usize,
    steps: usize,
}

impl OnModel<B> for StepTime {
    type Output = f64;
    fn run<M>(self, mut model: M) -> f64
    where
        M: AutodiffModule<B> + Classifier<B>,
        M::InnerModule: Classifier<<B as AutodiffBackend>::InnerBackend>,
    {
        let mut optim = SgdConfig::new().init::<B, M>();
        let loss_fn = CrossEntropyLossConfig::new().init(&Default::default());
        let mut start = std::time::Instant::now();
        for step in 0..self.warmup + self.steps {
            if step == self.warmup {
                start = std::time::Instant::now();
            }
            let loss = loss_fn.forward(model.logits(self.x.clone()), self.y.clone());
            // Reading the loss forces the computation, as the training loop does.
            let _: f64 = loss.clone().into_scalar().elem();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(0.01, model, grads);
        }
        start.elapsed().as_secs_f64() * 1e3 / self.steps as f64
    }
}

/// `cargo test --lib model::tests::step_times -- --ignored --nocapture`
#[test]
#[ignore = "timing, not a check"]
fn step_times() {
    for (spec, shape) in [
        ("cnn2d", [1, 28, 28]),
        ("cnn2d", [3, 32, 32]),
        ("resnet:depth=8,width=16", [1, 28, 28]),
    ] {
        let (x, y) = quadrant_task(128, [shape[0], shape[1]], 1);
        let ms = with_model::<B, _>(
            &arch(spec),
            &shape,
            10,
            0,
            &Default::default(),
            StepTime {
                x,
                y,
                warmup: 2,
                steps: 5,
            },
        );
        println!("{spec} on {shape:?}, batch 128: {ms:.1} ms/step");
    }
}

/// The architectures have exactly the parameters of their PyTorch counterparts in
/// `benches/torch_models.py` (counts printed by PyTorch 2.15), so the accuracy comparison with
/// PyTorch compares the same models.
#[test]
fn parameter_counts_equal_pytorch_models() {
    for (spec, shape, pytorch) in [
        ("mlp:hidden=100;100", vec![1, 28, 28], 89_610),
        ("cnn1d:channels=25", vec![40], 5_210),
        (
            "cnn2d:channels=32;32;64,hidden=64",
            vec![1, 28, 28],
            115_306,
        ),
        (
            "cnn2d:channels=32;32;64,hidden=64",
            vec![3, 32, 32],
            145_578,
        ),
        ("resnet:depth=8,width=16", vec![1, 28, 28], 77_754),
    ] {
        assert_eq!(
            arch(spec).num_params(&shape, 10),
            pytorch,
            "{spec} on {shape:?}"
        );
    }
}
