//! `--jobs N`: how many workers of one `generate` train at once, and the cores each one gets.
//!
//! Workers are threads of one process, each inside its own rayon pool of `cores / N` threads (at
//! least one): the training kernels parallelise through rayon, so per-worker pools split the cores
//! between workers instead of N workers contending for one pool, and each worker's loops start on
//! its own pool thread (as `main` arranges for one worker). Threads rather than child processes:
//! workers share the loaded datasets, report into one progress bar and one summary, and stop
//! together on the first error, while claims keep them apart exactly as they keep processes and
//! machines apart. Measured on 2 cores (README, Performance), threads and processes train equally
//! fast, and two workers no faster than one.

use crate::error::{Error, Result};

/// Workers per core beyond which more workers only time-slice the same cores (and each holds a
/// stack and its dataset in memory): refused as a mistake rather than run slowly.
const MAX_WORKERS_PER_CORE: usize = 4;

/// A validated worker count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jobs {
    workers: usize,
}

impl Default for Jobs {
    fn default() -> Self {
        Self { workers: 1 }
    }
}

/// Cores this process may use.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Jobs {
    /// `--jobs N`: at least 1, at most [`MAX_WORKERS_PER_CORE`] per core.
    pub fn new(workers: usize) -> Result<Self> {
        let cores = cores();
        let most = MAX_WORKERS_PER_CORE * cores;
        let bad = |message: String| Error::BadArgument {
            flag: "--jobs".into(),
            value: workers.to_string(),
            message,
        };
        if workers == 0 {
            return Err(bad(
                "at least one worker is needed; pass --jobs 1 (the default) to train one stack at \
                 a time, or up to the number of cores"
                    .into(),
            ));
        }
        if workers > most {
            return Err(bad(format!(
                "this machine has {cores} cores, and more than {MAX_WORKERS_PER_CORE} workers per \
                 core only share them while each holds a stack in memory; pass --jobs {cores} (or \
                 at most {most})"
            )));
        }
        Ok(Self { workers })
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Threads of each worker's pool: the cores split evenly, at least one each.
    pub fn threads_per_worker(&self) -> usize {
        (cores() / self.workers).max(1)
    }

    /// One rayon pool per worker (stacks as large as `main`'s pool: polars and the kernels need
    /// more than rayon's default 2 MiB).
    pub fn pools(&self) -> Result<Vec<rayon::ThreadPool>> {
        (0..self.workers)
            .map(|k| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(self.threads_per_worker())
                    .stack_size(16 << 20)
                    .thread_name(move |t| format!("worker-{k}-{t}"))
                    .build()
                    .map_err(|e| Error::Runtime(format!("cannot start worker {k}'s threads: {e}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_too_many_workers_are_refused() {
        assert!(Jobs::new(0).unwrap_err().to_string().contains("--jobs 0"));
        let too_many = MAX_WORKERS_PER_CORE * cores() + 1;
        let err = Jobs::new(too_many).unwrap_err().to_string();
        assert!(err.contains(&format!("--jobs {too_many}")), "{err}");
        assert_eq!(Jobs::new(1).unwrap().workers(), 1);
        assert!(Jobs::new(1).unwrap().threads_per_worker() >= 1);
    }
}
