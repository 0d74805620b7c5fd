//! scikit-learn dataset CSVs (`digits.csv`, `wine_data.csv`, `breast_cancer.csv`), plain or gzipped.
//!
//! Every row is `n_features` numbers then an integer label. With a header (wine, breast cancer),
//! the first line is `n_samples,n_features,<class names…>`; without one (digits), the column count
//! comes from the first row and the number of classes is the largest label + 1. Values are parsed
//! as f64 and rounded to f32, as `np.loadtxt(...).astype(np.float32)` would.

use std::path::Path;

use super::datafile::gunzip_if_gzip;
use super::examples::Examples;
use crate::error::{Error, Result};

const WITH_HEADER: &str = "a scikit-learn dataset CSV: a header `n_samples,n_features,<class \
                           names…>`, then n_samples rows of n_features numbers and an integer \
                           label, such as wine_data.csv or breast_cancer.csv";
const NO_HEADER: &str = "a scikit-learn digits CSV: no header, every row the same number of \
                         comma-separated numbers (the features, then an integer label), such as \
                         digits.csv.gz";

/// Parse a scikit-learn dataset CSV held in memory (gunzipped first when it is gzip); `name` is
/// used in error messages. Returns examples of shape `[n_features]`.
pub fn parse_sklearn_csv(bytes: &[u8], name: &Path, header: bool) -> Result<Examples> {
    let format = if header { WITH_HEADER } else { NO_HEADER };
    let bytes = gunzip_if_gzip(bytes, name, format)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| Error::data_file(name, format!("not UTF-8 text ({e}); expected {format}")))?;
    let err = |line: usize, message: String| {
        Error::data_file(name, format!("line {line}: {message}; expected {format}"))
    };
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r')).enumerate();
    let meta = if header {
        let (_, first) = lines.next().unwrap_or((0, ""));
        Some(parse_header(first).map_err(|m| err(1, m))?)
    } else {
        None
    };

    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut n_columns = meta.as_ref().map(|m| m.n_features + 1);
    let rows: Vec<(usize, &str)> = {
        let mut rows: Vec<_> = lines.collect();
        while rows.last().is_some_and(|(_, l)| l.trim().is_empty()) {
            rows.pop();
        }
        rows
    };
    for (index, line) in rows {
        let line_no = index + 1;
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let columns = *n_columns.get_or_insert(fields.len());
        if columns < 2 {
            return Err(err(
                line_no,
                "one value, expected features then the label".into(),
            ));
        }
        if fields.len() != columns {
            return Err(err(
                line_no,
                format!(
                    "{} comma-separated values, expected {columns} ({} features then the label)",
                    fields.len(),
                    columns - 1
                ),
            ));
        }
        let (label, features) = fields.split_last().unwrap_or((&"", &[]));
        for (column, field) in features.iter().enumerate() {
            let value = field
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    err(
                        line_no,
                        format!("column {}: `{field}` is not a finite number", column + 1),
                    )
                })?;
            x.push(value as f32);
        }
        let label = parse_label(label)
            .ok_or_else(|| err(line_no, format!("label `{label}` is not an integer 0–255")))?;
        if let Some(meta) = &meta
            && usize::from(label) >= meta.num_classes
        {
            return Err(err(
                line_no,
                format!(
                    "label {label} but the header names {} classes",
                    meta.num_classes
                ),
            ));
        }
        y.push(label);
    }

    if y.is_empty() {
        return Err(Error::data_file(
            name,
            format!("no data rows; expected {format}"),
        ));
    }
    let n_features = n_columns.map_or(0, |c| c - 1);
    let num_classes = match &meta {
        Some(meta) => {
            if y.len() != meta.n_samples {
                return Err(Error::data_file(
                    name,
                    format!(
                        "the header says {} samples but there are {} rows; expected {format}",
                        meta.n_samples,
                        y.len()
                    ),
                ));
            }
            meta.num_classes
        }
        None => y.iter().map(|&l| usize::from(l) + 1).max().unwrap_or(0),
    };
    Ok(Examples {
        x,
        y,
        shape: vec![n_features],
        num_classes,
    })
}

/// The header line `n_samples,n_features,<class names…>`.
struct Header {
    n_samples: usize,
    n_features: usize,
    num_classes: usize,
}

