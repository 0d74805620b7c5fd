//! Inverted dropout whose masks come from the run seed rather than the backend's global RNG.
//!
//! burn's `nn::Dropout` draws masks from the backend's process-wide RNG (for `Flex`, one global
//! `Mutex<Option<Rng>>` that is entropy-seeded unless `Backend::seed` is called), so a run's masks
//! would depend on whatever else ran in the process and training would not be reproducible from the
//! run seed. Same semantics otherwise: active only when the backend tracks gradients (training);
//! the eval model from `.valid()` passes inputs through unchanged.

use std::sync::{Arc, Mutex, PoisonError};

use burn::tensor::{Tensor, TensorData, backend::Backend};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::init::SeededInit;

/// Side stream of the run seed reserved for dropout masks.
const DROPOUT_STREAM: u64 = 1;

/// Dropout with probability `prob`, masks drawn from a ChaCha8 side stream of the run seed.
///
/// Clones (including the optimizer's updated model) share one stream, so a training run draws one
/// deterministic sequence of masks.
#[derive(Clone, Debug)]
pub struct SeededDropout {
    prob: f64,
    rng: Arc<Mutex<ChaCha8Rng>>,
}

impl SeededDropout {
    /// Dropout probability `prob` in [0, 1); masks from `seed`'s dropout stream.
    pub fn new(prob: f64, seed: u64) -> Self {
        assert!(
            (0.0..1.0).contains(&prob),
            "dropout probability {prob} not in [0, 1)"
        );
        Self {
            prob,
            rng: Arc::new(Mutex::new(SeededInit::side_stream(seed, DROPOUT_STREAM))),
        }
    }

    /// Zero each element with probability `prob` and scale survivors by 1/(1−prob), in training
    /// only. Shapes: `[…]` → `[…]`.
    pub fn forward<B: Backend, const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        if self.prob == 0.0 || !B::ad_enabled(&x.device()) {
            return x;
        }
        let dims = x.dims();
        let mask = self.mask(dims.iter().product());
        let mask = Tensor::<B, D>::from_data(TensorData::new(mask, dims), &x.device());
        x * mask
    }

    /// Whether masks are drawn at all (`prob > 0`).
    pub fn is_active(&self) -> bool {
        self.prob > 0.0
    }

    /// The next `n` mask values: 0 with probability `prob`, else 1/(1−prob).
    pub fn mask(&self, n: usize) -> Vec<f32> {
        let keep = 1.0 - self.prob;
        let scale = (1.0 / keep) as f32;
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        (0..n)
            .map(|_| {
                if rng.random::<f64>() < keep {
                    scale
                } else {
                    0.0
                }
            })
            .collect()
    }
}
