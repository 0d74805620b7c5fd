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

// ---- group 2: hand-derived closed forms at boundaries ---------------------------------------------

#[test]
fn multistep_exp_poly_linear_boundaries() {
    let c = ctx(300, 10);
    let m = build("multistep:lr=1,milestones=30;80,gamma=0.5", c);
    assert_eq!(
        (m.lr(29), m.lr(30), m.lr(79), m.lr(80), m.lr(1000)),
        (1.0, 0.5, 0.5, 0.25, 0.25)
    );
    let e = build("exp:lr=1,gamma=0.5", c);
    assert_eq!((e.lr(0), e.lr(1), e.lr(10)), (1.0, 0.5, 0.5f64.powi(10)));
    let p = build("poly:lr=0.1,total_iters=100,power=2", c);
    assert_eq!(p.lr(0), 0.1);
    assert_close(p.lr(50), 0.025, 1e-14, "poly half way");
    assert_close(p.lr(99), 0.1 * 1e-4, 1e-12, "poly last");
    assert_eq!((p.lr(100), p.lr(101), p.lr(5000)), (0.0, 0.0, 0.0));
    let l = build(
        "linear:lr=0.1,start_factor=0.25,end_factor=1,total_iters=4",
        c,
    );
    let want = [0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1];
    for (t, w) in want.iter().enumerate() {
        assert_close(l.lr(t as u64), *w, 1e-15, &format!("linear {t}"));
    }
}

#[test]
fn cosine_restarts_cycles() {
    let c = ctx(1000, 10);
    let p = build("cosine_restarts:lr=0.1,t_0=10,t_mult=2,eta_min=0.001", c);
    // restarts at 10, 30, 70
    for t in [0, 10, 30, 70] {
        assert_eq!(p.lr(t), 0.1, "restart at {t}");
    }
    assert_close(p.lr(5), 0.0505, 1e-14, "mid first cycle");
    assert_close(p.lr(20), 0.0505, 1e-14, "mid second cycle");
    assert_close(p.lr(50), 0.0505, 1e-14, "mid third cycle");
    assert!(p.lr(29) < p.lr(28) && p.lr(29) > 0.001);
    // lrcast's `decay` extension scales each restart's peak.
    let d = build("cosine_restarts:lr=0.1,t_0=10,decay=0.5", c);
    assert_eq!(d.lr(0), 0.1);
    assert_close(d.lr(10), 0.05, 1e-15, "second peak");
    assert_close(d.lr(20), 0.025, 1e-15, "third peak");
    assert_close(d.lr(15), 0.025, 1e-14, "mid second cycle");
}

#[test]
fn cyclic_peaks_and_momentum() {
    let c = ctx(1000, 10);
    let t = build(
        "triangular:base_lr=0.01,max_lr=0.1,step_size_up=20,step_size_down=30",
        c,
    );
    assert_eq!(t.lr(0), 0.01);
    assert_close(t.lr(20), 0.1, 1e-15, "peak");
    assert_close(t.lr(10), 0.055, 1e-15, "half way up");
    assert_close(t.lr(35), 0.055, 1e-14, "half way down");
    assert_close(t.lr(50), 0.01, 1e-14, "cycle end");
    assert_close(t.momentum(0).unwrap(), 0.9, 1e-15, "momentum at base");
    assert_close(t.momentum(20).unwrap(), 0.8, 1e-15, "momentum at peak");
    let t2 = build("triangular2:base_lr=0.01,max_lr=0.09,step_size_up=10", c);
    assert_close(t2.lr(10), 0.09, 1e-15, "first peak");
    assert_close(t2.lr(30), 0.05, 1e-15, "second peak halved");
    assert_close(t2.lr(50), 0.03, 1e-15, "third peak quartered");
    let e = build(
        "exp_range:base_lr=0.01,max_lr=0.1,step_size_up=10,gamma=0.9",
        c,
    );
    assert_close(
        e.lr(10),
        0.01 + 0.09 * 0.9f64.powi(10),
        1e-14,
        "exp_range peak",
    );
    let off = build("triangular:base_lr=0.01,max_lr=0.1,cycle_momentum=false", c);
    assert_eq!(off.momentum(5), None);
}

