//! The report's SVG figures (plotters): one file per figure kind, each a function of the
//! [`Report`] returning SVG text; here the registry that names, captions and orders them, and the
//! drawing helpers they share.

pub mod curves;
pub mod failures;
pub mod importance;
pub mod lr_find;
pub mod predictions;
pub mod schedule;
pub mod schedules;
pub mod scores;
pub mod study;
pub mod sweeps;

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Serialize;

use super::Report;
use crate::error::{Error, Result};

/// Width of a single-panel figure.
pub const WIDTH: u32 = 760;
/// Height of a single-panel figure.
pub const HEIGHT: u32 = 440;
/// Height of a figure's title strip.
pub const TITLE_HEIGHT: u32 = 34;
/// Height of a legend row.
pub const LEGEND_HEIGHT: u32 = 24;
/// Line and marker colours (matplotlib's tab10).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];
/// Colour of baselines and references.
pub const GREY: RGBColor = RGBColor(120, 120, 120);
/// Font family of every text.
pub const FONT: &str = "sans-serif";

/// Where in the document a figure belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Section {
    /// In the founding study's section (first).
    Study,
    /// Beside the best settings.
    Best,
    /// Beside the extrapolation verdicts.
    Extrapolation,
    /// Beside what the corpus cannot tell.
    Gaps,
    /// In the corpus section.
    Corpus,
    /// Beside the importance table.
    Importance,
}

/// One figure of the report.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File name under `figures/`.
    pub file: String,
    /// Section it belongs to.
    pub section: Section,
    /// Caption (plain text).
    pub caption: String,
    /// The SVG, or `None` when there was nothing to draw.
    pub svg: Option<String>,
    /// Figure number in the document (drawn figures only).
    pub number: Option<usize>,
}

impl Figure {
    fn drawn(file: impl Into<String>, section: Section, caption: String, svg: String) -> Self {
        Figure {
            file: file.into(),
            section,
            caption,
            svg: Some(svg),
            number: None,
        }
    }

    /// A figure with nothing to draw: the caption says why.
    fn skipped(file: impl Into<String>, section: Section, why: String) -> Self {
        Figure {
            file: file.into(),
            section,
            caption: why,
            svg: None,
            number: None,
        }
    }
}

/// Turn a plotters error into the crate's.
pub fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Runtime(format!("drawing a figure: {e}"))
}

/// Every figure in document order, numbered; figures without data carry a sentence instead.
pub fn all(report: &Report) -> Result<Vec<Figure>> {
    let mut out = study::figures(report)?;
    out.extend(sweeps::figures(report)?);
    out.push(scores::by_protocol_figure(report)?);
    out.push(scores::by_task_figure(report)?);
    out.push(predictions::figure(report)?);
    out.push(failures::figure(report)?);
    out.push(schedules::figure(report)?);
    out.push(curves::figure(report)?);
    out.push(curves::norms_figure(report)?);
    if let Some(f) = lr_find::figure(report)? {
        out.push(f);
    }
    out.push(importance::figure(report)?);
    // Number in the order the exporters place them: by section, then as listed.
    let order = [
        Section::Study,
        Section::Best,
        Section::Extrapolation,
        Section::Gaps,
        Section::Corpus,
        Section::Importance,
    ];
    let mut n = 0;
    for section in order {
        for f in out.iter_mut().filter(|f| f.section == section) {
            if f.svg.is_some() {
                n += 1;
                f.number = Some(n);
            }
        }
    }
    Ok(out)
}

/// Panel grid `(rows, columns)` for `n` panels, at most `max_columns` wide.
pub fn grid(n: usize, max_columns: usize) -> (usize, usize) {
    let columns = n.clamp(1, max_columns.max(1));
    (n.div_ceil(columns).max(1), columns)
}

/// A root drawing area of `size` on `svg`, filled white.
pub fn titled<'a>(
    svg: &'a mut String,
    size: (u32, u32),
    title: &str,
) -> Result<DrawingArea<SVGBackend<'a>, Shift>> {
    let root = SVGBackend::with_string(svg, size).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    root.titled(title, (FONT, 17)).map_err(plot_error)
}

/// A legend mark.
#[derive(Debug, Clone, Copy)]
pub enum Mark {
    /// A line of the colour.
    Line(RGBColor),
    /// A filled circle.
    Dot(RGBColor),
    /// A hollow circle.
    Ring(RGBColor),
    /// A cross.
    Cross(RGBColor),
    /// A hollow triangle.
    Triangle(RGBColor),
    /// A filled square (a shaded area).
    Area(RGBAColor),
}

/// Draw one row of legend items `(mark, label)` across `area` (pixel coordinates).
pub fn legend_row<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(Mark, String)],
) -> Result<()> {
    let y = (area.dim_in_pixel().1 / 2) as i32;
    let mut x = 12i32;
    let style = (FONT, 13).into_font().color(&BLACK);
    for (mark, label) in items {
        match *mark {
            Mark::Line(c) => area
                .draw(&PathElement::new(
                    vec![(x, y), (x + 18, y)],
                    c.stroke_width(3),
                ))
                .map_err(plot_error)?,
            Mark::Dot(c) => area
                .draw(&Circle::new((x + 9, y), 4, c.filled()))
                .map_err(plot_error)?,
            Mark::Ring(c) => area
                .draw(&Circle::new((x + 9, y), 4, c.stroke_width(1)))
                .map_err(plot_error)?,
            Mark::Cross(c) => area
                .draw(&Cross::new((x + 9, y), 4, c.stroke_width(2)))
                .map_err(plot_error)?,
            Mark::Triangle(c) => area
                .draw(&TriangleMarker::new((x + 9, y), 5, c.stroke_width(1)))
                .map_err(plot_error)?,
            Mark::Area(c) => area
                .draw(&Rectangle::new([(x, y - 6), (x + 18, y + 6)], c.filled()))
                .map_err(plot_error)?,
        }
        area.draw(&Text::new(label.clone(), (x + 24, y - 7), style.clone()))
            .map_err(plot_error)?;
        x += 24 + 7 * label.chars().count() as i32 + 18;
    }
    Ok(())
}

/// `(lo, hi)` of finite values, `None` when there are none.
pub fn extent(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// A y range for accuracies `[lo, hi]`, padded by 6 % and kept inside [0, 1] where the data is;
/// at least 0.05 tall.
pub fn accuracy_range(lo: f64, hi: f64) -> (f64, f64) {
    let pad = ((hi - lo) * 0.06).max(0.01);
    let (mut a, mut b) = ((lo - pad).max(lo.min(0.0)), (hi + pad).min(hi.max(1.0)));
    if b - a < 0.05 {
        let mid = (a + b) / 2.0;
        a = mid - 0.025;
        b = mid + 0.025;
    }
    (a, b)
}

/// An axis range around `[lo, hi]`: for a log axis a factor beyond each end, else 6 % of the span
/// (or of the value when the span is 0).
pub fn padded(lo: f64, hi: f64, log: bool) -> (f64, f64) {
    if log {
        let f = if hi > lo {
            (hi / lo).powf(0.05).max(1.2)
        } else {
            3.0
        };
        (lo / f, hi * f)
    } else {
        let pad = if hi > lo {
            (hi - lo) * 0.06
        } else {
            lo.abs().max(1e-3) * 0.5
        };
        (lo - pad, hi + pad)
    }
}