fn parse_header(line: &str) -> std::result::Result<Header, String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<usize>().ok());
    match (number(0), number(1)) {
        (Some(n_samples), Some(n_features)) if n_features > 0 && fields.len() > 3 => Ok(Header {
            n_samples,
            n_features,
            num_classes: fields.len() - 2,
        }),
        _ => Err(format!(
            "header `{line}` is not `n_samples,n_features,<at least two class names>`"
        )),
    }
}

/// An integer label 0–255, written as `3` or `3.0`.
fn parse_label(field: &str) -> Option<u8> {
    field.parse::<u8>().ok().or_else(|| {
        let value = field.parse::<f64>().ok()?;
        (value.fract() == 0.0 && (0.0..=255.0).contains(&value)).then_some(value as u8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::datafile::test_support::{assert_data_error, gzip};

    const WINE_LIKE: &str = "3,2,a,b,c\n1.5,-2,0\n0.1,3e2,2\r\n7,8,1\n\n";

    #[test]
    fn header_csv_round_trips_plain_and_gzipped_from_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = dir.path().join("t.csv");
        let zipped = dir.path().join("t.csv.gz");
        std::fs::write(&plain, WINE_LIKE).expect("write");
        std::fs::write(&zipped, gzip(WINE_LIKE.as_bytes())).expect("write");
        for path in [plain, zipped] {
            let bytes = std::fs::read(&path).expect("read");
            let t = parse_sklearn_csv(&bytes, &path, true).expect("parse");
            assert_eq!(t.shape, vec![2]);
            assert_eq!(t.num_classes, 3);
            assert_eq!(t.x, vec![1.5, -2.0, 0.1, 300.0, 7.0, 8.0]);
            assert_eq!(t.y, vec![0, 2, 1]);
        }
    }

    #[test]
    fn headerless_csv_infers_columns_and_classes() {
        let t = parse_sklearn_csv(b"0,16,3\n4,5,1.0\n", Path::new("d.csv"), false).expect("parse");
        assert_eq!(t.shape, vec![2]);
        assert_eq!(t.num_classes, 4);
        assert_eq!(t.x, vec![0.0, 16.0, 4.0, 5.0]);
        assert_eq!(t.y, vec![3, 1]);
    }

    #[test]
    fn bad_rows_name_file_line_and_format() {
        let csv = "3,2,a,b\n1,2,0\n1,2\n";
        assert_data_error(
            parse_sklearn_csv(csv.as_bytes(), Path::new("data/w.csv"), true),
            &[
                "data/w.csv: line 3: 2 comma-separated values, expected 3 (2 features then the label)",
                "expected a scikit-learn dataset CSV",
            ],
        );
        assert_data_error(
            parse_sklearn_csv(b"1,2,0\n1,x,1\n", Path::new("d.csv"), false),
            &[
                "d.csv: line 2: column 2: `x` is not a finite number",
                "digits CSV",
            ],
        );
        assert_data_error(
            parse_sklearn_csv(b"1,2,0\n1,2,-1\n", Path::new("d.csv"), false),
            &["d.csv: line 2: label `-1` is not an integer 0–255"],
        );
        assert_data_error(
            parse_sklearn_csv(b"1,2,a,b\n1,2,2\n", Path::new("w.csv"), true),
            &["w.csv: line 2: label 2 but the header names 2 classes"],
        );
        assert_data_error(
            parse_sklearn_csv(b"7\n", Path::new("d.csv"), false),
            &["d.csv: line 1: one value, expected features then the label"],
        );
    }

    #[test]
    fn bad_header_and_row_count_are_errors() {
        assert_data_error(
            parse_sklearn_csv(b"1,2,0\n", Path::new("w.csv"), true),
            &["w.csv: line 1: header `1,2,0` is not `n_samples,n_features,"],
        );
        assert_data_error(
            parse_sklearn_csv(b"5,1,a,b\n1,0\n", Path::new("w.csv"), true),
            &[
                "w.csv: the header says 5 samples but there are 1 rows",
                "scikit-learn dataset CSV",
            ],
        );
        assert_data_error(
            parse_sklearn_csv(b"", Path::new("d.csv"), false),
            &["d.csv: no data rows; expected a scikit-learn digits CSV"],
        );
        assert_data_error(
            parse_sklearn_csv(&[0xff, 0xfe], Path::new("d.csv"), false),
            &["d.csv: not UTF-8 text"],
        );
    }
}