#[test]
fn onecycle_landmarks() {
    let p = build("onecycle:max_lr=0.1", ctx(1000, 10));
    assert_close(p.lr(0), 0.1 / 25.0, 1e-15, "initial = max_lr / div_factor");
    assert_close(p.lr(299), 0.1, 1e-15, "peak at pct_start * total_steps - 1");
    assert_close(
        p.lr(999),
        0.1 / 25.0 / 1e4,
        1e-12,
        "final = initial / final_div_factor",
    );
    assert_eq!(p.lr(5000), p.lr(999), "holds past the cycle");
    assert_close(p.momentum(0).unwrap(), 0.95, 1e-15, "max_momentum at start");
    assert_close(
        p.momentum(299).unwrap(),
        0.85,
        1e-15,
        "base_momentum at peak",
    );
    assert_close(p.peak_lr(), 0.1, 1e-15, "peak_lr");
    let three = build("onecycle:max_lr=0.1,three_phase=true", ctx(1000, 10));
    assert_close(three.lr(299), 0.1, 1e-15, "three-phase peak");
    assert_close(three.lr(598), 0.004, 1e-14, "back to initial");
    assert_close(
        three.momentum(598).unwrap(),
        0.95,
        1e-15,
        "momentum back up",
    );
}

#[test]
fn group2_bad_input() {
    let c = ctx(1000, 10);
    assert_mentions(
        &error("triangular:base_lr=0.1,max_lr=0.05", c),
        &["triangular", "max_lr=0.05", "base_lr = 0.1"],
    );
    assert_mentions(
        &error("onecycle:max_lr=0.1,pct_start=1.5", c),
        &["onecycle", "pct_start=1.5", "(0, 1)"],
    );
    assert_mentions(
        &error("onecycle:max_lr=0.1,pct_start=0", c),
        &["pct_start=0", "(0, 1)"],
    );
    assert_mentions(
        &error("onecycle:max_lr=0.1,total_steps=500", c),
        &["onecycle", "total_steps=500", "run (1000 steps)"],
    );
    assert_mentions(
        &error("onecycle:max_lr=0.1,pct_start=0.6,three_phase=true", c),
        &["pct_start=0.6", "pct_start < 0.5"],
    );
    assert_mentions(
        &error("onecycle:max_lr=0.1,pct_start=0.001", c),
        &["pct_start", "pct_start * total_steps > 1"],
    );
    assert_mentions(
        &error("cosine_restarts:lr=0.1,t_0=10,t_mult=0", c),
        &["t_mult=0", "[1, inf)"],
    );
    assert_mentions(
        &error("cosine_restarts:lr=0.1,t_0=10,t_mult=1.5", c),
        &["t_mult", "whole number", "1.5"],
    );
    assert_mentions(
        &error("exp:lr=0.1,gamma=0", c),
        &["exp", "gamma=0", "(0, inf)"],
    );
    assert_mentions(&error("exp:lr=0.1", c), &["exp", "missing", "gamma"]);
    assert_mentions(
        &error("multistep:lr=0.1,milestones=80;30", c),
        &["milestones", "strictly increasing"],
    );
    assert_mentions(
        &error("multistep:lr=0.1,milestones=30;x", c),
        &["milestones", "30;x", "list of step counts"],
    );
    assert_mentions(
        &error("linear:lr=0.1,start_factor=0", c),
        &["start_factor=0", "(0, 1]"],
    );
    assert_mentions(
        &error("onecycle:max_lr=0.1,anneal_strategy=cosine", c),
        &["anneal_strategy", "cos|linear", "cosine"],
    );
    assert_mentions(
        &error("onecycle:max_lr=0.1,three_phase=yes", c),
        &["three_phase", "`true` or `false`", "yes"],
    );
    assert_mentions(
        &error("triangular:base_lr=0.01,max_lr=0.1,base_momentum=0.95", c),
        &["max_momentum", "base_momentum = 0.95"],
    );
    assert_mentions(
        &error("triangular:base_lr=0.01,max_lr=0.1,gamma=0.9", c),
        &["triangular", "unknown key `gamma`", "step_size_up"],
    );
}

