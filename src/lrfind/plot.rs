//! SVG figure of a repeated LR range test (lr_find.svg): smoothed loss against LR, one line per
//! repeat, every suggestion rule of every repeat marked, as fastai marks each suggestion. The
//! drawing is the report's (`report::figures::lr_find`), so the command and the report show one
//! figure.

use super::RepeatedRangeTest;
use crate::error::Result;

/// Smoothed loss vs LR (log x axis), one line per repeat, each rule's suggestions marked.
pub fn plot_svg(r: &RepeatedRangeTest) -> Result<String> {
    crate::report::figures::lr_find::draw(r)
}
