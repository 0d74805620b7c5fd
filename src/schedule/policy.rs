//! `LrPolicy`: a validated, resolved policy — `lr(t)` / `momentum(t)` as pure functions of the step —
//! and `build`, which turns a [`PolicySpec`] into one for a given run.

use std::fmt;
use std::sync::{Arc, OnceLock};

use super::compose::{Product, Seq};
use super::error::PolicyError;
use super::params::Family;
use super::plateau::{PlateauParams, PlateauState};
use super::resolve::{resolve, to_steps};
use super::spec::{Node, PolicySpec};
use super::{lrbench, pytorch};

/// What a policy needs to know about the run it schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScheduleContext {
    /// Optimizer steps in the whole run; the default for horizon parameters (`cosine`'s `t_max`,
    /// `onecycle`'s `total_steps`, `poly`'s / `linear`'s `total_iters`, LRBench POLY / COS `l`).
    pub total_steps: u64,
    /// Optimizer steps per epoch; converts `Nep` counts to steps.
    pub steps_per_epoch: u64,
}

impl ScheduleContext {
    pub fn new(total_steps: u64, steps_per_epoch: u64) -> Self {
        ScheduleContext {
            total_steps,
            steps_per_epoch,
        }
    }
}

/// A step-indexed schedule: the building block every policy and composite implements.
pub(crate) trait Schedule: fmt::Debug + Send + Sync {
    /// LR for optimizer step `t` (0 = the first step).
    fn lr(&self, t: u64) -> f64;

    /// Momentum (or Adam's beta1) for step `t`, when the policy cycles it.
    fn momentum(&self, _t: u64) -> Option<f64> {
        None
    }

    /// `out[i] = lr(start + i)`; recursive policies override it to step sequentially.
    fn fill(&self, start: u64, out: &mut [f64]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.lr(start + i as u64);
        }
    }
}

/// One resolved policy parameter with its own type, for output that people and JSON tools read.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    Float(f64),
    Int(u64),
    List(Vec<u64>),
    Word(String),
    Bool(bool),
}

/// A validated policy resolved against one run: `lr(t)` and `momentum(t)` are pure functions of
/// the global optimizer step, so resuming at step k gives exactly the values of an uninterrupted
/// run. Cheap to clone (the schedule is shared).
///
/// Metric-driven policies (`plateau`) are the exception: their LR depends on the observed metric,
/// so the trainer owns a [`PlateauState`] from [`LrPolicy::plateau_state`] and asks it for the LR;
/// `lr(t)` then returns the initial LR.
#[derive(Clone)]
pub struct LrPolicy {
    schedule: Arc<dyn Schedule>,
    plateau: Option<PlateauParams>,
    name: String,
    hyperparameters: Vec<(String, f64)>,
    parameters: Vec<(String, ParamValue)>,
    total_steps: u64,
    /// Computed on first use: scanning the run costs O(total_steps), which plan validation of a
    /// large grid should not pay.
    peak_lr: Arc<OnceLock<f64>>,
    /// True when a phase of a `>>` sequence took its horizon from the phase length where lrcast
    /// ≤ 0.7 took the run length (see [`Self::phase_horizon_changed`]).
    phase_horizon_changed: bool,
}

impl fmt::Debug for LrPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LrPolicy")
            .field("name", &self.name)
            .field("hyperparameters", &self.hyperparameters)
            .field("schedule", &self.schedule)
            .finish()
    }
}

/// The result of building one node of the spec tree.
struct Built {
    schedule: Arc<dyn Schedule>,
    plateau: Option<PlateauParams>,
    name: String,
    hyperparameters: Vec<(String, f64)>,
    parameters: Vec<(String, ParamValue)>,
    /// Some phase below this node resolves differently with phase-length horizons than with the
    /// run length.
    phase_horizon_changed: bool,
}

impl LrPolicy {
    /// Validate `spec` (required keys, ranges, cross-parameter rules) and resolve its defaults and
    /// epoch counts against `ctx`.
    pub fn build(spec: &PolicySpec, ctx: &ScheduleContext) -> Result<LrPolicy, PolicyError> {
        let built = build_node(spec, ctx)?;
        Ok(LrPolicy {
            schedule: built.schedule,
            plateau: built.plateau,
            name: built.name,
            hyperparameters: built.hyperparameters,
            parameters: built.parameters,
            total_steps: ctx.total_steps,
            peak_lr: Arc::new(OnceLock::new()),
            phase_horizon_changed: built.phase_horizon_changed,
        })
    }

