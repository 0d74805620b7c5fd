//! IDX files (the MNIST / Fashion-MNIST format): u8 images n×28×28 and u8 labels, plain or gzipped.

use std::path::{Path, PathBuf};

use super::datafile::{gunzip_if_gzip, read_file};
use super::examples::Examples;
use crate::error::{Error, Result};

/// Magic number of an IDX file of u8 values with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of u8 values with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Image height and width.
pub const SIDE: usize = 28;
/// Number of classes of MNIST and Fashion-MNIST.
pub const NUM_CLASSES: usize = 10;

const IMAGES_FORMAT: &str = "an IDX image file (magic 0x00000803, u8, dims n×28×28) \
                             such as train-images-idx3-ubyte[.gz]";
const LABELS_FORMAT: &str = "an IDX label file (magic 0x00000801, u8, n labels 0–9) \
                             such as train-labels-idx1-ubyte[.gz]";

/// The four standard file names of an MNIST / Fashion-MNIST directory (each may end in `.gz`).
pub const MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Read an IDX image file and its label file (each plain or gzipped) into examples of shape
/// `[1, 28, 28]` with pixels 0–255.
pub fn read_idx_pair(images: &Path, labels: &Path) -> Result<Examples> {
    let image_bytes = read_file(images, IMAGES_FORMAT)?;
    let label_bytes = read_file(labels, LABELS_FORMAT)?;
    parse_idx_pair(&image_bytes, images, &label_bytes, labels)
}

/// [`read_idx_pair`] on bytes already in memory; the names are used in error messages.
pub fn parse_idx_pair(
    images: &[u8],
    images_name: &Path,
    labels: &[u8],
    labels_name: &Path,
) -> Result<Examples> {
    let (n_images, pixels) = parse_images(images, images_name)?;
    let y = parse_labels(labels, labels_name)?;
    if y.len() != n_images {
        return Err(Error::data_file(
            labels_name,
            format!(
                "has {} labels but {} has {n_images} images; expected {LABELS_FORMAT} \
                 with one label per image",
                y.len(),
                images_name.display()
            ),
        ));
    }
    Ok(Examples {
        x: pixels.iter().map(|&p| f32::from(p)).collect(),
        y,
        shape: vec![1, SIDE, SIDE],
        num_classes: NUM_CLASSES,
    })
}

/// Load a directory holding the standard MNIST / Fashion-MNIST files [`MNIST_FILES`] (each plain
/// or `.gz`); returns (train, test).
pub fn load_mnist_dir(dir: &Path) -> Result<(Examples, Examples)> {
    let [train_images, train_labels, test_images, test_labels] = mnist_paths(dir)?;
    let train = read_idx_pair(&train_images, &train_labels)?;
    let test = read_idx_pair(&test_images, &test_labels)?;
    Ok((train, test))
}

/// The path of each of [`MNIST_FILES`] in `dir`, plain preferred to `.gz`.
fn mnist_paths(dir: &Path) -> Result<[PathBuf; 4]> {
    let expected = format!(
        "expected a directory holding the MNIST / Fashion-MNIST files {} (each plain or .gz)",
        MNIST_FILES.join(", ")
    );
    if !dir.is_dir() {
        return Err(Error::data_file(
            dir,
            format!("not a directory; {expected}"),
        ));
    }
    let find = |name: &str| {
        [name.to_string(), format!("{name}.gz")]
            .into_iter()
            .map(|file| dir.join(file))
            .find(|path| path.is_file())
    };
    let found = MNIST_FILES.map(find);
    let missing: Vec<String> = MNIST_FILES
        .iter()
        .zip(&found)
        .filter(|(_, path)| path.is_none())
        .map(|(name, _)| format!("{name}[.gz]"))
        .collect();
    match found {
        [Some(a), Some(b), Some(c), Some(d)] => Ok([a, b, c, d]),
        _ => Err(Error::data_file(
            dir,
            format!("missing {}; {expected}", missing.join(", ")),
        )),
    }
}

/// Parse an IDX image file: returns the number of images and their pixels.
fn parse_images(bytes: &[u8], name: &Path) -> Result<(usize, Vec<u8>)> {
    let bytes = gunzip_if_gzip(bytes, name, IMAGES_FORMAT)?;
    let header = header(&bytes, name, IMAGES_MAGIC, 3, IMAGES_FORMAT)?;
    let [n, rows, cols] = [header[0], header[1], header[2]];
    if (rows, cols) != (SIDE, SIDE) {
        return Err(Error::data_file(
            name,
            format!("images are {rows}×{cols}; expected {IMAGES_FORMAT}"),
        ));
    }
    let body = body(
        &bytes,
        name,
        16,
        n * rows * cols,
        "images",
        n,
        IMAGES_FORMAT,
    )?;
    Ok((n, body.to_vec()))
}

