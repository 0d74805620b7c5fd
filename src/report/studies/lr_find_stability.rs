//! Study `lr-find-stability`: the LR range test's suggestion over many seeds per task ×
//! architecture, its spread, and how the suggested LR compares with the best LR of the grid.

use std::collections::BTreeMap;

use super::{
    Finding, Holds, LineFigure, LinePanel, Series, StudyFigure, StudyInputs, StudyResult,
    StudyRuns, StudyTable, f3, group_by, mean, num, put, scale_sentence, sci,
};
use crate::lrfind::Suggestion;
use crate::recipe::StudyKind;

/// A suggestion is stable when its largest and smallest value over seeds are within this factor.
const STABLE_FACTOR: f64 = 3.0;
/// A suggestion is near the grid's best LR within this factor.
const NEAR_FACTOR: f64 = 3.0;

/// The analysis.
pub fn analyse(runs: &StudyRuns, inputs: &StudyInputs) -> StudyResult {
    let mut numbers = BTreeMap::new();
    let mut rows = Vec::new();
    let mut rule_rows = Vec::new();
    let mut panels = Vec::new();
    let (mut stable, mut near, mut n) = (0usize, 0usize, 0usize);
    let mut stable_parts = Vec::new();
    let mut near_parts = Vec::new();
    let mut repeats = 0;
    for t in &inputs.range_tests {
        let members: Vec<usize> = (0..runs.len)
            .filter(|&i| runs.s("task", i) == t.task && runs.s("arch", i) == t.arch)
            .collect();
        if members.is_empty() {
            continue;
        }
        let g = runs.group(members[0]);
        repeats = t.test.curves.len();
        // The grid's accuracy by base LR (mean over seeds and every policy the grid holds).
        let by_lr = group_by(members.len(), |k| runs.x("base_lr", members[k]).to_bits());
        let mut curve: Vec<(f64, f64, f64)> = by_lr
            .iter()
            .map(|(lr, ks)| {
                (
                    f64::from_bits(*lr),
                    mean(ks.iter().map(|&k| runs.select_score(members[k]))),
                    mean(ks.iter().map(|&k| runs.x("top1", members[k]))),
                )
            })
            .collect();
        curve.sort_by(|a, b| a.0.total_cmp(&b.0));
        let Some(&(best_lr, _, best_top1)) = curve.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else {
            continue;
        };
        let spread = t.test.spread(Suggestion::Valley);
        let (Some(gm), Some(lo), Some(hi)) = (spread.geometric_mean, spread.min, spread.max) else {
            continue;
        };
        n += 1;
        let factor = hi / lo;
        let off = (gm / best_lr).max(best_lr / gm);
        if factor <= STABLE_FACTOR {
            stable += 1;
        }
        if off <= NEAR_FACTOR {
            near += 1;
        }
        // The grid LR nearest (in log) to the suggestion, and what it scores.
        let &(near_lr, _, near_top1) = curve
            .iter()
            .min_by(|a, b| (a.0 / gm).ln().abs().total_cmp(&(b.0 / gm).ln().abs()))
            .unwrap_or(&(f64::NAN, f64::NAN, f64::NAN));
        put(&mut numbers, format!("{g}.valley.geometric_mean"), gm);
        put(&mut numbers, format!("{g}.valley.min"), lo);
        put(&mut numbers, format!("{g}.valley.max"), hi);
        put(
            &mut numbers,
            format!("{g}.valley.std_log10"),
            spread.std_log10.unwrap_or(f64::NAN),
        );
        put(&mut numbers, format!("{g}.grid_best_lr"), best_lr);
        put(&mut numbers, format!("{g}.grid_best_top1"), best_top1);
        put(
            &mut numbers,
            format!("{g}.suggested_over_best"),
            gm / best_lr,
        );
        put(&mut numbers, format!("{g}.top1_at_suggestion"), near_top1);
        stable_parts.push(format!("{g} ×{factor:.1}"));
        near_parts.push(format!(
            "{g}: {} vs {} (×{:.2})",
            sci(gm),
            num(best_lr),
            gm / best_lr
        ));
        rows.push(vec![
            g.clone(),
            repeats.to_string(),
            sci(gm),
            format!("{} – {}", sci(lo), sci(hi)),
            format!("{factor:.1}"),
            spread.std_log10.map_or("—".into(), |s| format!("{s:.2}")),
            num(best_lr),
            f3(best_top1),
            format!("{:.2}", gm / best_lr),
            format!("{} at {}", f3(near_top1), num(near_lr)),
        ]);
        let mut row = vec![g.clone()];
        for s in Suggestion::ALL {
            let sp = t.test.spread(s);
            row.push(match (sp.geometric_mean, sp.std_log10) {
                (Some(m), Some(sd)) => format!("{} (sd {sd:.2})", sci(m)),
                _ => "—".into(),
            });
            put(
                &mut numbers,
                format!("{g}.{}.geometric_mean", s.name()),
                sp.geometric_mean.unwrap_or(f64::NAN),
            );
        }
        rule_rows.push(row);
        let bottom = curve.iter().map(|c| c.2).fold(f64::INFINITY, f64::min);
        panels.push(LinePanel {
            title: g.clone(),
            series: vec![
                Series {
                    label: "grid: test top-1 by base LR".into(),
                    points: curve.iter().map(|c| [c.0, c.2]).collect(),
                    markers_only: false,
                },
                Series {
                    label: "range-test suggestion (one per seed)".into(),
                    points: spread
                        .values
                        .iter()
                        .flatten()
                        .map(|v| [*v, bottom])
                        .collect(),
                    markers_only: true,
                },
                Series {
                    label: "grid's best LR".into(),
                    points: vec![[best_lr, best_top1]],
                    markers_only: true,
                },
            ],
        });
    }
    put(&mut numbers, "groups", n as f64);
    put(&mut numbers, "stable_groups", stable as f64);
    put(&mut numbers, "near_groups", near as f64);
    let f1 = Finding {
        claim: format!(
            "The range test's suggestion (valley) is stable over seeds: its largest and smallest \
             value within ×{STABLE_FACTOR}."
        ),
        holds: Holds::of_count(stable, n),
        evidence: if n == 0 {
            "no range test matched a task × architecture of the corpus.".into()
        } else {
            format!(
                "max/min over {repeats} seeds: {} (stable in {stable} of {n}).",
                stable_parts.join(", ")
            )
        },
    };
    let f2 = Finding {
        claim: format!(
            "The suggested LR lies within ×{NEAR_FACTOR} of the best LR the grid found."
        ),
        holds: Holds::of_count(near, n),
        evidence: if n == 0 {
            "no range test matched a task × architecture of the corpus.".into()
        } else {
            format!(
                "geometric mean of the suggestions vs the grid's best base LR: {} (near in {near} of {n}).",
                near_parts.join("; ")
            )
        },
    };
    let verdict = format!(
        "Over {repeats} seeds the range test's suggestion is stable within ×{STABLE_FACTOR} in \
         {stable} of {n} task × architectures ({}). It lands within ×{NEAR_FACTOR} of the grid's \
         best LR in {near} of {n} ({}).",
        f1.holds.label(),
        f2.holds.label()
    );
    StudyResult {
        kind: StudyKind::LrFindStability,
        title: "How stable is the LR range test's suggestion?".into(),
        scale: format!(
            "{} Range tests: {repeats} seeds per task × architecture, run by `lrcast report` through \
             the library (SGD with the grid's momentum and batch size, exponential ramp).",
            scale_sentence(runs)
        ),
        verdict,
        findings: vec![f1, f2],
        tables: vec![
            StudyTable {
                title: "Valley suggestion over seeds against the grid's best base LR".into(),
                headers: [
                    "task · arch",
                    "seeds",
                    "suggestion (geometric mean)",
                    "min – max",
                    "max / min",
                    "sd of log10",
                    "grid's best LR",
                    "its top-1",
                    "suggested / best",
                    "top-1 at the grid LR nearest the suggestion",
                ]
                .map(String::from)
                .to_vec(),
                rows,
            },
            StudyTable {
                title: "Every suggestion rule: geometric mean over seeds (sd of log10)".into(),
                headers: std::iter::once("task · arch".to_string())
                    .chain(Suggestion::ALL.iter().map(|s| s.name().to_string()))
                    .collect(),
                rows: rule_rows,
            },
        ],
        figures: vec![StudyFigure::Lines(LineFigure {
            file: "study_lr_find_stability.svg".into(),
            title: "Range-test suggestions against the grid's accuracy by LR".into(),
            caption:
                "Test top-1 of the grid by base LR (mean over seeds), the grid's best LR, and \
                      the range test's valley suggestion of every seed (markers along the bottom)."
                    .into(),
            x_label: "learning rate".into(),
            y_label: "test top-1".into(),
            log_x: true,
            log_y: false,
            panels,
        })],
        numbers,
    }
}
