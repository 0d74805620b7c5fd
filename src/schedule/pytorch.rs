//! The PyTorch set (`torch.optim.lr_scheduler`): constant, StepLR, MultiStepLR, ExponentialLR,
//! PolynomialLR, CosineAnnealingLR, CosineAnnealingWarmRestarts, LinearLR, CyclicLR, OneCycleLR.
//!
//! Each reproduces the sequence PyTorch produces when `scheduler.step()` is called once after every
//! optimizer step, to 1e-12 relative (in practice bit for bit): the float operations below follow
//! PyTorch's source expression by expression, in the same order. Schedulers whose `get_lr` is
//! *chainable* (computes lr(t) from lr(t-1)) are replayed exactly, see [`super::replay`].

use std::f64::consts::PI;
use std::sync::Arc;

use super::ScheduleContext;
use super::error::PolicyError;
use super::policy::Schedule;
use super::replay::{Recurrence, Replayed};
use super::resolve::Args;

/// Build the PyTorch-set policy named by `args.info`.
pub(crate) fn build(args: &Args, ctx: &ScheduleContext) -> Result<Arc<dyn Schedule>, PolicyError> {
    let horizon = ctx.total_steps;
    let lr = || args.f("lr");
    Ok(match args.info.name {
        "constant" => Arc::new(Constant(lr())),
        "step" => Arc::new(Replayed::new(
            StepRec {
                lr: lr(),
                step_size: args.steps("step_size"),
                gamma: args.f("gamma"),
            },
            horizon,
        )),
        "multistep" => {
            let milestones = args.list("milestones").to_vec();
            if let Some(w) = milestones.windows(2).find(|w| w[1] <= w[0]) {
                return Err(args.conflict(
                    "milestones",
                    format!(
                        "milestones must be strictly increasing ({} is followed by {})",
                        w[0], w[1]
                    ),
                ));
            }
            Arc::new(Replayed::new(
                MultiStepRec {
                    lr: lr(),
                    milestones,
                    gamma: args.f("gamma"),
                },
                horizon,
            ))
        }
        "exp" => Arc::new(Replayed::new(
            ExpRec {
                lr: lr(),
                gamma: args.f("gamma"),
            },
            horizon,
        )),
        "poly" => Arc::new(Replayed::new(
            PolyRec {
                lr: lr(),
                total_iters: args.steps("total_iters"),
                power: args.f("power"),
            },
            horizon,
        )),
        "cosine" => {
            check_eta_min(args)?;
            Arc::new(Replayed::new(
                CosineRec {
                    lr: lr(),
                    t_max: args.steps("t_max"),
                    eta_min: args.f("eta_min"),
                },
                horizon,
            ))
        }
        "linear" => Arc::new(Replayed::new(
            LinearRec {
                lr: lr(),
                start_factor: args.f("start_factor"),
                end_factor: args.f("end_factor"),
                total_iters: args.steps("total_iters"),
            },
            horizon,
        )),
        "cosine_restarts" => {
            check_eta_min(args)?;
            Arc::new(CosineRestarts {
                lr: lr(),
                t_0: args.steps("t_0"),
                t_mult: args.steps("t_mult"),
                eta_min: args.f("eta_min"),
                decay: args.f("decay"),
            })
        }
        mode @ ("triangular" | "triangular2" | "exp_range") => {
            Arc::new(Cyclic::from_args(args, mode)?)
        }
        "onecycle" => Arc::new(OneCycle::from_args(args, ctx)?),
        other => unreachable!("policy `{other}` is not in the PyTorch set"),
    })
}

fn check_eta_min(args: &Args) -> Result<(), PolicyError> {
    if args.f("eta_min") > args.f("lr") {
        return Err(args.conflict(
            "eta_min",
            format!(
                "the floor must not exceed the peak: need eta_min <= lr = {}",
                args.f("lr")
            ),
        ));
    }
    Ok(())
}

fn check_momentum_order(args: &Args) -> Result<(), PolicyError> {
    if args.flag("cycle_momentum") && args.f("max_momentum") < args.f("base_momentum") {
        return Err(args.conflict(
            "max_momentum",
            format!(
                "need max_momentum >= base_momentum = {}",
                args.f("base_momentum")
            ),
        ));
    }
    Ok(())
}

