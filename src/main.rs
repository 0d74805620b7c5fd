//! The `lrcast` binary: parse the command line, run it, map errors to exit codes.

use clap::Parser;

fn main() {
    let cli = lrcast::cli::Cli::parse();
    match lrcast::app::run(cli) {
        Ok(()) => {}
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::exit(err.exit_code());
        }
    }
}
