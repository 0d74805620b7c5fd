//! Integration tests: the `lrcast` binary end to end on tiny real recipes, and every bad-input path.

mod bad_input;
mod bench;
mod browser;
mod claims;
mod common;
mod compact;
mod import;
mod limits;
mod lr_find;
mod old_corpus;
mod pipeline;
mod plan_status;
mod progress;
mod report;
mod schedule;
mod search;
mod slurm;
mod slurm_cluster;
mod studies;
