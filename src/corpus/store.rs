//! The on-disk corpus of one experiment: `datasets/corpus/<experiment>/runs/<run_id>.parquet`,
//! one file per finished run, written atomically, and the compacted files that merge many of them
//! (`compacted/`, see [`super::compacted`]); and the one scan that reads both back.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::cache::{self, Stamp};
use super::compacted::{IdCache, Listing, finished_files, part_id, unreadable_compacted};
use super::record::RunRecord;
use crate::error::{Error, Result};

/// Suffix of in-flight files; they are never read as runs.
pub(crate) const TEMP_MARKER: &str = ".tmp-";

/// Age after which a temporary file counts as abandoned: a run file is written in milliseconds and
/// the scalar cache in seconds, so a quarter of an hour leaves a wide margin for slow filesystems.
pub const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// This machine's name, as file names may hold it (read once per process: every run file written
/// goes through here).
pub(crate) fn host_name() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let host: String = fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap_or_default()
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
            .collect();
        if host.is_empty() { "host".into() } else { host }
    })
}

/// A temporary-file suffix no other writer can share, on this machine or another one using the
/// same filesystem: `.tmp-<host>-<pid>-<random>`.
pub(crate) fn temp_suffix() -> String {
    format!(
        "{TEMP_MARKER}{}-{}-{:016x}",
        host_name(),
        std::process::id(),
        rand::random::<u64>()
    )
}

/// The corpus directory of one experiment.
#[derive(Debug, Clone)]
pub struct CorpusStore {
    dir: PathBuf,
    /// Run ids of the compacted files read so far.
    compacted_ids: IdCache,
}

impl CorpusStore {
    /// The corpus of `experiment` under `root` (`root/datasets/corpus/<experiment>`).
    pub fn new(root: &Path, experiment: &str) -> Self {
        Self {
            dir: root.join("datasets").join("corpus").join(experiment),
            compacted_ids: IdCache::default(),
        }
    }

    /// The corpus directory itself (`root/datasets/corpus/<experiment>`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `…/runs`, where the per-run Parquet files live.
    pub fn runs_dir(&self) -> PathBuf {
        self.dir.join("runs")
    }

    /// Check that the runs directory can be created and written, creating nothing.
    pub fn check_writable(&self) -> Result<()> {
        check_writable_dir(&self.runs_dir())
    }

    /// Create the directory and prove it is writable, before any long work starts.
    pub fn ensure_writable(&self) -> Result<()> {
        ensure_writable_dir(&self.runs_dir())
    }

    /// The cache of compacted files' run ids (see [`super::compacted`]).
    pub(crate) fn id_cache(&self) -> &IdCache {
        &self.compacted_ids
    }

    /// Ids of the runs already in the corpus: a part file or a row of a compacted file. An error
    /// when a compacted file cannot be read (its runs are unknown; see [`Listing::compacted_ids`]).
    pub fn existing_run_ids(&self) -> Result<BTreeSet<String>> {
        let listing = self.listing()?;
        listing.compacted_ids()?;
        Ok(listing.run_ids())
    }

    /// Per-run part files, sorted by name (compacted files are [`Self::compacted_files`]).
    pub fn run_files(&self) -> Result<Vec<PathBuf>> {
        finished_files(&self.runs_dir(), |_| true)
    }

