//! Study `lrbench-policies`: LRBench's 13 policies (+ plateau) on tasks × architectures at matched
//! step budgets; LRBench's table (top-1, top-5, average confidence, confidence deviation, loss gap)
//! and its two findings — cyclical policies give a smaller train–test loss gap on MNIST-like data;
//! TRI2 beats TRI and plateau decay.

use std::collections::BTreeMap;

use super::{
    Finding, HeatCell, HeatFigure, Holds, StudyFigure, StudyResult, StudyRuns, StudyTable, blue,
    f3, group_by, mean, num, put, scale_sentence,
};
use crate::recipe::StudyKind;

/// LRBench's cyclical policies (COS with its default half-period of the whole run is a single
/// decay here, so it is not counted as cyclical).
pub const CYCLICAL: &[&str] = &["tri", "tri2", "triexp", "sin", "sin2", "sinexp"];

/// LRBench's order of its policies, then plateau.
const ORDER: &[&str] = &[
    "fix", "lrb_step", "nstep", "lrb_exp", "inv", "lrb_poly", "cos", "tri", "tri2", "triexp",
    "sin", "sin2", "sinexp", "plateau",
];

/// A task is MNIST-like when it is handwritten digits.
fn mnist_like(task: &str) -> bool {
    task.contains("mnist") && !task.contains("fashion") || task == "digits"
}

/// One policy's row in one task × architecture: the base LR with the best selection score.
struct Best {
    policy: String,
    base_lr: f64,
    top1: f64,
    top5: f64,
    avg_conf: f64,
    conf_dev: f64,
    loss_gap: f64,
}

