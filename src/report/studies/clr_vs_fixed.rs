//! Study `clr-vs-fixed` (Smith 2017): triangular2 and 1cycle against the best fixed LR — the steps
//! each needs to reach the fixed LR's final accuracy, as a ratio read off the per-evaluation
//! curves — and the LR range test's bounds against the bounds the grid found best.

use std::collections::BTreeMap;

use super::{
    Finding, GroupRangeTest, Holds, LineFigure, LinePanel, Series, StudyFigure, StudyInputs,
    StudyResult, StudyRuns, StudyTable, f3, group_by, mean, mean_curve, num, put, scale_sentence,
    sci,
};
use crate::recipe::StudyKind;

const FIXED: &[&str] = &["constant", "fix"];
const CYCLICAL: &[(&str, &str)] = &[("triangular2", "triangular2"), ("onecycle", "1cycle")];

/// One configuration (policy spec × weight decay) over its seeds.
struct Config {
    spec: String,
    runs: Vec<usize>,
    score: f64,
    top1: f64,
    steps: Vec<f64>,
    curve: Vec<f64>,
}

fn configs(runs: &StudyRuns, members: &[usize], names: &[&str]) -> Vec<Config> {
    let idx: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&i| names.contains(&runs.s("policy_name", i)))
        .collect();
    group_by(idx.len(), |k| {
        (
            runs.s("policy", idx[k]).to_string(),
            runs.x("weight_decay", idx[k]).to_bits(),
        )
    })
    .into_iter()
    .map(|((spec, _), ks)| {
        let r: Vec<usize> = ks.iter().map(|&k| idx[k]).collect();
        let curves: Vec<&[f64]> = r.iter().map(|&i| runs.c("curve_top1", i)).collect();
        Config {
            spec,
            score: mean(r.iter().map(|&i| runs.select_score(i))),
            top1: mean(r.iter().map(|&i| runs.x("top1", i))),
            steps: runs.c("curve_steps", r[0]).to_vec(),
            curve: mean_curve(&curves),
            runs: r,
        }
    })
    .collect()
}

fn best(cs: Vec<Config>) -> Option<Config> {
    cs.into_iter().max_by(|a, b| a.score.total_cmp(&b.score))
}

/// First evaluation step at which `curve` reaches `target`.
fn steps_to(c: &Config, target: f64) -> Option<f64> {
    c.curve
        .iter()
        .zip(&c.steps)
        .find(|(a, _)| **a >= target - 1e-12)
        .map(|(_, s)| *s)
}

/// Smith's bounds from range tests: the LR where the smoothed loss first falls 5 % below its start
/// (lower) and the LR of its minimum (upper), geometric means over the repeats.
pub fn range_bounds(t: &GroupRangeTest) -> (f64, f64) {
    let mut lows = Vec::new();
    let mut highs = Vec::new();
    for c in &t.test.curves {
        let skip = c.num_steps / 10;
        if c.smoothed.len() <= skip + 2 {
            continue;
        }
        let s = &c.smoothed[skip..];
        let l = &c.lrs[skip..];
        let start = s[0];
        if let Some(k) = s.iter().position(|v| *v < 0.95 * start) {
            lows.push(l[k].log10());
        }
        let (kmin, _) =
            s.iter().enumerate().fold(
                (0, f64::INFINITY),
                |acc, (k, v)| if *v < acc.1 { (k, *v) } else { acc },
            );
        highs.push(l[kmin].log10());
    }
    let g = |v: &[f64]| 10f64.powf(mean(v.iter().copied()));
    (g(&lows), g(&highs))
}

