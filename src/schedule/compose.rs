//! Composition: sequential phases (`A @ M >> B`, like PyTorch's SequentialLR) and products (`A * B`).

use std::sync::Arc;

use super::policy::Schedule;

/// Phases switched at global milestones; phase i sees the local step `t - starts[i]`.
///
/// On an uninterrupted run this is what `SequentialLR` does: at a milestone PyTorch restarts the
/// next scheduler at its step 0 (`_update_lr(0)`), and it counts from there.
#[derive(Debug)]
pub(crate) struct Seq {
    phases: Vec<Arc<dyn Schedule>>,
    /// `starts[0] == 0`; strictly increasing (checked by the builder).
    starts: Vec<u64>,
}

impl Seq {
    pub fn new(phases: Vec<Arc<dyn Schedule>>, starts: Vec<u64>) -> Self {
        debug_assert_eq!(phases.len(), starts.len());
        Seq { phases, starts }
    }

    /// Index of the phase active at global step t (bisect_right over the milestones).
    fn phase(&self, t: u64) -> usize {
        self.starts.partition_point(|&s| s <= t) - 1
    }
}

impl Schedule for Seq {
    fn lr(&self, t: u64) -> f64 {
        let i = self.phase(t);
        self.phases[i].lr(t - self.starts[i])
    }

    fn momentum(&self, t: u64) -> Option<f64> {
        let i = self.phase(t);
        self.phases[i].momentum(t - self.starts[i])
    }

    fn fill(&self, start: u64, out: &mut [f64]) {
        let mut done = 0;
        while done < out.len() {
            let t = start + done as u64;
            let i = self.phase(t);
            let end = self
                .starts
                .get(i + 1)
                .map_or(out.len(), |&next| (next - start) as usize)
                .min(out.len());
            self.phases[i].fill(t - self.starts[i], &mut out[done..end]);
            done = end;
        }
    }
}

/// lr(t) = product of the factors' lr(t). Give the factors after the first `lr=1` (or `k0=1`) to
/// use them as pure multipliers, e.g. `triangular:... * exp:lr=1,gamma=0.999`. Momentum comes from
/// the first factor that cycles it.
#[derive(Debug)]
pub(crate) struct Product {
    factors: Vec<Arc<dyn Schedule>>,
}

impl Product {
    pub fn new(factors: Vec<Arc<dyn Schedule>>) -> Self {
        Product { factors }
    }
}

impl Schedule for Product {
    fn lr(&self, t: u64) -> f64 {
        self.factors.iter().map(|f| f.lr(t)).product()
    }

    fn momentum(&self, t: u64) -> Option<f64> {
        self.factors.iter().find_map(|f| f.momentum(t))
    }

    fn fill(&self, start: u64, out: &mut [f64]) {
        self.factors[0].fill(start, out);
        let mut buf = vec![0.0; out.len()];
        for f in &self.factors[1..] {
            f.fill(start, &mut buf);
            for (o, b) in out.iter_mut().zip(&buf) {
                *o *= b;
            }
        }
    }
}
