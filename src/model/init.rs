//! Seeded parameter initialisation, independent of the backend's global RNG.
//!
//! Initial weights are a function of the run seed alone, so they are identical on every device and
//! unaffected by anything else running in the process. The bounds are PyTorch's defaults for
//! `nn.Linear` / `nn.Conv1d` (Kaiming-uniform with a = √5): weights and biases ~ U(−1/√fan_in, 1/√fan_in).

use burn::module::Param;
use burn::tensor::{Tensor, TensorData, backend::Backend};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Deterministic source of initial weights for one model.
pub struct SeededInit {
    rng: ChaCha8Rng,
}

impl SeededInit {
    /// A fresh stream for `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_1217_A11C_E5ED),
        }
    }

    /// A parameter of shape `dims` drawn from U(−1/√fan_in, 1/√fan_in).
    pub fn uniform<B: Backend, const D: usize>(
        &mut self,
        dims: [usize; D],
        fan_in: usize,
        device: &B::Device,
    ) -> Param<Tensor<B, D>> {
        let bound = 1.0 / (fan_in as f64).sqrt();
        let n: usize = dims.iter().product();
        let values: Vec<f32> = (0..n)
            .map(|_| self.rng.random_range(-bound..bound) as f32)
            .collect();
        Param::from_tensor(Tensor::from_data(TensorData::new(values, dims), device))
    }
}