    /// Remove temporary files abandoned by a killed writer: those older than [`STALE_TEMP_AGE`],
    /// in the runs directory, beside it (the scalar cache), among the claims and the compacted files.
    /// Age, not a process check: on a shared filesystem the writer may be a live process on another
    /// machine.
    pub fn remove_stale_temp_files(&self) -> Result<usize> {
        let mut removed = 0;
        for dir in self.temp_dirs() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !name.contains(TEMP_MARKER) {
                    continue;
                }
                let age = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok());
                if age.is_some_and(|a| a > STALE_TEMP_AGE) && fs::remove_file(entry.path()).is_ok()
                {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// The directories where temporary files may be left: runs, the corpus directory itself (the
    /// scalar cache), claims and compacted files.
    pub fn temp_dirs(&self) -> [PathBuf; 4] {
        [
            self.runs_dir(),
            self.dir.clone(),
            self.dir.join("claims"),
            self.compacted_dir(),
        ]
    }

    /// Write one finished run: temporary file, fsync, rename. An existing run is never overwritten.
    pub fn write(&self, record: &RunRecord) -> Result<PathBuf> {
        let path = self.run_path(record.run_id());
        if path.exists() {
            return Ok(path);
        }
        let mut df = record.to_dataframe().map_err(|e| Error::Corpus {
            path: path.clone(),
            message: e.to_string(),
        })?;
        self.write_frame(record.run_id(), &mut df)
    }

    /// The file of run `run_id`.
    pub fn run_path(&self, run_id: &str) -> PathBuf {
        self.runs_dir().join(format!("{run_id}.parquet"))
    }

    /// Write the one-row frame of run `run_id` (temporary file, fsync, rename) unless that run is
    /// already in the corpus.
    pub fn write_frame(&self, run_id: &str, df: &mut DataFrame) -> Result<PathBuf> {
        let path = self.run_path(run_id);
        if path.exists() {
            return Ok(path);
        }
        write_atomically(&path, |file| {
            ParquetWriter::new(file)
                .finish(df)
                .map(|_| ())
                .map_err(|e| std::io::Error::other(e.to_string()))
        })?;
        Ok(path)
    }

    /// The whole corpus as one DataFrame (union of columns; missing policy parameters are null).
    /// Every consumer reads the corpus through this function.
    pub fn scan(&self) -> Result<DataFrame> {
        self.scan_columns(true)
    }

    /// [`Self::scan`], without the per-epoch curve (list) columns when `curves` is false: the
    /// predictor needs none of them, and they are most of what a run file holds to decode.
    /// Runs in compacted files are read like parts; a run found both ways (a compaction
    /// interrupted before it removed the parts) is read once.
    pub fn scan_columns(&self, curves: bool) -> Result<DataFrame> {
        let listing = self.listing()?;
        if listing.is_empty() {
            return Err(Error::Corpus {
                path: self.runs_dir(),
                message: "no finished runs".into(),
            });
        }
        // A compacted file holds many runs: one that cannot be read fails the read.
        listing.compacted_ids()?;
        let compacted: Vec<PathBuf> = listing.compacted.iter().map(|c| c.path.clone()).collect();
        if curves {
            let frames = read_frames(&listing.parts, &compacted, true)?;
            return self.unite(frames);
        }
        // Without curves the scalar cache serves every run it still matches.
        let stamps = run_stamps(&listing);
        let cache_path = self.dir.join(cache::CACHE_FILE);
        let (cached, stale) = match cache::load(&cache_path, &stamps) {
            Some((df, stale)) => (Some(df), stale),
            None => (None, true),
        };
        let covered = cached.as_ref().map(cache::run_ids).unwrap_or_default();
        let (missing, missing_compacted) = uncovered(&listing, &covered);
        let mut frames = read_frames(&missing, &missing_compacted, false)?;
        frames.extend(cached);
        let all = self.unite(frames)?;
        if stale || !missing.is_empty() || !missing_compacted.is_empty() {
            // Best effort: a corpus that cannot be written to is still read, from its parts.
            let _ = cache::save(&cache_path, &all, &stamps);
        }
        Ok(all)
    }

    /// One frame from per-file frames of possibly different schemas, one row per run (a run read
    /// twice, from a part and a compacted file, is kept once: both rows are the same run), sorted
    /// by run id.
    pub(crate) fn unite(&self, frames: Vec<DataFrame>) -> Result<DataFrame> {
        // Stack the frames of each schema eagerly (one schema per lrcast version and policy
        // family), then unite the few stacks lazily: a lazy union of thousands of frames
        // overflows polars' stack. Keyed by names and types in order (a schema compares as a
        // map, but vstack needs the same column order).
        let mut by_schema: Vec<(OrderedSchema, Vec<DataFrame>)> = Vec::new();
        for df in frames {
            let schema: OrderedSchema = df
                .schema()
                .iter()
                .map(|(name, dtype)| (name.clone(), dtype.clone()))
                .collect();
            match by_schema.iter_mut().find(|(s, _)| *s == schema) {
                Some((_, group)) => group.push(df),
                None => by_schema.push((schema, vec![df])),
            }
        }
        let stacks = by_schema
            .into_iter()
            .map(|(_, group)| {
                let mut group = group.into_iter();
                let mut stack = group.next().expect("a schema has a frame");
                for df in group {
                    stack.vstack_mut_owned(df)?;
                }
                Ok(stack.lazy())
            })
            .collect::<PolarsResult<Vec<_>>>();
        stacks
            .and_then(|stacks| concat_lf_diagonal(stacks, UnionArgs::default()))
            .and_then(|lf| {
                lf.unique_stable_generic(Some(vec![col("run_id")]), UniqueKeepStrategy::First)
                    .sort(["run_id"], Default::default())
                    .collect()
            })
            .map_err(|e| Error::Corpus {
                path: self.runs_dir(),
                message: e.to_string(),
            })
    }
}

/// Column names and types in file order.
type OrderedSchema = Vec<(PlSmallStr, DataType)>;

/// A part file that could not be read (truncated, not Parquet, unreadable), and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnreadablePart {
    /// The part file.
    pub path: PathBuf,
    /// What the reader said.
    pub message: String,
}

