//! The one error type of lrcast: every variant names the file, key or value at fault and how to fix it.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong. Bad input (exit code 2) and runtime failures (exit code 1) are
/// told apart by [`Error::exit_code`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The recipe file could not be read.
    #[error(
        "cannot read recipe {path}: {source}; pass an existing file such as experiments/default.toml"
    )]
    RecipeUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },

    /// The recipe is not valid TOML, has an unknown key or a value of the wrong type.
    #[error("{path}:{line}:{column}: {message}")]
    RecipeSyntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// A recipe value parsed but is not allowed.
    #[error("{path}: `{key}` = {value}: {message}")]
    RecipeValue {
        path: PathBuf,
        key: String,
        value: String,
        message: String,
    },

    /// A learning-rate policy spec is invalid.
    #[error("{context}: {source}")]
    Policy {
        context: String,
        source: Box<crate::schedule::PolicyError>,
    },

    /// A task / architecture spec (`NAME:key=value,…`) is invalid.
    #[error("{context}: {message}")]
    Spec { context: String, message: String },

    /// A command-line value is not allowed.
    #[error("{flag} {value}: {message}")]
    BadArgument {
        flag: String,
        value: String,
        message: String,
    },

    /// An output directory cannot be created or written.
    #[error(
        "output directory {path} is not writable ({source}); choose another location with --root, free space there or fix its permissions"
    )]
    OutputNotWritable {
        path: PathBuf,
        source: std::io::Error,
    },

    /// A step of the pipeline needs the output of an earlier step.
    #[error("{what} not found at {path}; run `lrcast {command} {recipe}` first")]
    MissingInput {
        what: String,
        path: PathBuf,
        command: String,
        recipe: String,
    },

    /// The requested compute device cannot be used.
    #[error("device `{device}`: {message}")]
    Device { device: String, message: String },

    /// The device was asked for in a way the binary cannot serve (bad input).
    #[error("device `{device}`: {message}")]
    DeviceUnsupported { device: String, message: String },

    /// A data file (a shipped dataset or one at a path the user gave) is missing, truncated or not
    /// in the expected format.
    #[error("{path}: {message}")]
    DataFile { path: PathBuf, message: String },

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// Writing an output file failed (a full disk, a file size limit, a vanished directory);
    /// nothing half-written is left under its name.
    #[error(
        "cannot write {path}: {source}; no partial file was left — free space there (or choose \
         another --root) and rerun: finished runs are kept and skipped"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    /// Reading or writing the Parquet corpus failed.
    #[error("corpus {path}: {message}")]
    Corpus { path: PathBuf, message: String },

    /// The corpus or recipe cannot be fitted as asked (too few runs, a value the features cannot
    /// use, a protocol the corpus cannot form). A model that fails numerically on one fold is
    /// recorded in the scores instead, never raised.
    #[error("fit: {0}")]
    Fit(String),

    /// `lrcast corpus verify` found problems (listed on standard output).
    #[error(
        "corpus {path}: {problems} problem(s) found (listed above); nothing was changed — \
         `lrcast generate` removes stale temporary files and takes stale claims over, and moves \
         unreadable parts to quarantine/; delete or move foreign files yourself"
    )]
    VerifyFailed { path: PathBuf, problems: usize },

    /// Any other runtime failure, with context.
    #[error("{0}")]
    Runtime(String),
}

impl Error {
    /// Process exit code: 2 for bad input (clap's convention), 1 for runtime failures.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::RecipeUnreadable { .. }
            | Error::RecipeSyntax { .. }
            | Error::RecipeValue { .. }
            | Error::Policy { .. }
            | Error::Spec { .. }
            | Error::BadArgument { .. }
            | Error::OutputNotWritable { .. }
            | Error::MissingInput { .. }
            | Error::DeviceUnsupported { .. }
            | Error::DataFile { .. }
            | Error::Fit(_) => 2,
            Error::Device { .. }
            | Error::Io { .. }
            | Error::Write { .. }
            | Error::Corpus { .. }
            | Error::VerifyFailed { .. }
            | Error::Runtime(_) => 1,
        }
    }

    /// A policy error with the place it came from (`--policy`, `file.toml: grid.policy[2]`).
    pub fn policy(context: impl Into<String>, source: crate::schedule::PolicyError) -> Self {
        Error::Policy {
            context: context.into(),
            source: Box::new(source),
        }
    }

    /// Wrap an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A data-file error naming the file and what was expected of it.
    pub fn data_file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::DataFile {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A recipe value error.
    pub fn recipe_value(
        path: impl Into<PathBuf>,
        key: impl Into<String>,
        value: impl std::fmt::Display,
        message: impl Into<String>,
    ) -> Self {
        Error::RecipeValue {
            path: path.into(),
            key: key.into(),
            value: value.to_string(),
            message: message.into(),
        }
    }
}
