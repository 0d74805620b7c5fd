//! Permutation importance of each hyperparameter: mean MAE increase over the shuffles, with ± one
//! standard deviation over them.

use plotters::prelude::*;

use super::{Figure, PALETTE, Section, TITLE_HEIGHT, extent, plot_error, titled};
use crate::error::Result;
use crate::predict::importance::ImportanceReport;
use crate::report::Report;

/// The figure of `r`.
pub fn draw(r: &ImportanceReport) -> Result<String> {
    let n = r.importances.len().max(1) as i32;
    let size = (760, TITLE_HEIGHT + 70 + 26 * n as u32);
    let (lo, hi) = extent(
        r.importances
            .iter()
            .flat_map(|i| [i.mae_increase - i.sd, i.mae_increase + i.sd, 0.0]),
    )
    .unwrap_or((0.0, 1.0));
    let pad = (hi - lo).max(1e-3) * 0.06;
    // Largest at the top.
    let names: Vec<String> = r
        .importances
        .iter()
        .rev()
        .map(|i| i.hyperparameter.clone())
        .collect();
    let mut svg = String::new();
    {
        let root = titled(
            &mut svg,
            size,
            &format!(
                "Permutation importance: {} on {} ({} shuffles)",
                r.model, r.protocol, r.repeats
            ),
        )?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(150)
            .build_cartesian_2d((lo - pad)..(hi + pad), (0..n).into_segmented())
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("increase of held-out MAE when shuffled")
            .y_labels(n as usize)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_formatter(&|v| format!("{v:.3}"))
            .light_line_style(WHITE)
            .draw()
            .map_err(plot_error)?;
        for (k, i) in r.importances.iter().rev().enumerate() {
            let y = SegmentValue::CenterOf(k as i32);
            chart
                .draw_series([PathElement::new(
                    vec![(0.0, y.clone()), (i.mae_increase, y.clone())],
                    PALETTE[0].mix(0.55).stroke_width(14),
                )])
                .map_err(plot_error)?;
            chart
                .draw_series([PathElement::new(
                    vec![
                        (i.mae_increase - i.sd, y.clone()),
                        (i.mae_increase + i.sd, y),
                    ],
                    BLACK.stroke_width(2),
                )])
                .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// The figure (or why there is none).
pub fn figure(report: &Report) -> Result<Figure> {
    let file = "importance.svg";
    Ok(match &report.fit.importance {
        Some(r) if !r.importances.is_empty() => Figure::drawn(
            file,
            Section::Importance,
            format!(
                "How much the held-out MAE of {} on {} grows when one hyperparameter's values are \
                 shuffled among the test runs (bar: mean over {} shuffles; whisker: ± one standard \
                 deviation over them).",
                r.model, r.protocol, r.repeats
            ),
            draw(r)?,
        ),
        _ => Figure::skipped(
            file,
            Section::Importance,
            "No permutation importance was computed (it needs a fitted model and the grouped \
             5-fold protocol)."
                .into(),
        ),
    })
}
