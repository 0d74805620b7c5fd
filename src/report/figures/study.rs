//! The figures of a founding study: panels of lines or points, and coloured maps, drawn from the
//! data each study's analysis returns (`report/studies/`).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    Figure, LEGEND_HEIGHT, Mark, PALETTE, Section, TITLE_HEIGHT, extent, grid, legend_row, padded,
    plot_error, titled,
};
use crate::error::Result;
use crate::report::Report;
use crate::report::studies::{HeatFigure, LineFigure, StudyFigure};

/// Panel width and height.
const PANEL: (u32, u32) = (420, 300);

/// A value on its axis: log10 on a log axis (non-positive values are dropped).
fn axis(v: f64, log: bool) -> Option<f64> {
    match log {
        true if v > 0.0 && v.is_finite() => Some(v.log10()),
        true => None,
        false if v.is_finite() => Some(v),
        false => None,
    }
}

/// Tick text of an axis position.
fn tick(v: f64, log: bool) -> String {
    if log {
        // Two significant digits: 158.49 → 160.
        let x = 10f64.powf(v);
        let unit = 10f64.powf(x.log10().floor() - 1.0);
        crate::report::runs::fmt_num((x / unit).round() * unit)
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

/// Draw a line figure.
pub fn draw_lines(f: &LineFigure) -> Result<String> {
    let labels: Vec<String> = crate::report::runs::distinct(
        f.panels
            .iter()
            .flat_map(|p| p.series.iter().map(|s| s.label.clone())),
    );
    let colour =
        |label: &str| PALETTE[labels.iter().position(|l| l == label).unwrap_or(0) % PALETTE.len()];
    let (rows, columns) = grid(f.panels.len(), 3);
    let legend_rows = labels.len().div_ceil(4).max(1) as u32;
    let size = (
        (PANEL.0 * columns as u32).max(560),
        TITLE_HEIGHT + LEGEND_HEIGHT * legend_rows + PANEL.1 * rows as u32,
    );
    let mut svg = String::new();
    {
        let root = titled(&mut svg, size, &f.title)?;
        let (top, body) = root.split_vertically(LEGEND_HEIGHT * legend_rows);
        let items: Vec<(Mark, String)> = labels
            .iter()
            .map(|l| {
                let dots = f
                    .panels
                    .iter()
                    .flat_map(|p| &p.series)
                    .any(|s| &s.label == l && s.markers_only);
                let c = colour(l);
                (if dots { Mark::Dot(c) } else { Mark::Line(c) }, l.clone())
            })
            .collect();
        for (area, chunk) in top
            .split_evenly((legend_rows as usize, 1))
            .iter()
            .zip(items.chunks(4))
        {
            legend_row(area, chunk)?;
        }
        for (area, panel) in body.split_evenly((rows, columns)).iter().zip(&f.panels) {
            let xs = extent(
                panel
                    .series
                    .iter()
                    .flat_map(|s| s.points.iter().filter_map(|p| axis(p[0], f.log_x))),
            );
            let ys = extent(
                panel
                    .series
                    .iter()
                    .flat_map(|s| s.points.iter().filter_map(|p| axis(p[1], f.log_y))),
            );
            let (Some((x0, x1)), Some((y0, y1))) = (xs, ys) else {
                area.titled(
                    &format!("{} (nothing recorded)", panel.title),
                    (super::FONT, 13),
                )
                .map_err(plot_error)?;
                continue;
            };
            let (x0, x1) = padded(x0, x1, false);
            let (y0, y1) = padded(y0, y1, false);
            let mut chart = ChartBuilder::on(area)
                .caption(panel.title.as_str(), (super::FONT, 13))
                .margin(8)
                .x_label_area_size(34)
                .y_label_area_size(56)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(plot_error)?;
            chart
                .configure_mesh()
                .light_line_style(WHITE)
                .x_desc(f.x_label.as_str())
                .y_desc(f.y_label.as_str())
                .x_labels(5)
                .y_labels(5)
                .x_label_formatter(&|v| tick(*v, f.log_x))
                .y_label_formatter(&|v| tick(*v, f.log_y))
                .label_style((super::FONT, 11))
                .draw()
                .map_err(plot_error)?;
            for s in &panel.series {
                let c = colour(&s.label);
                let pts: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .filter_map(|p| Some((axis(p[0], f.log_x)?, axis(p[1], f.log_y)?)))
                    .collect();
                if s.markers_only || pts.len() == 1 {
                    chart
                        .draw_series(pts.iter().map(|p| Circle::new(*p, 4, c.filled())))
                        .map_err(plot_error)?;
                } else {
                    chart
                        .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                        .map_err(plot_error)?;
                }
            }
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Draw a map.
pub fn draw_heat(f: &HeatFigure) -> Result<String> {
    let (nx, ny) = (f.x_ticks.len().max(1) as i32, f.y_ticks.len().max(1) as i32);
    let cell_w = if nx > 8 { 64 } else { 120 };
    let size = (
        (200 + cell_w * nx as u32).max(560),
        TITLE_HEIGHT + LEGEND_HEIGHT + 90 + 44 * ny as u32,
    );
    let mut svg = String::new();
    {
        let root = titled(&mut svg, size, &f.title)?;
        let (top, body) = root.split_vertically(LEGEND_HEIGHT);
        let items: Vec<(Mark, String)> = f
            .legend
            .iter()
            .map(|(l, c)| (Mark::Area(RGBColor(c[0], c[1], c[2]).to_rgba()), l.clone()))
            .collect();
        legend_row(&top, &items)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(180)
            .build_cartesian_2d((0..nx - 1).into_segmented(), (0..ny - 1).into_segmented())
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(f.x_label.as_str())
            .y_desc(f.y_label.as_str())
            .x_labels(nx as usize)
            .y_labels(ny as usize)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => {
                    f.x_ticks.get(*i as usize).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => {
                    f.y_ticks.get(*i as usize).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .label_style((super::FONT, 11))
            .draw()
            .map_err(plot_error)?;
        for c in &f.cells {
            let (x, y) = (c.x as i32, c.y as i32);
            let fill = RGBColor(c.color[0], c.color[1], c.color[2]);
            chart
                .draw_series([
                    Rectangle::new(
                        [
                            (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                            (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                        ],
                        fill.filled(),
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
            if !c.text.is_empty() {
                let dark = (c.color[0] as u32 + c.color[1] as u32 + c.color[2] as u32) < 330;
                let style = (super::FONT, 10)
                    .into_font()
                    .color(if dark { &WHITE } else { &BLACK })
                    .pos(Pos::new(HPos::Center, VPos::Center));
                chart
                    .draw_series([Text::new(
                        c.text.clone(),
                        (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)),
                        style,
                    )])
                    .map_err(plot_error)?;
            }
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// The study's figures, in its order (none without a study).
pub fn figures(report: &Report) -> Result<Vec<Figure>> {
    let Some(study) = &report.study else {
        return Ok(Vec::new());
    };
    study
        .figures
        .iter()
        .map(|f| {
            let empty = match f {
                StudyFigure::Lines(l) => l
                    .panels
                    .iter()
                    .all(|p| p.series.iter().all(|s| s.points.is_empty())),
                StudyFigure::Heat(h) => h.cells.is_empty(),
            };
            if empty {
                return Ok(Figure::skipped(
                    f.file(),
                    Section::Study,
                    format!("Nothing to draw for this figure: {}", f.caption()),
                ));
            }
            let svg = match f {
                StudyFigure::Lines(l) => draw_lines(l)?,
                StudyFigure::Heat(h) => draw_heat(h)?,
            };
            Ok(Figure::drawn(
                f.file(),
                Section::Study,
                f.caption().to_string(),
                svg,
            ))
        })
        .collect()
}
