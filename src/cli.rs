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
    /// Train every run of the recipe's grid that is not in the corpus yet (resumable; concurrent
    /// generates on one corpus share the work). A damaged part is moved to
    /// datasets/corpus/NAME/quarantine/ and its run trained again.
    Generate(GenerateArgs),
    /// Show what `generate` would train, without training or writing anything: run counts per task
    /// and architecture, the stacks it would form, a sample of runs, and an estimated time from a
    /// few training steps measured on this machine.
    Plan(PlanArgs),
    /// Show how far the recipe's corpus has come, without training or writing anything: runs
    /// planned, done (trained / diverged / collapsed) and remaining, parts that cannot be read,
    /// runs not in the plan, and the time left at the pace of the finished runs.
    Status(StatusArgs),
    /// Fit predictors on the corpus, score them on extreme-value holdouts, save models/NAME/.
    Fit(StageArgs),
    /// Write reports/NAME/ (report.md, report.html, scores.json, figures/).
    Report(StageArgs),
    /// Read the sweep table of the recipe's [import] section (CSV or Parquet, written by another
    /// tool) into its corpus, one run per row; rows already there are skipped.
    Import(StageArgs),
    /// Print a learning-rate (and momentum) policy step by step, or list every policy (--list).
    Schedule(ScheduleArgs),
    /// LR range test: ramp the LR over a short run and suggest a learning rate from the loss curve.
    LrFind(LrFindArgs),
    /// Milliseconds per training step of the MNIST-1D models (the speed benchmark).
    Bench(BenchArgs),
    /// Write what the fit stage sees, for other tools.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Check the corpus (verify) or merge its per-run parts into one compacted file (compact).
    #[command(subcommand)]
    Corpus(CorpusCommand),
    /// Predict the accuracy of a run that was never trained, with every saved model, its 80 %
    /// interval and the probability that it diverges; warns outside the training ranges.
    Predict(PredictArgs),
    /// Rank the recipe's policies over a range of base LRs for a task and architecture by
    /// predicted accuracy, with intervals and failure risk.
    Recommend(RecommendArgs),
    /// Write Slurm batch scripts for a recipe: a job array that generates the corpus (one shard
    /// per task), a job that fits and reports after it, and submit.sh that submits both.
    Slurm(SlurmArgs),
}

/// What `predict` and `recommend` share.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Directory written by `lrcast fit` (models/<experiment>/).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Task spec, e.g. mnist1d.
    #[arg(long)]
    pub task: String,
    /// Architecture spec, e.g. mlp:hidden=100;100.
    #[arg(long)]
    pub arch: String,
    /// Grid keys for the run, one value each: base_lr, weight_decay, momentum, batch_size, seed,
    /// epochs, optimizer (others come from the recipe the models were fitted on).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `lrcast predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    #[command(flatten)]
    pub query: QueryArgs,
    /// LR policy spec with its LR, e.g. cosine:lr=0.1 (or give the LR with --set base_lr=…).
    #[arg(long)]
    pub policy: String,
}

/// `lrcast recommend`.
#[derive(Debug, Args)]
pub struct RecommendArgs {
    #[command(flatten)]
    pub query: QueryArgs,
    /// Base LRs tried per policy, log-spaced over the training range.
    #[arg(long, default_value_t = 13)]
    pub lrs: usize,
    /// Rows printed.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Training budget in optimizer steps: the runs get the whole number of epochs closest to it
    /// (at least 1) at the task's steps per epoch; instead of --set epochs.
    #[arg(long, value_name = "N")]
    pub budget_steps: Option<u64>,
}

/// `lrcast export …`.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// The exact feature matrix, target and holdout folds of `fit` as CSV (one row per run), so
    /// scikit-learn or R can be fitted on the same features and splits
    /// (see benches/sklearn_reference.py).
    Features(ExportFeaturesArgs),
}

