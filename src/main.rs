//! The `lrcast` binary: parse the command line, run it, map errors to exit codes.

use clap::Parser;

fn main() {
    keep_freed_memory();
    let cli = lrcast::cli::Cli::parse();
    match on_thread_pool(|| lrcast::app::run(cli)) {
        Ok(()) => {}
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::exit(err.exit_code());
        }
    }
}

/// Tell glibc's malloc to keep freed memory for reuse. By default it unmaps every buffer above
/// 128 KiB on free and trims the heap top above 128 KiB, and a training step allocates and frees
/// the same large activation buffers every step: a stack of 64 MLPs spent most of its time in page
/// faults (model-steps/s 2350 → 4300 with this; see the README's Performance section). Peak memory
/// is unchanged: only memory already used once is kept.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator tunables; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

/// Run `work` on one of rayon's worker threads. The kernels' parallel loops then start on this thread
/// and share the work with the other workers, instead of each loop being handed from the main
/// thread to the pool while the main thread sleeps (two context switches per loop, thousands per
/// second when training small models).
fn on_thread_pool<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    // Worker threads get 2 MiB stacks by default; the main thread had 8 MiB.
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(16 << 20)
        .build_global();
    if let Err(err) = pool {
        eprintln!("warning: {err}; running on the default thread pool");
    }
    rayon::scope(|_| work())
}
