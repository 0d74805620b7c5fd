//! The schedule figure of `lrcast schedule --plot`: one policy's LR against step, and its momentum
//! where it cycles.

use plotters::prelude::*;

use super::{HEIGHT, PALETTE, WIDTH, plot_error};
use crate::error::Result;

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
