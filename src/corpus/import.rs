//! `lrcast import`: a sweep table written elsewhere (CSV or Parquet) becomes runs of a corpus, by
//! the recipe's `[import]` column mapping, in the same one-file-per-run layout and schema.
//!
//! Every row is read and checked before anything is written. A row's run id is the first 16 hex
//! digits of the SHA-256 of its canonical spec text (the mapped spec values, with the policy in
//! canonical form and its LR injected), so importing the same table again adds nothing and a table
//! with new rows adds only those. Two rows with the same spec are an error naming both. Columns the
//! table does not give are written as null (lists empty), never as 0, so the feature builder sees
//! them as missing.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use sha2::{Digest, Sha256};

use super::schema::{self, COLUMNS, Kind, policy_param_column, policy_param_of};
use super::store::CorpusStore;
use crate::error::{Error, Result};
use crate::recipe::raw::RawImport;
use crate::schedule::{LrPolicy, PolicySpec, ScheduleContext};

/// Corpus columns that `import` computes itself and a mapping may not set.
const COMPUTED: &[&str] = &[
    "run_id",
    "experiment",
    "lrcast_version",
    "burn_version",
    "policy_name",
    "lr_initial",
    "lr_peak",
    "lr_final",
    "lr_mean",
];
/// Corpus columns every imported row needs, from a column or a constant.
const REQUIRED: &[&str] = &["task", "arch", "policy", "top1"];
/// The values `outcome` may take.
const OUTCOMES: &[&str] = &["trained", "diverged", "collapsed"];

/// File format of a sweep table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// Apache Parquet.
    Parquet,
}

/// One value of the table (or of `[import.constants]`), before it is read as a corpus column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    /// Text (every CSV field).
    Text(String),
    /// Integer.
    Int(i64),
    /// Float.
    Num(f64),
    /// Boolean.
    Bool(bool),
}

/// A value read as the type of its corpus column.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    F64(f64),
    I64(i64),
    Bool(bool),
}

impl Value {
    /// Canonical text (f64 shortest round-trip), for the run id.
    fn canonical(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::F64(v) => v.to_string(),
            Value::I64(v) => v.to_string(),
            Value::Bool(v) => v.to_string(),
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Value::F64(v) => Some(*v),
            Value::I64(v) => Some(*v as f64),
            _ => None,
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match self {
            Value::I64(v) => Some(*v),
            _ => None,
        }
    }
}

/// Validated `[import]`.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    /// The table, resolved against the recipe's directory.
    pub path: PathBuf,
    /// Its format, from the extension.
    pub format: TableFormat,
    /// Corpus column → column of the table.
    pub columns: BTreeMap<String, String>,
    /// Corpus column → value shared by every row.
    pub constants: BTreeMap<String, Raw>,
}

/// The corpus type a mapping key is read as, or `None` when it cannot be imported.
fn key_kind(key: &str) -> Option<Kind> {
    if policy_param_of(key).is_some_and(|p| !p.is_empty()) {
        return Some(Kind::F64);
    }
    let column = schema::column(key)?;
    match column.kind {
        Kind::ListF64 | Kind::ListI64 => None,
        _ if COMPUTED.contains(&key) => None,
        kind => Some(kind),
    }
}

/// Every key a mapping may use, for messages.
fn importable_keys() -> String {
    let mut keys: Vec<&str> = COLUMNS
        .iter()
        .map(|c| c.name)
        .filter(|k| key_kind(k).is_some())
        .collect();
    keys.push("p_<policy parameter>");
    keys.join(", ")
}