#[test]
fn unknown_names_and_keys() {
    let c = ctx(100, 10);
    let msg = error("cosin:lr=0.1", c);
    assert_mentions(
        &msg,
        &[
            "unknown LR policy `cosin`",
            "did you mean `cosine`",
            "onecycle",
            "tri2",
            "plateau",
        ],
    );
    let msg = error("zzzzzz", c);
    assert!(!msg.contains("did you mean"), "{msg}");
    assert_mentions(&msg, &["valid policies: constant, step"]);
    assert_mentions(
        &error("step:lr=0.1,stepsize=3", c),
        &[
            "step",
            "unknown key `stepsize`",
            "did you mean `step_size`",
            "valid keys: lr, step_size, gamma",
        ],
    );
    assert_mentions(&error("step:k0=0.1,gamma=0.5,l=10", c), &["`lrb_step`"]);
    assert_mentions(
        &error("step:lr=0.1,lr=0.2,step_size=3", c),
        &["`lr`", "twice"],
    );
    assert_mentions(&error("", c), &["empty"]);
    assert_mentions(&error("step:lr", c), &["key=value", "byte 5"]);
    assert_mentions(
        &error("cosine:lr=0.1 >> step:lr=0.1", c),
        &["`A @ STEP >> B`"],
    );
    assert_mentions(
        &error("cosine:lr=0.1 @ x >> step:lr=0.1", c),
        &["milestone"],
    );
    assert_mentions(&error("(cosine:lr=0.1", c), &["expected `)`"]);
    assert_mentions(&error("cosine:lr=0.1 > step:lr=0.1", c), &["`>>`"]);
    assert_mentions(
        &error("step:lr=inf,step_size=3", c),
        &["lr", "a number", "inf"],
    );
    assert_eq!(suggest("trianglar"), Some("triangular"));
    assert_eq!(suggest("ReduceLROnPlateu"), Some("plateau"));
}

// ---- group 3: LRBench ---------------------------------------------------------------------------

