//! JSON exporter of the [`Report`] (`scores.json`): the same data as the Markdown, machine-readable.

use super::Report;

/// Render the report as pretty JSON. Undefined scores are `null`.
pub fn render(report: &Report) -> String {
    crate::predict::to_json(report)
}