impl ImportSettings {
    /// Check `[import]` of the recipe at `recipe`: the extension, every mapping key, the constants'
    /// types, and that the required keys are given.
    pub fn from_raw(raw: &RawImport, recipe: &Path) -> Result<Self> {
        let bad = |key: &str, value: &dyn std::fmt::Display, message: String| {
            Error::recipe_value(recipe, key, value, message)
        };
        let format = match Path::new(&raw.path)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => TableFormat::Csv,
            Some("parquet") => TableFormat::Parquet,
            _ => {
                return Err(bad(
                    "import.path",
                    &format!("{:?}", raw.path),
                    "the table must be a .csv or .parquet file".into(),
                ));
            }
        };
        let path = recipe.parent().unwrap_or(Path::new("")).join(&raw.path);
        for (key, column) in &raw.columns {
            if key_kind(key).is_none() {
                return Err(bad(
                    &format!("import.columns.{key}"),
                    &format!("{column:?}"),
                    format!(
                        "`{key}` is not a corpus column an import can set; valid: {}",
                        importable_keys()
                    ),
                ));
            }
            if column.trim().is_empty() {
                return Err(bad(
                    &format!("import.columns.{key}"),
                    &"\"\"",
                    "name the column of the table that holds it".into(),
                ));
            }
        }
        let mut constants = BTreeMap::new();
        for (key, value) in &raw.constants {
            let key_name = format!("import.constants.{key}");
            let Some(kind) = key_kind(key) else {
                return Err(bad(
                    &key_name,
                    value,
                    format!(
                        "`{key}` is not a corpus column an import can set; valid: {}",
                        importable_keys()
                    ),
                ));
            };
            if raw.columns.contains_key(key) {
                return Err(bad(
                    &key_name,
                    value,
                    format!("`{key}` is also mapped in [import.columns]; give it one way only"),
                ));
            }
            let raw_value = match value {
                toml::Value::String(s) => Raw::Text(s.clone()),
                toml::Value::Integer(i) => Raw::Int(*i),
                toml::Value::Float(f) => Raw::Num(*f),
                toml::Value::Boolean(b) => Raw::Bool(*b),
                _ => {
                    return Err(bad(
                        &key_name,
                        value,
                        "a constant is a string, number or boolean".into(),
                    ));
                }
            };
            match read_value(&raw_value, kind) {
                Ok(Some(_)) => {}
                Ok(None) => return Err(bad(&key_name, value, "the value is empty".into())),
                Err(message) => return Err(bad(&key_name, value, message)),
            }
            constants.insert(key.clone(), raw_value);
        }
        for key in REQUIRED {
            if !raw.columns.contains_key(*key) && !constants.contains_key(*key) {
                return Err(bad(
                    "import.columns",
                    &format!("(no `{key}`)"),
                    format!(
                        "every imported run needs `{key}`: map it to a column of the table \
                         ({key} = \"COLUMN\") or give it in [import.constants]"
                    ),
                ));
            }
        }
        Ok(Self {
            path,
            format,
            columns: raw.columns.clone(),
            constants,
        })
    }
}

/// Read `raw` as a value of `kind`: `Ok(None)` for an empty field or NaN (missing), `Err` with the
/// reason when it cannot be one.
fn read_value(raw: &Raw, kind: Kind) -> std::result::Result<Option<Value>, String> {
    if let Raw::Text(s) = raw
        && s.trim().is_empty()
    {
        return Ok(None);
    }
    let number = |raw: &Raw| -> std::result::Result<f64, String> {
        match raw {
            Raw::Num(v) => Ok(*v),
            Raw::Int(v) => Ok(*v as f64),
            Raw::Text(s) => s
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("`{}` is not a number", s.trim())),
            Raw::Bool(b) => Err(format!("`{b}` is not a number")),
        }
    };
    Ok(Some(match kind {
        Kind::Str => match raw {
            Raw::Text(s) => Value::Str(s.trim().to_string()),
            Raw::Int(v) => Value::Str(v.to_string()),
            Raw::Num(v) => Value::Str(v.to_string()),
            Raw::Bool(v) => Value::Str(v.to_string()),
        },
        Kind::F64 | Kind::OptF64 => {
            let v = number(raw)?;
            if v.is_nan() {
                return Ok(None);
            }
            if !v.is_finite() {
                return Err(format!("`{v}` is not a finite number"));
            }
            Value::F64(v)
        }
        Kind::I64 | Kind::OptI64 => match raw {
            Raw::Int(v) => Value::I64(*v),
            Raw::Text(s) if s.trim().parse::<i64>().is_ok() => {
                Value::I64(s.trim().parse().expect("checked"))
            }
            _ => {
                let v = number(raw)?;
                if v.is_nan() {
                    return Ok(None);
                }
                if v.fract() != 0.0 || v.abs() > 2f64.powi(53) {
                    return Err(format!("`{v}` is not a whole number"));
                }
                Value::I64(v as i64)
            }
        },
        Kind::Bool => match raw {
            Raw::Bool(b) => Value::Bool(*b),
            Raw::Int(0) => Value::Bool(false),
            Raw::Int(1) => Value::Bool(true),
            Raw::Num(v) if *v == 0.0 || *v == 1.0 => Value::Bool(*v == 1.0),
            Raw::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Value::Bool(true),
                "false" | "0" | "no" => Value::Bool(false),
                other => return Err(format!("`{other}` is not true/false")),
            },
            other => return Err(format!("`{other:?}` is not true/false")),
        },
        Kind::ListF64 | Kind::ListI64 => unreachable!("list columns are not importable"),
    }))
}

