//! CIFAR-10, binary version: `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`.
//!
//! Each record is 1 label byte then 3 072 pixel bytes: the 32×32 red plane, then green, then blue
//! (row-major), which is already the `[3, 32, 32]` (C, H, W) layout of [`Examples`].

use std::path::{Path, PathBuf};

use super::datafile::{gunzip_if_gzip, read_file};
use super::examples::Examples;
use crate::error::{Error, Result};

/// Pixel bytes per image: 3 channels × 32 × 32.
pub const PIXELS: usize = 3 * 32 * 32;
/// Bytes per record: the label, then the pixels.
pub const RECORD: usize = 1 + PIXELS;
/// Number of classes.
pub const NUM_CLASSES: usize = 10;
/// Training batch file names, in the order they are concatenated.
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// Test batch file name.
pub const TEST_FILE: &str = "test_batch.bin";
/// Sub-folder of the official archive (`cifar-10-binary.tar.gz`) that holds the batches.
pub const SUBFOLDER: &str = "cifar-10-batches-bin";

const FORMAT: &str = "a CIFAR-10 binary batch (records of 1 label byte 0–9 then 3072 pixel bytes, \
                      R, G and B planes of 32×32) such as data_batch_1.bin from \
                      cifar-10-binary.tar.gz";

/// Load the CIFAR-10 binary batches from `dir` or from `dir/cifar-10-batches-bin/`; returns
/// (train, test) with shape `[3, 32, 32]` and pixels 0–255.
pub fn load_cifar10_dir(dir: &Path) -> Result<(Examples, Examples)> {
    let dir = batches_dir(dir)?;
    let mut train = empty();
    for name in TRAIN_FILES {
        append_batch(&mut train, &dir.join(name))?;
    }
    let mut test = empty();
    append_batch(&mut test, &dir.join(TEST_FILE))?;
    Ok((train, test))
}

/// Parse one batch file held in memory (plain or gzipped); `name` is used in error messages.
pub fn parse_cifar10_batch(bytes: &[u8], name: &Path) -> Result<Examples> {
    let mut examples = empty();
    parse_into(&mut examples, bytes, name)?;
    Ok(examples)
}

fn empty() -> Examples {
    Examples {
        x: Vec::new(),
        y: Vec::new(),
        shape: vec![3, 32, 32],
        num_classes: NUM_CLASSES,
    }
}

/// `dir` itself when it holds all six batches, else its [`SUBFOLDER`] when that does.
fn batches_dir(dir: &Path) -> Result<PathBuf> {
    let all_names = || TRAIN_FILES.into_iter().chain([TEST_FILE]);
    let missing_in =
        |d: &Path| -> Vec<&str> { all_names().filter(|n| !d.join(n).is_file()).collect() };
    let sub = dir.join(SUBFOLDER);
    let missing = missing_in(dir);
    if missing.is_empty() {
        return Ok(dir.to_path_buf());
    }
    if missing_in(&sub).is_empty() {
        return Ok(sub);
    }
    let names: Vec<&str> = all_names().collect();
    Err(Error::data_file(
        dir,
        format!(
            "missing {}; expected a directory holding the CIFAR-10 binary batches {} directly or \
             in a {SUBFOLDER}/ subfolder (unpack cifar-10-binary.tar.gz there)",
            missing.join(", "),
            names.join(", ")
        ),
    ))
}

fn append_batch(examples: &mut Examples, path: &Path) -> Result<()> {
    let bytes = read_file(path, FORMAT)?;
    parse_into(examples, &bytes, path)
}

/// Append the records of one batch to `examples`.
fn parse_into(examples: &mut Examples, bytes: &[u8], name: &Path) -> Result<()> {
    let bytes = gunzip_if_gzip(bytes, name, FORMAT)?;
    if bytes.is_empty() || bytes.len() % RECORD != 0 {
        return Err(Error::data_file(
            name,
            format!(
                "{} bytes is not a positive multiple of the {RECORD}-byte record (truncated or \
                 not CIFAR-10); expected {FORMAT}",
                bytes.len()
            ),
        ));
    }
    let n = bytes.len() / RECORD;
    examples.x.reserve(n * PIXELS);
    examples.y.reserve(n);
    for (i, record) in bytes.chunks_exact(RECORD).enumerate() {
        let (label, pixels) = (record[0], &record[1..]);
        if usize::from(label) >= NUM_CLASSES {
            return Err(Error::data_file(
                name,
                format!("record {i} has label {label}; expected {FORMAT}"),
            ));
        }
        examples.y.push(label);
        examples.x.extend(pixels.iter().map(|&p| f32::from(p)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::datafile::test_support::{assert_data_error, gzip};

    /// A batch whose record i has label `labels[i]` and pixel j = (i + j) mod 256.
    fn batch(labels: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for (i, &label) in labels.iter().enumerate() {
            bytes.push(label);
            bytes.extend((0..PIXELS).map(|j| ((i + j) % 256) as u8));
        }
        bytes
    }

    fn write_all_batches(dir: &Path) {
        std::fs::create_dir_all(dir).expect("mkdir");
        for (k, name) in TRAIN_FILES.into_iter().enumerate() {
            std::fs::write(dir.join(name), batch(&[k as u8, 9])).expect("write batch");
        }
        std::fs::write(dir.join(TEST_FILE), gzip(&batch(&[3]))).expect("write test batch");
    }

    #[test]
    fn loads_batches_directly_or_from_the_subfolder() {
        for nested in [false, true] {
            let root = tempfile::tempdir().expect("tempdir");
            let dir = if nested {
                root.path().join(SUBFOLDER)
            } else {
                root.path().to_path_buf()
            };
            write_all_batches(&dir);
            let (train, test) = load_cifar10_dir(root.path()).expect("load");
            assert_eq!(train.len(), 10);
            assert_eq!(train.y, vec![0, 9, 1, 9, 2, 9, 3, 9, 4, 9]);
            assert_eq!(train.shape, vec![3, 32, 32]);
            assert_eq!(train.x.len(), 10 * PIXELS);
            // Record 1 of a batch, red (0, 0) then blue (31, 31).
            assert_eq!(train.x[PIXELS], 1.0);
            assert_eq!(train.x[2 * PIXELS - 1], ((1 + PIXELS - 1) % 256) as f32);
            assert_eq!(test.y, vec![3]);
            assert_eq!(test.x[..3], [0.0, 1.0, 2.0]);
        }
    }

    #[test]
    fn missing_files_are_listed() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(root.path().join("data_batch_1.bin"), batch(&[0])).expect("write");
        let root_name = root.path().display().to_string();
        assert_data_error(
            load_cifar10_dir(root.path()),
            &[
                &root_name,
                "missing data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, \
                 data_batch_5.bin, test_batch.bin",
                "cifar-10-batches-bin/ subfolder",
            ],
        );
    }

    #[test]
    fn truncated_batch_and_bad_label_are_errors() {
        let bytes = batch(&[1, 2]);
        assert_data_error(
            parse_cifar10_batch(&bytes[..bytes.len() - 1], Path::new("data_batch_3.bin")),
            &[
                "data_batch_3.bin: 6145 bytes is not a positive multiple of the 3073-byte record",
                "expected a CIFAR-10 binary batch",
            ],
        );
        assert_data_error(
            parse_cifar10_batch(&[], Path::new("empty.bin")),
            &["empty.bin: 0 bytes"],
        );
        assert_data_error(
            parse_cifar10_batch(&batch(&[1, 10]), Path::new("test_batch.bin")),
            &["test_batch.bin: record 1 has label 10; expected a CIFAR-10 binary batch"],
        );
    }
}
