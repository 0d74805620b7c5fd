//! Training curves of the best and worst run of each task × architecture (test top-1 and training
//! loss against step, with the loss spikes each run detected), and their weight norm and effective
//! LR where recorded.

use plotters::prelude::*;

use super::{
    Figure, LEGEND_HEIGHT, Mark, PALETTE, Section, TITLE_HEIGHT, extent, legend_row, plot_error,
    titled,
};
use crate::error::Result;
use crate::report::Report;
use crate::report::curves::{PanelCurves, RunCurves};
use crate::report::runs::fmt_num;

const PANEL_WIDTH: u32 = 400;
const PANEL_HEIGHT: u32 = 240;

fn color(role: &str) -> RGBColor {
    if role == "best" {
        PALETTE[0]
    } else {
        PALETTE[1]
    }
}

fn describe(r: &RunCurves) -> String {
    format!("{}: {} ({:.3}, {})", r.role, r.policy, r.top1, r.outcome)
}

fn spikes(r: &RunCurves) -> String {
    match (r.loss_spikes, r.loss_spike_period) {
        (Some(n), Some(p)) => format!("{}: {n:.0} loss spikes, every ~{p:.0} steps", r.role),
        (Some(n), None) => format!("{}: {n:.0} loss spike(s)", r.role),
        _ => format!("{}: spikes not recorded", r.role),
    }
}

/// The `(steps, values)` a panel draws of a run.
type Series<'a> = &'a dyn Fn(&RunCurves) -> (Vec<f64>, Vec<f64>);

/// One panel: `series(run)` against step for each run, log y when `log` and the values allow.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    y_desc: &str,
    runs: &[&RunCurves],
    series: Series,
    log: bool,
    notes: &[String],
) -> Result<()> {
    let data: Vec<(RGBColor, Vec<(f64, f64)>)> = runs
        .iter()
        .map(|r| {
            let (x, y) = series(r);
            (
                color(&r.role),
                x.into_iter()
                    .zip(y)
                    .filter(|p| p.0.is_finite() && p.1.is_finite())
                    .collect(),
            )
        })
        .collect();
    let (x_hi, y_lo, y_hi) = {
        let x =
            extent(data.iter().flat_map(|d| d.1.iter().map(|p| p.0))).map_or(1.0, |e| e.1.max(1.0));
        let (lo, hi) =
            extent(data.iter().flat_map(|d| d.1.iter().map(|p| p.1))).unwrap_or((0.0, 1.0));
        (x, lo, hi)
    };
    let log = log && y_lo > 0.0 && y_hi / y_lo > 20.0;
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, (super::FONT, 12))
        .margin(6)
        .x_label_area_size(30)
        .y_label_area_size(50);
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc("step")
                .y_desc(y_desc)
                .y_label_formatter(&|v| fmt_num(*v))
                .x_label_formatter(&|v| format!("{v:.0}"))
                .light_line_style(WHITE)
                .label_style((super::FONT, 11))
                .draw()
                .map_err(plot_error)?;
            for (c, points) in &data {
                chart
                    .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
                    .map_err(plot_error)?;
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 2, c.filled())))
                    .map_err(plot_error)?;
            }
        }};
    }
    if log {
        body!(
            builder
                .build_cartesian_2d(0.0..x_hi, (y_lo / 1.3..y_hi * 1.3).log_scale())
                .map_err(plot_error)?
        );
    } else {
        let pad = ((y_hi - y_lo) * 0.06).max(1e-3);
        body!(
            builder
                .build_cartesian_2d(0.0..x_hi, (y_lo - pad)..(y_hi + pad))
                .map_err(plot_error)?
        );
    }
    let style = (super::FONT, 11).into_font().color(&BLACK);
    let (w, _) = area.dim_in_pixel();
    for (k, note) in notes.iter().enumerate() {
        area.draw(&Text::new(
            note.clone(),
            (w as i32 / 2 - 60, 24 + 13 * k as i32),
            style.clone(),
        ))
        .map_err(plot_error)?;
    }
    Ok(())
}

fn legend() -> Vec<(Mark, String)> {
    vec![
        (
            Mark::Line(PALETTE[0]),
            "best run (highest final top-1)".into(),
        ),
        (
            Mark::Line(PALETTE[1]),
            "worst run that did not diverge".into(),
        ),
    ]
}

