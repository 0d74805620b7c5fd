//! The learning-rate range test (Smith 2015/2017; fastai's `lr_find`), repeated over seeds so that
//! the spread of its suggestion can be read off, not just one number.
//!
//! A fresh model trains for `num_steps` batches while the LR ramps from `start_lr` to `end_lr`; the
//! (smoothed) loss against the LR tells where training is fastest and where it blows up. The
//! suggestion rules are fastai 2.x's (`valley`, `steep`, `minimum`, `slide`), see [`suggest`].
//!
//! | Name | Default | Purpose | Range |
//! |---|---|---|---|
//! | `start_lr` | 1e-7 | LR of the first step | > 0 |
//! | `end_lr` | 10 | LR of the last step | > `start_lr` |
//! | `num_steps` | 100 | batches (= points on the curve) | ≥ 10 |
//! | `ramp` | exponential | how the LR grows from step to step | exponential, linear |
//! | `batch_size` | 128 | samples per step (capped at the training-split size) | ≥ 1 |
//! | `momentum` | 0.9 | SGD momentum μ | [0, 1) |
//! | `weight_decay` | 0 | L2 weight decay λ | ≥ 0 |
//! | `beta` | 0.98 | EMA factor of the smoothed loss | (0, 1) |
//! | `diverge_factor` | 4 | stop once smoothed loss > factor × its minimum so far | > 1 |
//! | `seed` | 0 | model initialisation and batch order (repeat k uses `seed + k`) | any |
//!
//! Nothing here touches global state (burn's global `B::seed` is never called; models draw their
//! weights from their own seeded stream), so an LR range test never changes a later training run.

mod plot;
mod range_test;
mod suggest;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use plot::plot_svg;
pub use range_test::{run_range_test, run_range_test_on};
pub use suggest::{minimum, slide, steep, suggest, suggestion_window, valley};

use crate::data::Dataset;
use crate::device::ComputeDevice;
use crate::error::{Error, Result};
use crate::model::Arch;

/// How the LR grows from `start_lr` to `end_lr` over the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ramp {
    /// `start·(end/start)^(i/(n−1))`: equal steps in log LR (fastai's `lr_find`).
    #[default]
    Exponential,
    /// `start + (end−start)·i/(n−1)`: Smith's original linear ramp.
    Linear,
}

impl Ramp {
    /// Every ramp, in documentation order.
    pub const ALL: [Ramp; 2] = [Ramp::Exponential, Ramp::Linear];

    /// Name as accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Ramp::Exponential => "exponential",
            Ramp::Linear => "linear",
        }
    }
}

impl FromStr for Ramp {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "exponential" | "exp" => Ok(Ramp::Exponential),
            "linear" | "lin" => Ok(Ramp::Linear),
            other => Err(format!(
                "unknown ramp `{other}`; valid: exponential (exp), linear (lin)"
            )),
        }
    }
}

impl fmt::Display for Ramp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A rule that turns a range-test curve into one suggested learning rate (fastai 2.x's names).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Suggestion {
    /// Inside the longest run of decreasing loss, ~halfway down (fastai's default).
    #[default]
    Valley,
    /// LR of the steepest descent of loss against log LR.
    Steep,
    /// One tenth of the LR at the minimum loss.
    Minimum,
    /// Slide a 15-point window down from the end until the loss gradient flattens.
    Slide,
}

impl Suggestion {
    /// Every rule, in the order reports list them.
    pub const ALL: [Suggestion; 4] = [
        Suggestion::Valley,
        Suggestion::Steep,
        Suggestion::Minimum,
        Suggestion::Slide,
    ];

    /// Name as accepted by [`FromStr`] and written in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Suggestion::Valley => "valley",
            Suggestion::Steep => "steep",
            Suggestion::Minimum => "minimum",
            Suggestion::Slide => "slide",
        }
    }
}

impl FromStr for Suggestion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let wanted = text.trim().to_ascii_lowercase();
        Suggestion::ALL
            .into_iter()
            .find(|s| s.name() == wanted)
            .ok_or_else(|| {
                format!("unknown suggestion `{wanted}`; valid: valley, steep, minimum, slide")
            })
    }
}