    /// True when a phase of an `A @ N >> B` sequence leaves a horizon (`t_max`, `total_steps`,
    /// `total_iters`, LRBench `l`) at its default and so resolves to its own phase length, where
    /// lrcast up to 0.7 used the whole run length. Such a run trains differently from the run of
    /// the same spec in an older corpus, so its id changes (see `RunSpec::canonical`).
    pub fn phase_horizon_changed(&self) -> bool {
        self.phase_horizon_changed
    }

    /// LR for optimizer step `step` (0 = the LR of the first optimizer step).
    pub fn lr(&self, step: u64) -> f64 {
        self.schedule.lr(step)
    }

    /// Momentum (SGD) or beta1 (Adam) for `step` when the policy cycles it (`triangular*`,
    /// `exp_range`, `onecycle` with `cycle_momentum=true`); `None` means "leave the optimizer's
    /// momentum as configured".
    pub fn momentum(&self, step: u64) -> Option<f64> {
        self.schedule.momentum(step)
    }

    /// LRs for steps `start .. start + len`, evaluated sequentially (cheaper than `len` calls to
    /// [`Self::lr`] for the recursive PyTorch policies).
    pub fn lr_series(&self, start: u64, len: usize) -> Vec<f64> {
        let mut out = vec![0.0; len];
        self.schedule.fill(start, &mut out);
        out
    }

    /// True for `plateau`: the LR follows the validation metric, see [`Self::plateau_state`].
    pub fn is_metric_driven(&self) -> bool {
        self.plateau.is_some()
    }

    /// For a metric-driven policy, a fresh tracker at the initial LR. The trainer owns it, calls
    /// [`PlateauState::observe`] once per epoch and uses [`PlateauState::lr`] for the next epoch's
    /// steps. It is serializable, and [`PlateauState::replay`] rebuilds it from the metric history,
    /// so resuming stays exact.
    pub fn plateau_state(&self) -> Option<PlateauState> {
        self.plateau.map(PlateauState::new)
    }

    /// Canonical policy name; composites spell their structure, e.g. `seq(linear,cosine)` or
    /// `product(triangular,exp)`.
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// Every resolved numeric parameter (defaults included), flattened with stable names: lists as
    /// `milestones.0`, flags as 0/1, enum words as their index in the table's choices; composites
    /// prefix their children (`p0.lr`, `p1.t_max`) and list their own boundaries (`milestones.0`).
    pub fn hyperparameters(&self) -> Vec<(String, f64)> {
        self.hyperparameters.clone()
    }

    /// Every resolved parameter with its own type (defaults included), named like
    /// [`Self::hyperparameters`] but unflattened: lists stay lists, enum words strings, flags
    /// booleans.
    pub fn parameters(&self) -> Vec<(String, ParamValue)> {
        self.parameters.clone()
    }

    /// lr(0).
    pub fn initial_lr(&self) -> f64 {
        self.schedule.lr(0)
    }

    /// The largest LR over the run's steps `0 .. total_steps` (at least step 0); computed once, on
    /// the first call.
    pub fn peak_lr(&self) -> f64 {
        *self
            .peak_lr
            .get_or_init(|| peak(&*self.schedule, self.total_steps.max(1)))
    }
}

fn peak(schedule: &dyn Schedule, steps: u64) -> f64 {
    const CHUNK: u64 = 4096;
    let mut buf = vec![0.0; CHUNK.min(steps) as usize];
    let mut best = f64::NEG_INFINITY;
    let mut start = 0;
    while start < steps {
        let n = CHUNK.min(steps - start) as usize;
        schedule.fill(start, &mut buf[..n]);
        best = buf[..n].iter().copied().fold(best, f64::max);
        start += n as u64;
    }
    best
}