/// The analysis.
pub fn analyse(runs: &StudyRuns) -> StudyResult {
    let groups = group_by(runs.len, |i| runs.group(i));
    let mut numbers = BTreeMap::new();
    let mut rows = Vec::new();
    let mut table: Vec<(String, bool, Vec<Best>)> = Vec::new();
    for (g, members) in &groups {
        let mnist = mnist_like(runs.task_name(members[0]));
        let mut bests = Vec::new();
        for (policy, idx) in group_by(members.len(), |k| runs.s("policy_name", members[k])) {
            let idx: Vec<usize> = idx.iter().map(|&k| members[k]).collect();
            // Best base LR by mean selection score over seeds.
            let by_lr = group_by(idx.len(), |k| runs.x("base_lr", idx[k]).to_bits());
            let Some((_, chosen)) = by_lr.into_iter().max_by(|(_, a), (_, b)| {
                let s = |v: &Vec<usize>| mean(v.iter().map(|&k| runs.select_score(idx[k])));
                s(a).total_cmp(&s(b))
            }) else {
                continue;
            };
            let chosen: Vec<usize> = chosen.iter().map(|&k| idx[k]).collect();
            let m = |c: &str| mean(chosen.iter().map(|&i| runs.x(c, i)));
            bests.push(Best {
                policy: policy.to_string(),
                base_lr: runs.x("base_lr", chosen[0]),
                top1: m("top1"),
                top5: m("top5"),
                avg_conf: m("avg_confidence"),
                conf_dev: m("confidence_dev"),
                loss_gap: m("loss_gap"),
            });
        }
        bests.sort_by_key(|b| ORDER.iter().position(|p| *p == b.policy).unwrap_or(99));
        for b in &bests {
            rows.push(vec![
                g.clone(),
                b.policy.clone(),
                num(b.base_lr),
                f3(b.top1),
                f3(b.top5),
                f3(b.avg_conf),
                f3(b.conf_dev),
                f3(b.loss_gap),
            ]);
            put(&mut numbers, format!("{g}.{}.top1", b.policy), b.top1);
            put(
                &mut numbers,
                format!("{g}.{}.loss_gap", b.policy),
                b.loss_gap,
            );
        }
        table.push((g.clone(), mnist, bests));
    }
    // Finding 1: cyclical vs the others, loss gap, on MNIST-like tasks.
    let mut hits = 0;
    let mut n = 0;
    let mut parts = Vec::new();
    for (g, mnist, bests) in &table {
        if !mnist {
            continue;
        }
        let cyc = mean(
            bests
                .iter()
                .filter(|b| CYCLICAL.contains(&b.policy.as_str()))
                .map(|b| b.loss_gap),
        );
        let other = mean(
            bests
                .iter()
                .filter(|b| !CYCLICAL.contains(&b.policy.as_str()))
                .map(|b| b.loss_gap),
        );
        if cyc.is_finite() && other.is_finite() {
            n += 1;
            if cyc < other {
                hits += 1;
            }
            put(&mut numbers, format!("{g}.loss_gap_cyclical"), cyc);
            put(&mut numbers, format!("{g}.loss_gap_other"), other);
            parts.push(format!("{g}: {} vs {}", f3(cyc), f3(other)));
        }
    }
    let finding1 = Finding {
        claim: "Cyclical policies give a smaller train–test loss gap on MNIST-like data.".into(),
        holds: Holds::of_count(hits, n),
        evidence: if n == 0 {
            "no MNIST-like task × architecture has both cyclical and other policies.".into()
        } else {
            format!(
                "mean loss gap of the cyclical policies ({}) against the others, in {hits} of {n} \
                 MNIST-like task × architectures smaller: {}.",
                CYCLICAL.join(", "),
                parts.join("; ")
            )
        },
    };
    // Finding 2: TRI2 beats TRI and plateau.
    let mut hits2 = 0;
    let mut n2 = 0;
    let mut parts2 = Vec::new();
    for (g, _, bests) in &table {
        let get = |p: &str| bests.iter().find(|b| b.policy == p).map(|b| b.top1);
        if let (Some(t2), Some(t), Some(pl)) = (get("tri2"), get("tri"), get("plateau")) {
            n2 += 1;
            if t2 > t && t2 > pl {
                hits2 += 1;
            }
            parts2.push(format!(
                "{g}: TRI2 {} / TRI {} / plateau {}",
                f3(t2),
                f3(t),
                f3(pl)
            ));
        }
    }
    put(&mut numbers, "tri2_wins", hits2 as f64);
    put(&mut numbers, "tri2_comparisons", n2 as f64);
    put(&mut numbers, "cyclical_smaller_gap", hits as f64);
    put(&mut numbers, "cyclical_comparisons", n as f64);
    let finding2 = Finding {
        claim: "TRI2 beats TRI and plateau decay.".into(),
        holds: Holds::of_count(hits2, n2),
        evidence: if n2 == 0 {
            "no task × architecture has tri2, tri and plateau runs.".into()
        } else {
            format!(
                "TRI2's top-1 is above both in {hits2} of {n2} task × architectures: {}.",
                parts2.join("; ")
            )
        },
    };
    let verdict = format!(
        "LRBench's loss-gap finding {} here ({hits} of {n} MNIST-like task × architectures), \
         and TRI2 beating TRI and plateau {} ({hits2} of {n2}). Each policy is shown at its best \
         base LR, chosen on {}.",
        finding1.holds.label(),
        finding2.holds.label(),
        if runs.selected_on_validation() {
            "the validation split"
        } else {
            "the test split (no validation split)"
        }
    );
    // Maps: top-1 and loss gap, task × architecture by policy.
    let policies: Vec<String> = ORDER
        .iter()
        .filter(|p| {
            table
                .iter()
                .any(|(_, _, b)| b.iter().any(|b| b.policy == **p))
        })
        .map(|p| p.to_string())
        .collect();
    let map = |value: &dyn Fn(&Best) -> f64, higher_better: bool| -> Vec<HeatCell> {
        let mut cells = Vec::new();
        for (y, (_, _, bests)) in table.iter().enumerate() {
            let vals: Vec<f64> = bests.iter().map(value).filter(|v| v.is_finite()).collect();
            let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            for b in bests {
                let Some(x) = policies.iter().position(|p| *p == b.policy) else {
                    continue;
                };
                let v = value(b);
                let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                cells.push(HeatCell {
                    x,
                    y,
                    color: blue(if higher_better { t } else { 1.0 - t }),
                    text: if v.is_finite() {
                        format!("{v:.3}")
                    } else {
                        "—".into()
                    },
                });
            }
        }
        cells
    };
    let groups_ticks: Vec<String> = table.iter().map(|(g, _, _)| g.clone()).collect();
    StudyResult {
        kind: StudyKind::LrbenchPolicies,
        title: "LRBench's policies: its table and its two findings".into(),
        scale: scale_sentence(runs),
        verdict,
        findings: vec![finding1, finding2],
        tables: vec![StudyTable {
            title: "LRBench's table: each policy at its best base LR (means over seeds)".into(),
            headers: [
                "task · arch",
                "policy",
                "base LR",
                "top-1",
                "top-5",
                "avg confidence",
                "confidence dev",
                "loss gap",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }],
        figures: vec![
            StudyFigure::Heat(HeatFigure {
                file: "study_lrbench_top1.svg".into(),
                title: "Test top-1 per policy".into(),
                caption: "Final test top-1 of each policy at its best base LR, a row per task × \
                          architecture (darker = better within the row)."
                    .into(),
                x_label: "policy".into(),
                y_label: String::new(),
                x_ticks: policies.clone(),
                y_ticks: groups_ticks.clone(),
                cells: map(&|b| b.top1, true),
                legend: vec![
                    ("best in row".into(), blue(1.0)),
                    ("worst".into(), blue(0.0)),
                ],
            }),
            StudyFigure::Heat(HeatFigure {
                file: "study_lrbench_loss_gap.svg".into(),
                title: "Train–test loss gap per policy".into(),
                caption: "Test loss minus training loss of each policy at its best base LR \
                          (darker = smaller gap within the row)."
                    .into(),
                x_label: "policy".into(),
                y_label: String::new(),
                x_ticks: policies.clone(),
                y_ticks: groups_ticks,
                cells: map(&|b| b.loss_gap, false),
                legend: vec![
                    ("smallest gap in row".into(), blue(1.0)),
                    ("largest".into(), blue(0.0)),
                ],
            }),
        ],
        numbers,
    }
}
