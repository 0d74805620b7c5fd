//! Scores with their 90 % bootstrap intervals: per protocol (MAE and Spearman, every model beside
//! the baselines and references) and per task inside each protocol (MAE), dot-and-whisker panels.

use plotters::prelude::*;

use super::{
    Figure, GREY, LEGEND_HEIGHT, Mark, PALETTE, Section, TITLE_HEIGHT, extent, grid, legend_row,
    plot_error, titled,
};
use crate::error::Result;
use crate::predict::{ModelScore, Scores, SplitResult};
use crate::report::Report;

/// Largest MAE shown on a score axis (larger ones are drawn at the edge, labelled).
const MAE_AXIS_CAP: f64 = 1.0;
/// Height of one model row.
const ROW: u32 = 17;

/// One dot with its whisker.
struct Entry {
    label: String,
    kind: Kind,
    value: f64,
    ci: Option<[f64; 2]>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Model,
    Baseline,
    Reference,
}

fn kind(m: &ModelScore) -> Kind {
    if m.baseline {
        Kind::Baseline
    } else if m.reference {
        Kind::Reference
    } else {
        Kind::Model
    }
}

fn entries(
    split: &SplitResult,
    of: impl Fn(&ModelScore) -> Option<(f64, Option<[f64; 2]>)>,
) -> Vec<Entry> {
    split
        .models
        .iter()
        .filter_map(|m| {
            of(m).map(|(value, ci)| Entry {
                label: m.model.clone(),
                kind: kind(m),
                value,
                ci,
            })
        })
        .collect()
}

fn mae(s: &Scores) -> (f64, Option<[f64; 2]>) {
    (s.mae, s.ci.map(|c| c.mae))
}

/// Draw one dot-and-whisker panel: a row per entry, x the score.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    metric: &str,
    entries: &[Entry],
    fixed: Option<(f64, f64)>,
) -> Result<()> {
    let n = entries.len().max(1) as i32;
    let (lo, hi) = fixed.unwrap_or_else(|| {
        let (lo, hi) = extent(entries.iter().flat_map(|e| {
            [
                e.value,
                e.ci.map_or(e.value, |c| c[0]),
                e.ci.map_or(e.value, |c| c[1]),
            ]
        }))
        .unwrap_or((0.0, 1.0));
        // An accuracy MAE above 1 is off the scale of the target: cut the axis there and write
        // the value beside the marker.
        (0f64.min(lo), (hi.max(1e-3) * 1.08).min(MAE_AXIS_CAP))
    });
    let clip = |v: f64| v.clamp(lo, hi);
    let names: Vec<String> = entries.iter().map(|e| e.label.clone()).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(title, (super::FONT, 13))
        .margin(6)
        .x_label_area_size(30)
        .y_label_area_size(104)
        .build_cartesian_2d(lo..hi, (0..n).into_segmented())
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc(metric)
        .x_labels(5)
        .y_labels(n as usize)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_formatter(&|v| format!("{v:.2}"))
        .light_line_style(WHITE)
        .label_style((super::FONT, 11))
        .draw()
        .map_err(plot_error)?;
    let mut k = 0;
    for (i, e) in entries.iter().enumerate() {
        let y = || SegmentValue::CenterOf(i as i32);
        let color = match e.kind {
            Kind::Model => {
                k += 1;
                PALETTE[(k - 1) % PALETTE.len()]
            }
            _ => GREY,
        };
        if let Some([a, b]) = e.ci {
            chart
                .draw_series([PathElement::new(
                    vec![(clip(a), y()), (clip(b), y())],
                    color.stroke_width(2),
                )])
                .map_err(plot_error)?;
        }
        let at = (clip(e.value), y());
        if e.value > hi {
            let style = (super::FONT, 10).into_font().color(&BLACK).pos(
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Right,
                    plotters::style::text_anchor::VPos::Center,
                ),
            );
            chart
                .draw_series([Text::new(format!("{:.2} →", e.value), at.clone(), style)])
                .map_err(plot_error)?;
        }
        match e.kind {
            Kind::Model => chart
                .draw_series([Circle::new(at.clone(), 4, color.filled())])
                .map_err(plot_error)?,
            Kind::Baseline => chart
                .draw_series([
                    Circle::new(at.clone(), 4, WHITE.filled()),
                    Circle::new(at.clone(), 4, GREY.stroke_width(2)),
                ])
                .map_err(plot_error)?,
            Kind::Reference => chart
                .draw_series([TriangleMarker::new(at, 5, BLACK.stroke_width(1))])
                .map_err(plot_error)?,
        };
    }
    Ok(())
}

fn legend() -> Vec<(Mark, String)> {
    vec![
        (Mark::Dot(PALETTE[0]), "model".into()),
        (Mark::Ring(GREY), "baseline".into()),
        (
            Mark::Triangle(BLACK),
            "reference (twin seed, chance)".into(),
        ),
        (Mark::Line(GREY), "90 % bootstrap CI".into()),
    ]
}