/// `lrcast export features`.
#[derive(Debug, Args)]
pub struct ExportFeaturesArgs {
    /// Recipe file (TOML). Without it, the embedded default experiment (experiments/default.toml).
    pub recipe: Option<PathBuf>,
    /// Where to write the CSV [default: models/NAME/features.csv under --root].
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `lrcast corpus …`.
#[derive(Debug, Subcommand)]
pub enum CorpusCommand {
    /// List what is wrong with the recipe's corpus, changing nothing: parts and compacted files
    /// that cannot be read (truncated, garbage, wrong schema), foreign runs and files, temporary
    /// files older than 15 minutes, claims whose lease expired; and as notes the quarantine's
    /// content, runs held twice and whether the scalar cache is up to date. Exit status: 0 when
    /// nothing is wrong, 1 when problems were found, 2 for bad input.
    Verify(CorpusVerifyArgs),
    /// Merge the readable per-run parts (and earlier compacted files) into one compacted file,
    /// datasets/corpus/NAME/compacted/compact-<time>-<random>.parquet, written whole and renamed
    /// into place before the merged parts are removed (a crash loses and duplicates nothing).
    /// Parts that cannot be read, and parts of runs a running `generate` holds a claim on, are
    /// left alone.
    Compact(StageArgs),
}

/// `lrcast corpus verify`.
#[derive(Debug, Args)]
pub struct CorpusVerifyArgs {
    /// Recipe file (TOML). Without it, the embedded default experiment (experiments/default.toml).
    pub recipe: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `lrcast lr-find`.
#[derive(Debug, Args)]
pub struct LrFindArgs {
    /// Task spec, e.g. `mnist1d` or `mnist1d:num_samples=2000`.
    #[arg(long, default_value = "mnist1d")]
    pub task: String,
    /// Architecture spec, e.g. `mlp:hidden=100;100` or `cnn1d`.
    #[arg(long, default_value = "mlp")]
    pub arch: String,
    /// First LR of the ramp.
    #[arg(long, default_value_t = 1e-7)]
    pub start_lr: f64,
    /// Last LR of the ramp.
    #[arg(long, default_value_t = 10.0)]
    pub end_lr: f64,
    /// Steps of the ramp (one batch each).
    #[arg(long, default_value_t = 100)]
    pub num_steps: usize,
    /// exponential (fastai) or linear (Smith's original test).
    #[arg(long, default_value = "exponential")]
    pub ramp: String,
    /// Samples per step.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    /// L2 weight decay.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Smoothing of the debiased exponential moving average of the loss.
    #[arg(long, default_value_t = 0.98)]
    pub beta: f64,
    /// Stop when the smoothed loss exceeds this multiple of its minimum.
    #[arg(long, default_value_t = 4.0)]
    pub diverge_factor: f64,
    /// Suggestion printed first: valley, steep, minimum or slide (the plot marks every rule).
    #[arg(long, default_value = "valley")]
    pub suggestion: String,
    /// Rerun with this many seeds (seed, seed+1, …) and report the spread of every suggestion.
    #[arg(long, default_value_t = 1)]
    pub repeats: usize,
    /// Seed of the first repeat (initialisation and batch order).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Compute device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Directory for lr_find.csv, lr_find.svg and lr_find.json [default: reports/lr-find under
    /// --root]. `--out reports/NAME/lr_find` puts the curve into experiment NAME's report.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Output format of `lrcast schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScheduleFormat {
    /// `step,lr[,momentum]` lines with a header.
    Csv,
    /// One JSON object with the spec and the sequences.
    Json,
}

/// `lrcast schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Policy spec, e.g. `cosine:lr=0.1` or `linear:lr=0.1,start_factor=0.1,total_iters=500 @ 500 >> cosine:lr=0.1`.
    #[arg(long, required_unless_present = "list", allow_hyphen_values = true)]
    pub policy: Option<String>,
    /// Number of optimizer steps to print (the run length that horizon parameters default to).
    #[arg(long, required_unless_present = "list")]
    pub steps: Option<u64>,
    /// Steps per epoch, for parameters given in epochs (`step_size=2ep`).
    #[arg(long, default_value_t = 1)]
    pub steps_per_epoch: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScheduleFormat::Csv)]
    pub format: ScheduleFormat,
    /// Also draw the schedule into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// List every policy with its parameters, defaults and ranges, and the spec grammar.
    #[arg(long, conflicts_with_all = ["policy", "steps"])]
    pub list: bool,
}

/// Where results go.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Directory under which datasets/corpus/, models/ and reports/ are written.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
}

