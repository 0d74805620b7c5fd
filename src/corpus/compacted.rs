//! The compacted layout: `datasets/corpus/<experiment>/compacted/compact-<time>-<random>.parquet`,
//! each file holding the rows of many finished runs that `lrcast corpus compact` merged from their
//! per-run parts. Here: naming and listing those files and the run ids each one holds, so that every
//! reader sees a run inside a compacted file exactly as it sees a part.
//!
//! A compacted file is written whole (temporary name, fsync, rename) and never modified after, so
//! its run ids are cached per process by path and stamp (the runner asks before every claim).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use polars::prelude::*;

use super::cache::{self, Stamp};
use super::store::{CorpusStore, TEMP_MARKER};
use crate::error::{Error, Result};

/// The directory of compacted files, inside the corpus directory.
pub const COMPACTED_DIR: &str = "compacted";

/// Prefix of every compacted file's name.
pub const COMPACTED_PREFIX: &str = "compact-";

/// Run ids of compacted files already read by this process, by path (with the stamp they had).
pub(crate) type IdCache = Arc<Mutex<HashMap<PathBuf, (Stamp, Arc<HashSet<String>>)>>>;

/// One compacted file and the run ids it holds, or why they cannot be read.
#[derive(Debug, Clone)]
pub struct CompactedFile {
    /// The file.
    pub path: PathBuf,
    /// Its run ids, or what the reader said.
    pub ids: std::result::Result<Arc<HashSet<String>>, String>,
}

/// What a corpus holds, as files: per-run parts and compacted files.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Per-run part files (`runs/<run_id>.parquet`), sorted by name.
    pub parts: Vec<PathBuf>,
    /// Compacted files, sorted by name.
    pub compacted: Vec<CompactedFile>,
}

impl Listing {
    /// No run at all (no part and no compacted file).
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty() && self.compacted.is_empty()
    }

    /// Ids of the runs with a part file or in a readable compacted file.
    pub fn run_ids(&self) -> BTreeSet<String> {
        let mut ids: BTreeSet<String> = self.parts.iter().filter_map(|p| part_id(p)).collect();
        for file in &self.compacted {
            if let Ok(held) = &file.ids {
                ids.extend(held.iter().cloned());
            }
        }
        ids
    }

    /// Ids of the runs in compacted files; an error naming the first compacted file that cannot
    /// be read. Writers stop there rather than train thousands of runs again on a transient error.
    pub fn compacted_ids(&self) -> Result<HashSet<String>> {
        let mut ids = HashSet::new();
        for file in &self.compacted {
            match &file.ids {
                Ok(held) => ids.extend(held.iter().cloned()),
                Err(why) => return Err(unreadable_compacted(&file.path, why)),
            }
        }
        Ok(ids)
    }
}

/// The error for a compacted file that cannot be read.
pub fn unreadable_compacted(path: &Path, why: &str) -> Error {
    Error::Corpus {
        path: path.to_path_buf(),
        message: format!(
            "compacted file cannot be read ({why}); it holds many runs, so nothing goes on without \
             it: restore it, or move it out of {COMPACTED_DIR}/ to train its runs again \
             (`lrcast corpus verify RECIPE` lists every problem)"
        ),
    }
}

/// The run id of a part file (its stem).
pub fn part_id(path: &Path) -> Option<String> {
    path.file_stem().map(|s| s.to_string_lossy().into_owned())
}

/// Whether `name` is a finished file's name in `runs/` or `compacted/` (not hidden, not a
/// temporary file, a `.parquet`).
pub(crate) fn is_finished_name(name: &str) -> bool {
    name.ends_with(".parquet") && !name.starts_with('.') && !name.contains(TEMP_MARKER)
}

