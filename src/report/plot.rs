//! SVG figures of the report, drawn with plotters (one function per figure kind).

use plotters::prelude::*;

use super::Report;
use crate::error::{Error, Result};

const WIDTH: u32 = 760;
const HEIGHT: u32 = 440;
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Runtime(format!("drawing a figure: {e}"))
}

/// Every figure as `(file name, SVG text)`.
pub fn figures(report: &Report) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    if !report.lr_curves.is_empty() {
        out.push(("lr_sensitivity.svg".to_string(), lr_sensitivity(report)?));
    }
    if report.fit.splits.iter().any(|s| !s.models.is_empty()) {
        out.push(("holdout_mae.svg".to_string(), holdout_mae(report)?));
    }
    Ok(out)
}

/// One-line caption of a figure file.
pub fn caption(file: &str) -> &'static str {
    match file {
        "lr_sensitivity.svg" => {
            "Final test top-1 against base LR, one panel per architecture and one line per policy \
             (mean over weight decay and seeds)."
        }
        "holdout_mae.svg" => {
            "Mean absolute error of every model on every holdout; hollow markers are baselines."
        }
        _ => "",
    }
}

/// Mean final top-1 against base LR (log scale): one panel per architecture, one line per policy.
pub fn lr_sensitivity(report: &Report) -> Result<String> {
    let mut archs: Vec<&str> = report.lr_curves.iter().map(|c| c.arch.as_str()).collect();
    archs.dedup();
    let mut policies: Vec<&str> = report.lr_curves.iter().map(|c| c.policy.as_str()).collect();
    policies.sort_unstable();
    policies.dedup();
    let lrs: Vec<f64> = report
        .lr_curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0))
        .collect();
    let (lo, hi) = lrs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let (lo, hi) = if lo < hi {
        (lo / 1.5, hi * 1.5)
    } else {
        (lo / 10.0, lo * 10.0)
    };
    let columns = archs.len().clamp(1, 3);
    let rows = archs.len().div_ceil(columns);
    let mut svg = String::new();
    {
        let size = (WIDTH.max(320 * columns as u32), 60 + 330 * rows as u32);
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let root = root
            .titled("Final test top-1 vs base learning rate", ("sans-serif", 18))
            .map_err(plot_error)?;
        let panels = root.split_evenly((rows, columns));
        for (panel, arch) in panels.iter().zip(&archs) {
            let mut chart = ChartBuilder::on(panel)
                .caption(*arch, ("sans-serif", 14))
                .margin(8)
                .x_label_area_size(36)
                .y_label_area_size(44)
                .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.0)
                .map_err(plot_error)?;
            chart
                .configure_mesh()
                .x_desc("base LR")
                .y_desc("top-1")
                .x_label_formatter(&|v| format!("{v:.0e}"))
                .light_line_style(WHITE)
                .draw()
                .map_err(plot_error)?;
            for curve in report.lr_curves.iter().filter(|c| c.arch == *arch) {
                let k = policies
                    .iter()
                    .position(|p| *p == curve.policy)
                    .unwrap_or(0);
                let color = PALETTE[k % PALETTE.len()];
                chart
                    .draw_series(LineSeries::new(
                        curve.points.iter().copied(),
                        color.stroke_width(2),
                    ))
                    .map_err(plot_error)?
                    .label(curve.policy.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                    });
                chart
                    .draw_series(
                        curve
                            .points
                            .iter()
                            .map(|&p| Circle::new(p, 3, color.filled())),
                    )
                    .map_err(plot_error)?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// MAE of every model on every split: one marker per (split, model); baselines hollow.
pub fn holdout_mae(report: &Report) -> Result<String> {
    let splits = &report.fit.splits;
    let models: Vec<&str> = splits
        .first()
        .map(|s| s.models.iter().map(|m| m.model.as_str()).collect())
        .unwrap_or_default();
    let max_mae = splits
        .iter()
        .flat_map(|s| s.models.iter().filter_map(|m| m.scores.map(|s| s.mae)))
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let n = splits.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Predictor MAE on each holdout (lower is better)",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..max_mae)
            .map_err(plot_error)?;
        let names: Vec<String> = splits.iter().map(|s| s.split.clone()).collect();
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|v| {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("MAE (top-1)")
            .light_line_style(WHITE)
            .draw()
            .map_err(plot_error)?;
        let width = 0.6 / models.len().max(1) as f64;
        for (k, model) in models.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let baseline = splits
                .iter()
                .flat_map(|s| s.models.iter())
                .any(|m| m.model == *model && m.baseline);
            let points: Vec<(f64, f64)> = splits
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    s.models
                        .iter()
                        .find(|m| m.model == *model)
                        .and_then(|m| m.scores)
                        .map(|sc| (i as f64 - 0.3 + width * (k as f64 + 0.5), sc.mae))
                })
                .collect();
            let style = if baseline {
                color.stroke_width(2)
            } else {
                color.filled()
            };
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 5, style)))
                .map_err(plot_error)?
                .label(if baseline {
                    format!("{model} (baseline)")
                } else {
                    model.to_string()
                })
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, style));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// A schedule: LR against step (log scale when it spans more than two decades), and momentum in a
/// second panel when the policy cycles it.
pub fn schedule(title: &str, lrs: &[f64], momentum: Option<&[f64]>) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let panels = if momentum.is_some() {
            root.split_evenly((2, 1))
        } else {
            vec![root.clone()]
        };
        let steps = lrs.len().max(2) as f64;
        let positive: Vec<f64> = lrs.iter().copied().filter(|v| *v > 0.0).collect();
        let (lo, hi) = positive
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let points = lrs.iter().enumerate().map(|(t, &v)| (t as f64, v));
        if positive.len() == lrs.len() && lo > 0.0 && hi / lo > 100.0 {
            let mut chart = ChartBuilder::on(&panels[0])
                .caption(title, ("sans-serif", 15))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(60)
                .build_cartesian_2d(0.0..steps, (lo / 1.2..hi * 1.2).log_scale())
                .map_err(plot_error)?;
            chart
                .configure_mesh()
                .x_desc("step")
                .y_desc("learning rate")
                .y_label_formatter(&|v| format!("{v:.0e}"))
                .draw()
                .map_err(plot_error)?;
            chart
                .draw_series(LineSeries::new(points, PALETTE[0].stroke_width(2)))
                .map_err(plot_error)?;
        } else {
            let top = lrs.iter().copied().fold(0.0f64, f64::max).max(1e-12) * 1.05;
            let bottom = lrs.iter().copied().fold(0.0f64, f64::min);
            let mut chart = ChartBuilder::on(&panels[0])
                .caption(title, ("sans-serif", 15))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(60)
                .build_cartesian_2d(0.0..steps, bottom..top)
                .map_err(plot_error)?;
            chart
                .configure_mesh()
                .x_desc("step")
                .y_desc("learning rate")
                .y_label_formatter(&|v| format!("{v:.2e}"))
                .draw()
                .map_err(plot_error)?;
            chart
                .draw_series(LineSeries::new(points, PALETTE[0].stroke_width(2)))
                .map_err(plot_error)?;
        }
        if let Some(m) = momentum {
            let (lo, hi) = m
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            let pad = ((hi - lo) * 0.1).max(1e-3);
            let mut chart = ChartBuilder::on(&panels[1])
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(60)
                .build_cartesian_2d(0.0..steps, (lo - pad)..(hi + pad))
                .map_err(plot_error)?;
            chart
                .configure_mesh()
                .x_desc("step")
                .y_desc("momentum")
                .draw()
                .map_err(plot_error)?;
            chart
                .draw_series(LineSeries::new(
                    m.iter().enumerate().map(|(t, &v)| (t as f64, v)),
                    PALETTE[1].stroke_width(2),
                ))
                .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}