/// The table: every column as raw values, `None` for null.
struct SweepTable {
    names: Vec<String>,
    columns: HashMap<String, Vec<Option<Raw>>>,
    height: usize,
}

/// Read the table of `settings` (CSV: every field as text; Parquet: typed).
fn read_table(settings: &ImportSettings) -> Result<SweepTable> {
    let path = &settings.path;
    let file = std::fs::File::open(path).map_err(|e| {
        Error::data_file(
            path,
            format!(
                "cannot open the sweep table ({e}); import.path is relative to the recipe file"
            ),
        )
    })?;
    let unreadable = |e: PolarsError| {
        let what = match settings.format {
            TableFormat::Csv => "CSV with a header line",
            TableFormat::Parquet => "Parquet",
        };
        Error::data_file(path, format!("not a readable {what} table: {e}"))
    };
    let df = match settings.format {
        TableFormat::Csv => CsvReadOptions::default()
            .with_has_header(true)
            // Every column as text: each value is read as its corpus column's type, row by row,
            // so a bad value is reported with its row instead of turning a column into text.
            .with_infer_schema_length(Some(0))
            .into_reader_with_file_handle(file)
            .finish(),
        TableFormat::Parquet => ParquetReader::new(file).finish(),
    }
    .map_err(unreadable)?;
    let mut table = SweepTable {
        names: Vec::new(),
        columns: HashMap::new(),
        height: df.height(),
    };
    for column in df.columns() {
        let name = column.name().to_string();
        let series = column.as_materialized_series();
        let bad_type = |e: PolarsError| {
            Error::data_file(
                path,
                format!("column `{name}` ({}) cannot be read: {e}", series.dtype()),
            )
        };
        let values: Vec<Option<Raw>> = match series.dtype() {
            DataType::String => series
                .str()
                .map_err(bad_type)?
                .iter()
                .map(|v| v.map(|s| Raw::Text(s.to_string())))
                .collect(),
            DataType::Boolean => series
                .bool()
                .map_err(bad_type)?
                .iter()
                .map(|v| v.map(Raw::Bool))
                .collect(),
            dt if dt.is_integer() => series
                .cast(&DataType::Int64)
                .map_err(bad_type)?
                .i64()
                .map_err(bad_type)?
                .iter()
                .map(|v| v.map(Raw::Int))
                .collect(),
            dt if dt.is_primitive_numeric() => series
                .cast(&DataType::Float64)
                .map_err(bad_type)?
                .f64()
                .map_err(bad_type)?
                .iter()
                .map(|v| v.map(Raw::Num))
                .collect(),
            // Anything else (dates, categoricals) as its text, where polars can print it; a
            // column that cannot be (lists, structs) is an error only if it is mapped.
            _ => match series.cast(&DataType::String) {
                Ok(text) => text
                    .str()
                    .map_err(bad_type)?
                    .iter()
                    .map(|v| v.map(|s| Raw::Text(s.to_string())))
                    .collect(),
                Err(_) => {
                    table.names.push(name);
                    continue;
                }
            },
        };
        table.names.push(name.clone());
        table.columns.insert(name, values);
    }
    Ok(table)
}

/// One imported row, checked and ready to be written.
struct ImportedRun {
    run_id: String,
    /// 1-based row number in the table (the header not counted).
    row: usize,
    /// Fixed columns that have a value.
    values: BTreeMap<&'static str, Value>,
    /// `p_<name>` columns of the resolved policy.
    policy_params: Vec<(String, f64)>,
}

