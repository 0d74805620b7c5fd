//! Study `effective-lr`: a batch-norm ResNet at constant LR over an LR × weight-decay grid. Claims:
//! the effective LR = LR/‖w‖² does not converge to one value, and the periodic "sawtooth"
//! destabilisation of the training loss appears only at high LR with low weight decay.

use std::collections::BTreeMap;

use super::{
    Finding, HeatCell, HeatFigure, Holds, LineFigure, LinePanel, Series, StudyFigure, StudyResult,
    StudyRuns, StudyTable, f3, mean, num, put, scale_sentence, sci, std,
};
use crate::recipe::StudyKind;

/// A cell moves less than this coefficient of variation over the last quarter of its trace to
/// count as settled.
const SETTLED_CV: f64 = 0.1;

struct Cell {
    lr: f64,
    wd: f64,
    runs: Vec<usize>,
}

/// The analysis.
pub fn analyse(runs: &StudyRuns) -> StudyResult {
    let lrs = super::super::runs::sorted_values((0..runs.len).map(|i| runs.x("base_lr", i)));
    let wds = super::super::runs::sorted_values((0..runs.len).map(|i| runs.x("weight_decay", i)));
    let mut cells: Vec<Cell> = Vec::new();
    for &wd in &wds {
        for &lr in &lrs {
            let members: Vec<usize> = (0..runs.len)
                .filter(|&i| runs.x("base_lr", i) == lr && runs.x("weight_decay", i) == wd)
                .collect();
            if !members.is_empty() {
                cells.push(Cell {
                    lr,
                    wd,
                    runs: members,
                });
            }
        }
    }
    let mut numbers = BTreeMap::new();
    let mut rows = Vec::new();
    let mut heat = Vec::new();
    let mut final_eff: Vec<f64> = Vec::new();
    let mut unsettled = 0usize;
    let mut traced = 0usize;
    let mut sawtooth_cells: Vec<(usize, usize)> = Vec::new();
    let mut norm_panels: Vec<LinePanel> = wds
        .iter()
        .map(|wd| LinePanel {
            title: format!("weight decay {}", num(*wd)),
            series: Vec::new(),
        })
        .collect();
    let mut eff_panels = norm_panels.clone();
    for c in &cells {
        let (xi, yi) = (
            lrs.iter().position(|&v| v == c.lr).unwrap_or(0),
            wds.iter().position(|&v| v == c.wd).unwrap_or(0),
        );
        let first = c.runs[0];
        let trained = c.runs.iter().all(|&i| runs.outcome[i] == "trained");
        let diverged = c.runs.iter().any(|&i| runs.outcome[i] == "diverged");
        let top1 = mean(c.runs.iter().map(|&i| runs.x("top1", i)));
        let norm = mean(c.runs.iter().map(|&i| runs.x("weight_norm", i)));
        let eff = mean(c.runs.iter().map(|&i| runs.x("effective_lr", i)));
        let spikes = mean(c.runs.iter().map(|&i| runs.x("loss_spikes", i)));
        let period = mean(c.runs.iter().map(|&i| runs.x("loss_spike_period", i)));
        let saw = c.runs.iter().any(|&i| runs.x("sawtooth", i) > 0.5);
        // The trace (every train.trace_every steps), or the per-epoch curve without one.
        let (steps, norms, effs) = if runs.c("trace_steps", first).is_empty() {
            (
                runs.c("curve_steps", first).to_vec(),
                runs.c("curve_weight_norm", first).to_vec(),
                runs.c("curve_effective_lr", first).to_vec(),
            )
        } else {
            (
                runs.c("trace_steps", first).to_vec(),
                runs.c("trace_weight_norm", first).to_vec(),
                runs.c("trace_effective_lr", first).to_vec(),
            )
        };
        let tail: Vec<f64> = effs[effs.len() - effs.len() / 4..].to_vec();
        let cv = std(&tail) / mean(tail.iter().copied());
        if trained && cv.is_finite() {
            traced += 1;
            if cv >= SETTLED_CV {
                unsettled += 1;
            }
            final_eff.push(eff);
        }
        if saw {
            sawtooth_cells.push((xi, yi));
        }
        let label = format!("LR {}", num(c.lr));
        let pts = |ys: &[f64]| -> Vec<[f64; 2]> {
            steps
                .iter()
                .zip(ys)
                .filter(|(_, y)| y.is_finite() && **y > 0.0)
                .map(|(s, y)| [*s, *y])
                .collect()
        };
        norm_panels[yi].series.push(Series {
            label: label.clone(),
            points: pts(&norms),
            markers_only: false,
        });
        eff_panels[yi].series.push(Series {
            label,
            points: pts(&effs),
            markers_only: false,
        });
        let key = format!("lr={},wd={}", num(c.lr), num(c.wd));
        put(&mut numbers, format!("{key}.top1"), top1);
        put(&mut numbers, format!("{key}.final_weight_norm"), norm);
        put(&mut numbers, format!("{key}.final_effective_lr"), eff);
        put(
            &mut numbers,
            format!("{key}.effective_lr_cv_last_quarter"),
            cv,
        );
        put(&mut numbers, format!("{key}.loss_spikes"), spikes);
        put(
            &mut numbers,
            format!("{key}.sawtooth"),
            f64::from(u8::from(saw)),
        );
        rows.push(vec![
            num(c.lr),
            num(c.wd),
            if trained {
                "trained".into()
            } else if diverged {
                "diverged".into()
            } else {
                "collapsed".into()
            },
            f3(top1),
            f3(norm),
            sci(eff),
            f3(cv),
            format!("{spikes:.1}"),
            num(period),
            if saw { "yes".into() } else { "no".into() },
        ]);
        let (color, text) = if diverged {
            ([150, 150, 150], "diverged".to_string())
        } else if saw {
            (
                [214, 39, 40],
                format!("sawtooth, {spikes:.0} spikes / {}", num(period)),
            )
        } else if spikes >= 1.0 {
            ([250, 200, 160], format!("{spikes:.0} spikes, irregular"))
        } else {
            ([235, 245, 235], "smooth".to_string())
        };
        heat.push(HeatCell {
            x: xi,
            y: yi,
            color,
            text,
        });
    }
    // Claim 1: no single value.
    let lo = final_eff.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = final_eff.iter().copied().fold(0.0, f64::max);
    let ratio = hi / lo;
    put(&mut numbers, "final_effective_lr_max_over_min", ratio);
    put(&mut numbers, "cells_unsettled", unsettled as f64);
    put(&mut numbers, "cells_traced", traced as f64);
    let claim1 = if final_eff.len() < 2 {
        Finding {
            claim: "The effective LR = LR/‖w‖² does not converge to one value.".into(),
            holds: Holds::CannotTell,
            evidence: "fewer than two cells trained with a weight-norm record.".into(),
        }
    } else {
        Finding {
            claim: "The effective LR = LR/‖w‖² does not converge to one value.".into(),
            holds: if ratio > 2.0 || unsettled > 0 {
                Holds::Holds
            } else {
                Holds::DoesNotHold
            },
            evidence: format!(
                "the final effective LRs of the {} cells that trained span {} to {} (×{:.1}); \
                 {unsettled} of {traced} still moved by a coefficient of variation ≥ {SETTLED_CV} \
                 over the last quarter of their trace.",
                final_eff.len(),
                sci(lo),
                sci(hi),
                ratio
            ),
        }
    };
    // Claim 2: the sawtooth only at high LR and low WD (upper half of the LRs, lower half of the
    // weight decays; the middle value of an odd count belongs to both halves).
    let (nl, nw) = (lrs.len(), wds.len());
    let high_lr = |x: usize| 2 * x + 1 >= nl;
    let low_wd = |y: usize| 2 * y < nw + 1;
    let inside = sawtooth_cells
        .iter()
        .filter(|(x, y)| high_lr(*x) && low_wd(*y))
        .count();
    put(&mut numbers, "sawtooth_cells", sawtooth_cells.len() as f64);
    put(&mut numbers, "sawtooth_cells_high_lr_low_wd", inside as f64);
    let where_ = |cells: &[(usize, usize)]| {
        cells
            .iter()
            .map(|(x, y)| format!("LR {} / WD {}", num(lrs[*x]), num(wds[*y])))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let claim2 = Finding {
        claim:
            "The periodic sawtooth destabilisation appears only at high LR with low weight decay."
                .into(),
        holds: match (sawtooth_cells.len(), inside) {
            (0, _) => Holds::DoesNotHold,
            (n, k) if n == k => Holds::Holds,
            (n, k) if 2 * k > n => Holds::Partly,
            _ => Holds::DoesNotHold,
        },
        evidence: if sawtooth_cells.is_empty() {
            format!(
                "no cell of the {} showed a sawtooth (≥ 3 loss spikes at regular intervals).",
                cells.len()
            )
        } else {
            format!(
                "{} of {} cells showed a sawtooth ({}); {inside} of them lie at high LR with low \
                 weight decay.",
                sawtooth_cells.len(),
                cells.len(),
                where_(&sawtooth_cells)
            )
        },
    };
    let verdict = format!(
        "That the effective LR does not converge to one value {} here: {} That the sawtooth \
         appears only at high LR with low weight decay {}: {}",
        claim1.holds.label(),
        claim1.evidence,
        claim2.holds.label(),
        claim2.evidence
    );
    let lr_ticks: Vec<String> = lrs.iter().map(|v| num(*v)).collect();
    let wd_ticks: Vec<String> = wds.iter().map(|v| num(*v)).collect();
    StudyResult {
        kind: StudyKind::EffectiveLr,
        title: "Effective LR and the sawtooth (batch-norm ResNet, constant LR, L2 weight decay)"
            .into(),
        scale: scale_sentence(runs),
        verdict,
        findings: vec![claim1, claim2],
        tables: vec![StudyTable {
            title: "Per LR × weight-decay cell (means over seeds)".into(),
            headers: [
                "base LR",
                "weight decay",
                "outcome",
                "top-1",
                "final ‖w‖",
                "final effective LR",
                "eff. LR CV (last quarter)",
                "loss spikes",
                "spike period",
                "sawtooth",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }],
        figures: vec![
            StudyFigure::Lines(LineFigure {
                file: "study_weight_norm.svg".into(),
                title: "Pooled ‖w‖ of the batch-normalised weights".into(),
                caption: "Weight norm of the batch-normalised weights against the step, a panel \
                          per weight decay and a line per LR (first seed of each cell)."
                    .into(),
                x_label: "step".into(),
                y_label: "‖w‖".into(),
                log_x: false,
                log_y: true,
                panels: norm_panels,
            }),
            StudyFigure::Lines(LineFigure {
                file: "study_effective_lr.svg".into(),
                title: "Effective LR = LR / ‖w‖²".into(),
                caption: "Effective LR against the step, a panel per weight decay and a line per \
                          LR (first seed of each cell): it does not settle on one value across \
                          cells."
                    .into(),
                x_label: "step".into(),
                y_label: "effective LR".into(),
                log_x: false,
                log_y: true,
                panels: eff_panels,
            }),
            StudyFigure::Heat(HeatFigure {
                file: "study_sawtooth_map.svg".into(),
                title: "Periodicity of the training loss, LR × weight decay".into(),
                caption: "Where the loss spikes periodically (sawtooth: ≥ 3 spikes above 1.5× \
                          the median of the previous 20 steps at regular intervals), with the \
                          spike count and median period in steps."
                    .into(),
                x_label: "base LR".into(),
                y_label: "weight decay".into(),
                x_ticks: lr_ticks,
                y_ticks: wd_ticks,
                cells: heat,
                legend: vec![
                    ("sawtooth".into(), [214, 39, 40]),
                    ("irregular spikes".into(), [250, 200, 160]),
                    ("smooth".into(), [235, 245, 235]),
                    ("diverged".into(), [150, 150, 150]),
                ],
            }),
        ],
        numbers,
    }
}
