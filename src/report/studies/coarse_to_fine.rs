//! Study `coarse-to-fine` (the cyclical-LR MLP study): a two-layer MLP with a triangular LR, a
//! coarse-to-fine search over L2 strength, step size n_s and number of cycles on a validation
//! split; then more hidden units, a snapshot ensemble at the cycle ends and dropout, each switched
//! on alone at the searched configuration, as a table of improvements.

use std::collections::BTreeMap;

use super::{
    Finding, Holds, LineFigure, LinePanel, Series, StudyFigure, StudyResult, StudyRuns, StudyTable,
    f3, group_by, mean, num, put, scale_sentence, std,
};
use crate::recipe::StudyKind;

/// Hidden units of an MLP spec (`mlp:hidden=50;50` → 100), 0 when unspecified.
fn hidden_units(arch: &str) -> f64 {
    arch.split([':', ','])
        .find_map(|part| part.strip_prefix("hidden="))
        .map(|h| h.split(';').filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(0.0)
}

/// A searched configuration: everything but the architecture and the seed.
fn config_key(runs: &StudyRuns, i: usize) -> String {
    format!(
        "{} wd={} steps={} batch={}",
        runs.s("policy", i),
        runs.x("weight_decay", i),
        runs.x("total_steps", i),
        runs.x("batch_size", i)
    )
}

fn n_s(runs: &StudyRuns, i: usize) -> f64 {
    runs.x("p_step_size_up", i)
}

fn cycles(runs: &StudyRuns, i: usize) -> f64 {
    let up = runs.x("p_step_size_up", i);
    let down = runs.x("p_step_size_down", i);
    let down = if down.is_finite() { down } else { up };
    runs.x("total_steps", i) / (up + down)
}

fn range(values: impl Iterator<Item = f64>) -> String {
    let v: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if v.is_empty() {
        "—".into()
    } else if lo == hi {
        num(lo)
    } else {
        format!("{} – {}", num(lo), num(hi))
    }
}

/// The analysis.
pub fn analyse(runs: &StudyRuns) -> StudyResult {
    let mut numbers = BTreeMap::new();
    let dropout = |i: usize| runs.x("dropout", i).max(0.0);
    let base_hidden = (0..runs.len)
        .filter(|&i| dropout(i) == 0.0)
        .map(|i| hidden_units(runs.s("arch", i)))
        .fold(f64::INFINITY, f64::min);
    let is_base = |i: usize| dropout(i) == 0.0 && hidden_units(runs.s("arch", i)) == base_hidden;
    let base: Vec<usize> = (0..runs.len).filter(|&i| is_base(i)).collect();
    // The search, round by round, on the baseline architecture.
    let mut search_rows = Vec::new();
    let mut by_round: Vec<LinePanel> = [
        "L2 strength (weight decay)",
        "step size n_s (steps)",
        "cycles",
    ]
    .iter()
    .map(|t| LinePanel {
        title: t.to_string(),
        series: Vec::new(),
    })
    .collect();
    let mut round_best = Vec::new();
    let mut rounds = group_by(base.len(), |k| runs.x("round", base[k]).to_bits());
    rounds.sort_by(|a, b| f64::from_bits(a.0).total_cmp(&f64::from_bits(b.0)));
    for (round, idx) in rounds {
        let r: Vec<usize> = idx.iter().map(|&k| base[k]).collect();
        let round = f64::from_bits(round);
        let best = r
            .iter()
            .map(|&i| runs.select_score(i))
            .fold(f64::NEG_INFINITY, f64::max);
        round_best.push(best);
        search_rows.push(vec![
            num(round),
            r.len().to_string(),
            range(r.iter().map(|&i| runs.x("weight_decay", i))),
            range(r.iter().map(|&i| n_s(runs, i))),
            range(r.iter().map(|&i| cycles(runs, i))),
            f3(best),
        ]);
        let label = format!("round {}", num(round));
        let getters: [&dyn Fn(usize) -> f64; 3] =
            [&|i| runs.x("weight_decay", i), &|i| n_s(runs, i), &|i| {
                cycles(runs, i)
            }];
        for (p, x) in getters.iter().enumerate() {
            by_round[p].series.push(Series {
                label: label.clone(),
                points: r
                    .iter()
                    .map(|&i| [x(i), runs.select_score(i)])
                    .filter(|[a, b]| a.is_finite() && *a > 0.0 && b.is_finite())
                    .collect(),
                markers_only: true,
            });
        }
    }
    // The searched baseline: the best configuration of the baseline architecture.
    let configs = group_by(base.len(), |k| config_key(runs, base[k]));
    let best = configs.iter().max_by(|(_, a), (_, b)| {
        let s = |v: &Vec<usize>| mean(v.iter().map(|&k| runs.select_score(base[k])));
        s(a).total_cmp(&s(b))
    });
    // Seed noise: the standard deviation of the selection score between the seeds of a
    // configuration, pooled (root mean square) over the baseline's configurations.
    let noise = mean(
        configs
            .iter()
            .filter(|(_, ks)| ks.len() > 1)
            .map(|(_, ks)| {
                std(&ks
                    .iter()
                    .map(|&k| runs.select_score(base[k]))
                    .collect::<Vec<_>>())
                .powi(2)
            }),
    )
    .sqrt();
    let noise = if noise.is_finite() { noise } else { 0.0 };
    put(&mut numbers, "seed_sd_val_top1", noise);
    let mut rows = Vec::new();
    let mut findings = Vec::new();
    let claim = "The later coarse-to-fine rounds find better settings than the coarse round (by \
                 more than the seed sd).";
    let search_finding = match round_best.first() {
        Some(first) if round_best.len() > 1 => {
            let later = round_best[1..]
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            let gain = later - first;
            put(&mut numbers, "search.gain_val_top1", gain);
            Finding {
                claim: claim.into(),
                holds: if gain > noise {
                    Holds::Holds
                } else {
                    Holds::DoesNotHold
                },
                evidence: format!(
                    "best validation top-1 of the baseline per round: {} (gain {gain:+.3}; seed sd \
                     of a configuration's validation top-1 {}).",
                    round_best
                        .iter()
                        .map(|v| f3(*v))
                        .collect::<Vec<_>>()
                        .join(" → "),
                    f3(noise)
                ),
            }
        }
        _ => Finding {
            claim: claim.into(),
            holds: Holds::CannotTell,
            evidence: "the corpus holds one search round.".into(),
        },
    };
    findings.push(search_finding);
    let mut improvements = Vec::new();
    if let Some((key, ks)) = best {
        let b: Vec<usize> = ks.iter().map(|&k| base[k]).collect();
        let b_test = mean(b.iter().map(|&i| runs.x("top1", i)));
        let b_val = mean(b.iter().map(|&i| runs.select_score(i)));
        let sd = std(&b.iter().map(|&i| runs.x("top1", i)).collect::<Vec<_>>());
        let i0 = b[0];
        put(&mut numbers, "baseline.test_top1", b_test);
        put(&mut numbers, "baseline.val_top1", b_val);
        put(&mut numbers, "baseline.seed_sd", sd);
        put(
            &mut numbers,
            "baseline.weight_decay",
            runs.x("weight_decay", i0),
        );
        put(&mut numbers, "baseline.n_s", n_s(runs, i0));
        put(&mut numbers, "baseline.cycles", cycles(runs, i0));
        rows.push(vec![
            format!("searched baseline (`{}`, {key})", runs.s("arch", i0)),
            f3(b_val),
            f3(b_test),
            "—".into(),
        ]);
        let same: Vec<usize> = (0..runs.len)
            .filter(|&i| config_key(runs, i) == *key)
            .collect();
        let wider: Vec<usize> = same
            .iter()
            .copied()
            .filter(|&i| dropout(i) == 0.0 && hidden_units(runs.s("arch", i)) > base_hidden)
            .collect();
        let drop: Vec<usize> = same
            .iter()
            .copied()
            .filter(|&i| dropout(i) > 0.0 && hidden_units(runs.s("arch", i)) == base_hidden)
            .collect();
        let ens_test = mean(b.iter().map(|&i| runs.x("ensemble_top1", i)));
        let ens_val = mean(b.iter().map(|&i| runs.x("ensemble_val_top1", i)));
        let snaps = mean(b.iter().map(|&i| runs.x("snapshots", i)));
        let variants: [(String, &str, f64, f64); 3] = [
            (
                format!(
                    "+ more hidden units ({})",
                    wider.first().map_or("none trained".into(), |&i| format!(
                        "`{}`",
                        runs.s("arch", i)
                    ))
                ),
                "more_hidden_units",
                mean(wider.iter().map(|&i| runs.select_score(i))),
                mean(wider.iter().map(|&i| runs.x("top1", i))),
            ),
            (
                format!("+ snapshot ensemble ({snaps:.0} models at the cycle ends)"),
                "snapshot_ensemble",
                ens_val,
                ens_test,
            ),
            (
                format!(
                    "+ dropout ({})",
                    drop.first().map_or("none trained".into(), |&i| format!(
                        "`{}`",
                        runs.s("arch", i)
                    ))
                ),
                "dropout",
                mean(drop.iter().map(|&i| runs.select_score(i))),
                mean(drop.iter().map(|&i| runs.x("top1", i))),
            ),
        ];
        for (label, name, val, test) in variants {
            let delta = test - b_test;
            put(&mut numbers, format!("{name}.test_top1"), test);
            put(&mut numbers, format!("{name}.val_top1"), val);
            put(&mut numbers, format!("{name}.delta_test_top1"), delta);
            rows.push(vec![
                label.clone(),
                f3(val),
                f3(test),
                if delta.is_finite() {
                    format!("{delta:+.3}")
                } else {
                    "—".into()
                },
            ]);
            improvements.push(format!(
                "{name} {}",
                if delta.is_finite() {
                    format!("{delta:+.3}")
                } else {
                    "—".into()
                }
            ));
            findings.push(Finding {
                claim: format!(
                    "{} improves test accuracy over the searched baseline.",
                    label.trim_start_matches("+ ")
                ),
                holds: if !delta.is_finite() {
                    Holds::CannotTell
                } else if delta > sd.max(0.0) {
                    Holds::Holds
                } else {
                    Holds::DoesNotHold
                },
                evidence: format!(
                    "test top-1 {} against the baseline's {} ({}; it counts only above the seed sd \
                     of the baseline's test top-1, {}).",
                    f3(test),
                    f3(b_test),
                    if delta.is_finite() {
                        format!("{delta:+.3}")
                    } else {
                        "—".into()
                    },
                    f3(sd)
                ),
            });
        }
    }
    let holds_count = findings[1..]
        .iter()
        .filter(|f| f.holds == Holds::Holds)
        .count();
    let verdict = format!(
        "The later search rounds {} ({}). Switched on alone at the searched configuration, \
         {holds_count} of {} additions improve test top-1 by more than the seed sd ({}).",
        if findings[0].holds == Holds::Holds {
            "improved on the coarse round"
        } else {
            "did not improve on the coarse round beyond seed noise"
        },
        findings[0].evidence.trim_end_matches('.'),
        findings.len() - 1,
        improvements.join(", ")
    );
    StudyResult {
        kind: StudyKind::CoarseToFine,
        title: "Cyclical-LR MLP: coarse-to-fine search, then wider, ensembled and dropout".into(),
        scale: format!(
            "{} The search ranks configurations by mean validation top-1 over every architecture \
             it trains (the variants are crossed with each draw), and the baseline is the best \
             configuration of the narrowest MLP without dropout.",
            scale_sentence(runs)
        ),
        verdict,
        findings,
        tables: vec![
            StudyTable {
                title: "Search rounds (baseline architecture)".into(),
                headers: ["round", "runs", "L2 strength", "n_s (steps)", "cycles", "best val top-1"]
                    .map(String::from)
                    .to_vec(),
                rows: search_rows,
            },
            StudyTable {
                title: "Improvements, each switched on alone at the searched configuration (means over seeds)".into(),
                headers: ["variant", "val top-1", "test top-1", "Δ test top-1"].map(String::from).to_vec(),
                rows,
            },
        ],
        figures: vec![StudyFigure::Lines(LineFigure {
            file: "study_coarse_to_fine.svg".into(),
            title: "Validation top-1 of every baseline run by search round".into(),
            caption: "Validation top-1 of the baseline MLP's runs against each searched setting, \
                      coloured by round: later rounds narrow onto the best region."
                .into(),
            x_label: "setting".into(),
            y_label: "validation top-1".into(),
            log_x: true,
            log_y: false,
            panels: by_round,
        })],
        numbers,
    }
}