#[test]
fn lrbench_functions() {
    let c = ctx(1000, 10);
    let fix = build("fix:k0=0.03", c);
    assert_eq!((fix.lr(0), fix.lr(999)), (0.03, 0.03));
    let step = build("lrb_step:k0=0.1,gamma=0.5,l=10", c);
    assert_eq!((step.lr(9), step.lr(10), step.lr(25)), (0.1, 0.05, 0.025));
    let nstep = build("nstep:k0=0.1,gamma=0.1,l=150;180", c);
    assert_eq!(nstep.lr(149), 0.1);
    assert_close(nstep.lr(150), 0.01, 1e-15, "nstep first");
    assert_close(nstep.lr(180), 0.001, 1e-15, "nstep second");
    let exp = build("lrb_exp:k0=0.1,gamma=0.99", c);
    assert_close(exp.lr(10), 0.1 * 0.99f64.powi(10), 1e-14, "EXP");
    let inv = build("inv:k0=0.1,gamma=0.01,p=0.5", c);
    assert_close(
        inv.lr(300),
        0.1 / 2.0,
        1e-15,
        "INV: (1 + 0.01*300)^-0.5 = 1/2",
    );

    // POLY, code's direction: from k1 at t=0 down to k0 at t=l, then k0.
    let poly = build("lrb_poly:k0=0.001,k1=0.1,p=2,l=100", c);
    assert_eq!(poly.lr(0), 0.1);
    assert_close(poly.lr(50), 0.001 + 0.099 * 0.25, 1e-14, "POLY half way");
    assert_eq!((poly.lr(100), poly.lr(500)), (0.001, 0.001));
    let caffe = build("lrb_poly:k1=0.1,p=1", c); // k0 = 0, l = run length
    assert_close(caffe.lr(500), 0.05, 1e-15, "Caffe poly half way");

    // COS, code's period 2l: k1 at 0, k0 at l, k1 at 2l.
    let cos = build("cos:k0=0.01,k1=0.1,l=100", c);
    assert_eq!(cos.lr(0), 0.1);
    assert_close(cos.lr(50), 0.055, 1e-14, "COS quarter period");
    assert_close(cos.lr(100), 0.01, 1e-14, "COS half period");
    assert_close(cos.lr(200), 0.1, 1e-14, "COS full period");

    // TRI family: k0 at 0, k1 at l, k0 at 2l; TRI2 halves per period 2l; TRIEXP by gamma^t.
    let tri = build("tri:k0=0.01,k1=0.1,l=50", c);
    assert_eq!(tri.lr(0), 0.01);
    assert_close(tri.lr(25), 0.055, 1e-14, "TRI half way");
    assert_close(tri.lr(50), 0.1, 1e-14, "TRI peak");
    assert_close(tri.lr(100), 0.01, 1e-12, "TRI trough");
    let tri2 = build("tri2:k0=0.01,k1=0.1,l=500", c);
    assert_close(tri2.lr(500), 0.1, 1e-14, "TRI2 first peak");
    assert_close(tri2.lr(1500), 0.01 + 0.045, 1e-14, "TRI2 second peak");
    for t in [0u64, 123, 777, 1500, 2999] {
        let tf = t as f64;
        let want = 0.01
            + (0.1 - 0.01) / 2f64.powf((tf / 1000.0).floor())
                * (2.0 / std::f64::consts::PI)
                * (std::f64::consts::PI * tf / 1000.0).sin().asin().abs();
        assert_close(tri2.lr(t), want, 1e-14, "TRI2 formula");
    }
    let triexp = build("triexp:k0=0.01,k1=0.1,gamma=0.99,l=50", c);
    assert_close(
        triexp.lr(50),
        0.01 + 0.09 * 0.99f64.powi(50),
        1e-13,
        "TRIEXP peak",
    );

    // SIN family: |sin| wave with half-period l.
    let sin = build("sin:k0=0.01,k1=0.1,l=50", c);
    assert_close(sin.lr(50), 0.1, 1e-15, "SIN peak");
    assert_close(
        sin.lr(25),
        0.01 + 0.09 * (std::f64::consts::PI / 4.0).sin(),
        1e-14,
        "SIN",
    );
    let sin2 = build("sin2:k0=0.01,k1=0.1,l=50", c);
    assert_close(sin2.lr(150), 0.055, 1e-14, "SIN2 second peak");
    let sinexp = build("sinexp:k0=0.01,k1=0.1,gamma=0.99,l=50", c);
    assert_close(
        sinexp.lr(50),
        0.01 + 0.09 * 0.99f64.powi(50),
        1e-13,
        "SINEXP peak",
    );

    // Names: lowercase, case-insensitive, `lrb_` aliases.
    assert_eq!(build("TRI2:k0=0.01,k1=0.1,l=500", c).name(), "tri2");
    assert_eq!(build("lrb_tri2:k0=0.01,k1=0.1,l=500", c).name(), "tri2");
}

#[test]
fn lrbench_bad_input() {
    let c = ctx(1000, 10);
    assert_mentions(
        &error("tri:k0=0.1,k1=0.01,l=50", c),
        &["tri", "k1=0.01", "k0 = 0.1"],
    );
    assert_mentions(&error("tri:k0=0.01,k1=0.1", c), &["tri", "missing", "`l`"]);
    assert_mentions(
        &error("triexp:k0=0.01,k1=0.1,gamma=1.5,l=50", c),
        &["gamma=1.5", "(0, 1]"],
    );
    assert_mentions(&error("fix:k0=0", c), &["fix", "k0=0", "(0, inf)"]);
    assert_mentions(
        &error("nstep:k0=0.1,gamma=0.1,l=180;150", c),
        &["nstep", "strictly increasing"],
    );
}

