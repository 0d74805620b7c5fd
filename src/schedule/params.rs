//! The policy table: every policy's name, aliases, summary and parameters (type, default, range, purpose).
//!
//! This one table drives the parser (known names and keys, value types), the builder (defaults and
//! ranges) and `lrcast schedule --list`, so the documentation printed for users cannot disagree with
//! what the code accepts. Cross-parameter rules (e.g. `max_lr >= base_lr`) live next to each policy's
//! constructor and are listed in [`PolicyInfo::constraints`].

use std::fmt;

/// The type of a parameter's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamKind {
    /// A real number.
    Float,
    /// A plain integer count that is *not* a step count (e.g. `t_mult`, plateau `patience` in epochs).
    Int,
    /// A number of optimizer steps; also accepts epochs as `Nep` (N × steps_per_epoch, rounded).
    Steps,
    /// A `;`-separated list of step counts (each may be `Nep`).
    StepsList,
    /// One word out of a fixed set.
    Enum(&'static [&'static str]),
    /// `true` or `false`.
    Bool,
}

impl ParamKind {
    /// Short type name used in `--list` and in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            ParamKind::Float => "float",
            ParamKind::Int => "int",
            ParamKind::Steps => "steps",
            ParamKind::StepsList => "list",
            ParamKind::Enum(_) => "enum",
            ParamKind::Bool => "bool",
        }
    }

    /// What a value of this kind looks like, for "expects ..." messages.
    pub fn expectation(&self) -> String {
        match self {
            ParamKind::Float => "a number".into(),
            ParamKind::Int => "a whole number".into(),
            ParamKind::Steps => "a whole number of steps, or epochs as `Nep` (e.g. `2ep`)".into(),
            ParamKind::StepsList => {
                "a `;`-separated list of step counts (each may be `Nep`), e.g. `30;80`".into()
            }
            ParamKind::Enum(choices) => format!("one of {}", choices.join("|")),
            ParamKind::Bool => "`true` or `false`".into(),
        }
    }
}

/// What a parameter takes when the spec does not give it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamDefault {
    /// Must be given (or injected with [`super::PolicySpec::with_param`]).
    Required,
    /// A fixed number.
    Float(f64),
    /// A fixed flag.
    Bool(bool),
    /// A fixed enum word.
    Word(&'static str),
    /// The run length, [`super::ScheduleContext::total_steps`].
    RunLength,
    /// The resolved value of another key of the same policy.
    SameAs(&'static str),
}

impl fmt::Display for ParamDefault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamDefault::Required => f.write_str("required"),
            ParamDefault::Float(v) => f.write_str(&super::spec::fmt_num(*v)),
            ParamDefault::Bool(b) => write!(f, "{b}"),
            ParamDefault::Word(w) => f.write_str(w),
            ParamDefault::RunLength => f.write_str("run length"),
            ParamDefault::SameAs(k) => write!(f, "= {k}"),
        }
    }
}

/// One end of a [`Range`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    Unbounded,
    Inclusive(f64),
    Exclusive(f64),
}

/// The interval a numeric parameter must lie in (for lists: every element).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub lo: Bound,
    pub hi: Bound,
}

impl Range {
    pub fn contains(&self, v: f64) -> bool {
        let lo_ok = match self.lo {
            Bound::Unbounded => true,
            Bound::Inclusive(b) => v >= b,
            Bound::Exclusive(b) => v > b,
        };
        let hi_ok = match self.hi {
            Bound::Unbounded => true,
            Bound::Inclusive(b) => v <= b,
            Bound::Exclusive(b) => v < b,
        };
        lo_ok && hi_ok
    }
}

impl fmt::Display for Range {
    /// Interval notation, e.g. `(0, inf)`, `[1, inf)`, `(0, 1]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let num = super::spec::fmt_num;
        match self.lo {
            Bound::Unbounded => f.write_str("(-inf")?,
            Bound::Inclusive(b) => write!(f, "[{}", num(b))?,
            Bound::Exclusive(b) => write!(f, "({}", num(b))?,
        }
        match self.hi {
            Bound::Unbounded => f.write_str(", inf)"),
            Bound::Inclusive(b) => write!(f, ", {}]", num(b)),
            Bound::Exclusive(b) => write!(f, ", {})", num(b)),
        }
    }
}

