//! SVG figure of a repeated LR range test: smoothed loss against LR, one line per repeat, and a
//! marker at each repeat's suggestion of every rule (valley, steep, minimum, slide), as fastai's
//! plot marks each suggestion it was asked for.

use plotters::prelude::*;

use super::{RangeTestCurve, RepeatedRangeTest, Suggestion, suggest};
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
/// The y axis reaches this multiple of (highest starting loss − lowest loss) above the lowest
/// loss: the dip is what the suggestions read, and the blow-up can be orders of magnitude higher.
const Y_HEADROOM: f64 = 2.0;

fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Runtime(format!("drawing the LR range test figure: {e}"))
}

/// Smoothed loss at `lr` by linear interpolation in log10(LR), clamped at the ends (`numpy.interp`,
/// as fastai places its markers).
fn loss_at(curve: &RangeTestCurve, lr: f64) -> Option<f64> {
    let (lrs, ys) = (&curve.lrs, &curve.smoothed);
    let x = lr.log10();
    let first = lrs.first()?.log10();
    if x <= first {
        return ys.first().copied();
    }
    for k in 1..lrs.len().min(ys.len()) {
        let (x0, x1) = (lrs[k - 1].log10(), lrs[k].log10());
        if x <= x1 {
            let t = if x1 > x0 { (x - x0) / (x1 - x0) } else { 1.0 };
            return Some(ys[k - 1] + t * (ys[k] - ys[k - 1]));
        }
    }
    ys.last().copied()
}

/// Marker colour of a suggestion rule (the lines take the palette's colours per repeat); like
/// fastai, every rule is a dot of its own colour.
fn rule_color(rule: Suggestion) -> RGBColor {
    match rule {
        Suggestion::Valley => RGBColor(200, 0, 0),
        Suggestion::Steep => RGBColor(0, 140, 0),
        Suggestion::Minimum => RGBColor(0, 0, 200),
        Suggestion::Slide => RGBColor(150, 0, 150),
    }
}

/// Smoothed loss vs LR (log x axis), one line per repeat, and markers at each repeat's suggestion
/// of every rule; `which` (the rule the command reports) gets the caption and larger markers.
pub fn plot_svg(r: &RepeatedRangeTest, which: Suggestion) -> Result<String> {
    let suggestions: Vec<(Suggestion, Vec<Option<f64>>)> = Suggestion::ALL
        .iter()
        .map(|&rule| (rule, r.curves.iter().map(|c| suggest(c, rule)).collect()))
        .collect();
    let all_lrs = r
        .curves
        .iter()
        .flat_map(|c| c.lrs.iter().copied())
        .chain(
            suggestions
                .iter()
                .flat_map(|(_, v)| v.iter().flatten().copied()),
        )
        .chain([r.config.start_lr, r.config.end_lr]);
    let (x_lo, x_hi) = all_lrs
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let (x_lo, x_hi) = if x_lo < x_hi {
        (x_lo, x_hi)
    } else {
        (x_lo / 10.0, x_lo * 10.0)
    };
    let y_lo = r
        .curves
        .iter()
        .flat_map(|c| c.smoothed.iter().copied())
        .fold(f64::INFINITY, f64::min);
    let y_start = r
        .curves
        .iter()
        .filter_map(|c| c.smoothed.first().copied())
        .fold(f64::NEG_INFINITY, f64::max);
    let y_max = r
        .curves
        .iter()
        .flat_map(|c| c.smoothed.iter().copied())
        .fold(f64::NEG_INFINITY, f64::max);
    let (y_lo, y_hi) = if y_lo.is_finite() && y_max > y_lo {
        // A curve that never dips below its start still gets a readable range.
        let span = (y_start - y_lo).max(0.05 * y_lo.abs()).max(1e-6);
        (y_lo, y_max.min(y_lo + Y_HEADROOM * span))
    } else if y_lo.is_finite() {
        (y_lo - 0.5, y_lo + 0.5)
    } else {
        (0.0, 1.0)
    };
    let margin = (y_hi - y_lo) * 0.05;
    let (y_lo, y_hi) = (y_lo - margin, y_hi + margin);
    let clip = |y: f64| y.clamp(y_lo, y_hi);

    let spread = r.suggestions.iter().find(|s| s.suggestion == which);
    let caption = match spread.and_then(|s| Some((s.geometric_mean?, s.std_log10?))) {
        Some((gm, std)) => format!(
            "LR range test: {which} suggestion {gm:.2e} (geometric mean; log10 std {std:.2})"
        ),
        None => format!("LR range test: no {which} suggestion (curves too short)"),
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d((x_lo..x_hi).log_scale(), y_lo..y_hi)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("learning rate")
            .y_desc("smoothed training loss")
            .x_label_formatter(&|v| format!("{v:.0e}"))
            .draw()
            .map_err(plot_error)?;
        for (i, curve) in r.curves.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            // The line ends where it first leaves the top of the chart, drawn as leaving it.
            let inside = curve.smoothed.iter().take_while(|&&y| y <= y_hi).count();
            let points = curve
                .lrs
                .iter()
                .zip(&curve.smoothed)
                .take(inside + 1)
                .map(|(&lr, &y)| (lr, clip(y)));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(plot_error)?
                .label(format!("seed {}", curve.seed))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        for (rule, values) in &suggestions {
            let (rule, chosen) = (*rule, *rule == which);
            let markers: Vec<_> = r
                .curves
                .iter()
                .zip(values)
                .filter_map(|(curve, lr)| {
                    let lr = (*lr)?;
                    let at = (lr, clip(loss_at(curve, lr)?));
                    let size = if chosen { 7 } else { 5 };
                    Some(
                        EmptyElement::at(at)
                            + Circle::new((0, 0), size, rule_color(rule).filled())
                            + Circle::new((0, 0), size, BLACK.stroke_width(1)),
                    )
                })
                .collect();
            let mean = r.spread(rule).geometric_mean;
            let label = match mean {
                Some(gm) => format!("{rule}: {gm:.2e}"),
                None => format!("{rule}: none"),
            };
            chart
                .draw_series(markers)
                .map_err(plot_error)?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, rule_color(rule).filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::LowerLeft)
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
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