/// How runs are stacked (trained together as one model), and by how many workers.
#[derive(Debug, Clone, Args)]
pub struct StackArgs {
    /// Most runs trained together as one stacked model. Runs that differ only in seed, LR policy,
    /// momentum and weight decay (same task, architecture, batch size, epochs, data seed and
    /// optimizer) are stacked: each keeps its own result, identical within float rounding to
    /// training it alone. 1 trains every run alone. Default: the recipe's `[train] stack`, else
    /// where stacking is faster — MLPs on the CPU (32 per stack), every architecture on CUDA (64) —
    /// within the memory budget. Picking K from a budget: K = budget ÷ one member's need (see
    /// --stack-memory); a K whose stacks would not fit is refused, naming the largest that does,
    /// and `lrcast plan` shows the stacks a K forms.
    #[arg(long, value_name = "K")]
    pub stack: Option<usize>,
    /// Memory one stack may use, in MiB [default: the recipe's `[train] stack_memory_mib`, else
    /// 2048]. A member needs about 4 bytes × (6 × its parameters + 2 × batch size × its
    /// activations per example) — ResNet-8 of width 16 on 28×28 images at batch 128 about 150 MiB,
    /// an MNIST-1D MLP 100-100 about 1 MiB; stacks formed automatically hold the budget divided by
    /// that (at least 1).
    #[arg(long, value_name = "MIB")]
    pub stack_memory: Option<u64>,
    /// Workers training at once in this process, each on its share of the cores. Workers claim
    /// each run before training it (datasets/corpus/NAME/claims/), so they never train a run twice
    /// — nor do other `generate` processes on this corpus, here or on machines sharing it. A claim
    /// of a worker that died is taken over: at once when it ran on this machine, after its
    /// 3-minute lease otherwise. Results do not depend on the number of workers.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub jobs: usize,
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
    pub stacking: StackArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `lrcast generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Recipe file (TOML). Without it, the embedded default experiment (experiments/default.toml).
    pub recipe: Option<PathBuf>,
    /// Train only shard I of N (0-based: the I-th of N contiguous, equal slices of the plan), for
    /// running one recipe on many machines over a shared corpus; the shards together are the plan.
    /// Without it, a Slurm job array task takes its shard from SLURM_ARRAY_TASK_ID (minus
    /// SLURM_ARRAY_TASK_MIN) and SLURM_ARRAY_TASK_COUNT. In a Kubernetes Indexed Job pass
    /// --shard $(JOB_COMPLETION_INDEX)/N.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Compute device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[command(flatten)]
    pub stacking: StackArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `lrcast slurm`.
#[derive(Debug, Args)]
pub struct SlurmArgs {
    /// Recipe file (TOML).
    pub recipe: PathBuf,
    /// Tasks of the generate job array, at most the plan's runs; task I trains shard I of N.
    #[arg(long, value_name = "N")]
    pub array: usize,
    /// Partition (or comma-separated partitions) for both jobs [default: the cluster's].
    #[arg(long, value_name = "P")]
    pub partition: Option<String>,
    /// Time limit of each job, in Slurm's format: minutes, H:M:S or D-H[:M[:S]] [default: the
    /// partition's].
    #[arg(long, value_name = "T")]
    pub time: Option<String>,
    /// CPUs per task; lrcast's threads follow it (RAYON_NUM_THREADS). Parallelism comes from the
    /// array, so one per task is the default.
    #[arg(long, value_name = "C", default_value_t = 1)]
    pub cpus_per_task: u32,
    /// Memory per node, e.g. 4G [default: the cluster's].
    #[arg(long, value_name = "M")]
    pub mem: Option<String>,
    /// Directory for the scripts and their logs/ [default: ROOT/slurm/NAME].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `lrcast plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Recipe file (TOML). Without it, the embedded default experiment (experiments/default.toml).
    pub recipe: Option<PathBuf>,
    /// Show only shard I of N, as `generate --shard I/N` would train it (0-based).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Compute device the runs would train on (and the estimate's steps are timed on): cpu, cuda
    /// or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[command(flatten)]
    pub stacking: StackArgs,
    /// Runs shown: the first 3 and a seeded spread over the rest.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub sample: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `lrcast status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Recipe file (TOML). Without it, the embedded default experiment (experiments/default.toml).
    pub recipe: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `lrcast fit` / `lrcast report` / `lrcast import`.
#[derive(Debug, Args)]
pub struct StageArgs {
    /// Recipe file (TOML). Without it, the embedded default experiment (experiments/default.toml).
    pub recipe: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `lrcast bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Architectures to time.
    #[arg(long = "arch", default_values_t = ["mlp".to_string(), "cnn1d".to_string()])]
    pub archs: Vec<String>,
    /// Task whose examples are timed (its shape decides which architectures fit), e.g. mnist1d,
    /// mnist10k, cifar10:path=DIR.
    #[arg(long, default_value = "mnist1d")]
    pub task: String,
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
    /// Also time stacks of these sizes (e.g. 1,2,4,64): K models trained as one; reports
    /// model-steps per second.
    #[arg(long, value_name = "K,…", value_delimiter = ',')]
    pub stack: Vec<usize>,
    /// Print one JSON object per timing (one per line) instead of a table.
    #[arg(long)]
    pub json: bool,
}