/// One parameter of a policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamInfo {
    pub name: &'static str,
    pub kind: ParamKind,
    pub default: ParamDefault,
    /// Numeric range (ignored for enum and bool).
    pub range: Range,
    pub purpose: &'static str,
}

/// Where a policy comes from, which fixes its naming and parity contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `torch.optim.lr_scheduler`; sequences match PyTorch to 1e-12 relative.
    PyTorch,
    /// LRBench's LR functions (k0, k1, gamma, p, l).
    LrBench,
    /// Driven by a validation metric, not by the step (ReduceLROnPlateau).
    MetricDriven,
}

/// One policy of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolicyInfo {
    /// Canonical lowercase name used in specs, corpus columns and `Display`.
    pub name: &'static str,
    /// Other accepted spellings (names are matched case-insensitively).
    pub aliases: &'static [&'static str],
    pub family: Family,
    /// One line: what it does and the formula.
    pub summary: &'static str,
    pub params: &'static [ParamInfo],
    /// The key the recipe's `base_lr` sweep sets: the key holding the policy's peak LR.
    pub primary_lr_key: Option<&'static str>,
    /// Cross-parameter and run-length rules checked at build time, in words.
    pub constraints: &'static [&'static str],
}

impl PolicyInfo {
    pub fn param(&self, key: &str) -> Option<&'static ParamInfo> {
        self.params.iter().find(|p| p.name == key)
    }

    /// Comma-separated key names, for error messages.
    pub fn key_list(&self) -> String {
        self.params
            .iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for PolicyInfo {
    /// The `lrcast schedule --list` entry: name, aliases, summary, then a
    /// `| key | type | default | range | purpose |` table and the cross-parameter rules.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if !self.aliases.is_empty() {
            write!(f, " (aliases: {})", self.aliases.join(", "))?;
        }
        writeln!(f, " — {}", self.summary)?;
        let rows: Vec<[String; 5]> = self
            .params
            .iter()
            .map(|p| {
                let range = match p.kind {
                    ParamKind::Enum(choices) => choices.join("|"),
                    ParamKind::Bool => "true|false".into(),
                    _ => p.range.to_string(),
                };
                [
                    p.name.to_string(),
                    p.kind.type_name().to_string(),
                    p.default.to_string(),
                    range,
                    p.purpose.to_string(),
                ]
            })
            .collect();
        let header = ["key", "type", "default", "range", "purpose"];
        let widths: Vec<usize> = (0..5)
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].chars().count())
                    .chain([header[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 5]| -> fmt::Result {
            f.write_str("  |")?;
            for (cell, w) in cells.iter().zip(&widths) {
                write!(f, " {cell:<w$} |")?;
            }
            writeln!(f)
        };
        line(f, header)?;
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(f, std::array::from_fn(|i| rule[i].as_str()))?;
        for r in &rows {
            line(f, std::array::from_fn(|i| r[i].as_str()))?;
        }
        if !self.constraints.is_empty() {
            writeln!(f, "  rules: {}", self.constraints.join("; "))?;
        }
        Ok(())
    }
}

/// Every policy, in the order `--list` prints them.
pub fn policy_table() -> &'static [PolicyInfo] {
    POLICIES
}

/// Look a policy up by canonical name or alias, case-insensitively.
pub fn find_policy(name: &str) -> Option<&'static PolicyInfo> {
    let lower = name.to_ascii_lowercase();
    POLICIES
        .iter()
        .find(|p| p.name == lower || p.aliases.contains(&lower.as_str()))
}