impl fmt::Display for Suggestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Settings of one LR range test; see the table in the [module docs](self).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RangeTestConfig {
    /// LR of the first step.
    pub start_lr: f64,
    /// LR of the last step.
    pub end_lr: f64,
    /// Steps (batches) in the test; also fastai's `num_it`, which sets how much is trimmed.
    pub num_steps: usize,
    /// How the LR grows.
    pub ramp: Ramp,
    /// Samples per step.
    pub batch_size: usize,
    /// SGD momentum μ.
    pub momentum: f64,
    /// L2 weight decay λ.
    pub weight_decay: f64,
    /// EMA factor β of the smoothed loss.
    pub beta: f64,
    /// Stop once the smoothed loss exceeds this multiple of its minimum so far.
    pub diverge_factor: f64,
    /// Seed of the model initialisation and the batch order.
    pub seed: u64,
}

impl Default for RangeTestConfig {
    fn default() -> Self {
        Self {
            start_lr: 1e-7,
            end_lr: 10.0,
            num_steps: 100,
            ramp: Ramp::Exponential,
            batch_size: 128,
            momentum: 0.9,
            weight_decay: 0.0,
            beta: 0.98,
            diverge_factor: 4.0,
            seed: 0,
        }
    }
}

impl RangeTestConfig {
    /// Check every setting; the message names the offending key (as a flag) and its range.
    pub fn validate(&self) -> Result<(), String> {
        self.check()
            .map_err(|(flag, value, message)| format!("{flag} {value}: {message}"))
    }

    /// As [`validate`](Self::validate), as the crate's bad-input error (exit code 2).
    pub fn validated(&self) -> Result<()> {
        self.check()
            .map_err(|(flag, value, message)| Error::BadArgument {
                flag: flag.into(),
                value,
                message,
            })
    }

    /// `(flag, value, message)` of the first bad setting.
    fn check(&self) -> Result<(), (&'static str, String, String)> {
        // One loss per step is kept; a million points is far past any range test's resolution.
        const MAX_RANGE_TEST_STEPS: usize = 1_000_000;
        const MAX_BATCH_SIZE: usize = 1 << 20;
        let bad = |flag, value: &dyn fmt::Display, message: &str| {
            Err((flag, value.to_string(), message.to_string()))
        };
        // `!(x > 0)` rather than `x <= 0` so that NaN is rejected too.
        if !(self.start_lr > 0.0 && self.start_lr.is_finite()) {
            return bad(
                "--start-lr",
                &self.start_lr,
                "must be a finite number > 0, e.g. 1e-7",
            );
        }
        if !(self.end_lr > self.start_lr && self.end_lr.is_finite()) {
            return bad(
                "--end-lr",
                &self.end_lr,
                &format!(
                    "must be finite and > --start-lr ({}), e.g. 10",
                    self.start_lr
                ),
            );
        }
        if !(10..=MAX_RANGE_TEST_STEPS).contains(&self.num_steps) {
            return bad(
                "--num-steps",
                &self.num_steps,
                &format!(
                    "must be in 10..={MAX_RANGE_TEST_STEPS} (fastai trims the first 10% and the \
                     last 5 points; a range test is typically 100 steps)"
                ),
            );
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return bad(
                "--batch-size",
                &self.batch_size,
                &format!("must be in 1..={MAX_BATCH_SIZE}"),
            );
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("--momentum", &self.momentum, "must be in [0, 1)");
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad("--weight-decay", &self.weight_decay, "must be >= 0");
        }
        if !(self.beta > 0.0 && self.beta < 1.0) {
            return bad(
                "--beta",
                &self.beta,
                "must be in (0, 1), e.g. 0.98 (EMA factor of the smoothed loss)",
            );
        }
        if self.diverge_factor.is_nan() || self.diverge_factor <= 1.0 {
            return bad(
                "--diverge-factor",
                &self.diverge_factor,
                "must be > 1, e.g. 4 (stop once smoothed loss > factor × its minimum)",
            );
        }
        Ok(())
    }

    /// Learning rate of step `step` (0-based): the ramp reaches `end_lr` exactly at the last step.
    pub fn lr_at(&self, step: usize) -> f64 {
        // fastai uses i/num_it and never reaches end_lr; i/(n−1) makes end_lr the last LR tried.
        let t = step as f64 / (self.num_steps.max(2) - 1) as f64;
        match self.ramp {
            Ramp::Exponential => self.start_lr * (self.end_lr / self.start_lr).powf(t),
            Ramp::Linear => self.start_lr + (self.end_lr - self.start_lr) * t,
        }
    }
}

