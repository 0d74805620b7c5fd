//! Seeded parameter initialisation, independent of the backend's global RNG.
//!
//! Initial weights are a function of the run seed alone, so they are identical on every device and
//! unaffected by anything else running in the process. The bounds are PyTorch's defaults for
//! `nn.Linear` / `nn.Conv1d` (Kaiming-uniform with a = √5): weights and biases ~ U(−1/√fan_in, 1/√fan_in).

use burn::module::Param;
use burn::tensor::{Tensor, TensorData, backend::Backend};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Key mixed into the run seed so these streams differ from other uses of the same seed.
const KEY: u64 = 0x5EED_1217_A11C_E5ED;

/// Deterministic source of initial weights for one model.
pub struct SeededInit {
    rng: ChaCha8Rng,
}

impl SeededInit {
    /// A fresh stream for `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed ^ KEY),
        }
    }

    /// Another ChaCha8 stream of the same seed (`stream` ≥ 1; stream 0 is the weights' own), for
    /// randomness used during training (dropout masks) that must not shift the initial weights.
    pub fn side_stream(seed: u64, stream: u64) -> ChaCha8Rng {
        assert!(stream != 0, "stream 0 is the initial weights' stream");
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ KEY);
        rng.set_stream(stream);
        rng
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