// ---- group 4: composition, with_param, TOML, round trips, resume --------------------------------

#[test]
fn sequence_phase_horizons_default_to_the_phase_length() {
    let c = ctx(100, 10);
    // Warm-up over its 20 steps, then a cosine over the 80 steps left: it ends at its minimum.
    let p = build("linear:lr=0.1,start_factor=0.1 @ 20 >> cosine:lr=0.1", c);
    let warm = build("linear:lr=0.1,start_factor=0.1,total_iters=20", c);
    let cos = build("cosine:lr=0.1,t_max=80", c);
    for t in 0..20 {
        assert_eq!(p.lr(t), warm.lr(t), "warm-up step {t}");
    }
    for t in 20..100 {
        assert_eq!(p.lr(t), cos.lr(t - 20), "cosine step {t}");
    }
    assert!(
        p.lr(99) < 1e-3 * 0.1,
        "the cosine reaches its minimum: {}",
        p.lr(99)
    );
    assert!(p.phase_horizon_changed());
    // Explicit horizons resolve as before, so such runs keep their ids.
    let explicit = build(
        "linear:lr=0.1,start_factor=0.1,total_iters=20 @ 20 >> cosine:lr=0.1,t_max=80",
        c,
    );
    assert!(!explicit.phase_horizon_changed());
    assert!(!build("cosine:lr=0.1", c).phase_horizon_changed());
    // Nested under a product, the change is still seen.
    assert!(
        build("(constant:lr=1 @ 5 >> cosine:lr=1) * exp:lr=1,gamma=0.9", c).phase_horizon_changed()
    );
}

