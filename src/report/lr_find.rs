//! The LR range test of the experiment, when one was run into the report's folder: `lrcast lr-find
//! … --out reports/<experiment>/lr_find` writes `lr_find.json` there, and the report draws it with
//! every suggestion marked.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::lrfind::RepeatedRangeTest;

/// Folder under `reports/<experiment>/` the report reads the range test from.
pub const LR_FIND_DIR: &str = "lr_find";

/// A range test found beside the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrFind {
    /// Where it was read, relative to the report folder.
    pub path: String,
    /// The test: curves, suggestions and their spread.
    pub test: RepeatedRangeTest,
}

/// The range test under `report_dir/lr_find/lr_find.json`: `Ok(None)` when there is none, an
/// error message when it is there but cannot be read (the report then says so and goes on).
pub fn load(report_dir: &Path) -> Result<Option<LrFind>, String> {
    let relative = format!("{LR_FIND_DIR}/lr_find.json");
    let path = report_dir.join(&relative);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let test: RepeatedRangeTest =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(LrFind {
        path: relative,
        test,
    }))
}
