//! Dropout for a stack: each member draws its masks from its own seeded stream, as it would alone.

use burn::tensor::{Tensor, TensorData, backend::Backend};

use crate::model::dropout::SeededDropout;

/// One [`SeededDropout`] per member, applied to `[members, …]` activations.
#[derive(Clone, Debug)]
pub struct StackedDropout {
    members: Vec<SeededDropout>,
}

impl StackedDropout {
    /// The members' own dropouts (their streams continue where they are).
    pub fn new(members: Vec<SeededDropout>) -> Self {
        Self { members }
    }

    /// Member k's slice of `x` through member k's dropout (training only).
    pub fn forward<B: Backend>(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let active = self.members.iter().any(SeededDropout::is_active);
        if !active || !B::ad_enabled(&x.device()) {
            return x;
        }
        let dims = x.dims();
        let per_member = dims[1] * dims[2];
        let mask: Vec<f32> = self
            .members
            .iter()
            .flat_map(|d| {
                if d.is_active() {
                    d.mask(per_member)
                } else {
                    vec![1.0; per_member]
                }
            })
            .collect();
        let mask = Tensor::from_data(TensorData::new(mask, dims), &x.device());
        x * mask
    }

    /// Members `keep` only.
    pub fn retain(&self, keep: &[usize]) -> Self {
        Self {
            members: keep.iter().map(|&i| self.members[i].clone()).collect(),
        }
    }
}
