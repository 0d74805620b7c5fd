//! lrcast: meta-analysis of learning-rate policies.
//!
//! ```text
//! experiments/NAME.toml ─► Recipe (raw) ─► Plan (validated RunSpecs, stable run_id)
//!   ─► train (burn; flex CPU by default, CUDA when asked) ─► datasets/corpus/NAME/runs/*.parquet
//!   ─► features (polars → ndarray) ─► predict (linfa; models/NAME/)
//!   ─► extrapolation scores ─► reports/NAME/{report.md, report.html, scores.json}
//! ```
//!
//! Nothing below [`app`] knows about the command line or the terminal.

pub mod app;
pub mod cli;
pub mod corpus;
pub mod data;
pub mod device;
pub mod error;
pub mod features;
pub mod jobs;
pub mod lrfind;
pub mod model;
pub mod planning;
pub mod predict;
pub mod progress;
pub mod provenance;
pub mod recipe;
pub mod report;
pub mod runner;
pub mod schedule;
pub mod slurm;
pub mod spec;
pub mod stacks;
pub mod status;
pub mod train;

pub use error::{Error, Result};

/// Version of lrcast recorded in every corpus row.
pub const LRCAST_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Version of burn this binary was built with (pinned in Cargo.toml), recorded in every corpus row.
pub const BURN_VERSION: &str = "0.21.0";
