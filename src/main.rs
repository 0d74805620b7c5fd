//! The `lrcast` binary: parse the command line, run it, map errors to exit codes.

use clap::Parser;

fn main() {
    keep_freed_memory();
    let cli = lrcast::cli::Cli::parse();
    match lrcast::app::run(cli) {
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
