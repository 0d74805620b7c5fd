//! LR and momentum policies as pure functions of the global optimizer step: spec grammar, policy table, builders.
//!
//! # Semantics
//!
//! A policy maps the global optimizer step `t` (`u64`; step 0 is the LR used by the first optimizer
//! step) to `lr(t)` and optionally `momentum(t)`. It is a pure function of `t` (given the spec and
//! the [`ScheduleContext`]), so resuming at step k yields exactly the values of an uninterrupted
//! run. Steps are optimizer steps (iterations), not epochs.
//!
//! ```text
//! text / TOML ──PolicySpec::parse / from_toml_table──► PolicySpec (raw: names, keys, types checked)
//!             ──LrPolicy::build(spec, ctx)──────────► LrPolicy   (ranges, defaults, epochs resolved)
//! ```
//!
//! # Spec grammar
//!
//! ```text
//! spec     := seq
//! seq      := product ( '@' STEPS '>>' product )*     sequential phases, milestones are global steps
//! product  := atom ( '*' atom )*                       lr(t) = product of the factors' lr(t)
//! atom     := POLICY | '(' seq ')'
//! POLICY   := NAME [ ':' KEY '=' VALUE ( ',' KEY '=' VALUE )* ]
//! VALUE    := SCALAR ( ';' SCALAR )*                   a list, e.g. milestones=30;80
//! SCALAR   := NUMBER | NUMBER 'ep' | WORD              2ep = 2 × steps_per_epoch (rounded)
//! STEPS    := INTEGER | NUMBER 'ep'
//! ```
//!
//! * Names and keys are PyTorch's argument names, matched case-insensitively (`T_max` = `t_max`,
//!   `StepLR` = `step`); [`policy_table`] lists every policy, alias and key.
//! * Any step-count parameter (type `steps` / `list` in the table) may be given in epochs:
//!   `step:lr=0.1,step_size=2ep`, `multistep:lr=0.1,milestones=3ep;6ep`, `... @ 5ep >> ...`.
//! * `A @ 500 >> B` runs A for steps 0–499 and then B, which sees the local step `t - 500` (what
//!   PyTorch's `SequentialLR` does on an uninterrupted run). More phases: `A @ 500 >> B @ 2000 >> C`
//!   (milestones are global and strictly increasing). Warm-up then cosine:
//!   `linear:lr=0.1,start_factor=0.1,total_iters=500 @ 500 >> cosine:lr=0.1,t_max=9500`.
//! * `A * B` multiplies LR values; give B `lr=1` to use it as a pure factor:
//!   `triangular:base_lr=0.01,max_lr=0.1,step_size_up=200 * exp:lr=1,gamma=0.999`.
//!   `*` binds tighter than `@ >>`; parentheses group (`A * (B @ 100 >> C)`).
//! * The characters `( ) * @ >` never occur inside a policy, so the grammar is unambiguous;
//!   whitespace around operators and separators is ignored.
//! * TOML: `{ name = "step", lr = 0.1, step_size = 30 }`; composites
//!   `{ name = "seq", phases = [A, B], milestones = [500] }` and
//!   `{ name = "product", factors = [A, B] }`, each phase / factor a table or spec text.
//!
//! # Run context and defaults
//!
//! Horizon parameters default to the run length [`ScheduleContext::total_steps`]: `cosine` t_max,
//! `onecycle` total_steps, `poly` and `linear` total_iters, LRBench `lrb_poly` / `cos` l. Inside
//! `A @ N >> B` each phase's horizon defaults to the steps that phase runs (A: N, B: the run
//! length minus N), so warm-up-then-cosine reaches its minimum at the end of the run.
//! `onecycle` with total_steps shorter than the run is an error (PyTorch raises when stepped past it).
//!
//! # Policies
//!
//! * PyTorch set (`pytorch.rs`): `constant`, `step`, `multistep`, `exp`, `poly`, `cosine`,
//!   `cosine_restarts`, `linear`, `triangular`, `triangular2`, `exp_range`, `onecycle` — identical to
//!   `torch.optim.lr_scheduler` to 1e-12 relative (checked against `fixtures/pytorch_sequences.json`).
//! * LRBench set (`lrbench.rs`): `fix`, `lrb_step`, `nstep`, `lrb_exp`, `inv`, `lrb_poly`, `cos`,
//!   `tri`, `tri2`, `triexp`, `sin`, `sin2`, `sinexp` (paper-vs-code choices documented there).
//! * Metric-driven: `plateau` (ReduceLROnPlateau), tracked by a [`PlateauState`] the trainer owns.

mod compose;
mod error;
mod lrbench;
mod params;
mod plateau;
mod policy;
mod pytorch;
mod replay;
mod resolve;
mod spec;
mod suggest;

#[cfg(test)]
mod tests;

pub use error::PolicyError;
pub use params::{
    Bound, Family, ParamDefault, ParamInfo, ParamKind, PolicyInfo, Range, find_policy, policy_table,
};
pub use plateau::{PlateauMode, PlateauParams, PlateauState, ThresholdMode};
pub use policy::{LrPolicy, ParamValue, ScheduleContext};
pub use spec::{GRAMMAR_HELP, PolicySpec};
pub use suggest::suggest;