/// The analysis.
pub fn analyse(runs: &StudyRuns, inputs: &StudyInputs) -> StudyResult {
    let mut numbers = BTreeMap::new();
    let mut rows = Vec::new();
    let mut bound_rows = Vec::new();
    let mut panels = Vec::new();
    let mut rt_panels = Vec::new();
    let mut faster: BTreeMap<&str, (usize, usize, Vec<String>)> = BTreeMap::new();
    let mut bounds_hits = 0;
    let mut bounds_n = 0;
    let mut bounds_parts = Vec::new();
    for (g, members) in group_by(runs.len, |i| runs.group(i)) {
        let Some(fixed) = best(configs(runs, &members, FIXED)) else {
            continue;
        };
        let target = fixed.top1;
        let fixed_steps = steps_to(&fixed, target);
        let fixed_lr = runs.x("base_lr", fixed.runs[0]);
        put(&mut numbers, format!("{g}.fixed.base_lr"), fixed_lr);
        put(&mut numbers, format!("{g}.fixed.top1"), target);
        put(
            &mut numbers,
            format!("{g}.fixed.steps_to_final"),
            fixed_steps.unwrap_or(f64::NAN),
        );
        rows.push(vec![
            g.clone(),
            "fixed".into(),
            format!("`{}`", fixed.spec),
            f3(target),
            fixed_steps.map_or("—".into(), num),
            "1".into(),
        ]);
        let mut series = vec![Series {
            label: "best fixed".into(),
            points: fixed
                .steps
                .iter()
                .zip(&fixed.curve)
                .map(|(s, a)| [*s, *a])
                .collect(),
            markers_only: false,
        }];
        let mut best_max_lr: Vec<(String, f64, f64)> = Vec::new();
        for (name, label) in CYCLICAL {
            let Some(c) = best(configs(runs, &members, &[name])) else {
                continue;
            };
            let reached = steps_to(&c, target);
            let ratio = match (reached, fixed_steps) {
                (Some(a), Some(b)) if b > 0.0 => a / b,
                _ => f64::NAN,
            };
            let entry = faster.entry(label).or_default();
            entry.1 += 1;
            if ratio < 1.0 {
                entry.0 += 1;
            }
            entry.2.push(format!(
                "{g}: {}",
                if ratio.is_finite() {
                    format!("×{ratio:.2}")
                } else {
                    "never reached".into()
                }
            ));
            put(&mut numbers, format!("{g}.{label}.top1"), c.top1);
            put(
                &mut numbers,
                format!("{g}.{label}.steps_to_fixed_final"),
                reached.unwrap_or(f64::NAN),
            );
            put(&mut numbers, format!("{g}.{label}.step_ratio"), ratio);
            rows.push(vec![
                g.clone(),
                label.to_string(),
                format!("`{}`", c.spec),
                f3(c.top1),
                reached.map_or("never".into(), num),
                if ratio.is_finite() {
                    format!("{ratio:.2}")
                } else {
                    "—".into()
                },
            ]);
            let i = c.runs[0];
            best_max_lr.push((
                label.to_string(),
                runs.x("p_base_lr", i),
                runs.x("p_max_lr", i),
            ));
            series.push(Series {
                label: format!("best {label}"),
                points: c
                    .steps
                    .iter()
                    .zip(&c.curve)
                    .map(|(s, a)| [*s, *a])
                    .collect(),
                markers_only: false,
            });
        }
        if let (Some(first), Some(last)) = (fixed.steps.first(), fixed.steps.last()) {
            series.push(Series {
                label: "fixed LR's final top-1".into(),
                points: vec![[*first, target], [*last, target]],
                markers_only: false,
            });
        }
        panels.push(LinePanel {
            title: g.clone(),
            series,
        });
        // Range-test bounds against the grid's.
        if let Some(t) = inputs.range_tests.iter().find(|t| {
            members
                .iter()
                .any(|&i| runs.s("task", i) == t.task && runs.s("arch", i) == t.arch)
        }) {
            let (lo, hi) = range_bounds(t);
            put(&mut numbers, format!("{g}.range_test.lower"), lo);
            put(&mut numbers, format!("{g}.range_test.upper"), hi);
            for (label, base, max) in &best_max_lr {
                let factor = (max / hi).max(hi / max);
                bounds_n += 1;
                if factor <= 3.0 {
                    bounds_hits += 1;
                }
                bounds_parts.push(format!(
                    "{g} {label}: grid max {} vs range test {} (×{factor:.1})",
                    sci(*max),
                    sci(hi)
                ));
                bound_rows.push(vec![
                    g.clone(),
                    label.clone(),
                    sci(lo),
                    sci(hi),
                    sci(*base),
                    sci(*max),
                    format!("{factor:.1}"),
                ]);
            }
            bound_rows.push(vec![
                g.clone(),
                "fixed".into(),
                sci(lo),
                sci(hi),
                "—".into(),
                sci(fixed_lr),
                format!("{:.1}", (fixed_lr / hi).max(hi / fixed_lr)),
            ]);
            rt_panels.push(LinePanel {
                title: g.clone(),
                series: t
                    .test
                    .curves
                    .iter()
                    .map(|c| Series {
                        label: "range test (one per seed)".into(),
                        points: c
                            .lrs
                            .iter()
                            .zip(&c.smoothed)
                            // Up to twice the starting loss: the explosion past it would
                            // flatten the rest of the curve.
                            .take_while(|(_, s)| **s <= 2.0 * c.smoothed[0])
                            .map(|(l, s)| [*l, *s])
                            .collect(),
                        markers_only: false,
                    })
                    .chain(best_max_lr.iter().map(|(label, _, max)| {
                        let y = t
                            .test
                            .curves
                            .iter()
                            .flat_map(|c| c.smoothed.iter().copied())
                            .fold(f64::INFINITY, f64::min);
                        Series {
                            label: format!("grid's best {label} max LR"),
                            points: vec![[*max, y]],
                            markers_only: true,
                        }
                    }))
                    .collect(),
            });
        }
    }
    let finding = |label: &str| {
        let (hits, n, parts) = faster.get(label).cloned().unwrap_or_default();
        Finding {
            claim: format!("{label} reaches the best fixed LR's final accuracy in fewer steps."),
            holds: Holds::of_count(hits, n),
            evidence: if n == 0 {
                format!("no task × architecture has both fixed and {label} runs.")
            } else {
                format!(
                    "steps to reach it, as a ratio to the fixed LR's own steps: {} (fewer in {hits} of {n}).",
                    parts.join("; ")
                )
            },
        }
    };
    let f1 = finding("triangular2");
    let f2 = finding("1cycle");
    let f3_ = Finding {
        claim:
            "The LR range test's upper bound matches the best maximum LR of the grid (within ×3)."
                .into(),
        holds: Holds::of_count(bounds_hits, bounds_n),
        evidence: if bounds_n == 0 {
            "no range test beside a cyclical policy.".into()
        } else {
            format!("{}.", bounds_parts.join("; "))
        },
    };
    let verdict = format!(
        "Reaching the best fixed LR's final accuracy in fewer steps: triangular2 {} ({}), 1cycle \
         {} ({}). The range test's upper bound as a guide to the grid's best maximum LR (within \
         ×3): {}.",
        f1.holds.label(),
        f1.evidence.trim_end_matches('.'),
        f2.holds.label(),
        f2.evidence.trim_end_matches('.'),
        f3_.holds.label()
    );
    let mut tables = vec![StudyTable {
        title:
            "Best configuration of each policy family; steps to the best fixed LR's final top-1 \
                (per-evaluation curves, means over seeds)"
                .into(),
        headers: [
            "task · arch",
            "policy",
            "best configuration",
            "final top-1",
            "steps to fixed's final",
            "ratio to fixed",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }];
    if !bound_rows.is_empty() {
        tables.push(StudyTable {
            title: "LR range test bounds (geometric means over seeds) against the grid's best"
                .into(),
            headers: [
                "task · arch",
                "policy",
                "range test lower (loss 5 % below its start; — never)",
                "range test upper (loss minimum)",
                "grid base LR",
                "grid max LR",
                "factor upper vs grid max",
            ]
            .map(String::from)
            .to_vec(),
            rows: bound_rows,
        });
    }
    let mut figures = vec![StudyFigure::Lines(LineFigure {
        file: "study_clr_curves.svg".into(),
        title: "Test top-1 against steps: best fixed LR, triangular2, 1cycle".into(),
        caption: "Mean test top-1 over seeds at each evaluation of the best configuration of each \
                  family; the flat line is the fixed LR's final accuracy, the target."
            .into(),
        x_label: "step".into(),
        y_label: "test top-1".into(),
        log_x: false,
        log_y: false,
        panels,
    })];
    if !rt_panels.is_empty() {
        figures.push(StudyFigure::Lines(LineFigure {
            file: "study_clr_range_test.svg".into(),
            title: "LR range tests and the grid's best maximum LRs".into(),
            caption: "Smoothed range-test loss against the LR, one line per seed (cut where it \
                      passes twice its starting value); the markers are the maximum LR of the \
                      grid's best triangular2 and 1cycle runs."
                .into(),
            x_label: "learning rate".into(),
            y_label: "smoothed loss".into(),
            log_x: true,
            log_y: false,
            panels: rt_panels,
        }));
    }
    StudyResult {
        kind: StudyKind::ClrVsFixed,
        title: "Cyclical LRs against the best fixed LR (Smith)".into(),
        scale: format!(
            "{} Accuracy is read at each evaluation (epoch ends), so step counts are multiples of \
             an epoch.",
            scale_sentence(runs)
        ),
        verdict,
        findings: vec![f1, f2, f3_],
        tables,
        figures,
        numbers,
    }
}
