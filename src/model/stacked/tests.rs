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
    ]
}

fn input(shape: &[usize], batch: usize) -> Tensor<B, 2> {
    let d: usize = shape.iter().product();
    let values: Vec<f32> = (0..batch * d)
        .map(|i| ((i * 7919 % 23) as f32 - 11.0) / 7.0)
        .collect();
    Tensor::from_data(TensorData::new(values, [batch, d]), &Default::default())
}

/// Logits of one model alone, `[batch, classes]`, row-major.
fn alone(arch: &Arch, shape: &[usize], seed: u64, x: Tensor<B, 2>) -> Vec<f32> {
    struct Logits(Tensor<B, 2>);
    impl OnModel<B> for Logits {
        type Output = Vec<f32>;
        fn run<M>(self, model: M) -> Vec<f32>
        where
            M: AutodiffModule<B> + Classifier<B>,
        {
            model.logits(self.0).into_data().to_vec().unwrap()
        }
    }
    with_model(arch, shape, 3, seed, &Default::default(), Logits(x))
}

/// Logits of a stack, per member.
fn stacked(
    arch: &Arch,
    shape: &[usize],
    seeds: &[u64],
    keep: Option<&[usize]>,
    x: Tensor<B, 2>,
) -> Vec<Vec<f32>> {
    struct Logits<'a>(Tensor<B, 2>, Option<&'a [usize]>);
    impl OnStackedModel<B> for Logits<'_> {
        type Output = Vec<Vec<f32>>;
        fn run<M>(self, model: M) -> Vec<Vec<f32>>
        where
            M: AutodiffModule<B> + StackedClassifier<B>,
        {
            let model = match self.1 {
                Some(keep) => model.retain_members(keep),
                None => model,
            };
            let k = model.members();
            let all: Vec<f32> = model.stacked_logits(self.0).into_data().to_vec().unwrap();
            all.chunks(all.len() / k).map(<[f32]>::to_vec).collect()
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
        let members = stacked(&arch, &shape, &seeds, None, x.clone());
        assert_eq!(members.len(), 3);
        for (k, &seed) in seeds.iter().enumerate() {
            assert_close(
                &members[k],
                &alone(&arch, &shape, seed, x.clone()),
                &format!("{arch:?} member {k}"),
            );
        }
        // Members 2 and 0 kept, in that order.
        let kept = stacked(&arch, &shape, &seeds, Some(&[2, 0]), x.clone());
        assert_eq!(kept.len(), 2);
        assert_close(&kept[0], &members[2], "kept member 2");
        assert_close(&kept[1], &members[0], "kept member 0");
    }
    assert!(!is_stackable(&Arch::ResNet { depth: 8, width: 4 }));
}