/// The finished files of `dir` (see [`is_finished_name`]) whose names pass `keep`, sorted by name;
/// none when the directory is absent.
pub(crate) fn finished_files(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if is_finished_name(&name) && keep(&name) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

impl CorpusStore {
    /// `…/compacted`, where compacted files live.
    pub fn compacted_dir(&self) -> PathBuf {
        self.dir().join(COMPACTED_DIR)
    }

    /// Compacted files, sorted by name (none when the directory is absent).
    pub fn compacted_files(&self) -> Result<Vec<PathBuf>> {
        finished_files(&self.compacted_dir(), |name| {
            name.starts_with(COMPACTED_PREFIX)
        })
    }

    /// Parts and compacted files with their run ids (an unreadable compacted file is listed with
    /// its reason, never an error here).
    pub fn listing(&self) -> Result<Listing> {
        let parts = self.run_files()?;
        let compacted = self
            .compacted_with_ids()?
            .into_iter()
            .map(|(path, ids)| CompactedFile { path, ids })
            .collect();
        Ok(Listing { parts, compacted })
    }

    /// Whether the corpus holds any run file at all.
    pub fn has_runs(&self) -> Result<bool> {
        Ok(!self.run_files()?.is_empty() || !self.compacted_files()?.is_empty())
    }

    /// Ids of the runs in compacted files, listing only `compacted/`; an error naming a compacted
    /// file that cannot be read.
    pub fn compacted_run_ids(&self) -> Result<HashSet<String>> {
        let mut ids = HashSet::new();
        for (path, held) in self.compacted_with_ids()? {
            match held {
                Ok(held) => ids.extend(held.iter().cloned()),
                Err(why) => return Err(unreadable_compacted(&path, &why)),
            }
        }
        Ok(ids)
    }

    /// Whether run `run_id` is finished: its part exists, or a compacted file holds it. The part
    /// is looked at first: `compact` renames its file into place before it removes a part, so a
    /// part found missing here is in a compacted file listed after.
    pub fn has_run(&self, run_id: &str) -> Result<bool> {
        if self.run_path(run_id).exists() {
            return Ok(true);
        }
        // Only the compacted directory is listed: the runner asks before every claim, and
        // `runs/` may hold thousands of parts.
        for (path, ids) in self.compacted_with_ids()? {
            match ids {
                Ok(ids) if ids.contains(run_id) => return Ok(true),
                Ok(_) => {}
                Err(why) => return Err(unreadable_compacted(&path, &why)),
            }
        }
        Ok(false)
    }

    /// Every compacted file with its run ids, or why they cannot be read. A file that vanishes
    /// between listing and reading was merged into a newer one by a concurrent `compact` (which
    /// renames the new file into place before it deletes the old), so the directory is listed
    /// again rather than the file reported as damaged — or its runs taken for unfinished.
    #[allow(clippy::type_complexity)]
    fn compacted_with_ids(
        &self,
    ) -> Result<Vec<(PathBuf, std::result::Result<Arc<HashSet<String>>, String>)>> {
        const RELISTS: usize = 10;
        for attempt in 0.. {
            let read: Vec<_> = self
                .compacted_files()?
                .into_iter()
                .map(|path| {
                    let ids = self.compacted_ids_of(&path);
                    (path, ids)
                })
                .collect();
            let vanished = |(path, ids): &(PathBuf, std::result::Result<_, String>)| {
                ids.is_err() && !path.exists()
            };
            if attempt == RELISTS || !read.iter().any(vanished) {
                return Ok(read.into_iter().filter(|e| !vanished(e)).collect());
            }
        }
        unreachable!("the loop returns by its last attempt")
    }

    /// The run ids of the compacted file at `path` (cached while its stamp holds).
    fn compacted_ids_of(&self, path: &Path) -> std::result::Result<Arc<HashSet<String>>, String> {
        let stamp = cache::stamp(path).ok_or_else(|| "cannot be read".to_string())?;
        let cache = self.id_cache();
        if let Some((seen, ids)) = cache.lock().expect("id cache").get(path)
            && *seen == stamp
        {
            return Ok(ids.clone());
        }
        let ids = Arc::new(read_run_ids(path)?);
        cache
            .lock()
            .expect("id cache")
            .insert(path.to_path_buf(), (stamp, ids.clone()));
        Ok(ids)
    }
}

/// The `run_id` column of a Parquet file, read alone.
pub(crate) fn read_run_ids(path: &Path) -> std::result::Result<HashSet<String>, String> {
    let file = fs::File::open(path).map_err(|e| e.to_string())?;
    let mut reader = ParquetReader::new(file);
    let schema = reader.schema().map_err(|e| e.to_string())?;
    let index = schema
        .index_of("run_id")
        .ok_or_else(|| "no run_id column: not an lrcast corpus file".to_string())?;
    let df = reader
        .with_projection(Some(vec![index]))
        .finish()
        .map_err(|e| e.to_string())?;
    let ids = df
        .column("run_id")
        .and_then(|c| c.str().cloned())
        .map_err(|e| format!("run_id column: {e}"))?;
    if ids.null_count() > 0 {
        return Err("a row has no run_id".into());
    }
    Ok(ids.iter().flatten().map(str::to_string).collect())
}
