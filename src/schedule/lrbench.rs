//! LRBench's LR functions (Wu et al., "Demystifying Learning Rate Policies for High Accuracy Training
//! of Deep Neural Networks", IEEE BigData 2019; github.com/git-disl/LRBench `lr/LRfunctions.py`),
//! with LRBench's parameter names k0, k1, gamma, p, l and step t (0 = first optimizer step).
//!
//! Where the paper and the code disagree we follow the **code**, because that is what LRBench's
//! published results were produced with, and because it gives k0 / k1 one meaning across all
//! two-level functions (k0 = lower / final LR, k1 = upper / peak LR):
//!
//! * **POLY** (`lrb_poly`): code `k0 + (k1 - k0)(1 - t/l)^p` — starts at **k1** and decays to **k0** at
//!   t = l. The paper writes `k0 (1 - t/l)^p` (start at k0, decay to 0); that is our form with
//!   k1 := the paper's k0 and k0 := 0, which is why `k0` defaults to 0 here (Caffe's `poly`). Past
//!   t = l the code would raise a negative number to a fractional power (NaN); we hold k0.
//! * **COS** (`cos`): code `k0 + (k1 - k0)(1 + cos(pi t / l))/2` — period **2l**, so `l` is the
//!   half-period (k1 at t = 0, k0 at t = l, k1 again at t = 2l), the same meaning `l` has in TRI
//!   and SIN. `l` defaults to the run length, giving one cosine decay over the run.
//!
//! STEP, EXP and POLY share their lowercase names with PyTorch's StepLR, ExponentialLR and
//! PolynomialLR, so they are spelled `lrb_step`, `lrb_exp`, `lrb_poly`; every LRBench function also
//! answers to `lrb_<name>`. NSTEP counts the milestones `l_i <= t` (the code's `iter >= l[n]`).

use std::f64::consts::PI;
use std::sync::Arc;

use super::error::PolicyError;
use super::policy::Schedule;
use super::resolve::Args;

#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Fix,
    Step {
        gamma: f64,
        l: u64,
    },
    NStep {
        gamma: f64,
        l: Vec<u64>,
    },
    Exp {
        gamma: f64,
    },
    Inv {
        gamma: f64,
        p: f64,
    },
    Poly {
        p: f64,
        l: u64,
    },
    Cos {
        l: u64,
    },
    /// TRI / TRI2 / TRIEXP: triangle wave of half-period l.
    Tri {
        l: u64,
        amp: Amplitude,
    },
    /// SIN / SIN2 / SINEXP: |sin| wave of half-period l.
    Sin {
        l: u64,
        amp: Amplitude,
    },
}

/// How the wave's amplitude shrinks over time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Amplitude {
    Constant,
    /// Halved every full period 2l (the `2` variants).
    Halving,
    /// Times gamma^t (the `EXP` variants).
    Exp(f64),
}

/// One LRBench function with its parameters.
#[derive(Debug, Clone, PartialEq)]
struct LrBench {
    k0: f64,
    k1: f64,
    shape: Shape,
}

pub(crate) fn build(args: &Args) -> Result<Arc<dyn Schedule>, PolicyError> {
    let name = args.info.name;
    let has = |k: &str| args.info.param(k).is_some();
    let k0 = args.f("k0");
    let k1 = if has("k1") { args.f("k1") } else { k0 };
    if k1 < k0 {
        return Err(args.conflict("k1", format!("the upper LR must be >= k0 = {k0}")));
    }
    let gamma = || args.f("gamma");
    let l = || args.steps("l");
    let shape = match name {
        "fix" => Shape::Fix,
        "lrb_step" => Shape::Step {
            gamma: gamma(),
            l: l(),
        },
        "nstep" => {
            let l = args.list("l").to_vec();
            if let Some(w) = l.windows(2).find(|w| w[1] <= w[0]) {
                return Err(args.conflict(
                    "l",
                    format!(
                        "milestones must be strictly increasing ({} is followed by {})",
                        w[0], w[1]
                    ),
                ));
            }
            Shape::NStep { gamma: gamma(), l }
        }
        "lrb_exp" => Shape::Exp { gamma: gamma() },
        "inv" => Shape::Inv {
            gamma: gamma(),
            p: args.f("p"),
        },
        "lrb_poly" => Shape::Poly {
            p: args.f("p"),
            l: l(),
        },
        "cos" => Shape::Cos { l: l() },
        "tri" | "tri2" | "triexp" | "sin" | "sin2" | "sinexp" => {
            let amp = match name.trim_start_matches("tri").trim_start_matches("sin") {
                "" => Amplitude::Constant,
                "2" => Amplitude::Halving,
                _ => Amplitude::Exp(gamma()),
            };
            if name.starts_with("tri") {
                Shape::Tri { l: l(), amp }
            } else {
                Shape::Sin { l: l(), amp }
            }
        }
        other => unreachable!("policy `{other}` is not in the LRBench set"),
    };
    Ok(Arc::new(LrBench { k0, k1, shape }))
}

impl Amplitude {
    /// Scale the wave's height at step t (period = 2l).
    fn apply(self, height: f64, t: f64, period: f64) -> f64 {
        match self {
            Amplitude::Constant => height,
            Amplitude::Halving => height / 2.0f64.powf((t / period).floor()),
            Amplitude::Exp(gamma) => height * gamma.powf(t),
        }
    }
}

impl Schedule for LrBench {
    fn lr(&self, step: u64) -> f64 {
        let (k0, k1) = (self.k0, self.k1);
        let t = step as f64;
        match &self.shape {
            Shape::Fix => k0,
            Shape::Step { gamma, l } => k0 * gamma.powf((step / l) as f64),
            Shape::NStep { gamma, l } => {
                let n = l.partition_point(|&m| m <= step);
                k0 * gamma.powf(n as f64)
            }
            Shape::Exp { gamma } => k0 * gamma.powf(t),
            Shape::Inv { gamma, p } => k0 * (1.0 + gamma * t).powf(-p),
            Shape::Poly { p, l } => {
                if step >= *l {
                    k0
                } else {
                    (k1 - k0) * (1.0 - t / *l as f64).powf(*p) + k0
                }
            }
            Shape::Cos { l } => (k1 - k0) * 0.5 * (1.0 + (PI * t / *l as f64).cos()) + k0,
            // Same operation order as LRBench: ((k1 - k0) * wave) scaled, then + k0.
            Shape::Tri { l, amp } => {
                let period = 2.0 * *l as f64;
                let height = (k1 - k0) * (2.0 / PI) * (PI * t / period).sin().asin().abs();
                amp.apply(height, t, period) + k0
            }
            Shape::Sin { l, amp } => {
                let period = 2.0 * *l as f64;
                let height = (k1 - k0) * (PI * t / period).sin().abs();
                amp.apply(height, t, period) + k0
            }
        }
    }
}