impl ImportedRun {
    /// One-row DataFrame in schema order: a column without a value is a typed null (lists empty).
    fn to_dataframe(&self) -> PolarsResult<DataFrame> {
        let mut columns: Vec<Column> = COLUMNS
            .iter()
            .map(|c| {
                let name = PlSmallStr::from(c.name);
                let v = self.values.get(c.name);
                match c.kind {
                    Kind::Str => Column::new(
                        name,
                        [v.map(|v| match v {
                            Value::Str(s) => s.clone(),
                            other => other.canonical(),
                        })],
                    ),
                    Kind::F64 | Kind::OptF64 => Column::new(name, [v.and_then(Value::as_f64)]),
                    Kind::I64 | Kind::OptI64 => Column::new(name, [v.and_then(Value::as_i64)]),
                    Kind::Bool => Column::new(
                        name,
                        [v.and_then(|v| match v {
                            Value::Bool(b) => Some(*b),
                            _ => None,
                        })],
                    ),
                    Kind::ListF64 => {
                        Column::new(name, [Series::new(PlSmallStr::EMPTY, Vec::<f64>::new())])
                    }
                    Kind::ListI64 => {
                        Column::new(name, [Series::new(PlSmallStr::EMPTY, Vec::<i64>::new())])
                    }
                }
            })
            .collect();
        for (name, value) in &self.policy_params {
            columns.push(Column::new(PlSmallStr::from(name.as_str()), [*value]));
        }
        DataFrame::new(1, columns)
    }
}

/// Whether `key` describes what a run trains (the spec part of the schema, `task` … `n_val`, and
/// policy parameters), as opposed to its outcome or provenance: only those enter the run id.
fn is_spec_key(key: &str) -> bool {
    if policy_param_of(key).is_some() {
        return true;
    }
    let index = |name: &str| COLUMNS.iter().position(|c| c.name == name);
    match (index(key), index("task"), index("n_val")) {
        (Some(i), Some(first), Some(last)) => (first..=last).contains(&i),
        _ => false,
    }
}