/// lr(t) = lr.
#[derive(Debug)]
struct Constant(f64);

impl Schedule for Constant {
    fn lr(&self, _t: u64) -> f64 {
        self.0
    }
}

// ---- chainable recursions -----------------------------------------------------------------------

/// StepLR.get_lr: unchanged unless t % step_size == 0, then times gamma.
#[derive(Debug)]
struct StepRec {
    lr: f64,
    step_size: u64,
    gamma: f64,
}

impl Recurrence for StepRec {
    fn first(&self) -> f64 {
        self.lr
    }
    fn next(&self, t: u64, prev: f64) -> f64 {
        if !t.is_multiple_of(self.step_size) {
            prev
        } else {
            prev * self.gamma
        }
    }
}

/// MultiStepLR.get_lr: times gamma at each milestone. PyTorch applies a milestone at 0 already in
/// the constructor's initial step, so `first` does too.
#[derive(Debug)]
struct MultiStepRec {
    lr: f64,
    milestones: Vec<u64>,
    gamma: f64,
}

impl Recurrence for MultiStepRec {
    fn first(&self) -> f64 {
        self.next(0, self.lr)
    }
    fn next(&self, t: u64, prev: f64) -> f64 {
        if self.milestones.binary_search(&t).is_ok() {
            prev * self.gamma
        } else {
            prev
        }
    }
    fn settles_at(&self) -> Option<u64> {
        self.milestones.last().copied()
    }
}

/// ExponentialLR.get_lr: times gamma every step.
#[derive(Debug)]
struct ExpRec {
    lr: f64,
    gamma: f64,
}

impl Recurrence for ExpRec {
    fn first(&self) -> f64 {
        self.lr
    }
    fn next(&self, _t: u64, prev: f64) -> f64 {
        prev * self.gamma
    }
}

/// PolynomialLR.get_lr: times ((1 - t/T) / (1 - (t-1)/T))^power up to T, then unchanged (0).
#[derive(Debug)]
struct PolyRec {
    lr: f64,
    total_iters: u64,
    power: f64,
}

impl Recurrence for PolyRec {
    fn first(&self) -> f64 {
        self.lr
    }
    fn next(&self, t: u64, prev: f64) -> f64 {
        if t > self.total_iters {
            return prev;
        }
        let total = self.total_iters as f64;
        let decay_factor =
            ((1.0 - t as f64 / total) / (1.0 - (t - 1) as f64 / total)).powf(self.power);
        prev * decay_factor
    }
    fn settles_at(&self) -> Option<u64> {
        Some(self.total_iters)
    }
}

/// CosineAnnealingLR.get_lr: the ratio recursion, with PyTorch's additive special case one step
/// after each minimum (where the ratio would divide by zero). Periodic past t_max, as in PyTorch.
#[derive(Debug)]
struct CosineRec {
    lr: f64,
    t_max: u64,
    eta_min: f64,
}

impl Recurrence for CosineRec {
    fn first(&self) -> f64 {
        self.lr
    }
    fn next(&self, t: u64, prev: f64) -> f64 {
        let t_max = self.t_max as f64;
        let period = 2 * self.t_max as i128;
        if (t as i128 - 1 - self.t_max as i128).rem_euclid(period) == 0 {
            prev + (self.lr - self.eta_min) * (1.0 - (PI / t_max).cos()) / 2.0
        } else {
            (1.0 + (PI * t as f64 / t_max).cos()) / (1.0 + (PI * (t - 1) as f64 / t_max).cos())
                * (prev - self.eta_min)
                + self.eta_min
        }
    }
}

/// LinearLR.get_lr: lr * start_factor at 0, then the ratio of consecutive factors up to
/// total_iters, then unchanged.
#[derive(Debug)]
struct LinearRec {
    lr: f64,
    start_factor: f64,
    end_factor: f64,
    total_iters: u64,
}

impl Recurrence for LinearRec {
    fn first(&self) -> f64 {
        self.lr * self.start_factor
    }
    fn next(&self, t: u64, prev: f64) -> f64 {
        if t > self.total_iters {
            return prev;
        }
        let (s, e) = (self.start_factor, self.end_factor);
        prev * (1.0 + (e - s) / (self.total_iters as f64 * s + (t - 1) as f64 * (e - s)))
    }
    fn settles_at(&self) -> Option<u64> {
        Some(self.total_iters)
    }
}

