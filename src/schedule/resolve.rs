//! Table-driven resolution of one policy's parameters: defaults, run-length defaults, `Nep` epochs,
//! type and range checks. Policy-specific cross-parameter rules live with each policy's constructor.

use super::ScheduleContext;
use super::error::PolicyError;
use super::params::{ParamDefault, ParamInfo, ParamKind, PolicyInfo};
use super::spec::{Leaf, Num, Value, fmt_num};
use super::suggest::suggest_from;

/// A resolved parameter value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Float(f64),
    Steps(u64),
    List(Vec<u64>),
    Word(&'static str),
    Bool(bool),
}

/// Every parameter of one policy, resolved against the run, in table order.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    pub info: &'static PolicyInfo,
    values: Vec<(&'static str, Arg)>,
    /// How each value was written, for error messages (`2ep (= 20 steps)`, `run length (0 steps)`).
    shown: Vec<String>,
}

impl Args {
    fn get(&self, key: &str) -> &Arg {
        &self
            .values
            .iter()
            .find(|(k, _)| *k == key)
            .unwrap_or_else(|| panic!("{}: no parameter `{key}` in the table", self.info.name))
            .1
    }

    /// A float, int or step-count parameter as `f64`.
    pub fn f(&self, key: &str) -> f64 {
        match self.get(key) {
            Arg::Float(v) => *v,
            Arg::Steps(s) => *s as f64,
            other => panic!("{}: `{key}` is {other:?}, not a number", self.info.name),
        }
    }

    /// A step-count or int parameter.
    pub fn steps(&self, key: &str) -> u64 {
        match self.get(key) {
            Arg::Steps(s) => *s,
            Arg::Float(v) => *v as u64,
            other => panic!("{}: `{key}` is {other:?}, not a count", self.info.name),
        }
    }

    pub fn list(&self, key: &str) -> &[u64] {
        match self.get(key) {
            Arg::List(l) => l,
            other => panic!("{}: `{key}` is {other:?}, not a list", self.info.name),
        }
    }

    pub fn word(&self, key: &str) -> &'static str {
        match self.get(key) {
            Arg::Word(w) => w,
            other => panic!("{}: `{key}` is {other:?}, not a word", self.info.name),
        }
    }

    pub fn flag(&self, key: &str) -> bool {
        match self.get(key) {
            Arg::Bool(b) => *b,
            other => panic!("{}: `{key}` is {other:?}, not a flag", self.info.name),
        }
    }

    /// Every resolved parameter with its own type (steps and lists as integers, enum words as
    /// strings, flags as booleans), in table order: what `schedule --format json` prints.
    pub fn typed(&self) -> Vec<(String, super::ParamValue)> {
        use super::ParamValue as V;
        self.values
            .iter()
            .map(|(key, arg)| {
                let value = match arg {
                    Arg::Float(v) => V::Float(*v),
                    Arg::Steps(s) => V::Int(*s),
                    Arg::List(items) => V::List(items.clone()),
                    Arg::Word(w) => V::Word(w.to_string()),
                    Arg::Bool(b) => V::Bool(*b),
                };
                (key.to_string(), value)
            })
            .collect()
    }

    /// A cross-parameter or run-length violation on `key`.
    pub fn conflict(&self, key: &str, requirement: impl Into<String>) -> PolicyError {
        let i = self
            .values
            .iter()
            .position(|(k, _)| *k == key)
            .expect("conflict on a known key");
        PolicyError::Conflict {
            policy: self.info.name.into(),
            key: key.into(),
            value: self.shown[i].clone(),
            requirement: requirement.into(),
        }
    }

    /// Every resolved parameter as a number, flattened with stable names: lists as `key.0`,
    /// `key.1`, …; flags as 0/1; enum words as their index in the table's choices.
    pub fn hyperparameters(&self) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        for (param, (key, arg)) in self.info.params.iter().zip(&self.values) {
            match arg {
                Arg::Float(v) => out.push((key.to_string(), *v)),
                Arg::Steps(s) => out.push((key.to_string(), *s as f64)),
                Arg::List(items) => {
                    for (i, s) in items.iter().enumerate() {
                        out.push((format!("{key}.{i}"), *s as f64));
                    }
                }
                Arg::Bool(b) => out.push((key.to_string(), f64::from(u8::from(*b)))),
                Arg::Word(w) => {
                    if let ParamKind::Enum(choices) = param.kind {
                        let index = choices.iter().position(|c| c == w).unwrap_or(0);
                        out.push((key.to_string(), index as f64));
                    }
                }
            }
        }
        out
    }
}

