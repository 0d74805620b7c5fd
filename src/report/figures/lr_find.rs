//! The LR range test found beside the report: smoothed loss against LR (log axis), one line per
//! repeat, and every suggestion rule of every repeat marked.

use plotters::prelude::*;

use super::{Figure, LEGEND_HEIGHT, Mark, PALETTE, Section, WIDTH, legend_row, plot_error, titled};
use crate::error::Result;
use crate::lrfind::{RangeTestCurve, RepeatedRangeTest, Suggestion, suggest};
use crate::report::Report;

/// Smoothed loss at `lr` by linear interpolation in log10 LR, clamped at the ends.
fn loss_at(curve: &RangeTestCurve, lr: f64) -> Option<f64> {
    let points: Vec<(f64, f64)> = curve
        .lrs
        .iter()
        .zip(&curve.smoothed)
        .map(|(l, y)| (l.log10(), *y))
        .collect();
    let x = lr.log10();
    let first = points.first()?;
    if x <= first.0 {
        return Some(first.1);
    }
    for w in points.windows(2) {
        if x <= w[1].0 {
            let t = if w[1].0 > w[0].0 {
                (x - w[0].0) / (w[1].0 - w[0].0)
            } else {
                1.0
            };
            return Some(w[0].1 + t * (w[1].1 - w[0].1));
        }
    }
    points.last().map(|p| p.1)
}

fn mark(s: Suggestion, color: RGBColor) -> Mark {
    match s {
        Suggestion::Valley => Mark::Dot(color),
        Suggestion::Steep => Mark::Triangle(color),
        Suggestion::Minimum => Mark::Cross(color),
        Suggestion::Slide => Mark::Ring(color),
    }
}

/// The figure of a (repeated) range test: `lrcast lr-find` writes it as lr_find.svg, and the report
/// draws it from the lr_find.json it finds.
pub fn draw(r: &RepeatedRangeTest) -> Result<String> {
    let smoothed = || {
        r.curves
            .iter()
            .flat_map(|c| c.smoothed.iter().copied())
            .filter(|v| v.is_finite())
    };
    let y_lo = smoothed().fold(f64::INFINITY, f64::min);
    let y_max = smoothed().fold(f64::NEG_INFINITY, f64::max);
    let y_start = r
        .curves
        .iter()
        .filter_map(|c| c.smoothed.first().copied())
        .fold(f64::NEG_INFINITY, f64::max);
    let (y_lo, y_hi) = if y_lo.is_finite() && y_max > y_lo {
        let span = (y_start - y_lo).max(0.05 * y_lo.abs()).max(1e-6);
        (y_lo, y_max.min(y_lo + 2.0 * span))
    } else {
        (0.0, 1.0)
    };
    let margin = (y_hi - y_lo) * 0.05;
    let (y_lo, y_hi) = (y_lo - margin, y_hi + margin);
    let (x_lo, x_hi) = (
        r.config.start_lr,
        r.config.end_lr.max(r.config.start_lr * 10.0),
    );
    let mut svg = String::new();
    {
        let root = titled(
            &mut svg,
            (WIDTH, 480),
            "LR range test with every suggestion",
        )?;
        let (top, body) = root.split_vertically(LEGEND_HEIGHT);
        let mut items: Vec<(Mark, String)> = Suggestion::ALL
            .iter()
            .map(|&s| {
                let spread = r.spread(s);
                let gm = spread
                    .geometric_mean
                    .map_or("none".into(), |v| format!("{v:.1e}"));
                (mark(s, BLACK), format!("{} {gm}", s.name()))
            })
            .collect();
        items.push((Mark::Line(PALETTE[0]), "one line per seed".into()));
        legend_row(&top, &items)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(50)
            .build_cartesian_2d((x_lo..x_hi).log_scale(), y_lo..y_hi)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("learning rate")
            .y_desc("smoothed training loss")
            .x_label_formatter(&|v| format!("{v:.0e}"))
            .light_line_style(WHITE)
            .draw()
            .map_err(plot_error)?;
        for (i, curve) in r.curves.iter().enumerate() {
            let c = PALETTE[i % PALETTE.len()];
            let inside = curve.smoothed.iter().take_while(|&&y| y <= y_hi).count();
            chart
                .draw_series(LineSeries::new(
                    curve
                        .lrs
                        .iter()
                        .zip(&curve.smoothed)
                        .take(inside + 1)
                        .map(|(&l, &y)| (l, y.clamp(y_lo, y_hi))),
                    c.stroke_width(2),
                ))
                .map_err(plot_error)?;
            for s in Suggestion::ALL {
                let Some(lr) = suggest(curve, s) else {
                    continue;
                };
                let Some(y) = loss_at(curve, lr) else {
                    continue;
                };
                let at = (lr, y.clamp(y_lo, y_hi));
                match s {
                    Suggestion::Valley => chart
                        .draw_series([Circle::new(at, 5, c.filled())])
                        .map_err(plot_error)?,
                    Suggestion::Steep => chart
                        .draw_series([TriangleMarker::new(at, 6, BLACK.stroke_width(2))])
                        .map_err(plot_error)?,
                    Suggestion::Minimum => chart
                        .draw_series([Cross::new(at, 5, BLACK.stroke_width(2))])
                        .map_err(plot_error)?,
                    Suggestion::Slide => chart
                        .draw_series([Circle::new(at, 6, BLACK.stroke_width(2))])
                        .map_err(plot_error)?,
                };
            }
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// The figure, when the experiment has a range test (no figure and no sentence otherwise).
pub fn figure(report: &Report) -> Result<Option<Figure>> {
    let Some(found) = &report.lr_find else {
        return Ok(None);
    };
    if found.test.curves.iter().all(|c| c.lrs.is_empty()) {
        return Ok(None);
    }
    let r = &found.test;
    Ok(Some(Figure::drawn(
        "lr_find.svg",
        Section::Corpus,
        format!(
            "LR range test read from `{}`: smoothed training loss against the LR ({} ramp, {} → \
             {} over {} steps), one line per seed ({} repeat(s)); every suggestion rule of every \
             repeat is marked (valley ●, steep △, minimum ×, slide ○; the legend gives each \
             rule's geometric mean over the repeats).",
            found.path,
            r.config.ramp.name(),
            r.config.start_lr,
            r.config.end_lr,
            r.config.num_steps,
            r.curves.len()
        ),
        draw(&found.test)?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_interpolate_in_log_lr_and_clamp_at_the_ends() {
        let curve = RangeTestCurve {
            seed: 0,
            num_steps: 10,
            lrs: vec![1e-3, 1e-2, 1e-1],
            losses: vec![2.0, 1.0, 3.0],
            smoothed: vec![2.0, 1.0, 3.0],
            stopped_early: false,
        };
        assert_eq!(loss_at(&curve, 1e-5), Some(2.0));
        assert_eq!(loss_at(&curve, 1.0), Some(3.0));
        let mid = loss_at(&curve, 10f64.powf(-1.5)).unwrap();
        assert!((mid - 2.0).abs() < 1e-12, "{mid}");
    }
}