/// Check one row (`index` 0-based) and build its run.
fn import_row(
    settings: &ImportSettings,
    table: &SweepTable,
    experiment: &str,
    index: usize,
) -> Result<ImportedRun> {
    let row = index + 1;
    let path = &settings.path;
    let at = |key: &str| match settings.columns.get(key) {
        Some(column) => format!("row {row}, column `{column}` ({key})"),
        None => format!("row {row}, [import.constants] {key}"),
    };
    let row_error = |message: String| Error::data_file(path, message);
    // Every given value, read as its corpus type.
    let mut given: BTreeMap<String, Value> = BTreeMap::new();
    let sources = settings
        .columns
        .iter()
        .map(|(key, column)| (key, table.columns[column][index].as_ref()))
        .chain(settings.constants.iter().map(|(key, v)| (key, Some(v))));
    for (key, raw) in sources {
        let kind = key_kind(key).expect("keys are checked when the recipe is read");
        let Some(raw) = raw else { continue };
        match read_value(raw, kind) {
            Ok(Some(v)) => {
                given.insert(key.clone(), v);
            }
            Ok(None) => {}
            Err(message) => return Err(row_error(format!("{}: {message}", at(key)))),
        }
    }
    let text = |key: &str| -> Option<String> {
        match given.get(key) {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        }
    };
    let number = |key: &str| given.get(key).and_then(Value::as_f64);
    let count = |key: &str| -> Result<Option<u64>> {
        match given.get(key).and_then(Value::as_i64) {
            None => Ok(None),
            Some(v) if v >= 1 => Ok(Some(v as u64)),
            Some(v) => Err(row_error(format!("{}: `{v}` must be at least 1", at(key)))),
        }
    };
    let required = |key: &str| {
        text(key).ok_or_else(|| {
            row_error(format!(
                "{}: empty; every imported run needs its {key}",
                at(key)
            ))
        })
    };
    let task = required("task")?;
    let arch = required("arch")?;
    let policy_text = required("policy")?;

    // The target: an accuracy.
    let top1 = match given.get("top1").and_then(Value::as_f64) {
        Some(v) if (0.0..=1.0).contains(&v) => v,
        Some(v) => {
            return Err(row_error(format!(
                "{}: {v} is not an accuracy in [0, 1] (a percentage? divide the column by 100)",
                at("top1")
            )));
        }
        None => {
            return Err(row_error(format!(
                "{}: empty or NaN; every imported run needs its final accuracy (drop rows of \
                 failed trials, or record their accuracy)",
                at("top1")
            )));
        }
    };

    // The policy, with its parameters from p_<name> columns and its LR.
    let policy_error = |source| {
        Error::policy(
            format!("{}: {} = {policy_text:?}", path.display(), at("policy")),
            source,
        )
    };
    let mut spec = PolicySpec::parse(&policy_text).map_err(policy_error)?;
    for (key, value) in &given {
        if let (Some(param), Value::F64(v)) = (policy_param_of(key), value) {
            spec = spec.with_param(param, *v);
        }
    }
    let base_lr = number("base_lr");
    let primary = spec.primary_lr_key();
    let own_lr = primary.and_then(|k| spec.param(k));
    let base_lr = match (base_lr, own_lr, primary) {
        (Some(lr), Some(own), Some(key)) if lr != own => {
            return Err(row_error(format!(
                "{}: {lr} disagrees with `{key}={own}` in the policy `{policy_text}`; give the LR \
                 in one place",
                at("base_lr")
            )));
        }
        (Some(lr), _, Some(key)) => {
            spec = spec.with_param(key, lr);
            lr
        }
        (Some(lr), _, None) => lr,
        (None, Some(own), _) => own,
        (None, None, _) => {
            return Err(row_error(format!(
                "row {row}: no learning rate: map `base_lr` to the table's LR column, or give it \
                 in the policy (e.g. {}:lr=0.1)",
                spec.name()
            )));
        }
    };
    if base_lr <= 0.0 || !base_lr.is_finite() {
        return Err(row_error(format!(
            "{}: the learning rate {base_lr} must be positive",
            at("base_lr")
        )));
    }

    // The run length, which the schedule (and its features) depend on.
    let epochs = count("epochs")?;
    let batch_size = count("batch_size")?;
    let n_train = count("n_train")?;
    let total_given = count("total_steps")?;
    let steps_per_epoch = match count("steps_per_epoch")? {
        Some(s) => Some(s),
        None => match (n_train, batch_size, total_given, epochs) {
            (Some(n), Some(b), _, _) => Some(n.div_ceil(b)),
            (_, _, Some(t), Some(e)) if t % e == 0 => Some(t / e),
            _ => None,
        },
    };
    let total_steps = total_given
        .or_else(|| Some(epochs? * steps_per_epoch?))
        .ok_or_else(|| {
            row_error(format!(
                "row {row}: the run length is unknown, and the policy's schedule depends on it: \
                 map `total_steps`, or `epochs` with `steps_per_epoch` (or with `n_train` and \
                 `batch_size`), as columns or in [import.constants]"
            ))
        })?;
    let ctx = ScheduleContext::new(total_steps, steps_per_epoch.unwrap_or(0));
    let lr_policy = LrPolicy::build(&spec, &ctx).map_err(policy_error)?;
    let (lr_initial, lr_peak, lr_final, lr_mean) = if lr_policy.is_metric_driven() {
        let lr = lr_policy.initial_lr();
        (lr, lr, lr, lr)
    } else {
        let lrs = lr_policy.lr_series(0, total_steps as usize);
        (
            lrs[0],
            lrs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            lrs[lrs.len() - 1],
            lrs.iter().sum::<f64>() / lrs.len() as f64,
        )
    };

    // The outcome: given, or from `diverged` (and lrcast's collapse rule where the training loss
    // and the classes are known); unknown otherwise.
    let mut diverged = match given.get("diverged") {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    };
    let outcome = match text("outcome") {
        Some(o) => {
            let o = o.to_ascii_lowercase();
            if !OUTCOMES.contains(&o.as_str()) {
                return Err(row_error(format!(
                    "{}: `{o}` is not an outcome; valid: {}",
                    at("outcome"),
                    OUTCOMES.join(", ")
                )));
            }
            diverged = diverged.or(Some(o == "diverged"));
            Some(o)
        }
        None => diverged.map(|d| {
            let collapsed = match (number("train_loss"), number("num_classes")) {
                (Some(loss), Some(classes)) if classes >= 2.0 => loss >= classes.ln(),
                _ => false,
            };
            match (d, collapsed) {
                (true, _) => "diverged".to_string(),
                (false, true) => "collapsed".to_string(),
                (false, false) => "trained".to_string(),
            }
        }),
    };

    // The id: the given spec values, the policy in canonical form with its LR.
    let canonical_policy = spec.to_string();
    let mut identity = format!("import;policy={canonical_policy};base_lr={base_lr}");
    for (key, value) in &given {
        if is_spec_key(key) && key != "policy" && key != "base_lr" && policy_param_of(key).is_none()
        {
            identity.push_str(&format!(";{key}={}", value.canonical()));
        }
    }
    let digest = Sha256::digest(identity.as_bytes());
    let run_id: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();

    let family = |spec: &str| spec.split(':').next().unwrap_or(spec).trim().to_string();
    let mut values: BTreeMap<&'static str, Value> = BTreeMap::new();
    for c in COLUMNS {
        if let Some(v) = given.get(c.name) {
            values.insert(c.name, v.clone());
        }
    }
    let mut set = |name: &'static str, value: Value| {
        values.insert(name, value);
    };
    set("run_id", Value::Str(run_id.clone()));
    set("experiment", Value::Str(experiment.to_string()));
    set("policy", Value::Str(canonical_policy));
    set("policy_name", Value::Str(lr_policy.name()));
    set("base_lr", Value::F64(base_lr));
    set("lr_initial", Value::F64(lr_initial));
    set("lr_peak", Value::F64(lr_peak));
    set("lr_final", Value::F64(lr_final));
    set("lr_mean", Value::F64(lr_mean));
    set("total_steps", Value::I64(total_steps as i64));
    set("top1", Value::F64(top1));
    if let Some(s) = steps_per_epoch {
        set("steps_per_epoch", Value::I64(s as i64));
    }
    if let Some(o) = outcome {
        set("outcome", Value::Str(o));
    }
    if let Some(d) = diverged {
        set("diverged", Value::Bool(d));
    }
    if text("task_family").is_none() {
        set("task_family", Value::Str(family(&task)));
    }
    if text("arch_family").is_none() {
        set("arch_family", Value::Str(family(&arch)));
    }
    let policy_params = lr_policy
        .hyperparameters()
        .into_iter()
        .map(|(k, v)| (policy_param_column(&k), v))
        .collect();
    Ok(ImportedRun {
        run_id,
        row,
        values,
        policy_params,
    })
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// Rows in the table.
    pub rows: usize,
    /// Runs written.
    pub imported: usize,
    /// Rows whose run was already in the corpus (left as it was).
    pub existing: usize,
}

