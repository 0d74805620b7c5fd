//! `PolicyError`: every way a policy spec can be rejected, each naming the policy, the key, the bad value and the fix.

use thiserror::Error;

/// Why a policy spec could not be parsed or built.
///
/// Messages are written for the person who typed the spec: they name the policy, the key and the
/// offending value, and say what is allowed (a range, the list of valid names or keys) so the fix is
/// obvious without opening the docs. `lrcast schedule --list` prints the full parameter table.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PolicyError {
    /// The spec text (or TOML table) contained no policy at all.
    #[error(
        "empty LR policy spec; write NAME or NAME:key=value,... (e.g. `step:lr=0.1,step_size=30`); `lrcast schedule --list` shows every policy"
    )]
    Empty,

    /// Malformed text: `pos` is the byte offset in `spec` where parsing failed.
    #[error("bad LR policy spec `{spec}` at byte {pos}: {message}")]
    Syntax {
        spec: String,
        pos: usize,
        message: String,
    },

    /// The policy name is not in the table.
    #[error("unknown LR policy `{name}`{}; valid policies: {valid}", did_you_mean(.suggestion))]
    UnknownPolicy {
        name: String,
        suggestion: Option<&'static str>,
        valid: String,
    },

    /// The policy exists but has no such parameter.
    #[error("{policy}: unknown key `{key}`{}; valid keys: {valid}", did_you_mean(.suggestion))]
    UnknownKey {
        policy: String,
        key: String,
        suggestion: Option<&'static str>,
        valid: String,
    },

    /// A key appeared twice in one policy.
    #[error("{policy}: key `{key}` is given twice (`{value}`); give each key once")]
    DuplicateKey {
        policy: String,
        key: String,
        value: String,
    },

    /// A required key has no value and no default.
    #[error(
        "{policy}: missing required key `{key}` ({purpose}); add `{key}=VALUE` with VALUE in {allowed}"
    )]
    MissingKey {
        policy: String,
        key: String,
        purpose: &'static str,
        allowed: String,
    },

    /// The value cannot be read as the key's type (e.g. a word where a number is needed, a list
    /// where a scalar is needed, a fractional step count).
    #[error("{policy}: key `{key}` expects {expected}, got `{value}`")]
    WrongType {
        policy: String,
        key: String,
        expected: String,
        value: String,
    },

    /// The value has the right type but lies outside the key's range.
    #[error("{policy}: {key}={value} is out of range; allowed: {allowed}")]
    OutOfRange {
        policy: String,
        key: String,
        value: String,
        allowed: String,
    },

    /// The value is in range on its own but contradicts another key or the run (e.g.
    /// `max_lr < base_lr`, `onecycle` total_steps shorter than the run).
    #[error("{policy}: {key}={value} is invalid: {requirement}")]
    Conflict {
        policy: String,
        key: String,
        value: String,
        requirement: String,
    },
}

fn did_you_mean(suggestion: &Option<&'static str>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

impl PolicyError {
    pub(crate) fn syntax(spec: &str, pos: usize, message: impl Into<String>) -> Self {
        // A spec of thousands of characters is shown by its start only; `pos` still locates the fault.
        const SHOWN: usize = 120;
        let spec = match spec.char_indices().nth(SHOWN) {
            Some((cut, _)) => format!("{}… ({} bytes)", &spec[..cut], spec.len()),
            None => spec.to_string(),
        };
        PolicyError::Syntax {
            spec,
            pos,
            message: message.into(),
        }
    }
}
