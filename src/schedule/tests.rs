//! Cross-cutting tests: PyTorch parity fixture, closed-form boundaries, resume equivalence, round trips, bad input.

use super::*;

fn ctx(total_steps: u64, steps_per_epoch: u64) -> ScheduleContext {
    ScheduleContext::new(total_steps, steps_per_epoch)
}

fn build(text: &str, ctx: ScheduleContext) -> LrPolicy {
    let spec = PolicySpec::parse(text).unwrap_or_else(|e| panic!("parse `{text}`: {e}"));
    LrPolicy::build(&spec, &ctx).unwrap_or_else(|e| panic!("build `{text}`: {e}"))
}

/// The error message of parsing + building `text`, which must fail.
fn error(text: &str, ctx: ScheduleContext) -> String {
    match PolicySpec::parse(text).and_then(|s| LrPolicy::build(&s, &ctx)) {
        Ok(p) => panic!("`{text}` should fail, built {p:?}"),
        Err(e) => e.to_string(),
    }
}

fn assert_close(got: f64, want: f64, rel: f64, what: &str) {
    let err = (got - want).abs() / want.abs().max(f64::MIN_POSITIVE);
    assert!(
        err <= rel || got == want,
        "{what}: got {got:e}, want {want:e} (rel err {err:e})"
    );
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for p in parts {
        assert!(
            message.contains(p),
            "message `{message}` should mention `{p}`"
        );
    }
}

// ---- group 1: constant, step, cosine ------------------------------------------------------------

#[test]
fn constant_is_constant() {
    let p = build("constant:lr=0.05", ctx(100, 10));
    assert!((0..200).all(|t| p.lr(t) == 0.05));
    assert_eq!(p.momentum(3), None);
    assert_eq!(p.initial_lr(), 0.05);
    assert_eq!(p.peak_lr(), 0.05);
    assert_eq!(p.hyperparameters(), vec![("lr".to_string(), 0.05)]);
}

#[test]
fn step_boundaries() {
    let p = build("step:lr=0.1,step_size=30,gamma=0.1", ctx(100, 10));
    assert_eq!(p.lr(0), 0.1);
    assert_eq!(p.lr(29), 0.1);
    assert_eq!(p.lr(30), 0.1 * 0.1);
    assert_eq!(p.lr(59), 0.1 * 0.1);
    assert_close(p.lr(60), 1e-3, 1e-15, "lr(60)");
    assert_close(p.lr(90), 1e-4, 1e-15, "lr(90)");
    assert_eq!(p.peak_lr(), 0.1);
    // gamma defaults to 0.1
    let q = build("step:lr=0.1,step_size=30", ctx(100, 10));
    assert_eq!(q.lr(30), p.lr(30));
}

#[test]
fn step_size_in_epochs() {
    let p = build("step:lr=0.5,step_size=2ep,gamma=0.5", ctx(100, 10));
    assert_eq!(p.lr(19), 0.5);
    assert_eq!(p.lr(20), 0.25);
    assert_eq!(p.lr(40), 0.125);
    assert!(
        p.hyperparameters()
            .contains(&("step_size".to_string(), 20.0))
    );
}

#[test]
fn cosine_closed_form_points() {
    let p = build("cosine:lr=0.1,t_max=100,eta_min=0.001", ctx(100, 10));
    assert_eq!(p.lr(0), 0.1);
    assert_close(p.lr(50), 0.0505, 1e-13, "half way");
    assert_close(p.lr(100), 0.001, 1e-12, "t_max");
    // PyTorch's CosineAnnealingLR is periodic past t_max: back up at 2 t_max.
    assert_close(p.lr(200), 0.1, 1e-12, "2 t_max");
    for t in 0..=100u64 {
        let closed =
            0.001 + (0.1 - 0.001) * (1.0 + (std::f64::consts::PI * t as f64 / 100.0).cos()) / 2.0;
        assert_close(p.lr(t), closed, 1e-13, &format!("lr({t})"));
    }
}

#[test]
fn cosine_t_max_defaults_to_run_length() {
    let p = build("cosine:lr=0.2", ctx(1000, 10));
    let q = build("cosine:lr=0.2,t_max=1000", ctx(1000, 10));
    assert!((0..1100).all(|t| p.lr(t) == q.lr(t)));
    assert!(p.hyperparameters().contains(&("t_max".to_string(), 1000.0)));
    assert_eq!(p.hyperparameters(), q.hyperparameters());
}