/// All canonical names, comma-separated (for "valid policies: ..." messages).
pub fn policy_names() -> String {
    POLICIES
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

// ---- ranges -------------------------------------------------------------------------------------

const POSITIVE: Range = Range {
    lo: Bound::Exclusive(0.0),
    hi: Bound::Unbounded,
};
const NON_NEGATIVE: Range = Range {
    lo: Bound::Inclusive(0.0),
    hi: Bound::Unbounded,
};
const AT_LEAST_ONE: Range = Range {
    lo: Bound::Inclusive(1.0),
    hi: Bound::Unbounded,
};
const OPEN_UNIT: Range = Range {
    lo: Bound::Exclusive(0.0),
    hi: Bound::Exclusive(1.0),
};
const UNIT_NO_ZERO: Range = Range {
    lo: Bound::Exclusive(0.0),
    hi: Bound::Inclusive(1.0),
};
const UNIT: Range = Range {
    lo: Bound::Inclusive(0.0),
    hi: Bound::Inclusive(1.0),
};
const MOMENTUM: Range = Range {
    lo: Bound::Inclusive(0.0),
    hi: Bound::Exclusive(1.0),
};
const ANY: Range = Range {
    lo: Bound::Unbounded,
    hi: Bound::Unbounded,
};

const fn param(
    name: &'static str,
    kind: ParamKind,
    default: ParamDefault,
    range: Range,
    purpose: &'static str,
) -> ParamInfo {
    ParamInfo {
        name,
        kind,
        default,
        range,
        purpose,
    }
}

use ParamDefault::{Bool as DBool, Float as DFloat, Required, RunLength, SameAs, Word};
use ParamKind::{Bool, Enum, Float, Int, Steps, StepsList};

// ---- shared parameters --------------------------------------------------------------------------

const LR: ParamInfo = param(
    "lr",
    Float,
    Required,
    POSITIVE,
    "initial learning rate: the optimizer's lr",
);
const GAMMA_01: ParamInfo = param(
    "gamma",
    Float,
    DFloat(0.1),
    POSITIVE,
    "multiplicative factor applied at each decay",
);
const ETA_MIN: ParamInfo = param(
    "eta_min",
    Float,
    DFloat(0.0),
    NON_NEGATIVE,
    "floor LR reached at the end of each cosine half-period (<= lr)",
);
const CYCLIC_COMMON: [ParamInfo; 7] = [
    param(
        "base_lr",
        Float,
        Required,
        POSITIVE,
        "lower LR of the cycle (LR at step 0)",
    ),
    param(
        "max_lr",
        Float,
        Required,
        POSITIVE,
        "upper LR of the cycle (>= base_lr)",
    ),
    param(
        "step_size_up",
        Steps,
        DFloat(2000.0),
        AT_LEAST_ONE,
        "steps from base_lr up to max_lr",
    ),
    param(
        "step_size_down",
        Steps,
        SameAs("step_size_up"),
        AT_LEAST_ONE,
        "steps from max_lr back down to base_lr",
    ),
    param(
        "cycle_momentum",
        Bool,
        DBool(true),
        ANY,
        "cycle momentum inversely to the LR (between max_momentum and base_momentum)",
    ),
    param(
        "base_momentum",
        Float,
        DFloat(0.8),
        MOMENTUM,
        "momentum at the LR peak",
    ),
    param(
        "max_momentum",
        Float,
        DFloat(0.9),
        MOMENTUM,
        "momentum at base_lr (>= base_momentum)",
    ),
];
const CYCLIC_EXP: [ParamInfo; 8] = [
    CYCLIC_COMMON[0],
    CYCLIC_COMMON[1],
    CYCLIC_COMMON[2],
    CYCLIC_COMMON[3],
    param(
        "gamma",
        Float,
        DFloat(1.0),
        UNIT_NO_ZERO,
        "amplitude multiplier per step: amplitude scales by gamma^t",
    ),
    CYCLIC_COMMON[4],
    CYCLIC_COMMON[5],
    CYCLIC_COMMON[6],
];
const CYCLIC_CONSTRAINTS: &[&str] = &["max_lr >= base_lr", "max_momentum >= base_momentum"];

// LRBench parameters: k0 is the lower / starting LR, k1 the upper LR, l a step length.
const K0_START: ParamInfo = param("k0", Float, Required, POSITIVE, "initial LR");
const K0_LOW: ParamInfo = param(
    "k0",
    Float,
    Required,
    POSITIVE,
    "lower LR of the cycle (LR at step 0)",
);
const K0_FLOOR: ParamInfo = param(
    "k0",
    Float,
    DFloat(0.0),
    NON_NEGATIVE,
    "final / floor LR (<= k1)",
);
const K1_HIGH: ParamInfo = param("k1", Float, Required, POSITIVE, "upper LR (>= k0)");
const K1_START: ParamInfo = param("k1", Float, Required, POSITIVE, "initial (peak) LR (>= k0)");
const LB_GAMMA: ParamInfo = param(
    "gamma",
    Float,
    Required,
    POSITIVE,
    "multiplicative decay factor",
);
const LB_GAMMA_AMP: ParamInfo = param(
    "gamma",
    Float,
    Required,
    UNIT_NO_ZERO,
    "amplitude decay per step: amplitude scales by gamma^t",
);
const L_HALF: ParamInfo = param(
    "l",
    Steps,
    Required,
    AT_LEAST_ONE,
    "half-period: steps from k0 up to k1",
);
const RANGE_CONSTRAINTS: &[&str] = &["k1 >= k0"];

const POLICIES: &[PolicyInfo] = &[
    // ---- PyTorch set ----------------------------------------------------------------------------
    PolicyInfo {
        name: "constant",
        aliases: &["const"],
        family: Family::PyTorch,
        summary: "fixed LR: lr(t) = lr",
        params: &[LR],
        primary_lr_key: Some("lr"),
        constraints: &[],
    },
    PolicyInfo {
        name: "step",
        aliases: &["steplr"],
        family: Family::PyTorch,
        summary: "StepLR: lr * gamma^floor(t / step_size)",
        params: &[
            LR,
            param(
                "step_size",
                Steps,
                Required,
                AT_LEAST_ONE,
                "decay period in steps",
            ),
            GAMMA_01,
        ],
        primary_lr_key: Some("lr"),
        constraints: &[],
    },
    PolicyInfo {
        name: "cosine",
        aliases: &["cosineannealinglr", "cosine_annealing"],
        family: Family::PyTorch,
        summary: "CosineAnnealingLR: eta_min + (lr - eta_min)(1 + cos(pi t / t_max))/2 (PyTorch's recursive form, periodic past t_max)",
        params: &[
            LR,
            param(
                "t_max",
                Steps,
                RunLength,
                AT_LEAST_ONE,
                "half-period: steps from lr down to eta_min",
            ),
            ETA_MIN,
        ],
        primary_lr_key: Some("lr"),
        constraints: &["eta_min <= lr"],
    },
    PolicyInfo {
        name: "multistep",
        aliases: &["multisteplr"],
        family: Family::PyTorch,
        summary: "MultiStepLR: lr * gamma^(number of milestones <= t)",
        params: &[
            LR,
            param(
                "milestones",
                StepsList,
                Required,
                NON_NEGATIVE,
                "steps at which the LR is multiplied by gamma (strictly increasing)",
            ),
            GAMMA_01,
        ],
        primary_lr_key: Some("lr"),
        constraints: &["milestones strictly increasing"],
    },
    PolicyInfo {
        name: "exp",
        aliases: &["exponential", "exponentiallr"],
        family: Family::PyTorch,
        summary: "ExponentialLR: lr * gamma^t",
        params: &[
            LR,
            param(
                "gamma",
                Float,
                Required,
                POSITIVE,
                "multiplicative factor per step",
            ),
        ],
        primary_lr_key: Some("lr"),
        constraints: &[],
    },
    PolicyInfo {
        name: "poly",
        aliases: &["polynomial", "polynomiallr"],
        family: Family::PyTorch,
        summary: "PolynomialLR: lr * (1 - min(t, total_iters)/total_iters)^power (0 after total_iters)",
        params: &[
            LR,
            param(
                "total_iters",
                Steps,
                RunLength,
                AT_LEAST_ONE,
                "steps until the LR reaches 0",
            ),
            param("power", Float, DFloat(1.0), POSITIVE, "polynomial exponent"),
        ],
        primary_lr_key: Some("lr"),
        constraints: &[],
    },
    PolicyInfo {
        name: "cosine_restarts",
        aliases: &["cosineannealingwarmrestarts", "sgdr"],
        family: Family::PyTorch,
        summary: "CosineAnnealingWarmRestarts (SGDR): cosine from the peak to eta_min over cycles of t_0, t_0*t_mult, ...; the peak is lr * decay^restart",
        params: &[
            LR,
            param(
                "t_0",
                Steps,
                Required,
                AT_LEAST_ONE,
                "length of the first cycle",
            ),
            param(
                "t_mult",
                Int,
                DFloat(1.0),
                AT_LEAST_ONE,
                "cycle length multiplier after each restart",
            ),
            ETA_MIN,
            param(
                "decay",
                Float,
                DFloat(1.0),
                UNIT_NO_ZERO,
                "peak multiplier per restart (lrcast extension; 1 = PyTorch)",
            ),
        ],
        primary_lr_key: Some("lr"),
        constraints: &["eta_min <= lr"],
    },
    PolicyInfo {
        name: "linear",
        aliases: &["linearlr"],
        family: Family::PyTorch,
        summary: "LinearLR: lr * factor, factor moving linearly from start_factor to end_factor over total_iters steps (PyTorch's recursive form)",
        params: &[
            LR,
            param(
                "start_factor",
                Float,
                DFloat(1.0 / 3.0),
                UNIT_NO_ZERO,
                "LR multiplier at step 0",
            ),
            param(
                "end_factor",
                Float,
                DFloat(1.0),
                UNIT,
                "LR multiplier from total_iters on",
            ),
            param(
                "total_iters",
                Steps,
                RunLength,
                AT_LEAST_ONE,
                "steps over which the factor changes (PyTorch's default is 5; ours is the run length)",
            ),
        ],
        primary_lr_key: Some("lr"),
        constraints: &[],
    },
    PolicyInfo {
        name: "triangular",
        aliases: &["cyclic", "cycliclr"],
        family: Family::PyTorch,
        summary: "CyclicLR mode=triangular: linear ramps between base_lr and max_lr",
        params: &CYCLIC_COMMON,
        primary_lr_key: Some("max_lr"),
        constraints: CYCLIC_CONSTRAINTS,
    },
    PolicyInfo {
        name: "triangular2",
        aliases: &[],
        family: Family::PyTorch,
        summary: "CyclicLR mode=triangular2: triangular with the amplitude halved every cycle",
        params: &CYCLIC_COMMON,
        primary_lr_key: Some("max_lr"),
        constraints: CYCLIC_CONSTRAINTS,
    },
    PolicyInfo {
        name: "exp_range",
        aliases: &[],
        family: Family::PyTorch,
        summary: "CyclicLR mode=exp_range: triangular with the amplitude scaled by gamma^t",
        params: &CYCLIC_EXP,
        primary_lr_key: Some("max_lr"),
        constraints: CYCLIC_CONSTRAINTS,
    },
    PolicyInfo {
        name: "onecycle",
        aliases: &["onecyclelr", "one_cycle"],
        family: Family::PyTorch,
        summary: "OneCycleLR: max_lr/div_factor up to max_lr over pct_start of total_steps, then down to max_lr/(div_factor*final_div_factor)",
        params: &[
            param("max_lr", Float, Required, POSITIVE, "peak LR"),
            param(
                "total_steps",
                Steps,
                RunLength,
                AT_LEAST_ONE,
                "length of the cycle in steps (>= the run length: PyTorch raises when stepped past it)",
            ),
            param(
                "pct_start",
                Float,
                DFloat(0.3),
                OPEN_UNIT,
                "fraction of total_steps spent increasing the LR",
            ),
            param(
                "anneal_strategy",
                Enum(&["cos", "linear"]),
                Word("cos"),
                ANY,
                "annealing shape",
            ),
            param(
                "three_phase",
                Bool,
                DBool(false),
                ANY,
                "symmetric up/down, then a final annihilation phase (fast.ai style)",
            ),
            param(
                "div_factor",
                Float,
                DFloat(25.0),
                AT_LEAST_ONE,
                "initial LR = max_lr / div_factor",
            ),
            param(
                "final_div_factor",
                Float,
                DFloat(1e4),
                AT_LEAST_ONE,
                "final LR = initial LR / final_div_factor",
            ),
            param(
                "cycle_momentum",
                Bool,
                DBool(true),
                ANY,
                "cycle momentum inversely to the LR",
            ),
            param(
                "base_momentum",
                Float,
                DFloat(0.85),
                MOMENTUM,
                "momentum at the LR peak",
            ),
            param(
                "max_momentum",
                Float,
                DFloat(0.95),
                MOMENTUM,
                "momentum at the start and end (>= base_momentum)",
            ),
        ],
        primary_lr_key: Some("max_lr"),
        constraints: &[
            "total_steps >= run length",
            "every phase at least one step long (pct_start * total_steps > 1; three_phase: pct_start < 0.5)",
            "max_momentum >= base_momentum",
        ],
    },
    // ---- metric-driven --------------------------------------------------------------------------
    PolicyInfo {
        name: "plateau",
        aliases: &["reducelronplateau"],
        family: Family::MetricDriven,
        summary: "ReduceLROnPlateau: multiply the LR by factor after `patience` epochs without improvement of the observed metric",
        params: &[
            LR,
            param(
                "mode",
                Enum(&["min", "max"]),
                Word("min"),
                ANY,
                "whether the metric should decrease (loss) or increase (accuracy)",
            ),
            param(
                "factor",
                Float,
                DFloat(0.1),
                OPEN_UNIT,
                "LR multiplier on a plateau",
            ),
            param(
                "patience",
                Int,
                DFloat(10.0),
                NON_NEGATIVE,
                "epochs without improvement tolerated before reducing",
            ),
            param(
                "threshold",
                Float,
                DFloat(1e-4),
                NON_NEGATIVE,
                "minimum change that counts as an improvement",
            ),
            param(
                "threshold_mode",
                Enum(&["rel", "abs"]),
                Word("rel"),
                ANY,
                "threshold relative to the best value or absolute",
            ),
            param(
                "cooldown",
                Int,
                DFloat(0.0),
                NON_NEGATIVE,
                "epochs to wait after a reduction before counting again",
            ),
            param("min_lr", Float, DFloat(0.0), NON_NEGATIVE, "LR floor"),
            param(
                "eps",
                Float,
                DFloat(1e-8),
                NON_NEGATIVE,
                "reductions smaller than eps are skipped",
            ),
        ],
        primary_lr_key: Some("lr"),
        constraints: &["min_lr <= lr"],
    },
    // ---- LRBench set ----------------------------------------------------------------------------
    PolicyInfo {
        name: "fix",
        aliases: &["lrb_fix"],
        family: Family::LrBench,
        summary: "LRBench FIX: k0",
        params: &[param("k0", Float, Required, POSITIVE, "the LR")],
        primary_lr_key: Some("k0"),
        constraints: &[],
    },
    PolicyInfo {
        name: "lrb_step",
        aliases: &[],
        family: Family::LrBench,
        summary: "LRBench STEP: k0 * gamma^floor(t / l)",
        params: &[
            K0_START,
            LB_GAMMA,
            param("l", Steps, Required, AT_LEAST_ONE, "step length"),
        ],
        primary_lr_key: Some("k0"),
        constraints: &[],
    },
    PolicyInfo {
        name: "nstep",
        aliases: &["lrb_nstep"],
        family: Family::LrBench,
        summary: "LRBench NSTEP: k0 * gamma^n, n = number of l_i <= t",
        params: &[
            K0_START,
            LB_GAMMA,
            param(
                "l",
                StepsList,
                Required,
                NON_NEGATIVE,
                "steps at which the LR is multiplied by gamma (strictly increasing)",
            ),
        ],
        primary_lr_key: Some("k0"),
        constraints: &["l strictly increasing"],
    },
    PolicyInfo {
        name: "lrb_exp",
        aliases: &[],
        family: Family::LrBench,
        summary: "LRBench EXP: k0 * gamma^t",
        params: &[K0_START, LB_GAMMA],
        primary_lr_key: Some("k0"),
        constraints: &[],
    },
    PolicyInfo {
        name: "inv",
        aliases: &["lrb_inv"],
        family: Family::LrBench,
        summary: "LRBench INV: k0 * (1 + gamma t)^(-p)",
        params: &[
            K0_START,
            LB_GAMMA,
            param("p", Float, Required, POSITIVE, "decay exponent"),
        ],
        primary_lr_key: Some("k0"),
        constraints: &[],
    },
    PolicyInfo {
        name: "lrb_poly",
        aliases: &[],
        family: Family::LrBench,
        summary: "LRBench POLY (code's direction): k0 + (k1 - k0)(1 - t/l)^p, from k1 at t=0 down to k0 at t=l, then k0",
        params: &[
            K0_FLOOR,
            K1_START,
            param("p", Float, Required, POSITIVE, "polynomial exponent"),
            param(
                "l",
                Steps,
                RunLength,
                AT_LEAST_ONE,
                "steps from k1 down to k0",
            ),
        ],
        primary_lr_key: Some("k1"),
        constraints: RANGE_CONSTRAINTS,
    },
    PolicyInfo {
        name: "cos",
        aliases: &["lrb_cos"],
        family: Family::LrBench,
        summary: "LRBench COS (code's period 2l): k0 + (k1 - k0)(1 + cos(pi t / l))/2, k1 at t=0, k0 at t=l, k1 again at t=2l",
        params: &[
            K0_FLOOR,
            K1_START,
            param(
                "l",
                Steps,
                RunLength,
                AT_LEAST_ONE,
                "half-period: steps from k1 down to k0",
            ),
        ],
        primary_lr_key: Some("k1"),
        constraints: RANGE_CONSTRAINTS,
    },
    PolicyInfo {
        name: "tri",
        aliases: &["lrb_tri"],
        family: Family::LrBench,
        summary: "LRBench TRI: k0 + (k1 - k0)(2/pi)|asin(sin(pi t / 2l))|",
        params: &[K0_LOW, K1_HIGH, L_HALF],
        primary_lr_key: Some("k1"),
        constraints: RANGE_CONSTRAINTS,
    },
    PolicyInfo {
        name: "tri2",
        aliases: &["lrb_tri2"],
        family: Family::LrBench,
        summary: "LRBench TRI2: k0 + (k1 - k0)/2^floor(t/2l) (2/pi)|asin(sin(pi t / 2l))|",
        params: &[K0_LOW, K1_HIGH, L_HALF],
        primary_lr_key: Some("k1"),
        constraints: RANGE_CONSTRAINTS,
    },
    PolicyInfo {
        name: "triexp",
        aliases: &["lrb_triexp"],
        family: Family::LrBench,
        summary: "LRBench TRIEXP: k0 + (k1 - k0) gamma^t (2/pi)|asin(sin(pi t / 2l))|",
        params: &[K0_LOW, K1_HIGH, LB_GAMMA_AMP, L_HALF],
        primary_lr_key: Some("k1"),
        constraints: RANGE_CONSTRAINTS,
    },
    PolicyInfo {
        name: "sin",
        aliases: &["lrb_sin"],
        family: Family::LrBench,
        summary: "LRBench SIN: k0 + (k1 - k0)|sin(pi t / 2l)|",
        params: &[K0_LOW, K1_HIGH, L_HALF],
        primary_lr_key: Some("k1"),
        constraints: RANGE_CONSTRAINTS,
    },
    PolicyInfo {
        name: "sin2",
        aliases: &["lrb_sin2"],
        family: Family::LrBench,
        summary: "LRBench SIN2: k0 + (k1 - k0)|sin(pi t / 2l)| / 2^floor(t/2l)",
        params: &[K0_LOW, K1_HIGH, L_HALF],
        primary_lr_key: Some("k1"),
        constraints: RANGE_CONSTRAINTS,
    },
    PolicyInfo {
        name: "sinexp",
        aliases: &["lrb_sinexp"],
        family: Family::LrBench,
        summary: "LRBench SINEXP: k0 + (k1 - k0)|sin(pi t / 2l)| gamma^t",
        params: &[K0_LOW, K1_HIGH, LB_GAMMA_AMP, L_HALF],
        primary_lr_key: Some("k1"),
        constraints: RANGE_CONSTRAINTS,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for p in policy_table() {
            for n in std::iter::once(&p.name).chain(p.aliases) {
                assert_eq!(*n, n.to_ascii_lowercase(), "{n} must be lowercase");
                assert!(seen.insert(*n), "duplicate policy name or alias {n}");
            }
            let mut keys = std::collections::HashSet::new();
            for k in p.params {
                assert!(keys.insert(k.name), "{}: duplicate key {}", p.name, k.name);
                if let ParamDefault::SameAs(other) = k.default {
                    assert!(p.param(other).is_some(), "{}: {other} missing", p.name);
                }
            }
            if let Some(k) = p.primary_lr_key {
                assert!(p.param(k).is_some(), "{}: primary key {k} missing", p.name);
            }
        }
    }

    #[test]
    fn list_entry_shows_every_column() {
        let text = find_policy("onecycle").unwrap().to_string();
        for part in [
            "onecycle (aliases: onecyclelr, one_cycle) — OneCycleLR",
            "| key ",
            "| total_steps ",
            "| steps ",
            "| run length ",
            "| cos|linear ",
            "rules: total_steps >= run length",
        ] {
            assert!(text.contains(part), "missing `{part}` in\n{text}");
        }
    }

    #[test]
    fn range_display() {
        assert_eq!(POSITIVE.to_string(), "(0, inf)");
        assert_eq!(AT_LEAST_ONE.to_string(), "[1, inf)");
        assert_eq!(UNIT_NO_ZERO.to_string(), "(0, 1]");
        assert!(!OPEN_UNIT.contains(1.0) && OPEN_UNIT.contains(0.5));
    }
}