/// Convert a count written in epochs or steps to steps.
pub(crate) fn to_steps(
    n: Num,
    ctx: &ScheduleContext,
    policy: &str,
    key: &str,
) -> Result<u64, PolicyError> {
    if n.value < 0.0 {
        return Err(PolicyError::OutOfRange {
            policy: policy.into(),
            key: key.into(),
            value: n.to_string(),
            allowed: "[0, inf) steps".into(),
        });
    }
    if !n.epochs {
        return Ok(n.value as u64);
    }
    if ctx.steps_per_epoch == 0 {
        return Err(PolicyError::Conflict {
            policy: policy.into(),
            key: key.into(),
            value: n.to_string(),
            requirement: "a count in epochs needs the run's steps_per_epoch, which is 0 here; give the count in steps".into(),
        });
    }
    // Rounded, so fractional epochs (`0.5ep`) work for any batch size.
    Ok((n.value * ctx.steps_per_epoch as f64).round() as u64)
}

fn shown_steps(n: Num, steps: u64) -> String {
    if n.epochs {
        format!("{n} (= {steps} steps)")
    } else {
        n.to_string()
    }
}

/// Resolve every parameter of `leaf` against the table and the run.
pub(crate) fn resolve(leaf: &Leaf, ctx: &ScheduleContext) -> Result<Args, PolicyError> {
    let info = leaf.info;
    // Keys injected with `with_param` skip the parser's key check; catch them here.
    if let Some(key) = leaf.params.keys().find(|k| info.param(k).is_none()) {
        return Err(PolicyError::UnknownKey {
            policy: info.name.into(),
            key: key.clone(),
            suggestion: suggest_from(key, info.params.iter().map(|p| p.name)),
            valid: info.key_list(),
        });
    }
    let mut args = Args {
        info,
        values: Vec::new(),
        shown: Vec::new(),
    };
    for param in info.params {
        let (arg, shown) = match leaf.params.get(param.name) {
            Some(value) => resolve_given(info, param, value, ctx)?,
            None => resolve_default(info, param, &args, ctx)?,
        };
        check_range(info, param, &arg, &shown)?;
        args.values.push((param.name, arg));
        args.shown.push(shown);
    }
    Ok(args)
}

fn wrong_type(info: &PolicyInfo, param: &ParamInfo, value: &Value) -> PolicyError {
    PolicyError::WrongType {
        policy: info.name.into(),
        key: param.name.into(),
        expected: param.kind.expectation(),
        value: value.to_string(),
    }
}

fn negative(info: &PolicyInfo, param: &ParamInfo, value: &Value) -> PolicyError {
    PolicyError::OutOfRange {
        policy: info.name.into(),
        key: param.name.into(),
        value: value.to_string(),
        allowed: allowed(param),
    }
}

