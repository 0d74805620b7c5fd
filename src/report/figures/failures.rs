//! Which settings fail: per task × architecture a map of base LR × policy (× weight decay), each
//! cell coloured by its diverged share (red) and collapsed share (amber), with the counts written in.

use plotters::prelude::*;

use super::{
    Figure, LEGEND_HEIGHT, Mark, Section, TITLE_HEIGHT, grid, legend_row, plot_error, titled,
};
use crate::error::Result;
use crate::report::Report;
use crate::report::failures::{FailureCell, FailureMap};
use crate::report::runs::fmt_num;

const DIVERGED: RGBColor = RGBColor(214, 39, 40);
const COLLAPSED: RGBColor = RGBColor(240, 170, 40);

fn fill(c: &FailureCell) -> RGBColor {
    let n = c.runs.max(1) as f64;
    let (d, k) = (c.diverged as f64 / n, c.collapsed as f64 / n);
    let w = 1.0 - d - k;
    let mix =
        |a: u8, b: u8, white: f64| (white * 255.0 + d * a as f64 + k * b as f64).round() as u8;
    RGBColor(
        mix(DIVERGED.0, COLLAPSED.0, w),
        mix(DIVERGED.1, COLLAPSED.1, w),
        mix(DIVERGED.2, COLLAPSED.2, w),
    )
}

fn label(c: &FailureCell) -> String {
    match (c.diverged, c.collapsed) {
        (0, 0) => String::new(),
        (d, 0) => format!("{d}d"),
        (0, k) => format!("{k}c"),
        (d, k) => format!("{d}d{k}c"),
    }
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    m: &FailureMap,
) -> Result<()> {
    let (nx, ny) = (m.base_lrs.len() as i32, m.rows.len() as i32);
    let lrs: Vec<String> = m.base_lrs.iter().map(|&v| fmt_num(v)).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(m.title.as_str(), (super::FONT, 13))
        .margin(6)
        .x_label_area_size(32)
        .y_label_area_size(110)
        .build_cartesian_2d((0..nx).into_segmented(), (0..ny).into_segmented())
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("base LR")
        .x_labels(nx as usize)
        .y_labels(ny as usize)
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => lrs.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => m.rows.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .label_style((super::FONT, 11))
        .draw()
        .map_err(plot_error)?;
    for c in &m.cells {
        let (x, y) = (c.column as i32, c.row as i32);
        chart
            .draw_series([
                Rectangle::new(
                    [
                        (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                        (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                    ],
                    fill(c).filled(),
                ),
                Rectangle::new(
                    [
                        (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                        (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                    ],
                    WHITE.stroke_width(1),
                ),
            ])
            .map_err(plot_error)?;
        let text = label(c);
        if !text.is_empty() {
            let style = (super::FONT, 10).into_font().color(&BLACK).pos(
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                ),
            );
            chart
                .draw_series([Text::new(
                    text,
                    (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)),
                    style,
                )])
                .map_err(plot_error)?;
        }
    }
    Ok(())
}

/// The figure.
pub fn draw(maps: &[FailureMap]) -> Result<String> {
    let (rows, columns) = grid(maps.len(), 2);
    let height = maps
        .iter()
        .map(|m| 90 + 22 * m.rows.len() as u32)
        .max()
        .unwrap_or(200);
    let size = (
        (420 * columns as u32).max(560),
        TITLE_HEIGHT + LEGEND_HEIGHT + height * rows as u32,
    );
    let mut svg = String::new();
    {
        let root = titled(
            &mut svg,
            size,
            "Where runs fail: outcome of every base LR × policy cell",
        )?;
        let (top, body) = root.split_vertically(LEGEND_HEIGHT);
        legend_row(
            &top,
            &[
                (
                    Mark::Area(DIVERGED.to_rgba()),
                    "all diverged (Nd: N runs)".into(),
                ),
                (Mark::Area(COLLAPSED.to_rgba()), "all collapsed (Nc)".into()),
                (
                    Mark::Area(RGBAColor(255, 255, 255, 1.0)),
                    "all trained".into(),
                ),
            ],
        )?;
        for (area, m) in body.split_evenly((rows, columns)).iter().zip(maps) {
            panel(area, m)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// The figure (or why there is none).
pub fn figure(report: &Report) -> Result<Figure> {
    let file = "failures.svg";
    if report.failure_maps.is_empty() {
        return Ok(Figure::skipped(
            file,
            Section::Gaps,
            "No run records a base LR: there is no failure map to draw.".into(),
        ));
    }
    Ok(Figure::drawn(
        file,
        Section::Gaps,
        "Outcome of every base LR × policy cell (× weight decay where it varies) of each task × \
         architecture: the cell's colour mixes white (trained), red (diverged) and amber \
         (collapsed) by their share of its runs, and the counts of failed runs are written in \
         (d diverged, c collapsed)."
            .into(),
        draw(&report.failure_maps)?,
    ))
}