/// What a read-only scan found: the scalar columns of every readable part, and the parts that
/// could not be read.
#[derive(Debug, Default)]
pub struct PartScan {
    /// One row per readable part (no curve columns); `None` when no part could be read.
    pub frame: Option<DataFrame>,
    /// Every part that could not be read.
    pub unreadable: Vec<UnreadablePart>,
}

impl CorpusStore {
    /// The scalar columns of every part, and the parts that cannot be read, writing nothing: the
    /// scalar cache serves the parts it still matches but is never saved, and no directory is
    /// created (a missing corpus is empty). For commands that only look (`lrcast status`).
    pub fn scan_parts_read_only(&self) -> Result<PartScan> {
        let listing = self.listing()?;
        if listing.is_empty() {
            return Ok(PartScan::default());
        }
        let stamps = run_stamps(&listing);
        let cached = cache::load(&self.dir.join(cache::CACHE_FILE), &stamps).map(|(df, _)| df);
        let covered = cached.as_ref().map(cache::run_ids).unwrap_or_default();
        let (missing, missing_compacted) = uncovered(&listing, &covered);
        let (mut frames, mut unreadable) = read_parts(&missing, false);
        let (compacted_frames, compacted_unreadable) = read_parts(&missing_compacted, false);
        frames.extend(compacted_frames);
        unreadable.extend(compacted_unreadable);
        // A compacted file whose ids cannot be read is not among the missing ones: name it too.
        for file in &listing.compacted {
            if let Err(message) = &file.ids
                && !unreadable.iter().any(|u| u.path == file.path)
            {
                unreadable.push(UnreadablePart {
                    path: file.path.clone(),
                    message: message.clone(),
                });
            }
        }
        frames.extend(cached);
        let frame = match frames.is_empty() {
            true => None,
            false => Some(self.unite(frames)?),
        };
        Ok(PartScan { frame, unreadable })
    }
}

/// The stamp of every run's file: its part's, or for a run only in a compacted file, that file's
/// (a compacted file is never modified, so its stamp stands for each of its rows).
pub(crate) fn run_stamps(listing: &Listing) -> HashMap<String, Stamp> {
    let mut stamps: HashMap<String, Stamp> = listing
        .parts
        .iter()
        .filter_map(|p| Some((part_id(p)?, cache::stamp(p)?)))
        .collect();
    for file in &listing.compacted {
        let (Ok(ids), Some(stamp)) = (&file.ids, cache::stamp(&file.path)) else {
            continue;
        };
        for id in ids.iter() {
            stamps.entry(id.clone()).or_insert(stamp);
        }
    }
    stamps
}

/// The parts, and the readable compacted files, holding a run that `covered` lacks.
fn uncovered(listing: &Listing, covered: &HashSet<String>) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let parts = cache::uncovered(&listing.parts, covered);
    let compacted = listing
        .compacted
        .iter()
        .filter(|c| {
            c.ids
                .as_ref()
                .is_ok_and(|ids| ids.iter().any(|id| !covered.contains(id)))
        })
        .map(|c| c.path.clone())
        .collect();
    (parts, compacted)
}

