//! Predicted against actual final top-1 for the best model of each protocol: held-out runs coloured
//! with their 80 % intervals as error bars, training runs (in-sample) grey, and the line y = x.

use plotters::prelude::*;

use super::{
    Figure, GREY, LEGEND_HEIGHT, Mark, PALETTE, Section, TITLE_HEIGHT, extent, grid, legend_row,
    plot_error, titled,
};
use crate::error::Result;
use crate::report::Report;

const PANEL: u32 = 300;

/// The figure.
pub fn draw(report: &Report) -> Result<Option<String>> {
    let panels: Vec<_> = report
        .fit
        .splits
        .iter()
        .filter_map(|s| {
            s.predictions
                .as_ref()
                .filter(|p| !p.rows.is_empty())
                .map(|p| (s, p))
        })
        .collect();
    if panels.is_empty() {
        return Ok(None);
    }
    let (rows, columns) = grid(panels.len(), 3);
    let size = (
        PANEL * columns as u32 + 40,
        TITLE_HEIGHT + LEGEND_HEIGHT + PANEL * rows as u32,
    );
    let held = PALETTE[0];
    let mut svg = String::new();
    {
        let root = titled(
            &mut svg,
            size,
            "Predicted vs actual final top-1, best model per protocol",
        )?;
        let (top, body) = root.split_vertically(LEGEND_HEIGHT);
        legend_row(
            &top,
            &[
                (Mark::Dot(held), "held-out run".into()),
                (Mark::Line(RGBColor(160, 190, 220)), "80 % interval".into()),
                (Mark::Ring(GREY), "training run (in-sample)".into()),
                (Mark::Line(BLACK), "y = x".into()),
            ],
        )?;
        for (area, (split, p)) in body.split_evenly((rows, columns)).iter().zip(&panels) {
            let (lo, hi) =
                extent(p.rows.iter().flat_map(|r| [r.actual, r.predicted])).unwrap_or((0.0, 1.0));
            let pad = ((hi - lo) * 0.05).max(0.01);
            let (lo, hi) = (lo - pad, hi + pad);
            let mut chart = ChartBuilder::on(area)
                .caption(format!("{} — {}", split.split, p.model), (super::FONT, 13))
                .margin(6)
                .x_label_area_size(32)
                .y_label_area_size(40)
                .build_cartesian_2d(lo..hi, lo..hi)
                .map_err(plot_error)?;
            chart
                .configure_mesh()
                .x_desc("actual top-1")
                .y_desc("predicted")
                .x_label_formatter(&|v| format!("{v:.1}"))
                .y_label_formatter(&|v| format!("{v:.1}"))
                .light_line_style(WHITE)
                .label_style((super::FONT, 11))
                .draw()
                .map_err(plot_error)?;
            chart
                .draw_series(p.rows.iter().filter(|r| !r.held_out).map(|r| {
                    Circle::new(
                        (r.actual, r.predicted.clamp(lo, hi)),
                        2,
                        GREY.mix(0.6).stroke_width(1),
                    )
                }))
                .map_err(plot_error)?;
            chart
                .draw_series(p.rows.iter().filter(|r| r.held_out).filter_map(|r| {
                    let w = r.half_width?;
                    Some(PathElement::new(
                        vec![
                            (r.actual, (r.predicted - w).clamp(lo, hi)),
                            (r.actual, (r.predicted + w).clamp(lo, hi)),
                        ],
                        held.mix(0.25).stroke_width(1),
                    ))
                }))
                .map_err(plot_error)?;
            chart
                .draw_series(p.rows.iter().filter(|r| r.held_out).map(|r| {
                    Circle::new(
                        (r.actual, r.predicted.clamp(lo, hi)),
                        2,
                        held.mix(0.8).filled(),
                    )
                }))
                .map_err(plot_error)?;
            chart
                .draw_series([PathElement::new(
                    vec![(lo, lo), (hi, hi)],
                    BLACK.stroke_width(1),
                )])
                .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(Some(svg))
}

/// The figure (or why there is none).
pub fn figure(report: &Report) -> Result<Figure> {
    let file = "predictions.svg";
    Ok(match draw(report)? {
        Some(svg) => Figure::drawn(
            file,
            Section::Extrapolation,
            "Predicted against actual final top-1 of the best model of each protocol (lowest \
             held-out MAE). Blue: held-out runs, with the model's 80 % split-conformal interval as \
             a bar; grey rings: the training runs of a single-split protocol, predicted in-sample \
             (multi-fold protocols hold every run out once and have none); black: y = x."
                .into(),
            svg,
        ),
        None => Figure::skipped(
            file,
            Section::Extrapolation,
            "The fit results hold no per-run predictions (written by an older lrcast, or no model \
             could be fitted): rerun `lrcast fit` to draw predicted against actual accuracy."
                .into(),
        ),
    })
}
