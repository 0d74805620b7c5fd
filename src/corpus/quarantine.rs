//! Which corpus parts are sound, and moving the others aside: a part counts as a finished run
//! only if it is a Parquet file whose footer parses (a cheap check: two small reads, no data
//! decoded); a truncated or garbage part goes to `quarantine/` so its run is trained again.
//!
//! Parts are written to a temporary name and renamed, so a visible `<run_id>.parquet` is complete
//! unless something damaged it later (a full disk on a filesystem that lies about it, a copy cut
//! short, a hand edit); temporary files are never looked at here.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, Result};

/// Parquet's magic bytes, at both ends of every file.
const MAGIC: &[u8; 4] = b"PAR1";

/// The quarantine directory of the corpus at `corpus_dir`.
pub fn quarantine_dir(corpus_dir: &Path) -> PathBuf {
    corpus_dir.join("quarantine")
}

/// `Ok` when the part at `path` is a sound Parquet file of at least one row, else the reason.
pub fn check_part(path: &Path) -> std::result::Result<(), String> {
    let mut file = fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    // Header magic + footer length (4 bytes) + footer magic.
    if len < 12 {
        return Err(format!("{len} bytes, too short for Parquet"));
    }
    let mut head = [0u8; 4];
    let mut tail = [0u8; 8];
    file.read_exact(&mut head).map_err(|e| e.to_string())?;
    file.seek(SeekFrom::End(-8)).map_err(|e| e.to_string())?;
    file.read_exact(&mut tail).map_err(|e| e.to_string())?;
    if &head != MAGIC || &tail[4..] != MAGIC {
        return Err("no Parquet magic bytes at both ends (truncated or not Parquet)".into());
    }
    let footer = u32::from_le_bytes(tail[..4].try_into().expect("4 bytes")) as u64;
    if footer + 12 > len {
        return Err(format!("footer of {footer} bytes in a {len}-byte file"));
    }
    file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let rows = ParquetReader::new(file)
        .num_rows()
        .map_err(|e| format!("footer does not parse: {e}"))?;
    if rows == 0 {
        return Err("no rows".into());
    }
    Ok(())
}

/// Move the unsound parts among `parts` into `quarantine/`; returns the paths moved (where they
/// were) with the reason of each. A part repaired in the meantime (another worker retrained its run and renamed a sound
/// file into place just before the move) is put back.
pub fn quarantine_unsound(corpus_dir: &Path, parts: &[PathBuf]) -> Result<Vec<(PathBuf, String)>> {
    let unsound: Vec<(&PathBuf, String)> = checked_in_parallel(parts)
        .into_iter()
        .zip(parts)
        .filter_map(|(result, path)| result.err().map(|why| (path, why)))
        .collect();
    if unsound.is_empty() {
        return Ok(Vec::new());
    }
    let dir = quarantine_dir(corpus_dir);
    fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut moved = Vec::new();
    for (path, why) in unsound {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        // A unique name: the same run may be quarantined more than once.
        let target = dir.join(format!("{name}.{}", unique_stamp()));
        match fs::rename(path, &target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(path, e)),
        }
        if check_part(&target).is_ok() {
            let _ = fs::rename(&target, path);
            continue;
        }
        moved.push((path.clone(), why));
    }
    Ok(moved)
}

/// Seconds since the epoch and a random tail, for quarantined file names.
fn unique_stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{secs}-{:08x}", rand::random::<u32>())
}

/// [`check_part`] of every part, on one thread per core (10 000 parts are 20 000 small reads).
fn checked_in_parallel(parts: &[PathBuf]) -> Vec<std::result::Result<(), String>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = parts.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = parts
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|p| check_part(p)).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a part checker thread panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_garbage_parts_are_unsound_and_a_sound_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.parquet");
        let mut df = df!("run_id" => ["a"], "top1" => [0.5]).unwrap();
        ParquetWriter::new(fs::File::create(&good).unwrap())
            .finish(&mut df)
            .unwrap();
        assert_eq!(check_part(&good), Ok(()));
        let bytes = fs::read(&good).unwrap();
        let cut = dir.path().join("cut.parquet");
        fs::write(&cut, &bytes[..bytes.len() - 5]).unwrap();
        let garbage = dir.path().join("garbage.parquet");
        fs::write(
            &garbage,
            b"PAR1 this is not a parquet file, but ends like one PAR1",
        )
        .unwrap();
        let empty = dir.path().join("empty.parquet");
        fs::write(&empty, b"").unwrap();
        for bad in [&cut, &garbage, &empty] {
            assert!(check_part(bad).is_err(), "{}", bad.display());
        }
        let moved =
            quarantine_unsound(dir.path(), &[good.clone(), cut.clone(), garbage, empty]).unwrap();
        assert_eq!(moved.len(), 3, "{moved:?}");
        assert_eq!(moved[0].0, cut);
        assert!(good.exists() && !cut.exists());
        assert_eq!(fs::read_dir(quarantine_dir(dir.path())).unwrap().count(), 3);
    }
}