/// Every part and compacted file as a DataFrame (see [`read_parts`]); parts that cannot be read
/// are skipped with one warning naming them, an error only when nothing can be read. A compacted
/// file that cannot be read is an error (it holds many runs).
fn read_frames(files: &[PathBuf], compacted: &[PathBuf], curves: bool) -> Result<Vec<DataFrame>> {
    let (mut frames, unreadable) = read_parts(files, curves);
    let (compacted_frames, compacted_unreadable) = read_parts(compacted, curves);
    if let Some(bad) = compacted_unreadable.first() {
        return Err(unreadable_compacted(&bad.path, &bad.message));
    }
    frames.extend(compacted_frames);
    // A truncated or corrupt part (a disk filled up, a copy cut short) costs its run, never the
    // corpus: it is skipped and named, and the rest is read.
    if !unreadable.is_empty() {
        let named: Vec<String> = unreadable
            .iter()
            .map(|p| format!("corpus {}: {}", p.path.display(), p.message))
            .collect();
        if frames.is_empty() {
            return Err(Error::Runtime(format!(
                "no corpus part could be read: {}",
                named.join("; ")
            )));
        }
        eprintln!(
            "warning: skipped {} of {} corpus parts that could not be read (delete them and rerun \
             `lrcast generate` to train those runs again): {}",
            unreadable.len(),
            files.len(),
            named.join("; ")
        );
    }
    Ok(frames)
}

/// Every run file as a DataFrame, and the files that could not be read, read on one plain thread
/// per core (the reads are independent; on a 10 000-file corpus they are what `fit` waits for).
/// Not rayon: polars runs its own pool, and calling it from rayon's workers overflows their stacks.
pub(crate) fn read_parts(files: &[PathBuf], curves: bool) -> (Vec<DataFrame>, Vec<UnreadablePart>) {
    let read = |path: &PathBuf| -> std::result::Result<DataFrame, String> {
        let file = fs::File::open(path).map_err(|e| e.to_string())?;
        let corrupt = |e: PolarsError| e.to_string();
        let mut reader = ParquetReader::new(file);
        if !curves {
            let schema = reader.schema().map_err(corrupt)?;
            let scalars = schema
                .iter_values()
                .enumerate()
                .filter(|(_, field)| {
                    !matches!(
                        field.dtype(),
                        ArrowDataType::List(_) | ArrowDataType::LargeList(_)
                    )
                })
                .map(|(k, _)| k)
                .collect();
            reader = reader.with_projection(Some(scalars));
        }
        reader.finish().map_err(corrupt)
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = files.len().div_ceil(threads).max(1);
    let results: Vec<std::result::Result<DataFrame, String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(read).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a corpus reader thread panicked"))
            .collect()
    });
    let (mut frames, mut unreadable) = (Vec::with_capacity(files.len()), Vec::new());
    // The workers return their chunks in order, so results line up with files.
    for (path, result) in files.iter().zip(results) {
        match result {
            Ok(df) => frames.push(df),
            Err(message) => unreadable.push(UnreadablePart {
                path: path.clone(),
                message,
            }),
        }
    }
    (frames, unreadable)
}

/// Check, creating nothing, that `dir` exists or can be created and is writable: each existing
/// component is a directory, each missing name fits a file system (255 bytes), and the deepest
/// existing ancestor takes a file (a probe, removed at once). Bad input thus fails before any folder
/// appears; [`ensure_writable_dir`] creates the directory when the work is about to write.
pub fn check_writable_dir(dir: &Path) -> Result<()> {
    let not_writable = |source| Error::OutputNotWritable {
        path: dir.to_path_buf(),
        source,
    };
    let mut existing = dir;
    loop {
        match fs::metadata(existing) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => {
                return Err(not_writable(std::io::Error::new(
                    std::io::ErrorKind::NotADirectory,
                    format!("{} is a file, not a directory", existing.display()),
                )));
            }
            // Not a directory: a component above is a file, found on the way up.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                existing = match existing.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
            }
            Err(e) => return Err(not_writable(e)),
        }
    }
    let missing = dir.strip_prefix(existing).unwrap_or(dir);
    if let Some(long) = missing
        .components()
        .find(|c| c.as_os_str().len() > MAX_NAME_BYTES)
    {
        return Err(not_writable(std::io::Error::new(
            std::io::ErrorKind::InvalidFilename,
            format!(
                "the name `{}…` is longer than {MAX_NAME_BYTES} bytes",
                long.as_os_str()
                    .to_string_lossy()
                    .chars()
                    .take(40)
                    .collect::<String>()
            ),
        )));
    }
    let probe = existing.join(format!(".write-probe{}", temp_suffix()));
    fs::File::create(&probe).map_err(not_writable)?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

/// Longest file name most file systems accept, bytes.
const MAX_NAME_BYTES: usize = 255;

/// Bytes written to prove an output directory writable: about two run files (a run file of a
/// small MLP is ≈ 35 KB), so a full disk or a file size limit shows before the long work starts.
const PROBE_BYTES: usize = 64 * 1024;

