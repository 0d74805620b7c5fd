//! `NAME:key=value,key=value` specs for tasks and architectures (list values separated by `;`).
//!
//! Learning-rate policies use the richer grammar of [`crate::schedule`]; this module covers the
//! simple, flat specs, e.g. `mlp:hidden=100;100` or `mnist1d:num_samples=2000`.

use std::collections::BTreeMap;
use std::fmt;

/// A parsed `NAME:key=value,…` spec; values are kept as text until a consumer reads them typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValueSpec {
    /// Lower-case name before the colon.
    pub name: String,
    /// Parameters in key order (so the canonical text is stable).
    pub params: BTreeMap<String, String>,
}

impl KeyValueSpec {
    /// Parse `NAME` or `NAME:key=value,key=value`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (name, rest) = match text.split_once(':') {
            Some((name, rest)) => (name.trim(), Some(rest)),
            None => (text, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`{text}` is not a spec; expected NAME or NAME:key=value,key=value"
            ));
        }
        let mut params = BTreeMap::new();
        for item in rest.into_iter().flat_map(|r| r.split(',')) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let Some((key, value)) = item.split_once('=') else {
                return Err(format!(
                    "`{item}` in `{text}` is not key=value; write e.g. {name}:key=value"
                ));
            };
            let (key, value) = (key.trim().to_string(), value.trim().to_string());
            if value.is_empty() {
                return Err(format!("`{key}` in `{text}` has no value"));
            }
            if params.insert(key.clone(), value).is_some() {
                return Err(format!("`{key}` is given twice in `{text}`"));
            }
        }
        Ok(Self {
            name: name.to_ascii_lowercase(),
            params,
        })
    }

    /// Error unless every key is one of `allowed`.
    pub fn expect_keys(&self, allowed: &[&str]) -> Result<(), String> {
        for key in self.params.keys() {
            if !allowed.contains(&key.as_str()) {
                return Err(if allowed.is_empty() {
                    format!("`{}` takes no parameters, got `{key}`", self.name)
                } else {
                    format!(
                        "unknown key `{key}` for `{}`; valid keys: {}",
                        self.name,
                        allowed.join(", ")
                    )
                });
            }
        }
        Ok(())
    }

    /// An optional unsigned integer parameter.
    pub fn usize_or(&self, key: &str, default: usize) -> Result<usize, String> {
        match self.params.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("`{key}={v}` in `{self}` must be a non-negative integer",)),
        }
    }

    /// An optional float parameter.
    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64, String> {
        match self.params.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("`{key}={v}` in `{self}` must be a number")),
        }
    }

    /// An optional `;`-separated list of unsigned integers.
    pub fn usize_list_or(&self, key: &str, default: &[usize]) -> Result<Vec<usize>, String> {
        match self.params.get(key) {
            None => Ok(default.to_vec()),
            Some(v) => v
                .split(';')
                .map(|x| x.trim().parse::<usize>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| format!("`{key}={v}` in `{self}` must be integers separated by `;`")),
        }
    }
}

impl fmt::Display for KeyValueSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (i, (key, value)) in self.params.iter().enumerate() {
            f.write_str(if i == 0 { ":" } else { "," })?;
            write!(f, "{key}={value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_canonically() {
        let spec = KeyValueSpec::parse(" MLP:hidden=100;100 , bias=1").unwrap();
        assert_eq!(spec.name, "mlp");
        assert_eq!(spec.usize_list_or("hidden", &[]).unwrap(), vec![100, 100]);
        assert_eq!(spec.to_string(), "mlp:bias=1,hidden=100;100");
        assert_eq!(KeyValueSpec::parse(&spec.to_string()).unwrap(), spec);
    }

    #[test]
    fn rejects_malformed() {
        assert!(KeyValueSpec::parse("").is_err());
        assert!(KeyValueSpec::parse("mlp:hidden").is_err());
        assert!(KeyValueSpec::parse("mlp:a=1,a=2").is_err());
        let spec = KeyValueSpec::parse("mlp:width=3").unwrap();
        let err = spec.expect_keys(&["hidden"]).unwrap_err();
        assert!(err.contains("width") && err.contains("hidden"), "{err}");
    }
}