/// Parse an IDX label file: returns the labels, each checked to be below [`NUM_CLASSES`].
fn parse_labels(bytes: &[u8], name: &Path) -> Result<Vec<u8>> {
    let bytes = gunzip_if_gzip(bytes, name, LABELS_FORMAT)?;
    let header = header(&bytes, name, LABELS_MAGIC, 1, LABELS_FORMAT)?;
    let n = header[0];
    let labels = body(&bytes, name, 8, n, "labels", n, LABELS_FORMAT)?;
    if let Some(i) = labels.iter().position(|&l| usize::from(l) >= NUM_CLASSES) {
        return Err(Error::data_file(
            name,
            format!("label {i} is {}; expected {LABELS_FORMAT}", labels[i]),
        ));
    }
    Ok(labels.to_vec())
}

/// Check the magic number and return the `dims` big-endian u32 dimensions that follow it.
fn header(bytes: &[u8], name: &Path, magic: u32, dims: usize, format: &str) -> Result<Vec<usize>> {
    let truncated = |len: usize| {
        Error::data_file(
            name,
            format!(
                "truncated: {} bytes, shorter than the {len}-byte header; expected {format}",
                bytes.len()
            ),
        )
    };
    let word = |i: usize| {
        bytes
            .get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let got = word(0).ok_or_else(|| truncated(4 + 4 * dims))?;
    if got != magic {
        let hint = match got {
            IMAGES_MAGIC => " (an IDX image file)",
            LABELS_MAGIC => " (an IDX label file)",
            _ => "",
        };
        return Err(Error::data_file(
            name,
            format!("expected {format}; got magic 0x{got:08x}{hint}"),
        ));
    }
    (0..dims)
        .map(|d| {
            word(4 + 4 * d)
                .map(|w| w as usize)
                .ok_or_else(|| truncated(4 + 4 * dims))
        })
        .collect()
}

/// The `len` bytes after the header, which must be exactly the rest of the file.
fn body<'a>(
    bytes: &'a [u8],
    name: &Path,
    header_len: usize,
    len: usize,
    what: &str,
    n: usize,
    format: &str,
) -> Result<&'a [u8]> {
    let have = bytes.len() - header_len;
    if have != len {
        let problem = if have < len { "truncated" } else { "too long" };
        return Err(Error::data_file(
            name,
            format!(
                "{problem}: the header says {n} {what} ({len} bytes after the header) but the \
                 file has {have}; expected {format}; download the file again"
            ),
        ));
    }
    Ok(&bytes[header_len..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::datafile::test_support::{assert_data_error, gzip};

    /// An IDX image file of `n` 28×28 images, image i filled with pixel value i.
    fn images_file(n: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        for word in [IMAGES_MAGIC, n, 28, 28] {
            bytes.extend(word.to_be_bytes());
        }
        for i in 0..n {
            bytes.extend([i as u8; SIDE * SIDE]);
        }
        bytes
    }

    fn labels_file(labels: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend(LABELS_MAGIC.to_be_bytes());
        bytes.extend((labels.len() as u32).to_be_bytes());
        bytes.extend(labels);
        bytes
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write temp file");
        path
    }

    #[test]
    fn plain_and_gzipped_files_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let images = write(dir.path(), "i", &images_file(3));
        let labels = write(dir.path(), "l.gz", &gzip(&labels_file(&[9, 0, 4])));
        let examples = read_idx_pair(&images, &labels).expect("load");
        assert_eq!(examples.len(), 3);
        assert_eq!(examples.shape, vec![1, 28, 28]);
        assert_eq!(examples.num_classes, 10);
        assert_eq!(examples.y, vec![9, 0, 4]);
        assert_eq!(examples.x.len(), 3 * 784);
        assert_eq!(examples.x[784 * 2 + 5], 2.0);
        assert_eq!(examples.x[783], 0.0);
    }

    #[test]
    fn mnist_dir_accepts_plain_and_gz_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "train-images-idx3-ubyte.gz",
            &gzip(&images_file(2)),
        );
        write(dir.path(), "train-labels-idx1-ubyte", &labels_file(&[1, 2]));
        write(dir.path(), "t10k-images-idx3-ubyte", &images_file(1));
        write(
            dir.path(),
            "t10k-labels-idx1-ubyte.gz",
            &gzip(&labels_file(&[7])),
        );
        let (train, test) = load_mnist_dir(dir.path()).expect("load");
        assert_eq!((train.len(), test.len()), (2, 1));
        assert_eq!(train.y, vec![1, 2]);
        assert_eq!(test.y, vec![7]);
        assert_eq!(train.x[784], 1.0);
    }

    #[test]
    fn mnist_dir_missing_files_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "train-images-idx3-ubyte.gz",
            &gzip(&images_file(2)),
        );
        let dir_name = dir.path().display().to_string();
        assert_data_error(
            load_mnist_dir(dir.path()),
            &[
                &dir_name,
                "missing train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], \
                 t10k-labels-idx1-ubyte[.gz]",
                "MNIST / Fashion-MNIST files",
            ],
        );
        assert_data_error(
            load_mnist_dir(&dir.path().join("absent")),
            &["absent: not a directory", "train-images-idx3-ubyte"],
        );
    }

    #[test]
    fn wrong_magic_names_file_and_format() {
        let name = Path::new("data/train-images-idx3-ubyte");
        let labels = labels_file(&[0]);
        assert_data_error(
            parse_idx_pair(&labels, name, &labels, Path::new("l")),
            &[
                "data/train-images-idx3-ubyte: expected an IDX image file (magic 0x00000803",
                "got magic 0x00000801 (an IDX label file)",
            ],
        );
        let images = images_file(1);
        assert_data_error(
            parse_idx_pair(&images, Path::new("i"), &images, Path::new("lab.gz")),
            &[
                "lab.gz: expected an IDX label file (magic 0x00000801",
                "got magic 0x00000803",
            ],
        );
    }

    #[test]
    fn truncated_and_overlong_files_are_errors() {
        let labels = labels_file(&[0, 1]);
        let images = images_file(2);
        let short = &images[..images.len() - 1];
        assert_data_error(
            parse_idx_pair(short, Path::new("imgs"), &labels, Path::new("l")),
            &[
                "imgs: truncated: the header says 2 images",
                "IDX image file",
            ],
        );
        assert_data_error(
            parse_idx_pair(&images[..10], Path::new("imgs"), &labels, Path::new("l")),
            &["imgs: truncated: 10 bytes, shorter than the 16-byte header"],
        );
        let mut long = labels.clone();
        long.push(0);
        assert_data_error(
            parse_idx_pair(&images, Path::new("i"), &long, Path::new("labs")),
            &["labs: too long: the header says 2 labels", "IDX label file"],
        );
        let zipped = gzip(&images);
        assert_data_error(
            parse_idx_pair(
                &zipped[..zipped.len() - 9],
                Path::new("i.gz"),
                &labels,
                Path::new("l"),
            ),
            &[
                "i.gz: starts like gzip but does not decompress",
                "IDX image file",
            ],
        );
    }

    #[test]
    fn label_out_of_range_count_mismatch_and_bad_dims() {
        let images = images_file(2);
        assert_data_error(
            parse_idx_pair(
                &images,
                Path::new("i"),
                &labels_file(&[0, 10]),
                Path::new("labs"),
            ),
            &[
                "labs: label 1 is 10; expected an IDX label file",
                "labels 0–9",
            ],
        );
        assert_data_error(
            parse_idx_pair(
                &images,
                Path::new("imgs"),
                &labels_file(&[0]),
                Path::new("labs"),
            ),
            &["labs: has 1 labels but imgs has 2 images"],
        );
        let mut wide = images_file(0);
        wide[12..16].copy_from_slice(&32u32.to_be_bytes());
        assert_data_error(
            parse_idx_pair(&wide, Path::new("imgs"), &labels_file(&[]), Path::new("l")),
            &["imgs: images are 28×32; expected an IDX image file"],
        );
    }

    #[test]
    fn missing_file_names_path_and_format() {
        let dir = tempfile::tempdir().expect("tempdir");
        let labels = write(dir.path(), "l", &labels_file(&[0]));
        let images = dir.path().join("gone-images");
        assert_data_error(
            read_idx_pair(&images, &labels),
            &["gone-images: file not found; expected an IDX image file"],
        );
    }
}