/// Read, check and write every row of the table of `settings` into `store` as runs of
/// `experiment`. Nothing is written unless every row is valid; a run already in the corpus is
/// never rewritten.
pub fn import(
    settings: &ImportSettings,
    experiment: &str,
    store: &CorpusStore,
) -> Result<ImportSummary> {
    let table = read_table(settings)?;
    for (key, column) in &settings.columns {
        if !table.columns.contains_key(column) {
            let why = if table.names.contains(column) {
                "has a type that cannot be imported (lists and structs cannot)"
            } else {
                "is not in the table"
            };
            return Err(Error::data_file(
                &settings.path,
                format!(
                    "column `{column}` (mapped to `{key}` in [import.columns]) {why}; the table's \
                     columns: {}",
                    table.names.join(", ")
                ),
            ));
        }
    }
    if table.height == 0 {
        return Err(Error::data_file(
            &settings.path,
            "the table has no rows to import",
        ));
    }
    let mut runs = Vec::with_capacity(table.height);
    let mut first_row: HashMap<String, usize> = HashMap::new();
    for index in 0..table.height {
        let run = import_row(settings, &table, experiment, index)?;
        if let Some(&earlier) = first_row.get(&run.run_id) {
            return Err(Error::data_file(
                &settings.path,
                format!(
                    "rows {earlier} and {} describe the same run (equal in every mapped spec \
                     column); map a column that tells them apart (e.g. seed) or remove one",
                    run.row
                ),
            ));
        }
        first_row.insert(run.run_id.clone(), run.row);
        runs.push(run);
    }
    let existing = store.existing_run_ids()?;
    let new: Vec<&ImportedRun> = runs
        .iter()
        .filter(|r| !existing.contains(&r.run_id))
        .collect();
    if !new.is_empty() {
        store.ensure_writable()?;
    }
    for run in &new {
        let mut df = run.to_dataframe().map_err(|e| Error::Corpus {
            path: store.runs_dir(),
            message: format!("row {}: {e}", run.row),
        })?;
        store.write_frame(&run.run_id, &mut df)?;
    }
    Ok(ImportSummary {
        rows: table.height,
        imported: new.len(),
        existing: runs.len() - new.len(),
    })
}