/// Create `dir` and check that a file of [`PROBE_BYTES`] can be written and synced in it.
pub fn ensure_writable_dir(dir: &Path) -> Result<()> {
    let not_writable = |source| Error::OutputNotWritable {
        path: dir.to_path_buf(),
        source,
    };
    // The directories this call creates, deepest first, to remove again if the probe fails.
    let created: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    let probe = dir.join(format!(".write-probe{}", temp_suffix()));
    let written = fs::create_dir_all(dir).and_then(|()| {
        let mut file = fs::File::create(&probe)?;
        file.write_all(&[0u8; PROBE_BYTES])?;
        file.sync_all()
    });
    let _ = fs::remove_file(&probe);
    if written.is_err() {
        for d in created {
            let _ = fs::remove_dir(d);
        }
    }
    written.map_err(not_writable)
}

/// Write `path` through a temporary sibling, fsync it, and rename it into place, so a reader (or a
/// killed process) never sees a half-written file.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut fs::File) -> std::io::Result<()>,
) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = dir.join(format!(".{name}{}", temp_suffix()));
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        write(&mut file)?;
        file.flush()?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)?;
        // Persist the rename itself.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|source| {
        let _ = fs::remove_file(&temp);
        Error::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Write bytes atomically.
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, |f| f.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::CorpusTable;
    use crate::device::ComputeDevice;

    #[test]
    fn write_then_scan_round_trips_a_real_run() {
        let plan = crate::recipe::parse(
            r#"
[grid]
task = ["mnist1d:num_samples=300"]
arch = ["mlp:hidden=8"]
policy = ["step:step_size=3,gamma=0.5"]
base_lr = [0.1, 0.2, 0.4]
[train]
epochs = 2
"#,
            Path::new("r.toml"),
            "r",
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = CorpusStore::new(dir.path(), "r");
        store.ensure_writable().unwrap();
        let run = &plan.runs[0];
        let data = run.task.load(None).unwrap();
        let outcome = crate::train::train(
            ComputeDevice::Cpu,
            &run.arch,
            &data,
            &run.lr_policy,
            &run.settings,
        )
        .unwrap();
        let record = RunRecord::new("r", run, &outcome, 1_700_000_000);
        let path = store.write(&record).unwrap();
        assert_eq!(
            path.file_name().unwrap().to_string_lossy(),
            format!("{}.parquet", run.run_id)
        );
        // Writing the same run again neither duplicates nor rewrites it.
        store.write(&record).unwrap();
        assert_eq!(store.run_files().unwrap().len(), 1);
        assert_eq!(
            store
                .existing_run_ids()
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            vec![run.run_id.clone()]
        );

        let table = CorpusTable::from_dataframe(&store.scan().unwrap()).unwrap();
        assert_eq!(table.len, 1);
        assert_eq!(table.text("run_id").unwrap()[0], run.run_id);
        assert_eq!(table.text("policy").unwrap()[0], run.policy.to_string());
        assert_eq!(table.values("top1").unwrap()[0], outcome.final_metrics.top1);
        assert_eq!(table.values("finished_at").unwrap()[0], 1.7e9);
        assert_eq!(table.values("p_gamma").unwrap()[0], 0.5);
        assert_eq!(table.values("p_step_size").unwrap()[0], 3.0);
        let curve: Vec<f64> = outcome.epochs.iter().map(|e| e.train_loss).collect();
        assert_eq!(table.curves["curve_train_loss"][0], curve);
        assert!(table.numeric["diverged_at_step"][0].is_none());
    }

    #[test]
    fn abandoned_temp_files_are_removed_by_age_and_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = CorpusStore::new(dir.path(), "x");
        store.ensure_writable().unwrap();
        let runs = store.runs_dir();
        // Another machine's write in flight: recent, so it stays, whatever its pid.
        let fresh = runs.join(".abc.parquet.tmp-nodeb-1-00ff");
        std::fs::write(&fresh, b"partial").unwrap();
        let old = runs.join(".def.parquet.tmp-nodea-1-00ff");
        let file = std::fs::File::create(&old).unwrap();
        file.set_modified(std::time::SystemTime::now() - 2 * STALE_TEMP_AGE)
            .unwrap();
        assert!(store.run_files().unwrap().is_empty());
        assert_eq!(store.remove_stale_temp_files().unwrap(), 1);
        assert!(fresh.exists() && !old.exists());
        // Two writers never share a temporary name.
        assert_ne!(temp_suffix(), temp_suffix());
    }
}
