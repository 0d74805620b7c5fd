//! Final top-1 against one swept hyperparameter: a panel per task × architecture, a line per policy
//! (median over the other settings) with its min–max band, every run as a faint point (diverged ×,
//! collapsed △), and the values the extreme-value holdout held out shaded.

use plotters::prelude::*;

use super::{
    Figure, GREY, LEGEND_HEIGHT, Mark, PALETTE, Section, TITLE_HEIGHT, accuracy_range, extent,
    grid, legend_row, padded, plot_error, titled,
};
use crate::error::Result;
use crate::report::Report;
use crate::report::runs::fmt_num;
use crate::report::sweeps::Sweep;

const PANEL_WIDTH: u32 = 330;
const PANEL_HEIGHT: u32 = 270;
/// Held-out ranges.
const SHADE: RGBAColor = RGBAColor(120, 120, 120, 0.16);

/// File name of the sweep of `hyperparameter` (`lr_sensitivity.svg` for the base LR).
pub fn file(hyperparameter: &str) -> String {
    match hyperparameter {
        "base_lr" => "lr_sensitivity.svg".into(),
        h => format!(
            "sweep_{}.svg",
            h.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        ),
    }
}

/// One figure per swept hyperparameter (none without a sweep: the best-settings text says so).
pub fn figures(report: &Report) -> Result<Vec<Figure>> {
    let mut out = Vec::new();
    for s in &report.sweeps {
        let held = match &s.held_out {
            Some(h) => format!(
                " Shaded: the values the extreme-value holdout held out ({}).",
                h.sentence
            ),
            None => String::new(),
        };
        let caption = format!(
            "Final test top-1 against {}, one panel per task × architecture, one line per policy: \
             the median over the other settings (weight decay, seeds, …) with its min–max band; \
             every run is a faint point, diverged runs ×, collapsed runs △.{}{held}",
            s.hyperparameter,
            if s.log_x { " Log x axis." } else { "" },
        );
        out.push(Figure::drawn(
            file(&s.hyperparameter),
            Section::Best,
            caption,
            draw(s)?,
        ));
    }
    if out.is_empty() {
        out.push(Figure::skipped(
            "lr_sensitivity.svg",
            Section::Best,
            "No hyperparameter takes two values or more in this corpus: there is no sweep to draw."
                .into(),
        ));
    }
    Ok(out)
}

/// Where the shading of a held-out end stops: halfway (on the axis's scale) to the next value.
fn midway(a: f64, b: f64, log: bool) -> f64 {
    if log { (a * b).sqrt() } else { (a + b) / 2.0 }
}

/// A small horizontal offset per policy so that runs at one value do not hide each other.
fn jitter(v: f64, k: usize, n: usize, log: bool, span: f64) -> f64 {
    let offset = k as f64 - (n as f64 - 1.0) / 2.0;
    if log {
        v * 10f64.powf(0.025 * offset)
    } else {
        v + 0.01 * span * offset
    }
}