/// MAE and Spearman of every model on every protocol.
pub fn by_protocol(report: &Report) -> Result<String> {
    let splits: Vec<&SplitResult> = report
        .fit
        .splits
        .iter()
        .filter(|s| !s.models.is_empty())
        .collect();
    let per_row = splits.iter().map(|s| s.models.len()).max().unwrap_or(1) as u32;
    let row_height = 56 + ROW * per_row;
    let size = (
        820,
        TITLE_HEIGHT + LEGEND_HEIGHT + row_height * splits.len() as u32,
    );
    let mut svg = String::new();
    {
        let root = titled(
            &mut svg,
            size,
            "Held-out scores per protocol (90 % bootstrap CIs)",
        )?;
        let (top, body) = root.split_vertically(LEGEND_HEIGHT);
        legend_row(&top, &legend())?;
        let areas = body.split_evenly((splits.len(), 2));
        for (r, split) in splits.iter().enumerate() {
            let e = entries(split, |m| m.scores.as_ref().map(mae));
            panel(
                &areas[2 * r],
                &format!("{} — MAE (lower is better)", split.split),
                "MAE",
                &e,
                None,
            )?;
            let e = entries(split, |m| {
                let s = m.scores.as_ref()?;
                Some((s.spearman?, s.ci.and_then(|c| c.spearman)))
            });
            panel(
                &areas[2 * r + 1],
                &format!("{} — Spearman (higher is better)", split.split),
                "Spearman",
                &e,
                Some((-1.0, 1.0)),
            )?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// The per-protocol figure (or why there is none).
pub fn by_protocol_figure(report: &Report) -> Result<Figure> {
    let file = "holdout_mae.svg";
    if report.fit.splits.iter().all(|s| s.models.is_empty()) {
        return Ok(Figure::skipped(
            file,
            Section::Extrapolation,
            "No protocol was scored: there are no scores to draw.".into(),
        ));
    }
    Ok(Figure::drawn(
        file,
        Section::Extrapolation,
        "Held-out MAE (left) and Spearman rank correlation (right) of every model on every \
         protocol, with 90 % cluster-bootstrap intervals (whole configurations resampled). Filled \
         dots: fitted models; hollow grey: baselines; triangles: the twin-seed noise reference and \
         a constant chance-level guess."
            .into(),
        by_protocol(report)?,
    ))
}

/// Per-task MAE of every model, a row of panels per protocol with several tasks.
pub fn by_task(report: &Report) -> Result<Option<String>> {
    let splits: Vec<&SplitResult> = report
        .fit
        .splits
        .iter()
        .filter(|s| s.models.iter().any(|m| !m.per_task.is_empty()))
        .collect();
    let mut tasks: Vec<&String> = splits
        .iter()
        .flat_map(|s| s.models.iter().flat_map(|m| m.per_task.keys()))
        .collect();
    tasks.sort();
    tasks.dedup();
    if splits.is_empty() || tasks.is_empty() {
        return Ok(None);
    }
    let per_row = splits.iter().map(|s| s.models.len()).max().unwrap_or(1) as u32;
    let (_, columns) = grid(tasks.len(), 4);
    let row_height = 50 + ROW * per_row;
    let size = (
        (290 * columns as u32).max(600),
        TITLE_HEIGHT + LEGEND_HEIGHT + row_height * splits.len() as u32,
    );
    let mut svg = String::new();
    {
        let root = titled(&mut svg, size, "Held-out MAE per task (90 % bootstrap CIs)")?;
        let (top, body) = root.split_vertically(LEGEND_HEIGHT);
        legend_row(&top, &legend())?;
        let areas = body.split_evenly((splits.len(), tasks.len()));
        for (r, split) in splits.iter().enumerate() {
            for (c, task) in tasks.iter().enumerate() {
                let e = entries(split, |m| m.per_task.get(*task).map(mae));
                if e.is_empty() {
                    continue;
                }
                let title = format!("{} — {}", split.split, crate::report::runs::short(task));
                panel(&areas[r * tasks.len() + c], &title, "MAE", &e, None)?;
            }
        }
        root.present().map_err(plot_error)?;
    }
    Ok(Some(svg))
}

/// The per-task figure (or why there is none).
pub fn by_task_figure(report: &Report) -> Result<Figure> {
    let file = "scores_by_task.svg";
    Ok(match by_task(report)? {
        Some(svg) => Figure::drawn(
            file,
            Section::Extrapolation,
            "Held-out MAE per task inside each protocol whose test runs span several tasks, with \
             90 % bootstrap intervals; markers as in the per-protocol figure."
                .into(),
            svg,
        ),
        None => Figure::skipped(
            file,
            Section::Extrapolation,
            "No protocol tests runs of more than one task, so there are no per-task scores to draw."
                .into(),
        ),
    })
}