#[test]
fn group1_bad_input() {
    let c = ctx(100, 10);
    assert_mentions(
        &error("step:lr=0,step_size=3", c),
        &["step", "lr=0", "(0, inf)"],
    );
    assert_mentions(
        &error("step:lr=-0.1,step_size=3", c),
        &["lr=-0.1", "(0, inf)"],
    );
    assert_mentions(
        &error("step:lr=0.1,step_size=0", c),
        &["step_size=0", "[1, inf)"],
    );
    assert_mentions(
        &error("step:lr=0.1,step_size=3,gamma=0", c),
        &["gamma=0", "(0, inf)"],
    );
    assert_mentions(
        &error("step:lr=0.1,step_size=3,gamma=-1", c),
        &["gamma", "(0, inf)"],
    );
    assert_mentions(
        &error("step:lr=0.1", c),
        &["step", "step_size", "missing", "[1, inf)"],
    );
    assert_mentions(
        &error("step:lr=0.1,step_size=2.5", c),
        &["step_size", "whole number", "2.5"],
    );
    assert_mentions(
        &error("step:lr=0.1,step_size=30;60", c),
        &["step_size", "30;60", "whole number of steps"],
    );
    assert_mentions(
        &error("step:lr=fast,step_size=3", c),
        &["lr", "a number", "fast"],
    );
    assert_mentions(
        &error("cosine:lr=0.1,eta_min=0.2", c),
        &["eta_min=0.2", "eta_min <= lr"],
    );
    assert_mentions(
        &error("cosine:lr=0.1", ctx(0, 10)),
        &["t_max", "run length", "[1, inf)"],
    );
    assert_mentions(
        &error("step:lr=0.1,step_size=2ep", ctx(100, 0)),
        &["step_size", "2ep", "steps_per_epoch"],
    );
}

// ---- PyTorch parity fixture ---------------------------------------------------------------------

#[derive(serde::Deserialize)]
struct Fixture {
    torch_version: String,
    cases: Vec<FixtureCase>,
    plateau: Vec<PlateauCase>,
}

#[derive(serde::Deserialize)]
struct FixtureCase {
    spec: String,
    total_steps: u64,
    steps_per_epoch: u64,
    /// The steps `lr` refers to, for long runs stored sparsely; otherwise 0, 1, 2, ...
    steps: Option<Vec<u64>>,
    lr: Vec<f64>,
    momentum: Option<Vec<f64>>,
}

#[derive(serde::Deserialize)]
struct PlateauCase {
    spec: String,
    metrics: Vec<f64>,
    lr: Vec<f64>,
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("fixtures/pytorch_sequences.json"))
        .expect("fixtures/pytorch_sequences.json parses")
}

fn rel_err(got: f64, want: f64) -> f64 {
    if got == want {
        0.0
    } else {
        (got - want).abs() / want.abs()
    }
}

/// Every PyTorch-set policy reproduces torch's sequence (lr and momentum) to 1e-12 relative at
/// every step, by point queries and by `lr_series`.
#[test]
fn pytorch_parity() {
    let fx = fixture();
    assert!(fx.torch_version.starts_with("2."), "{}", fx.torch_version);
    let (mut worst, mut values, mut exact) = (0.0f64, 0usize, 0usize);
    for case in &fx.cases {
        let p = build(&case.spec, ctx(case.total_steps, case.steps_per_epoch));
        let steps: Vec<u64> = match &case.steps {
            Some(s) => s.clone(),
            None => (0..case.lr.len() as u64).collect(),
        };
        let series = p.lr_series(0, *steps.last().expect("non-empty") as usize + 1);
        for (&t, &want) in steps.iter().zip(&case.lr) {
            let got = p.lr(t);
            let err = rel_err(got, want);
            assert!(
                err <= 1e-12,
                "{}: lr({t}) = {got:e}, torch {want:e}, rel err {err:e}",
                case.spec
            );
            assert_eq!(
                series[t as usize], got,
                "{}: lr_series vs lr at {t}",
                case.spec
            );
            worst = worst.max(err);
            values += 1;
            exact += usize::from(got == want);
        }
        match &case.momentum {
            Some(moms) => {
                for (t, &want) in moms.iter().enumerate() {
                    let got = p
                        .momentum(t as u64)
                        .unwrap_or_else(|| panic!("{}: no momentum", case.spec));
                    let err = rel_err(got, want);
                    assert!(
                        err <= 1e-12,
                        "{}: momentum({t}) = {got}, torch {want}",
                        case.spec
                    );
                    worst = worst.max(err);
                    values += 1;
                    exact += usize::from(got == want);
                }
            }
            None => assert_eq!(p.momentum(1), None, "{}", case.spec),
        }
    }
    eprintln!(
        "pytorch parity (torch {}): {values} values, {exact} bit-identical, max rel err {worst:e}",
        fx.torch_version
    );
}

#[test]
fn plateau_parity() {
    for case in fixture().plateau {
        let p = build(&case.spec, ctx(100, 10));
        assert!(p.is_metric_driven());
        assert_eq!(p.lr(50), p.initial_lr());
        let mut state = p.plateau_state().expect("plateau state");
        for (i, (&m, &want)) in case.metrics.iter().zip(&case.lr).enumerate() {
            state.observe(m);
            assert!(
                rel_err(state.lr(), want) <= 1e-12,
                "{}: after epoch {i}: {} vs torch {want}",
                case.spec,
                state.lr()
            );
        }
        let replayed = PlateauState::replay(*state.params(), &case.metrics);
        assert_eq!(replayed, state);
        // serde_json's default float parsing may be 1 ulp off (exact with its `float_roundtrip`
        // feature); `replay` from the recorded metrics is the bit-exact way to resume.
        let json = serde_json::to_string(&state).expect("serialize");
        let back: PlateauState = serde_json::from_str(&json).expect("deserialize");
        assert!(rel_err(back.lr(), state.lr()) <= 1e-15);
        assert_eq!(back.epochs_observed(), state.epochs_observed());
    }
}