/// The sweep figure.
pub fn draw(s: &Sweep) -> Result<String> {
    let mut policies: Vec<&str> = s
        .panels
        .iter()
        .flat_map(|p| p.lines.iter().map(|l| l.policy.as_str()))
        .collect();
    policies.sort_unstable();
    policies.dedup();
    let color =
        |p: &str| PALETTE[policies.iter().position(|q| *q == p).unwrap_or(0) % PALETTE.len()];
    let (rows, columns) = grid(s.panels.len(), 3);
    let (lo, hi) = extent(s.values.iter().copied()).unwrap_or((0.0, 1.0));
    let (x_lo, x_hi) = padded(lo, hi, s.log_x);
    let size = (
        (PANEL_WIDTH * columns as u32).max(560),
        TITLE_HEIGHT + LEGEND_HEIGHT + PANEL_HEIGHT * rows as u32,
    );
    let mut svg = String::new();
    {
        let root = titled(
            &mut svg,
            size,
            &format!("Final test top-1 vs {}", s.hyperparameter),
        )?;
        let (legend, body) = root.split_vertically(LEGEND_HEIGHT);
        let mut items: Vec<(Mark, String)> = policies
            .iter()
            .map(|p| (Mark::Line(color(p)), p.to_string()))
            .collect();
        items.push((Mark::Dot(GREY), "run".into()));
        items.push((Mark::Cross(GREY), "diverged".into()));
        items.push((Mark::Triangle(GREY), "collapsed".into()));
        if s.held_out.is_some() {
            items.push((Mark::Area(SHADE), "held out".into()));
        }
        legend_row(&legend, &items)?;
        for (area, panel) in body.split_evenly((rows, columns)).iter().zip(&s.panels) {
            let (y_lo, y_hi) = extent(
                panel.runs.iter().map(|r| r.top1).chain(
                    panel
                        .lines
                        .iter()
                        .flat_map(|l| l.points.iter().flat_map(|p| [p.min, p.max])),
                ),
            )
            .unwrap_or((0.0, 1.0));
            let (y_lo, y_hi) = accuracy_range(y_lo, y_hi);
            let h = s.hyperparameter.clone();
            macro_rules! body {
                ($chart:expr) => {{
                    let mut chart = $chart;
                    chart
                        .configure_mesh()
                        .x_desc(h.as_str())
                        .x_labels(6)
                        .y_desc("test top-1")
                        .x_label_formatter(&|v| fmt_num(*v))
                        .y_label_formatter(&|v| format!("{v:.2}"))
                        .light_line_style(WHITE)
                        .label_style((super::FONT, 11))
                        .draw()
                        .map_err(plot_error)?;
                    if let Some(held) = &s.held_out {
                        let next_up = |v: f64| s.values.iter().copied().find(|&w| w > v);
                        let next_down = |v: f64| s.values.iter().copied().rev().find(|&w| w < v);
                        if let Some(low) = held.low {
                            let to = next_up(low).map_or(x_hi, |n| midway(low, n, s.log_x));
                            chart
                                .draw_series([Rectangle::new(
                                    [(x_lo, y_lo), (to, y_hi)],
                                    SHADE.filled(),
                                )])
                                .map_err(plot_error)?;
                        }
                        if let Some(high) = held.high {
                            let from = next_down(high).map_or(x_lo, |n| midway(n, high, s.log_x));
                            chart
                                .draw_series([Rectangle::new(
                                    [(from, y_lo), (x_hi, y_hi)],
                                    SHADE.filled(),
                                )])
                                .map_err(plot_error)?;
                        }
                    }
                    for line in &panel.lines {
                        let c = color(&line.policy);
                        if line.points.len() > 1 {
                            let band: Vec<(f64, f64)> = line
                                .points
                                .iter()
                                .map(|p| (p.value, p.max))
                                .chain(line.points.iter().rev().map(|p| (p.value, p.min)))
                                .collect();
                            chart
                                .draw_series([Polygon::new(band, c.mix(0.12).filled())])
                                .map_err(plot_error)?;
                        }
                        chart
                            .draw_series(LineSeries::new(
                                line.points.iter().map(|p| (p.value, p.median)),
                                c.stroke_width(2),
                            ))
                            .map_err(plot_error)?;
                    }
                    let span = hi - lo;
                    for r in &panel.runs {
                        let k = policies.iter().position(|q| *q == r.policy).unwrap_or(0);
                        let c = color(&r.policy);
                        let at = (
                            jitter(r.value, k, policies.len(), s.log_x, span),
                            r.top1.clamp(y_lo, y_hi),
                        );
                        match r.outcome.as_str() {
                            "diverged" => chart
                                .draw_series([Cross::new(at, 3, c.mix(0.8).stroke_width(1))])
                                .map_err(plot_error)?,
                            "collapsed" => chart
                                .draw_series([TriangleMarker::new(
                                    at,
                                    4,
                                    c.mix(0.8).stroke_width(1),
                                )])
                                .map_err(plot_error)?,
                            _ => chart
                                .draw_series([Circle::new(at, 2, c.mix(0.35).filled())])
                                .map_err(plot_error)?,
                        };
                    }
                }};
            }
            let mut builder = ChartBuilder::on(area);
            builder
                .caption(panel.title.as_str(), (super::FONT, 13))
                .margin(6)
                .x_label_area_size(34)
                .y_label_area_size(44);
            if s.log_x {
                body!(
                    builder
                        .build_cartesian_2d((x_lo..x_hi).log_scale(), y_lo..y_hi)
                        .map_err(plot_error)?
                );
            } else {
                body!(
                    builder
                        .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
                        .map_err(plot_error)?
                );
            }
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}
