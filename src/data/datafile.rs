//! Reading data files: whole-file reads and transparent gunzip, with errors that name the file.

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};

/// The first two bytes of every gzip stream.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Read a whole file; `expected` describes the format wanted (for the error message).
pub fn read_file(path: &Path, expected: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        let problem = if e.kind() == std::io::ErrorKind::NotFound {
            "file not found".to_string()
        } else {
            format!("cannot read ({e})")
        };
        Error::data_file(path, format!("{problem}; expected {expected}"))
    })
}

/// The bytes themselves, or their decompressed content when they start with the gzip magic.
pub fn gunzip_if_gzip<'a>(bytes: &'a [u8], name: &Path, expected: &str) -> Result<Cow<'a, [u8]>> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| {
            Error::data_file(
                name,
                format!(
                    "starts like gzip but does not decompress ({e}); expected {expected}, \
                     gzipped or plain; download the file again"
                ),
            )
        })?;
    Ok(Cow::Owned(out))
}

/// Helpers for the loaders' tests: gzip bytes, and check a data-file error.
#[cfg(test)]
pub(crate) mod test_support {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    /// `bytes` gzipped.
    pub fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).expect("write to Vec");
        encoder.finish().expect("finish gzip into Vec")
    }

    /// Assert a data-file error (exit code 2) whose message contains every piece.
    pub fn assert_data_error<T: std::fmt::Debug>(result: crate::error::Result<T>, pieces: &[&str]) {
        let err = result.expect_err("should fail");
        let msg = err.to_string();
        for piece in pieces {
            assert!(msg.contains(piece), "{msg:?} lacks {piece:?}");
        }
        assert_eq!(err.exit_code(), 2, "{msg}");
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::gzip;
    use super::*;

    #[test]
    fn plain_bytes_pass_through_and_gzip_is_decompressed() {
        let name = Path::new("x.bin");
        let plain = gunzip_if_gzip(b"hello", name, "text").expect("plain");
        assert!(matches!(plain, Cow::Borrowed(b"hello")));
        let zipped = gzip(b"hello");
        let unzipped = gunzip_if_gzip(&zipped, name, "text").expect("gzip");
        assert_eq!(&*unzipped, b"hello");
    }

    #[test]
    fn concatenated_gzip_members_are_all_read() {
        let mut both = gzip(b"ab");
        both.extend(gzip(b"cd"));
        let unzipped = gunzip_if_gzip(&both, Path::new("x.gz"), "text").expect("gzip");
        assert_eq!(&*unzipped, b"abcd");
    }

    #[test]
    fn truncated_gzip_is_a_data_file_error() {
        let zipped = gzip(&[7u8; 1000]);
        let cut = &zipped[..zipped.len() / 2];
        let err = gunzip_if_gzip(cut, Path::new("dir/x.gz"), "an IDX file").expect_err("cut");
        let msg = err.to_string();
        assert!(msg.starts_with("dir/x.gz: "), "{msg}");
        assert!(msg.contains("expected an IDX file"), "{msg}");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn missing_file_names_path_and_format() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nope.csv");
        let err = read_file(&path, "a CSV file").expect_err("missing");
        let msg = err.to_string();
        assert!(msg.contains("nope.csv"), "{msg}");
        assert!(msg.contains("file not found; expected a CSV file"), "{msg}");
        assert_eq!(err.exit_code(), 2);
    }
}