fn build_node(spec: &PolicySpec, ctx: &ScheduleContext) -> Result<Built, PolicyError> {
    match &spec.node {
        Node::Leaf(leaf) => {
            let args = resolve(leaf, ctx)?;
            let hyperparameters = args.hyperparameters();
            let parameters = args.typed();
            let name = leaf.info.name.to_string();
            let (schedule, plateau) = match leaf.info.family {
                Family::PyTorch => (pytorch::build(&args, ctx)?, None),
                Family::LrBench => (lrbench::build(&args)?, None),
                Family::MetricDriven => {
                    let params = PlateauParams::from_args(&args)?;
                    (
                        Arc::new(ConstantStart(params.lr)) as Arc<dyn Schedule>,
                        Some(params),
                    )
                }
            };
            Ok(Built {
                schedule,
                plateau,
                name,
                hyperparameters,
                parameters,
                phase_horizon_changed: false,
            })
        }
        Node::Seq { phases, milestones } => {
            let mut starts = vec![0];
            for (i, m) in milestones.iter().enumerate() {
                let key = format!("milestones.{i}");
                let step = to_steps(*m, ctx, "seq", &key)?;
                let prev = *starts.last().expect("starts has 0");
                if step <= prev {
                    return Err(PolicyError::Conflict {
                        policy: "seq".into(),
                        key,
                        value: m.to_string(),
                        requirement: format!(
                            "phase milestones are global steps and must be strictly increasing and > 0 (previous: {prev}); in `A @ M >> B`, B starts at step M"
                        ),
                    });
                }
                starts.push(step);
            }
            // Each phase's horizon defaults to the steps it runs (to the next milestone, or to the
            // end of the run for the last one), so `linear @ N >> cosine` warms up over N steps and
            // the cosine reaches its minimum at the end of the run.
            let phase_ctxs: Vec<ScheduleContext> = (0..phases.len())
                .map(|i| {
                    let end = starts.get(i + 1).copied().unwrap_or(ctx.total_steps);
                    ScheduleContext {
                        total_steps: end.saturating_sub(starts[i]).max(1),
                        ..*ctx
                    }
                })
                .collect();
            let children = build_children(spec, phases, &phase_ctxs)?;
            let mut phase_horizon_changed = children.iter().any(|c| c.phase_horizon_changed);
            if !phase_horizon_changed {
                let whole_run = vec![*ctx; phases.len()];
                phase_horizon_changed = match build_children(spec, phases, &whole_run) {
                    Ok(old) => old
                        .iter()
                        .zip(&children)
                        .any(|(o, c)| o.hyperparameters != c.hyperparameters),
                    Err(_) => true,
                };
            }
            let mut hyperparameters = prefixed(&children, |c| &c.hyperparameters);
            for (i, s) in starts.iter().skip(1).enumerate() {
                hyperparameters.push((format!("milestones.{i}"), *s as f64));
            }
            let mut parameters = prefixed(&children, |c| &c.parameters);
            parameters.push((
                "milestones".into(),
                ParamValue::List(starts.iter().skip(1).copied().collect()),
            ));
            Ok(Built {
                name: composite_name("seq", &children),
                schedule: Arc::new(Seq::new(
                    children.into_iter().map(|c| c.schedule).collect(),
                    starts,
                )),
                plateau: None,
                hyperparameters,
                parameters,
                phase_horizon_changed,
            })
        }
        Node::Product(factors) => {
            let children = build_children(spec, factors, &vec![*ctx; factors.len()])?;
            Ok(Built {
                phase_horizon_changed: children.iter().any(|c| c.phase_horizon_changed),
                name: composite_name("product", &children),
                hyperparameters: prefixed(&children, |c| &c.hyperparameters),
                parameters: prefixed(&children, |c| &c.parameters),
                schedule: Arc::new(Product::new(
                    children.into_iter().map(|c| c.schedule).collect(),
                )),
                plateau: None,
            })
        }
    }
}

fn build_children(
    parent: &PolicySpec,
    children: &[PolicySpec],
    ctxs: &[ScheduleContext],
) -> Result<Vec<Built>, PolicyError> {
    children
        .iter()
        .zip(ctxs)
        .map(|(c, ctx)| {
            let built = build_node(c, ctx)?;
            if built.plateau.is_some() {
                return Err(PolicyError::Conflict {
                    policy: parent.name().into(),
                    key: if parent.name() == "seq" {
                        "phases".into()
                    } else {
                        "factors".into()
                    },
                    value: c.to_string(),
                    requirement:
                        "the metric-driven `plateau` policy cannot be composed; use it on its own"
                            .into(),
                });
            }
            Ok(built)
        })
        .collect()
}

/// The children's parameters with their position as prefix (`p0.lr`, `p1.t_max`).
fn prefixed<T: Clone>(
    children: &[Built],
    field: impl Fn(&Built) -> &Vec<(String, T)>,
) -> Vec<(String, T)> {
    children
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            field(c)
                .iter()
                .map(move |(k, v)| (format!("p{i}.{k}"), v.clone()))
        })
        .collect()
}

fn composite_name(kind: &str, children: &[Built]) -> String {
    let names: Vec<&str> = children.iter().map(|c| c.name.as_str()).collect();
    format!("{kind}({})", names.join(","))
}

/// The step-indexed view of a metric-driven policy: its initial LR.
#[derive(Debug)]
struct ConstantStart(f64);

impl Schedule for ConstantStart {
    fn lr(&self, _t: u64) -> f64 {
        self.0
    }
}
