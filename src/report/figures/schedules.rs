//! The LR schedule of every policy in the corpus on one shared step axis (a panel per policy, LR as
//! a multiple of the base LR, one line per run length), with the momentum below where it cycles.

use plotters::prelude::*;

use super::{Figure, PALETTE, Section, TITLE_HEIGHT, extent, grid, plot_error, titled};
use crate::error::Result;
use crate::report::Report;
use crate::report::schedules::PolicySchedule;

const PANEL_WIDTH: u32 = 380;
const PANEL_HEIGHT: u32 = 250;

fn line_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: Option<&str>,
    steps: f64,
    y_desc: &str,
    lines: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    let (lo, hi) = extent(lines.iter().flat_map(|l| l.1.iter().map(|p| p.1))).unwrap_or((0.0, 1.0));
    let pad = ((hi - lo) * 0.08).max(1e-3);
    let (lo, hi) = if y_desc == "momentum" {
        (lo - pad, hi + pad)
    } else {
        (0f64.min(lo), hi + pad)
    };
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(6)
        .x_label_area_size(30)
        .y_label_area_size(46);
    if let Some(t) = title {
        builder.caption(t, (super::FONT, 13));
    }
    let mut chart = builder
        .build_cartesian_2d(0.0..steps, lo..hi)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc(y_desc)
        .y_labels(if y_desc == "momentum" { 4 } else { 8 })
        .y_label_formatter(&|v| format!("{v:.2}"))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE)
        .label_style((super::FONT, 11))
        .draw()
        .map_err(plot_error)?;
    for (k, (label, points)) in lines.iter().enumerate() {
        let c = PALETTE[k % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
            .map_err(plot_error)?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2)));
    }
    if title.is_some() {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((super::FONT, 10))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(plot_error)?;
    }
    Ok(())
}

/// The figure.
pub fn draw(schedules: &[PolicySchedule]) -> Result<String> {
    let mut policies: Vec<&str> = schedules.iter().map(|s| s.policy.as_str()).collect();
    policies.dedup();
    let steps = schedules
        .iter()
        .map(|s| s.total_steps)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let (rows, columns) = grid(policies.len(), 2);
    let size = (
        PANEL_WIDTH * columns as u32,
        TITLE_HEIGHT + PANEL_HEIGHT * rows as u32,
    );
    let mut svg = String::new();
    {
        let root = titled(
            &mut svg,
            size,
            "LR schedule of every policy (LR / base LR), shared step axis",
        )?;
        for (area, policy) in root.split_evenly((rows, columns)).iter().zip(&policies) {
            let of: Vec<&PolicySchedule> =
                schedules.iter().filter(|s| s.policy == *policy).collect();
            let label =
                |s: &PolicySchedule| format!("{} ({} steps)", s.tasks.join(", "), s.total_steps);
            let lr: Vec<(String, Vec<(f64, f64)>)> = of
                .iter()
                .map(|s| {
                    (
                        label(s),
                        s.steps
                            .iter()
                            .zip(&s.lr_factor)
                            .map(|(&t, &v)| (t as f64, v))
                            .collect(),
                    )
                })
                .collect();
            let momentum: Vec<(String, Vec<(f64, f64)>)> = of
                .iter()
                .filter_map(|s| {
                    let m = s.momentum.as_ref()?;
                    Some((
                        label(s),
                        s.steps
                            .iter()
                            .zip(m)
                            .map(|(&t, &v)| (t as f64, v))
                            .collect(),
                    ))
                })
                .collect();
            if momentum.is_empty() {
                line_panel(area, Some(policy), steps, "LR / base LR", &lr)?;
            } else {
                let (upper, lower) = area.split_vertically(PANEL_HEIGHT * 3 / 5);
                line_panel(&upper, Some(policy), steps, "LR / base LR", &lr)?;
                line_panel(&lower, None, steps, "momentum", &momentum)?;
            }
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// The figure (or why there is none).
pub fn figure(report: &Report) -> Result<Figure> {
    let file = "schedules.svg";
    if report.schedules.is_empty() {
        return Ok(Figure::skipped(
            file,
            Section::Corpus,
            "No policy of the corpus could be evaluated step by step (imported runs without a run \
             length, or metric-driven policies only): there are no schedules to draw."
                .into(),
        ));
    }
    Ok(Figure::drawn(
        file,
        Section::Corpus,
        "The LR schedule of every policy in the corpus, computed from the policy itself, as a \
         multiple of the run's base LR against the optimizer step (one shared axis; one line per \
         run length, named by its tasks); momentum below where the policy cycles it."
            .into(),
        draw(&report.schedules)?,
    ))
}
