//! `lrcast corpus compact`: merge the readable per-run parts, and the compacted files already
//! there, into one new compacted file (`compacted/compact-<secs>-<random>.parquet`), then remove
//! what was merged.
//!
//! Crash safety is by order: the new file is written whole (temporary name, fsync, rename, directory
//! fsync) and read back before anything is removed, so at every moment each run is in a part or a
//! compacted file, sometimes both (after a kill between the rename and the removals; readers keep
//! one row per run, and the next `compact` removes the leftovers). Parts of runs with a live claim
//! are left alone (a `generate` is between writing such a part and releasing its claim), as are
//! parts and compacted files that cannot be read (reported; `lrcast corpus verify` names them).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::claims::claim_files;
use super::compacted::{COMPACTED_PREFIX, part_id, read_run_ids};
use super::store::{CorpusStore, UnreadablePart, read_parts, write_atomically};
use crate::error::{Error, Result};

/// What a compaction did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CompactSummary {
    /// The compacted file written (`None` when there was nothing to merge).
    pub file: Option<PathBuf>,
    /// Runs in it.
    pub runs: usize,
    /// Per-run parts merged into it and removed.
    pub parts_merged: usize,
    /// Earlier compacted files merged into it and removed.
    pub compacted_merged: usize,
    /// Parts left because their run has a live claim (a `generate` is writing them).
    pub claimed_left: usize,
    /// Parts and compacted files left because they cannot be read, or are no run of lrcast.
    pub unreadable_left: Vec<UnreadablePart>,
}

/// Compact the corpus of `store`. Creates `compacted/` only when there is something to merge.
pub fn compact(store: &CorpusStore) -> Result<CompactSummary> {
    let mut summary = CompactSummary::default();
    let live: HashSet<String> = claim_files(store.dir())
        .into_iter()
        .filter(|c| !c.expired)
        .map(|c| c.run_id)
        .collect();
    let (parts, claimed): (Vec<PathBuf>, Vec<PathBuf>) = store
        .run_files()?
        .into_iter()
        .partition(|p| part_id(p).is_none_or(|id| !live.contains(&id)));
    summary.claimed_left = claimed.len();
    let old = store.compacted_files()?;

    // Read everything first; only what reads, and is what it claims to be, is merged.
    let (frames, unreadable) = read_parts(&parts, true);
    summary.unreadable_left = unreadable;
    let mut merged_parts = Vec::new();
    let mut frames_in = Vec::new();
    let readable_parts: Vec<&PathBuf> = parts
        .iter()
        .filter(|p| !summary.unreadable_left.iter().any(|u| &u.path == *p))
        .collect();
    for (path, df) in readable_parts.into_iter().zip(frames) {
        match check_part_frame(path, &df) {
            Ok(()) => {
                merged_parts.push(path.clone());
                frames_in.push(df);
            }
            Err(message) => summary.unreadable_left.push(UnreadablePart {
                path: path.clone(),
                message,
            }),
        }
    }
    let (old_frames, old_unreadable) = read_parts(&old, true);
    let readable_old: Vec<&PathBuf> = old
        .iter()
        .filter(|p| !old_unreadable.iter().any(|u| &u.path == *p))
        .collect();
    summary.unreadable_left.extend(old_unreadable);
    let mut merged_old = Vec::new();
    for (path, df) in readable_old.into_iter().zip(old_frames) {
        match df.column("run_id").and_then(|c| c.str().cloned()) {
            Ok(ids) if ids.null_count() == 0 => {
                merged_old.push(path.clone());
                frames_in.push(df);
            }
            _ => summary.unreadable_left.push(UnreadablePart {
                path: path.clone(),
                message: "no run_id text column on every row: not an lrcast corpus file".into(),
            }),
        }
    }
    // One compacted file and no new part: already compact.
    if merged_parts.is_empty() && merged_old.len() <= 1 {
        return Ok(summary);
    }
    let mut all = store.unite(frames_in)?;
    let wanted: HashSet<String> = super::cache::run_ids(&all);

    let dir = store.compacted_dir();
    super::store::ensure_writable_dir(&dir)?;
    let path = dir.join(compacted_name());
    write_atomically(&path, |file| {
        ParquetWriter::new(file)
            .finish(&mut all)
            .map(|_| ())
            .map_err(|e| std::io::Error::other(e.to_string()))
    })?;
    // Read back before removing anything: what was merged must be there.
    let written = read_run_ids(&path).map_err(|message| Error::Corpus {
        path: path.clone(),
        message: format!("the compacted file just written does not read back: {message}"),
    })?;
    if written != wanted {
        return Err(Error::Corpus {
            path: path.clone(),
            message: format!(
                "the compacted file just written holds {} runs where {} were merged; nothing was \
                 removed",
                written.len(),
                wanted.len()
            ),
        });
    }
    for part in &merged_parts {
        remove(part)?;
    }
    for file in &merged_old {
        remove(file)?;
    }
    for d in [store.runs_dir(), dir.clone()] {
        if let Ok(d) = fs::File::open(d) {
            let _ = d.sync_all();
        }
    }
    summary.runs = all.height();
    summary.parts_merged = merged_parts.len();
    summary.compacted_merged = merged_old.len();
    summary.file = Some(path);
    Ok(summary)
}

/// `Ok` when `df`, read from `path`, is one run of lrcast whose id is the file's name.
pub(crate) fn check_part_frame(path: &Path, df: &DataFrame) -> std::result::Result<(), String> {
    let ids = df
        .column("run_id")
        .and_then(|c| c.str().cloned())
        .map_err(|_| "no run_id text column: not an lrcast run".to_string())?;
    if df.height() != 1 {
        return Err(format!("{} rows where a part holds one run", df.height()));
    }
    let stem = part_id(path).unwrap_or_default();
    match ids.get(0) {
        Some(id) if id == stem => Ok(()),
        id => Err(format!(
            "holds run `{}`, not the run its name says (`{stem}`)",
            id.unwrap_or("")
        )),
    }
}

/// A name no other compaction (here or on another machine) can take: the time keeps them in order.
fn compacted_name() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{COMPACTED_PREFIX}{secs}-{:016x}.parquet",
        rand::random::<u64>()
    )
}

/// Remove a merged file; one already gone (another compaction removed it) is fine.
fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}