// ---- closed forms -------------------------------------------------------------------------------

/// CosineAnnealingWarmRestarts (closed form in PyTorch too: T_cur and T_i are integers).
///
/// `decay` (an lrcast extension, 1 = PyTorch) multiplies the peak by `decay^i` in restart `i`.
#[derive(Debug)]
struct CosineRestarts {
    lr: f64,
    t_0: u64,
    t_mult: u64,
    eta_min: f64,
    decay: f64,
}

impl CosineRestarts {
    /// (restart index, T_cur, T_i) at step t, as PyTorch's step() tracks them.
    fn cycle(&self, t: u64) -> (u64, u64, u64) {
        if self.t_mult == 1 {
            return (t / self.t_0, t % self.t_0, self.t_0);
        }
        let (mut i, mut t_cur, mut t_i) = (0, t, self.t_0);
        while t_cur >= t_i {
            t_cur -= t_i;
            t_i = t_i.saturating_mul(self.t_mult);
            i += 1;
        }
        (i, t_cur, t_i)
    }
}

impl Schedule for CosineRestarts {
    fn lr(&self, t: u64) -> f64 {
        let (restart, t_cur, t_i) = self.cycle(t);
        let peak = if self.decay == 1.0 {
            self.lr
        } else {
            (self.lr * self.decay.powf(restart as f64)).max(self.eta_min)
        };
        self.eta_min + (peak - self.eta_min) * (1.0 + (PI * t_cur as f64 / t_i as f64).cos()) / 2.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CyclicMode {
    Triangular,
    Triangular2,
    ExpRange,
}

/// CyclicLR (closed form in PyTorch): position within the cycle from `t / (up + down)`.
#[derive(Debug)]
struct Cyclic {
    base_lr: f64,
    max_lr: f64,
    total_size: f64,
    step_ratio: f64,
    mode: CyclicMode,
    gamma: f64,
    /// (base_momentum, max_momentum) when cycle_momentum.
    momentum: Option<(f64, f64)>,
}

impl Cyclic {
    fn from_args(args: &Args, mode: &str) -> Result<Self, PolicyError> {
        let (base_lr, max_lr) = (args.f("base_lr"), args.f("max_lr"));
        if max_lr < base_lr {
            return Err(args.conflict(
                "max_lr",
                format!("the cycle's upper LR must be >= base_lr = {base_lr}"),
            ));
        }
        check_momentum_order(args)?;
        let up = args.steps("step_size_up") as f64;
        let down = args.steps("step_size_down") as f64;
        let total_size = up + down;
        let (mode, gamma) = match mode {
            "triangular" => (CyclicMode::Triangular, 1.0),
            "triangular2" => (CyclicMode::Triangular2, 1.0),
            _ => (CyclicMode::ExpRange, args.f("gamma")),
        };
        Ok(Cyclic {
            base_lr,
            max_lr,
            total_size,
            step_ratio: up / total_size,
            mode,
            gamma,
            momentum: args
                .flag("cycle_momentum")
                .then(|| (args.f("base_momentum"), args.f("max_momentum"))),
        })
    }

    /// (scale_factor, scale_fn value) at step t.
    fn position(&self, t: u64) -> (f64, f64) {
        let t = t as f64;
        let cycle = (1.0 + t / self.total_size).floor();
        let x = 1.0 + t / self.total_size - cycle;
        let scale_factor = if x <= self.step_ratio {
            x / self.step_ratio
        } else {
            (x - 1.0) / (self.step_ratio - 1.0)
        };
        let scale = match self.mode {
            CyclicMode::Triangular => 1.0,
            CyclicMode::Triangular2 => 1.0 / 2.0f64.powf(cycle - 1.0),
            CyclicMode::ExpRange => self.gamma.powf(t),
        };
        (scale_factor, scale)
    }
}

impl Schedule for Cyclic {
    fn lr(&self, t: u64) -> f64 {
        let (scale_factor, scale) = self.position(t);
        let base_height = (self.max_lr - self.base_lr) * scale_factor;
        self.base_lr + base_height * scale
    }

    fn momentum(&self, t: u64) -> Option<f64> {
        let (base_m, max_m) = self.momentum?;
        let (scale_factor, scale) = self.position(t);
        let base_height = (max_m - base_m) * scale_factor;
        Some(max_m - base_height * scale)
    }
}

#[derive(Debug, Clone, Copy)]
struct OneCyclePhase {
    end_step: f64,
    start_lr: f64,
    end_lr: f64,
    start_momentum: f64,
    end_momentum: f64,
}

/// OneCycleLR (closed form in PyTorch): anneal within the phase containing t.
#[derive(Debug)]
struct OneCycle {
    phases: Vec<OneCyclePhase>,
    linear: bool,
    total_steps: u64,
    cycle_momentum: bool,
}

impl OneCycle {
    fn from_args(args: &Args, ctx: &ScheduleContext) -> Result<Self, PolicyError> {
        let total_steps = args.steps("total_steps");
        if total_steps < ctx.total_steps {
            return Err(args.conflict(
                "total_steps",
                format!(
                    "the cycle must cover the run ({} steps): PyTorch's OneCycleLR raises when stepped past total_steps; omit total_steps to use the run length",
                    ctx.total_steps
                ),
            ));
        }
        check_momentum_order(args)?;
        let max_lr = args.f("max_lr");
        let initial_lr = max_lr / args.f("div_factor");
        let min_lr = initial_lr / args.f("final_div_factor");
        let (base_m, max_m) = (args.f("base_momentum"), args.f("max_momentum"));
        let pct = args.f("pct_start");
        let total = total_steps as f64;
        let phase = |end_step, start_lr, end_lr, start_momentum, end_momentum| OneCyclePhase {
            end_step,
            start_lr,
            end_lr,
            start_momentum,
            end_momentum,
        };
        let phases = if args.flag("three_phase") {
            vec![
                phase(pct * total - 1.0, initial_lr, max_lr, max_m, base_m),
                phase(2.0 * pct * total - 2.0, max_lr, initial_lr, base_m, max_m),
                phase(total - 1.0, initial_lr, min_lr, max_m, max_m),
            ]
        } else {
            vec![
                phase(pct * total - 1.0, initial_lr, max_lr, max_m, base_m),
                phase(total - 1.0, max_lr, min_lr, base_m, max_m),
            ]
        };
        // Every phase must span a positive number of steps, or PyTorch divides by zero (0/0 at
        // pct_start * total_steps == 1) or anneals backwards.
        let mut start = 0.0;
        for p in &phases {
            if p.end_step <= start {
                return Err(args.conflict(
                    "pct_start",
                    format!(
                        "with total_steps={total_steps}{} a phase would be empty; need pct_start * total_steps > 1{}",
                        if phases.len() == 3 { " and three_phase" } else { "" },
                        if phases.len() == 3 {
                            " and pct_start < 0.5 (the up and down phases take 2 * pct_start of the cycle)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            start = p.end_step;
        }
        Ok(OneCycle {
            phases,
            linear: args.word("anneal_strategy") == "linear",
            total_steps,
            cycle_momentum: args.flag("cycle_momentum"),
        })
    }

    fn anneal(&self, start: f64, end: f64, pct: f64) -> f64 {
        if self.linear {
            (end - start) * pct + start
        } else {
            let cos_out = (PI * pct).cos() + 1.0;
            end + (start - end) / 2.0 * cos_out
        }
    }

    /// (lr, momentum) at step t. Past the cycle (where PyTorch raises) the final value holds.
    fn at(&self, t: u64) -> (f64, f64) {
        let step_num = t.min(self.total_steps - 1) as f64;
        let mut start_step = 0.0;
        for (i, p) in self.phases.iter().enumerate() {
            if step_num <= p.end_step || i == self.phases.len() - 1 {
                let pct = (step_num - start_step) / (p.end_step - start_step);
                return (
                    self.anneal(p.start_lr, p.end_lr, pct),
                    self.anneal(p.start_momentum, p.end_momentum, pct),
                );
            }
            start_step = p.end_step;
        }
        unreachable!("the last phase always matches")
    }
}

impl Schedule for OneCycle {
    fn lr(&self, t: u64) -> f64 {
        self.at(t).0
    }

    fn momentum(&self, t: u64) -> Option<f64> {
        self.cycle_momentum.then(|| self.at(t).1)
    }
}
