//! A stack computes what its members compute alone, and dropping members keeps the others intact.

use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use burn::tensor::{Tensor, TensorData};

use super::*;
use crate::model::{Classifier, OnModel, with_model};

type B = Autodiff<Flex>;

fn archs() -> Vec<(Arch, Vec<usize>)> {
    vec![
        (
            Arch::Mlp {
                hidden: vec![12, 7],
                dropout: 0.0,
            },
            vec![20],
        ),
        (Arch::Cnn1d { channels: 5 }, vec![40]),
        (
            Arch::Cnn2d {
                channels: vec![3, 4],
                hidden: 6,
            },
            vec![2, 9, 8],
        ),
        (Arch::ResNet { depth: 8, width: 2 }, vec![2, 6, 5]),
    ]
}

fn input(shape: &[usize], batch: usize) -> Tensor<B, 2> {
    let d: usize = shape.iter().product();
    let values: Vec<f32> = (0..batch * d)
        .map(|i| ((i * 7919 % 23) as f32 - 11.0) / 7.0)
        .collect();
    Tensor::from_data(TensorData::new(values, [batch, d]), &Default::default())
}

/// Logits of one model alone, `[batch, classes]`, row-major: in training mode, then in evaluation
/// mode (the `.valid()` model: batch norm with the running statistics that forward moved).
fn alone(arch: &Arch, shape: &[usize], seed: u64, x: Tensor<B, 2>) -> [Vec<f32>; 2] {
    struct Logits(Tensor<B, 2>);
    impl OnModel<B> for Logits {
        type Output = [Vec<f32>; 2];
        fn run<M>(self, model: M) -> [Vec<f32>; 2]
        where
            M: AutodiffModule<B> + Classifier<B>,
            M::InnerModule: Classifier<Flex>,
        {
            let train = model.logits(self.0.clone()).into_data().to_vec().unwrap();
            let eval = model.valid().logits(self.0.inner());
            [train, eval.into_data().to_vec().unwrap()]
        }
    }
    with_model(arch, shape, 3, seed, &Default::default(), Logits(x))
}

/// Logits of a stack per member, as [`alone`]; with `keep`, the members kept after the training
/// forward (evaluation logits of those only).
fn stacked(
    arch: &Arch,
    shape: &[usize],
    seeds: &[u64],
    keep: Option<&[usize]>,
    x: Tensor<B, 2>,
) -> [Vec<Vec<f32>>; 2] {
    struct Logits<'a>(Tensor<B, 2>, Option<&'a [usize]>);
    fn per_member<BK: burn::tensor::backend::Backend>(logits: Tensor<BK, 3>) -> Vec<Vec<f32>> {
        let k = logits.dims()[0];
        let all: Vec<f32> = logits.into_data().to_vec().unwrap();
        all.chunks(all.len() / k).map(<[f32]>::to_vec).collect()
    }
    impl OnStackedModel<B> for Logits<'_> {
        type Output = [Vec<Vec<f32>>; 2];
        fn run<M>(self, model: M) -> [Vec<Vec<f32>>; 2]
        where
            M: AutodiffModule<B> + StackedClassifier<B>,
            M::InnerModule: StackedClassifier<Flex>,
        {
            let train = per_member(model.stacked_logits(self.0.clone()));
            let model = match self.1 {
                Some(keep) => model.retain_members(keep),
                None => model,
            };
            let eval = per_member(model.valid().stacked_logits(self.0.inner()));
            [train, eval]
        }
    }
    with_stacked_model(arch, shape, 3, seeds, &Default::default(), Logits(x, keep))
}

fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x - y).abs() <= 1e-5 * (1.0 + x.abs()),
            "{what}: {x} vs {y}"
        );
    }
}

#[test]
fn every_member_of_a_stack_computes_what_it_computes_alone() {
    let seeds = [4, 0, 9];
    for (arch, shape) in archs() {
        assert!(is_stackable(&arch));
        let x = input(&shape, 5);
        let [train, eval] = stacked(&arch, &shape, &seeds, None, x.clone());
        assert_eq!((train.len(), eval.len()), (3, 3));
        for (k, &seed) in seeds.iter().enumerate() {
            let [train_alone, eval_alone] = alone(&arch, &shape, seed, x.clone());
            assert_close(&train[k], &train_alone, &format!("{arch:?} member {k}"));
            assert_close(&eval[k], &eval_alone, &format!("{arch:?} member {k} eval"));
        }
        // Members 2 and 0 kept, in that order, running statistics included.
        let [_, kept] = stacked(&arch, &shape, &seeds, Some(&[2, 0]), x.clone());
        assert_eq!(kept.len(), 2);
        assert_close(&kept[0], &eval[2], "kept member 2");
        assert_close(&kept[1], &eval[0], "kept member 0");
    }
}