/// Test top-1 and training loss of the best and worst runs.
pub fn draw(panels: &[PanelCurves]) -> Result<String> {
    let size = (
        2 * PANEL_WIDTH,
        TITLE_HEIGHT + LEGEND_HEIGHT + (PANEL_HEIGHT + 30) * panels.len() as u32,
    );
    let mut svg = String::new();
    {
        let root = titled(&mut svg, size, "Training curves of the best and worst runs")?;
        let (top, body) = root.split_vertically(LEGEND_HEIGHT);
        legend_row(&top, &legend())?;
        for (row, p) in body.split_evenly((panels.len(), 1)).iter().zip(panels) {
            let (head, plots) = row.split_vertically(30);
            let runs: Vec<&RunCurves> = p.runs.iter().collect();
            let text = format!(
                "{} — {}",
                p.title,
                runs.iter()
                    .map(|r| describe(r))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            let spikes_line = format!(
                "per-step loss spikes detected — {}",
                runs.iter()
                    .map(|r| spikes(r))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            for (k, line) in [text, spikes_line].into_iter().enumerate() {
                head.draw(&Text::new(
                    line,
                    (8, 2 + 14 * k as i32),
                    (super::FONT, 11).into_font().color(&BLACK),
                ))
                .map_err(plot_error)?;
            }
            let areas = plots.split_evenly((1, 2));
            panel(
                &areas[0],
                "test top-1",
                "test top-1",
                &runs,
                &|r| (r.steps.clone(), r.test_top1.clone()),
                false,
                &[],
            )?;
            panel(
                &areas[1],
                "training loss (epoch mean)",
                "train loss",
                &runs,
                &|r| (r.steps.clone(), r.train_loss.clone()),
                true,
                &[],
            )?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

fn has_norms(r: &RunCurves) -> bool {
    r.weight_norm.iter().any(|v| v.is_finite())
}

/// Weight norm and effective LR of the best and worst runs, where recorded.
pub fn draw_norms(panels: &[&PanelCurves]) -> Result<String> {
    let size = (
        2 * PANEL_WIDTH,
        TITLE_HEIGHT + LEGEND_HEIGHT + (PANEL_HEIGHT + 30) * panels.len() as u32,
    );
    let mut svg = String::new();
    {
        let root = titled(
            &mut svg,
            size,
            "Weight norm and effective LR of batch-normalised weights",
        )?;
        let (top, body) = root.split_vertically(LEGEND_HEIGHT);
        legend_row(&top, &legend())?;
        for (row, p) in body.split_evenly((panels.len(), 1)).iter().zip(panels) {
            let (head, plots) = row.split_vertically(30);
            let runs: Vec<&RunCurves> = p.runs.iter().filter(|r| has_norms(r)).collect();
            let text = format!(
                "{} — {}",
                p.title,
                runs.iter()
                    .map(|r| describe(r))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            head.draw(&Text::new(
                text,
                (8, 10),
                (super::FONT, 11).into_font().color(&BLACK),
            ))
            .map_err(plot_error)?;
            let areas = plots.split_evenly((1, 2));
            panel(
                &areas[0],
                "pooled ‖w‖",
                "‖w‖",
                &runs,
                &|r| (r.norm_steps.clone(), r.weight_norm.clone()),
                false,
                &[],
            )?;
            panel(
                &areas[1],
                "effective LR = LR / ‖w‖²",
                "effective LR",
                &runs,
                &|r| (r.norm_steps.clone(), r.effective_lr.clone()),
                true,
                &[],
            )?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// The training-curve figure (or why there is none).
pub fn figure(report: &Report) -> Result<Figure> {
    let file = "curves.svg";
    if report.curves.is_empty() {
        return Ok(Figure::skipped(
            file,
            Section::Corpus,
            "No run recorded per-epoch curves (imported runs, or every run diverged before its \
             first evaluation): there are no training curves to draw."
                .into(),
        ));
    }
    Ok(Figure::drawn(
        file,
        Section::Corpus,
        "Test top-1 (left) and mean training loss per epoch (right; log axis when it spans \
         decades) against the optimizer step, for the best run (blue) and the worst run that did \
         not diverge (orange) of each task × architecture. Loss spikes are detected on the \
         per-step loss, which the corpus does not keep: each run's spike count and median period \
         are written on the loss panel instead of marked at their steps."
            .into(),
        draw(&report.curves)?,
    ))
}

/// The weight-norm figure (or why there is none).
pub fn norms_figure(report: &Report) -> Result<Figure> {
    let file = "weight_norm.svg";
    let panels: Vec<&PanelCurves> = report
        .curves
        .iter()
        .filter(|p| p.runs.iter().any(has_norms))
        .collect();
    if panels.is_empty() {
        return Ok(Figure::skipped(
            file,
            Section::Corpus,
            "No run recorded weight norms (only architectures with batch norm do): there is no \
             weight-norm or effective-LR curve to draw."
                .into(),
        ));
    }
    Ok(Figure::drawn(
        file,
        Section::Corpus,
        "Pooled norm ‖w‖ of the weights that feed batch norm (left) and the effective LR = LR / \
         ‖w‖² (right, log axis when it spans decades) against the step, for the same best and \
         worst runs (every train.trace_every steps where traced, else at each evaluation)."
            .into(),
        draw_norms(&panels)?,
    ))
}