/// What one range test recorded: one point per step taken, up to and including the step that
/// triggered the divergence stop (a non-finite loss is not kept).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RangeTestCurve {
    /// Seed of this repeat (model initialisation and batch order).
    pub seed: u64,
    /// Steps the test was configured for (fastai trims the first `num_steps / 10` points by it,
    /// even when the test stopped early).
    pub num_steps: usize,
    /// LR of each step.
    pub lrs: Vec<f64>,
    /// Loss of each step's batch, before that step's update.
    pub losses: Vec<f64>,
    /// Debiased EMA of `losses` (the curve the suggestions read).
    pub smoothed: Vec<f64>,
    /// Whether the test stopped before `num_steps` because the loss diverged.
    pub stopped_early: bool,
}

/// One suggestion rule across the repeats: every value and their spread on the log scale (the
/// scale LRs are chosen on).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SuggestionSpread {
    /// The rule.
    pub suggestion: Suggestion,
    /// Suggested LR of each repeat, `None` where that curve was too short.
    pub values: Vec<Option<f64>>,
    /// Mean of log10 of the suggested LRs.
    pub mean_log10: Option<f64>,
    /// Sample standard deviation (n−1) of log10 of the suggested LRs; 0 for a single value.
    pub std_log10: Option<f64>,
    /// Geometric mean, `10^mean_log10`.
    pub geometric_mean: Option<f64>,
    /// Smallest suggestion.
    pub min: Option<f64>,
    /// Largest suggestion.
    pub max: Option<f64>,
}

impl SuggestionSpread {
    /// Spread of `suggestion` over `curves`.
    pub fn of(suggestion: Suggestion, curves: &[RangeTestCurve]) -> Self {
        let values: Vec<Option<f64>> = curves.iter().map(|c| suggest(c, suggestion)).collect();
        let logs: Vec<f64> = values.iter().flatten().map(|v| v.log10()).collect();
        let n = logs.len();
        let mean_log10 = (n > 0).then(|| logs.iter().sum::<f64>() / n as f64);
        let std_log10 = mean_log10.map(|mean| {
            if n < 2 {
                0.0
            } else {
                (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
            }
        });
        let present = || values.iter().flatten().copied();
        Self {
            suggestion,
            mean_log10,
            std_log10,
            geometric_mean: mean_log10.map(|m| 10f64.powf(m)),
            min: present().reduce(f64::min),
            max: present().reduce(f64::max),
            values,
        }
    }
}

/// Range tests of the same setting over several seeds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RepeatedRangeTest {
    /// The settings (its `seed` is the first repeat's).
    pub config: RangeTestConfig,
    /// One curve per repeat, seeds `config.seed`, `config.seed + 1`, ….
    pub curves: Vec<RangeTestCurve>,
    /// One entry per rule, in [`Suggestion::ALL`] order.
    pub suggestions: Vec<SuggestionSpread>,
}

impl RepeatedRangeTest {
    /// Spread of one rule.
    pub fn spread(&self, which: Suggestion) -> &SuggestionSpread {
        self.suggestions
            .iter()
            .find(|s| s.suggestion == which)
            .expect("every rule is summarised")
    }
}

/// Run `repeats` range tests with seeds `cfg.seed .. cfg.seed + repeats`, each with a fresh model
/// and its own batch order, and summarise every suggestion rule over them.
pub fn run_repeated(
    device: ComputeDevice,
    arch: &Arch,
    data: &Dataset,
    cfg: &RangeTestConfig,
    repeats: usize,
) -> Result<RepeatedRangeTest> {
    if repeats == 0 {
        return Err(Error::BadArgument {
            flag: "--repeats".into(),
            value: "0".into(),
            message: "must be >= 1".into(),
        });
    }
    let curves = (0..repeats as u64)
        .map(|k| {
            let cfg = RangeTestConfig {
                seed: cfg.seed.wrapping_add(k),
                ..cfg.clone()
            };
            run_range_test(device, arch, data, &cfg)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RepeatedRangeTest {
        config: cfg.clone(),
        suggestions: Suggestion::ALL
            .iter()
            .map(|&s| SuggestionSpread::of(s, &curves))
            .collect(),
        curves,
    })
}

/// Every recorded point as CSV: `repeat,seed,step,lr,loss,smoothed_loss`, one row per point.
pub fn to_csv(r: &RepeatedRangeTest) -> String {
    let mut out = String::from("repeat,seed,step,lr,loss,smoothed_loss\n");
    for (repeat, curve) in r.curves.iter().enumerate() {
        for (step, ((lr, loss), smoothed)) in curve
            .lrs
            .iter()
            .zip(&curve.losses)
            .zip(&curve.smoothed)
            .enumerate()
        {
            // `{}` prints the shortest text that parses back to the same f64.
            out.push_str(&format!(
                "{repeat},{},{step},{lr},{loss},{smoothed}\n",
                curve.seed
            ));
        }
    }
    out
}
