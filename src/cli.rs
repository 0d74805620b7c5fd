//! Command-line types (clap derive) and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// lrcast: train a grid of small networks over learning-rate policies, predict accuracy from the
/// policy's hyperparameters, and score how well that prediction extrapolates.
#[derive(Debug, Parser)]
#[command(
    name = "lrcast",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// No progress bar or status lines (results and errors are still printed).
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate the corpus, fit the predictors and write the report (default: the embedded
    /// experiments/default.toml).
    Pipeline(PipelineArgs),
    /// Train every run of the recipe's grid that is not in the corpus yet (resumable).
    Generate(GenerateArgs),
    /// Fit predictors on the corpus, score them on extreme-value holdouts, save models/NAME/.
    Fit(StageArgs),
    /// Write reports/NAME/ (report.md, report.html, scores.json, figures/).
    Report(StageArgs),
    /// Milliseconds per training step of the MNIST-1D models (the speed benchmark).
    Bench(BenchArgs),
}

/// Where results go.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Directory under which datasets/corpus/, models/ and reports/ are written.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
}

/// `lrcast pipeline`.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// Recipe file (TOML). Without it, the embedded default experiment runs.
    pub recipe: Option<PathBuf>,
    /// Compute device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `lrcast generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Recipe file (TOML).
    pub recipe: PathBuf,
    /// Compute device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `lrcast fit` / `lrcast report`.
#[derive(Debug, Args)]
pub struct StageArgs {
    /// Recipe file (TOML).
    pub recipe: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `lrcast bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Architectures to time.
    #[arg(long = "arch", default_values_t = ["mlp".to_string(), "cnn1d".to_string()])]
    pub archs: Vec<String>,
    /// Samples per step.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Timed steps per repeat (after 20 warm-up steps).
    #[arg(long, default_value_t = 200)]
    pub steps: usize,
    /// Repeats; the median and minimum are reported.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Compute device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}
