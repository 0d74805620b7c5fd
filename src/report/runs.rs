//! The corpus columns the report reads, pulled out of the [`CorpusTable`] once. Columns a corpus
//! may lack (imported sweeps, lrcast 0.1 corpora) become empty text, NaN or empty curves, so every
//! section degrades to "no data" instead of failing.

use crate::corpus::CorpusTable;
use crate::error::Result;

/// One vector per column, one entry per run.
#[derive(Debug, Clone, Default)]
pub struct Runs {
    /// Runs.
    pub len: usize,
    /// Run ids.
    pub run_id: Vec<String>,
    /// Task specs.
    pub task: Vec<String>,
    /// Architecture specs.
    pub arch: Vec<String>,
    /// Policy names.
    pub policy: Vec<String>,
    /// Policy specs (base LR injected).
    pub policy_spec: Vec<String>,
    /// `trained`, `diverged`, `collapsed` or `unknown`.
    pub outcome: Vec<String>,
    /// Final test top-1.
    pub top1: Vec<f64>,
    /// Final test top-5.
    pub top5: Vec<f64>,
    /// Base LR.
    pub base_lr: Vec<f64>,
    /// Weight decay.
    pub weight_decay: Vec<f64>,
    /// Seed.
    pub seed: Vec<f64>,
    /// Planned optimizer steps.
    pub total_steps: Vec<f64>,
    /// Optimizer steps per epoch.
    pub steps_per_epoch: Vec<f64>,
    /// Spikes of the per-step training loss.
    pub loss_spikes: Vec<f64>,
    /// Median interval between spikes.
    pub loss_spike_period: Vec<f64>,
    /// Step at which divergence was detected.
    pub diverged_at_step: Vec<f64>,
}

fn text(table: &CorpusTable, name: &str) -> Vec<String> {
    table
        .text(name)
        .map(<[String]>::to_vec)
        .unwrap_or_else(|_| vec![String::new(); table.len])
}

fn numbers(table: &CorpusTable, name: &str) -> Vec<f64> {
    table
        .values(name)
        .unwrap_or_else(|_| vec![f64::NAN; table.len])
}

impl Runs {
    /// Read the columns; `run_id`, `top1` and the outcome are required.
    pub fn from_table(table: &CorpusTable) -> Result<Self> {
        Ok(Runs {
            len: table.len,
            run_id: table.text("run_id")?.to_vec(),
            task: text(table, "task"),
            arch: text(table, "arch"),
            policy: text(table, "policy_name"),
            policy_spec: text(table, "policy"),
            outcome: table.outcomes()?,
            top1: table.values("top1")?,
            top5: numbers(table, "top5"),
            base_lr: numbers(table, "base_lr"),
            weight_decay: numbers(table, "weight_decay"),
            seed: numbers(table, "seed"),
            total_steps: numbers(table, "total_steps"),
            steps_per_epoch: numbers(table, "steps_per_epoch"),
            loss_spikes: numbers(table, "loss_spikes"),
            loss_spike_period: numbers(table, "loss_spike_period"),
            diverged_at_step: numbers(table, "diverged_at_step"),
        })
    }

    /// `task · arch` of run `i` (the panel key of the per-task figures).
    pub fn task_arch(&self, i: usize) -> String {
        format!("{} · {}", short(&self.task[i]), self.arch[i])
    }
}

/// A task spec without its settings when they are long (`fashion10k:train_size=…` → `fashion10k`),
/// for panel titles; the full spec stays in the tables.
pub fn short(task: &str) -> &str {
    match task.split_once(':') {
        Some((name, rest)) if rest.len() > 18 => name,
        _ => task,
    }
}

/// Distinct values in first-seen order.
pub fn distinct<T: PartialEq + Clone>(values: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// Distinct finite values, sorted.
pub fn sorted_values(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut out: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    out.sort_by(f64::total_cmp);
    out.dedup();
    out
}

/// A number as a reader writes it: `0.001`, `3`, `5e-4`, `1e-7`.
pub fn fmt_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if (1e-3..1e5).contains(&a) {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        let s = format!("{v:.2e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = m.trim_end_matches('0').trim_end_matches('.');
        format!("{m}e{e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_a_reader_writes_them() {
        assert_eq!(fmt_num(0.001), "0.001");
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(5e-4), "5e-4");
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1.5e-7), "1.5e-7");
        assert_eq!(
            short("fashion10k:train_size=1000,test_size=500"),
            "fashion10k"
        );
        assert_eq!(short("mnist1d"), "mnist1d");
    }
}