fn resolve_given(
    info: &PolicyInfo,
    param: &ParamInfo,
    value: &Value,
    ctx: &ScheduleContext,
) -> Result<(Arg, String), PolicyError> {
    let plain = |v: &Value| match v {
        Value::Num(Num {
            value,
            epochs: false,
        }) => Some(*value),
        _ => None,
    };
    let shown = value.to_string();
    let arg = match param.kind {
        ParamKind::Float => Arg::Float(plain(value).ok_or_else(|| wrong_type(info, param, value))?),
        ParamKind::Int => match plain(value) {
            Some(v) if v.fract() == 0.0 => Arg::Float(v),
            _ => return Err(wrong_type(info, param, value)),
        },
        ParamKind::Steps => match value {
            Value::Num(n) if n.epochs || n.value.fract() == 0.0 => {
                if n.value < 0.0 {
                    return Err(negative(info, param, value));
                }
                let steps = to_steps(*n, ctx, info.name, param.name)?;
                return Ok((Arg::Steps(steps), shown_steps(*n, steps)));
            }
            _ => return Err(wrong_type(info, param, value)),
        },
        ParamKind::StepsList => {
            let items: &[Num] = match value {
                Value::List(items) => items,
                Value::Num(n) => std::slice::from_ref(n),
                _ => return Err(wrong_type(info, param, value)),
            };
            let mut steps = Vec::with_capacity(items.len());
            for n in items {
                if !n.epochs && n.value.fract() != 0.0 {
                    return Err(wrong_type(info, param, value));
                }
                if n.value < 0.0 {
                    return Err(negative(info, param, value));
                }
                steps.push(to_steps(*n, ctx, info.name, param.name)?);
            }
            if items.iter().any(|n| n.epochs) {
                let list: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
                return Ok((
                    Arg::List(steps),
                    format!("{shown} (= {} steps)", list.join(";")),
                ));
            }
            Arg::List(steps)
        }
        ParamKind::Enum(choices) => match value {
            Value::Word(w) => match choices.iter().find(|c| **c == w.as_str()) {
                Some(c) => Arg::Word(c),
                None => return Err(wrong_type(info, param, value)),
            },
            _ => return Err(wrong_type(info, param, value)),
        },
        ParamKind::Bool => match value {
            Value::Bool(b) => Arg::Bool(*b),
            _ => return Err(wrong_type(info, param, value)),
        },
    };
    Ok((arg, shown))
}

fn resolve_default(
    info: &PolicyInfo,
    param: &ParamInfo,
    earlier: &Args,
    ctx: &ScheduleContext,
) -> Result<(Arg, String), PolicyError> {
    Ok(match param.default {
        ParamDefault::Required => {
            return Err(PolicyError::MissingKey {
                policy: info.name.into(),
                key: param.name.into(),
                purpose: param.purpose,
                allowed: allowed(param),
            });
        }
        ParamDefault::Float(v) => {
            let arg = match param.kind {
                ParamKind::Steps => Arg::Steps(v as u64),
                _ => Arg::Float(v),
            };
            (arg, fmt_num(v))
        }
        ParamDefault::Bool(b) => (Arg::Bool(b), b.to_string()),
        ParamDefault::Word(w) => (Arg::Word(w), w.to_string()),
        ParamDefault::RunLength => (
            Arg::Steps(ctx.total_steps),
            format!("{} (default: the run length)", ctx.total_steps),
        ),
        ParamDefault::SameAs(other) => {
            let arg = earlier.get(other).clone();
            let shown = match &arg {
                Arg::Steps(s) => format!("{s} (default: = {other})"),
                a => format!("{a:?}"),
            };
            (arg, shown)
        }
    })
}

/// The allowed values of a parameter, in words, for error messages.
pub(crate) fn allowed(param: &ParamInfo) -> String {
    match param.kind {
        ParamKind::Enum(choices) => choices.join("|"),
        ParamKind::Bool => "true|false".into(),
        ParamKind::Steps => format!("{} steps (or `Nep` epochs)", param.range),
        ParamKind::StepsList => format!(
            "a `;`-separated list of steps in {} (each may be `Nep`)",
            param.range
        ),
        ParamKind::Int => format!("whole numbers in {}", param.range),
        ParamKind::Float => param.range.to_string(),
    }
}

fn check_range(
    info: &PolicyInfo,
    param: &ParamInfo,
    arg: &Arg,
    shown: &str,
) -> Result<(), PolicyError> {
    let ok = match arg {
        Arg::Float(v) => param.range.contains(*v),
        Arg::Steps(s) => param.range.contains(*s as f64),
        Arg::List(items) => items.iter().all(|s| param.range.contains(*s as f64)),
        Arg::Word(_) | Arg::Bool(_) => true,
    };
    if ok {
        Ok(())
    } else {
        Err(PolicyError::OutOfRange {
            policy: info.name.into(),
            key: param.name.into(),
            value: shown.to_string(),
            allowed: allowed(param),
        })
    }
}