#[test]
fn sequential_phases_see_local_steps() {
    let c = ctx(1000, 10);
    let p = build(
        "linear:lr=0.1,start_factor=0.1,total_iters=10 @ 10 >> cosine:lr=0.1,t_max=90",
        c,
    );
    let warm = build("linear:lr=0.1,start_factor=0.1,total_iters=10", c);
    let cos = build("cosine:lr=0.1,t_max=90", c);
    for t in 0..10 {
        assert_eq!(p.lr(t), warm.lr(t));
    }
    for t in 10..300 {
        assert_eq!(p.lr(t), cos.lr(t - 10));
    }
    assert_eq!(p.name(), "seq(linear,cosine)");
    // PyTorch's LinearLR recursion ends a few ulps above lr.
    assert_close(p.peak_lr(), 0.1, 1e-15, "peak");
    let three = build(
        "constant:lr=1 @ 5 >> constant:lr=2 @ 2ep >> constant:lr=3",
        c,
    );
    let got: Vec<f64> = [0, 4, 5, 19, 20, 999]
        .iter()
        .map(|&t| three.lr(t))
        .collect();
    assert_eq!(got, vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
    assert!(
        three
            .hyperparameters()
            .contains(&("milestones.1".to_string(), 20.0))
    );
}

#[test]
fn product_multiplies_and_passes_momentum() {
    let c = ctx(1000, 10);
    let p = build(
        "triangular:base_lr=0.01,max_lr=0.1,step_size_up=200 * exp:lr=1,gamma=0.999",
        c,
    );
    let tri = build("triangular:base_lr=0.01,max_lr=0.1,step_size_up=200", c);
    let exp = build("exp:lr=1,gamma=0.999", c);
    for t in [0, 1, 100, 200, 399, 400, 999] {
        assert_eq!(p.lr(t), tri.lr(t) * exp.lr(t));
        assert_eq!(p.momentum(t), tri.momentum(t));
    }
    assert_eq!(p.name(), "product(triangular,exp)");
    let names: Vec<String> = p.hyperparameters().into_iter().map(|(k, _)| k).collect();
    assert!(names.contains(&"p0.max_lr".to_string()) && names.contains(&"p1.gamma".to_string()));
    // `*` binds tighter than `@ >>`; parentheses group.
    let q = PolicySpec::parse("constant:lr=1 * constant:lr=2 @ 5 >> constant:lr=3").unwrap();
    assert_eq!(q.name(), "seq");
    let r = PolicySpec::parse("constant:lr=2 * (constant:lr=1 @ 5 >> constant:lr=3)").unwrap();
    assert_eq!(r.name(), "product");
    let r = LrPolicy::build(&r, &c).unwrap();
    assert_eq!((r.lr(4), r.lr(5)), (2.0, 6.0));
}

#[test]
fn composition_errors() {
    let c = ctx(1000, 10);
    assert_mentions(
        &error(
            "constant:lr=1 @ 50 >> constant:lr=2 @ 50 >> constant:lr=3",
            c,
        ),
        &["seq", "milestones.1", "strictly increasing"],
    );
    assert_mentions(
        &error("constant:lr=1 @ 0 >> constant:lr=2", c),
        &["milestones.0", "> 0"],
    );
    assert_mentions(
        &error("plateau:lr=0.1 @ 10 >> constant:lr=1", c),
        &["seq", "plateau", "cannot be composed"],
    );
    assert_mentions(
        &error("constant:lr=1 * plateau:lr=0.1", c),
        &["product", "factors", "plateau"],
    );
}

/// Resuming at step k from a fresh build gives exactly the k-th value of an uninterrupted run.
#[test]
fn resume_equivalence() {
    let specs = [
        "linear:lr=0.1,start_factor=0.1,total_iters=50 @ 50 >> cosine:lr=0.1,t_max=250",
        "linear:lr=0.1,start_factor=0.2,total_iters=1ep @ 1ep >> step:lr=0.1,step_size=30,gamma=0.5 @ 25ep >> exp:lr=0.1,gamma=0.99",
        "triangular:base_lr=0.01,max_lr=0.1,step_size_up=20 * exp:lr=1,gamma=0.999",
        "(poly:lr=0.1,total_iters=40 @ 40 >> cosine:lr=0.05,t_max=30) * cos:k0=0.5,k1=1,l=77",
        "onecycle:max_lr=0.1,three_phase=true",
        "tri2:k0=0.01,k1=0.1,l=37 @ 200 >> sinexp:k0=0.01,k1=0.1,gamma=0.999,l=20",
    ];
    let c = ctx(400, 10);
    for text in specs {
        let full = build(text, c).lr_series(0, 400);
        for k in [0u64, 1, 33, 49, 50, 51, 99, 100, 199, 200, 250, 251, 399] {
            let fresh = build(text, c);
            assert_eq!(fresh.lr(k), full[k as usize], "{text} at {k}");
            assert_eq!(fresh.lr_series(k, 1)[0], full[k as usize], "{text} at {k}");
        }
        let p = build(text, c);
        for k in (0..400).rev() {
            assert_eq!(p.lr(k), full[k as usize], "{text} backwards at {k}");
        }
    }
}

#[test]
fn display_round_trips() {
    let specs = [
        "constant:lr=0.1",
        "StepLR:step_size=3ep,LR=0.1",
        "multistep:lr=0.1,milestones=30;80,gamma=0.1",
        "multistep:lr=1e-5,milestones=3ep;6.5ep",
        "cosine:lr=0.123456789012345,t_max=1000,eta_min=1e-7",
        "onecycle:max_lr=0.1,anneal_strategy=linear,three_phase=true,cycle_momentum=false",
        "plateau:lr=0.1,mode=max,threshold_mode=abs",
        "tri2:k0=0.01,k1=0.1,l=500",
        "linear:lr=0.1,start_factor=0.1,total_iters=5 @ 5 >> cosine:lr=0.1",
        "triangular:base_lr=0.01,max_lr=0.1,step_size_up=200 * exp:lr=1,gamma=0.999",
        "(constant:lr=1 @ 3 >> constant:lr=2) @ 10 >> constant:lr=3 * exp:lr=1,gamma=0.9",
        "constant:lr=2 * (constant:lr=1 * constant:lr=3) * (step:lr=1,step_size=2 @ 4 >> fix:k0=1)",
    ];
    for text in specs {
        let spec = PolicySpec::parse(text).unwrap();
        let shown = spec.to_string();
        let back: PolicySpec = shown.parse().unwrap();
        assert_eq!(back, spec, "{text} -> {shown}");
        assert_eq!(back.to_string(), shown, "canonical text is stable");
    }
    // Canonical form: canonical names, lowercase keys in table order, shortest numbers.
    assert_eq!(
        PolicySpec::parse("StepLR: gamma = 0.5 , step_size=3ep, LR=1e-1")
            .unwrap()
            .to_string(),
        "step:lr=0.1,step_size=3ep,gamma=0.5"
    );
    assert_eq!(
        PolicySpec::parse("a @ 5 >> b:lr=1e-300").unwrap_err(),
        PolicySpec::parse("a").unwrap_err()
    );
    let tiny = PolicySpec::parse("constant:lr=1e-300").unwrap();
    assert_eq!(tiny.to_string(), "constant:lr=1e-300");
}

#[test]
fn with_param_and_primary_key() {
    let c = ctx(1000, 10);
    let spec = PolicySpec::parse("step:step_size=30").unwrap();
    assert_eq!(spec.primary_lr_key(), Some("lr"));
    let p = LrPolicy::build(&spec.with_param("lr", 0.3), &c).unwrap();
    assert_eq!(p.lr(0), 0.3);
    assert_eq!(spec.with_param("gamma", 0.5).param("gamma"), Some(0.5));
    let keys: Vec<_> = [
        "triangular:base_lr=0.01",
        "onecycle",
        "lrb_step:gamma=0.1,l=3",
        "tri:k0=0.01,l=3",
        "lrb_poly:p=1",
        "cosine",
    ]
    .iter()
    .map(|s| PolicySpec::parse(s).unwrap().primary_lr_key())
    .collect();
    assert_eq!(
        keys,
        vec![
            Some("max_lr"),
            Some("max_lr"),
            Some("k0"),
            Some("k1"),
            Some("k1"),
            Some("lr")
        ]
    );
    // A bare key reaches every phase that has it; `pI.` targets one phase or factor.
    let seq = PolicySpec::parse("linear:start_factor=0.1,total_iters=10 @ 10 >> cosine").unwrap();
    assert_eq!(seq.primary_lr_key(), Some("lr"));
    let p = LrPolicy::build(&seq.with_param("lr", 0.2), &c).unwrap();
    assert_close(p.lr(0), 0.02, 1e-15, "warm-up start");
    assert_eq!(p.lr(10), 0.2);
    let p = LrPolicy::build(&seq.with_param("lr", 0.2).with_param("p1.lr", 0.4), &c).unwrap();
    assert_eq!(p.lr(10), 0.4);
    let prod = PolicySpec::parse("cosine * exp:lr=1,gamma=0.99").unwrap();
    let p = LrPolicy::build(&prod.with_param("lr", 0.5), &c).unwrap();
    assert_eq!(p.lr(0), 0.5);
    // Unknown keys injected with with_param are reported by build.
    assert_mentions(
        &LrPolicy::build(&spec.with_param("lr", 0.1).with_param("lrr", 1.0), &c)
            .unwrap_err()
            .to_string(),
        &["unknown key `lrr`"],
    );
}

#[test]
fn toml_tables() {
    let c = ctx(1000, 10);
    let parse = |text: &str| -> PolicySpec {
        let t: toml::Table = toml::from_str(text).unwrap();
        PolicySpec::from_toml_table(t["policy"].as_table().unwrap()).unwrap()
    };
    let a = parse(r#"policy = { name = "step", lr = 0.1, step_size = 30, gamma = 0.1 }"#);
    assert_eq!(
        a,
        PolicySpec::parse("step:lr=0.1,step_size=30,gamma=0.1").unwrap()
    );
    let b = parse(r#"policy = { name = "multistep", lr = 0.1, milestones = ["3ep", 80] }"#);
    assert_eq!(
        b,
        PolicySpec::parse("multistep:lr=0.1,milestones=3ep;80").unwrap()
    );
    let c2 = parse(
        r#"policy = { name = "onecycle", max_lr = 1, three_phase = true, anneal_strategy = "linear", total_steps = "100ep" }"#,
    );
    assert_eq!(
        c2,
        PolicySpec::parse(
            "onecycle:max_lr=1,three_phase=true,anneal_strategy=linear,total_steps=100ep"
        )
        .unwrap()
    );
    let seq = parse(
        r#"
        [policy]
        name = "seq"
        phases = [ { name = "linear", lr = 0.1, start_factor = 0.1, total_iters = 5 }, "cosine:lr=0.1" ]
        milestones = ["5"]
        "#,
    );
    assert_eq!(
        seq,
        PolicySpec::parse("linear:lr=0.1,start_factor=0.1,total_iters=5 @ 5 >> cosine:lr=0.1")
            .unwrap()
    );
    let prod = parse(
        r#"policy = { name = "product", factors = ["cosine:lr=0.1", { name = "exp", lr = 1, gamma = 0.99 }] }"#,
    );
    assert_eq!(prod.name(), "product");
    LrPolicy::build(&prod, &c).unwrap();

    let err = |text: &str| -> String {
        let t: toml::Table = toml::from_str(text).unwrap();
        PolicySpec::from_toml_table(t["policy"].as_table().unwrap())
            .unwrap_err()
            .to_string()
    };
    assert_mentions(&err(r#"policy = { lr = 0.1 }"#), &["needs `name`"]);
    assert_mentions(
        &err(r#"policy = { name = "stpe" }"#),
        &["did you mean `step`"],
    );
    assert_mentions(
        &err(r#"policy = { name = "step", lr = "fast" }"#),
        &["step", "`lr`", "a number", "fast"],
    );
    assert_mentions(
        &err(r#"policy = { name = "step", step_size = [1, 2] }"#),
        &["step_size", "[1, 2]"],
    );
    assert_mentions(
        &err(r#"policy = { name = "seq", phases = ["constant:lr=1", "constant:lr=2"] }"#),
        &["seq", "milestones", "1 step counts"],
    );
    assert_mentions(
        &err(r#"policy = { name = "seq", phases = ["constant:lr=1"], milestones = [] }"#),
        &["phases", "at least two"],
    );
}

#[test]
fn table_is_complete_and_consistent() {
    // Every policy in the table builds from its required keys alone (plus valid cross-key values).
    let c = ctx(1000, 10);
    for info in policy_table() {
        let mut spec = PolicySpec::parse(info.name).unwrap();
        for p in info
            .params
            .iter()
            .filter(|p| p.default == ParamDefault::Required)
        {
            let v = match (info.name, p.name, p.kind) {
                (_, "max_lr", _) | (_, "k1", _) => 0.2,
                (_, "gamma", _) => 0.5,
                (_, _, ParamKind::Steps | ParamKind::StepsList) => 10.0,
                _ => 0.1,
            };
            spec = spec.with_param(p.name, v);
        }
        let built = LrPolicy::build(&spec, &c).unwrap_or_else(|e| panic!("{}: {e}", info.name));
        assert_eq!(built.name(), info.name);
        let hp = built.hyperparameters();
        assert!(hp.len() >= info.params.len(), "{}: {hp:?}", info.name);
        assert!(built.lr(0) > 0.0 && built.peak_lr() >= built.lr(0));
        assert_eq!(
            built.is_metric_driven(),
            info.family == Family::MetricDriven
        );
        assert_eq!(PolicySpec::parse(&spec.to_string()).unwrap(), spec);
    }
}

#[test]
fn policies_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_send_sync::<LrPolicy>();
    assert_send_sync::<PolicySpec>();
    assert_send_sync::<PlateauState>();
    let p = build("cosine:lr=0.1", ctx(10_000, 100));
    let q = p.clone();
    let handle = std::thread::spawn(move || q.lr(5000));
    assert_eq!(handle.join().unwrap(), p.lr(5000));
}
