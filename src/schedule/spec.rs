//! `PolicySpec`: the raw (parsed, not yet built) policy — text grammar, TOML tables, canonical `Display`.
//!
//! Parsing checks syntax, policy names, keys and value *types* against the policy table; ranges,
//! required keys and run-length rules are checked by [`super::LrPolicy::build`], because the recipe
//! grid may still inject values with [`PolicySpec::with_param`] and some defaults need the run context.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::error::PolicyError;
use super::params::{ParamInfo, ParamKind, PolicyInfo, find_policy, policy_names};
use super::suggest::{suggest, suggest_from};

/// The spec grammar in brief, for `lrcast schedule --list` to print after the policy table.
pub const GRAMMAR_HELP: &str = "\
Spec grammar:
  NAME                                  a policy with its defaults (e.g. `cosine:lr=0.1`)
  NAME:key=value,key=value              PyTorch argument names; lists use `;` (milestones=30;80)
  key=2ep                               any step count may be given in epochs (x steps_per_epoch)
  A @ 500 >> B                          run A for steps 0-499, then B from its own step 0
  A @ 5ep >> B @ 20ep >> C              more phases; milestones are global steps
  A * B                                 multiply LRs (give B lr=1 to use it as a factor)
  ( ... )                               grouping; `*` binds tighter than `@ >>`
Horizon keys (cosine t_max, onecycle total_steps, poly/linear total_iters) default to the run length;
inside `A @ N >> B` to each phase's own length (A: N steps, B: the steps left after N).";

/// A number as written: a plain value or a count of epochs (`2ep`), converted at build time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Num {
    pub value: f64,
    pub epochs: bool,
}

/// A parameter value after type checking against the table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Num(Num),
    List(Vec<Num>),
    Word(String),
    Bool(bool),
}

/// One policy with its explicitly given parameters.
#[derive(Clone, PartialEq)]
pub(crate) struct Leaf {
    pub info: &'static PolicyInfo,
    /// Keyed by lowercase key; a `BTreeMap` so equality ignores the order keys were written in.
    pub params: BTreeMap<String, Value>,
}

impl fmt::Debug for Leaf {
    /// The policy's name rather than its whole table entry.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leaf")
            .field("policy", &self.info.name)
            .field("params", &self.params)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Leaf(Leaf),
    /// Phase i runs from milestone i-1 (0 for the first) and sees the local step t - milestone.
    Seq {
        phases: Vec<PolicySpec>,
        milestones: Vec<Num>,
    },
    /// lr(t) = product of the factors' lr(t).
    Product(Vec<PolicySpec>),
}

/// A learning-rate policy as written by the user: parsed text or a TOML table, not yet validated
/// against ranges or the run. Build it with [`super::LrPolicy::build`].
///
/// See the [module documentation](super) for the grammar. `Display` prints the canonical text
/// (canonical names, keys in table order, shortest round-trip numbers), which parses back to an
/// equal spec.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySpec {
    pub(crate) node: Node,
}

impl PolicySpec {
    /// Parse spec text such as `multistep:lr=0.1,milestones=30;80` or
    /// `linear:lr=0.1,start_factor=0.1,total_iters=5ep @ 5ep >> cosine:lr=0.1`.
    pub fn parse(text: &str) -> Result<PolicySpec, PolicyError> {
        Parser::new(text).parse()
    }

    /// Read a policy given as a TOML table, e.g. `{ name = "step", lr = 0.1, step_size = 30 }`.
    ///
    /// Composites: `{ name = "seq", phases = [P, ...], milestones = [500] }` and
    /// `{ name = "product", factors = [P, ...] }`, where each `P` is a table or spec text.
    pub fn from_toml_table(t: &toml::Table) -> Result<PolicySpec, PolicyError> {
        let shown = toml::Value::Table(t.clone()).to_string();
        let name = match t.get("name") {
            Some(toml::Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(PolicyError::WrongType {
                    policy: "policy table".into(),
                    key: "name".into(),
                    expected: "a policy name string".into(),
                    value: other.to_string(),
                });
            }
            None => {
                return Err(PolicyError::syntax(
                    &shown,
                    0,
                    format!(
                        "a policy table needs `name` (one of {}, or seq / product)",
                        policy_names()
                    ),
                ));
            }
        };
        match name.to_ascii_lowercase().as_str() {
            "seq" => from_toml_seq(t),
            "product" => from_toml_product(t),
            _ => {
                let info = lookup_policy(name)?;
                let mut params = BTreeMap::new();
                for (key, value) in t {
                    if key == "name" {
                        continue;
                    }
                    let param = lookup_key(info, key)?;
                    let raw = raw_from_toml(info, param, value)?;
                    let typed = typed_value(info, param, raw, &value.to_string())?;
                    params.insert(param.name.to_string(), typed);
                }
                Ok(PolicySpec {
                    node: Node::Leaf(Leaf { info, params }),
                })
            }
        }
    }

    /// A policy given in a recipe either as spec text or as a table.
    pub fn from_toml_value(v: &toml::Value) -> Result<PolicySpec, PolicyError> {
        match v {
            toml::Value::String(s) => PolicySpec::parse(s),
            toml::Value::Table(t) => PolicySpec::from_toml_table(t),
            other => Err(PolicyError::WrongType {
                policy: "policy".into(),
                key: "policy".into(),
                expected: "spec text (`step:lr=0.1,step_size=30`) or a table with `name`".into(),
                value: other.to_string(),
            }),
        }
    }

    /// Top-level policy name: the canonical table name for a single policy, `"seq"` for sequential
    /// phases and `"product"` for a product.
    pub fn name(&self) -> &str {
        match &self.node {
            Node::Leaf(l) => l.info.name,
            Node::Seq { .. } => "seq",
            Node::Product(_) => "product",
        }
    }

    /// Set (or override) one scalar parameter; the recipe grid uses it to inject the base LR.
    ///
    /// On composites, `pI.key` targets phase / factor `I` (nesting: `p1.p0.lr`). A bare key goes to
    /// every phase of a sequence that has that key (so a warm-up and its main phase share the swept
    /// LR) and to the first factor of a product (the other factors are unitless multipliers). A key
    /// no policy accepts is stored anyway and reported by `build`.
    pub fn with_param(&self, key: &str, value: f64) -> PolicySpec {
        let mut out = self.clone();
        out.set_param(&key.to_ascii_lowercase(), value);
        out
    }

    fn set_param(&mut self, key: &str, value: f64) {
        if let Some((index, rest)) = split_prefixed(key) {
            match &mut self.node {
                Node::Seq {
                    phases: children, ..
                }
                | Node::Product(children) => {
                    if let Some(child) = children.get_mut(index) {
                        child.set_param(rest, value);
                        return;
                    }
                }
                Node::Leaf(_) => {}
            }
        }
        match &mut self.node {
            Node::Leaf(leaf) => {
                let n = Num {
                    value,
                    epochs: false,
                };
                // Keep the value's shape canonical so Display / parse round-trips.
                let v = match leaf.info.param(key).map(|p| p.kind) {
                    Some(ParamKind::StepsList) => Value::List(vec![n]),
                    _ => Value::Num(n),
                };
                leaf.params.insert(key.to_string(), v);
            }
            Node::Seq { phases, .. } => {
                let mut any = false;
                for phase in phases.iter_mut().filter(|p| p.accepts_key(key)) {
                    phase.set_param(key, value);
                    any = true;
                }
                if !any {
                    phases[0].set_param(key, value);
                }
            }
            Node::Product(factors) => factors[0].set_param(key, value),
        }
    }

    /// The spec without scalar parameter `key` (everywhere [`Self::with_param`] would set it):
    /// `predict` turns `cosine:lr=0.1` back into the grid's `cosine` plus a base LR of 0.1.
    pub fn without_param(&self, key: &str) -> PolicySpec {
        let mut out = self.clone();
        out.remove_param(&key.to_ascii_lowercase());
        out
    }

    fn remove_param(&mut self, key: &str) {
        match &mut self.node {
            Node::Leaf(leaf) => {
                leaf.params.remove(key);
            }
            Node::Seq { phases, .. } => phases.iter_mut().for_each(|p| p.remove_param(key)),
            Node::Product(factors) => factors[0].remove_param(key),
        }
    }

    fn accepts_key(&self, key: &str) -> bool {
        match &self.node {
            Node::Leaf(l) => l.info.param(key).is_some(),
            Node::Seq { phases, .. } => phases.iter().any(|p| p.accepts_key(key)),
            Node::Product(factors) => factors[0].accepts_key(key),
        }
    }

    /// The key a recipe's `base_lr` sweep sets: the key holding the policy's peak LR — `lr` for
    /// most PyTorch policies, `max_lr` for the CyclicLR modes and `onecycle`, `k0` for LRBench's
    /// FIX/STEP/NSTEP/EXP/INV and `k1` for its range policies (POLY, COS, TRI*, SIN*). Composites
    /// report their first phase / factor's key (and [`Self::with_param`] with a bare key reaches
    /// every phase that has it).
    pub fn primary_lr_key(&self) -> Option<&'static str> {
        match &self.node {
            Node::Leaf(l) => l.info.primary_lr_key,
            Node::Seq { phases: c, .. } | Node::Product(c) => c[0].primary_lr_key(),
        }
    }

    /// The explicitly given value of a scalar key of a single policy (`None` for composites, lists,
    /// words, epochs, or absent keys). Handy for recipes that want to read back what they injected.
    pub fn param(&self, key: &str) -> Option<f64> {
        match &self.node {
            Node::Leaf(l) => match l.params.get(&key.to_ascii_lowercase()) {
                Some(Value::Num(Num {
                    value,
                    epochs: false,
                })) => Some(*value),
                _ => None,
            },
            _ => None,
        }
    }
}

fn split_prefixed(key: &str) -> Option<(usize, &str)> {
    let rest = key.strip_prefix('p')?;
    let (index, rest) = rest.split_once('.')?;
    Some((index.parse().ok()?, rest))
}

impl FromStr for PolicySpec {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PolicySpec::parse(s)
    }
}

// ---- Display ------------------------------------------------------------------------------------

/// Shortest text that parses back to exactly `v`: integers without a fraction, else Rust's
/// round-trip `Debug` formatting (`0.1`, `1e-5`).
pub(crate) fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&fmt_num(self.value))?;
        if self.epochs {
            f.write_str("ep")?;
        }
        Ok(())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Num(n) => n.fmt(f),
            Value::List(items) => {
                for (i, n) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(";")?;
                    }
                    n.fmt(f)?;
                }
                Ok(())
            }
            Value::Word(w) => f.write_str(w),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl Leaf {
    /// Given parameters in table order, then any keys unknown to the table (only reachable through
    /// `with_param`) alphabetically, so the canonical text is stable.
    pub(crate) fn ordered_params(&self) -> Vec<(&str, &Value)> {
        let mut out: Vec<(&str, &Value)> = self
            .info
            .params
            .iter()
            .filter_map(|p| self.params.get(p.name).map(|v| (p.name, v)))
            .collect();
        out.extend(
            self.params
                .iter()
                .filter(|(k, _)| self.info.param(k).is_none())
                .map(|(k, v)| (k.as_str(), v)),
        );
        out
    }
}

impl fmt::Display for PolicySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Node::Leaf(leaf) => {
                f.write_str(leaf.info.name)?;
                for (i, (k, v)) in leaf.ordered_params().into_iter().enumerate() {
                    f.write_str(if i == 0 { ":" } else { "," })?;
                    write!(f, "{k}={v}")?;
                }
                Ok(())
            }
            Node::Seq { phases, milestones } => {
                for (i, phase) in phases.iter().enumerate() {
                    if i > 0 {
                        write!(f, " @ {} >> ", milestones[i - 1])?;
                    }
                    // A nested sequence needs parentheses: flat `A @ m >> B @ n >> C` would be one
                    // sequence with global milestones, which means something else.
                    if matches!(phase.node, Node::Seq { .. }) {
                        write!(f, "({phase})")?;
                    } else {
                        write!(f, "{phase}")?;
                    }
                }
                Ok(())
            }
            Node::Product(factors) => {
                for (i, factor) in factors.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" * ")?;
                    }
                    if matches!(factor.node, Node::Leaf(_)) {
                        write!(f, "{factor}")?;
                    } else {
                        write!(f, "({factor})")?;
                    }
                }
                Ok(())
            }
        }
    }
}

// ---- raw scalars (shared by text and TOML) ------------------------------------------------------

/// A value before type checking.
#[derive(Debug, Clone, PartialEq)]
enum Raw {
    Num(f64),
    Epochs(f64),
    Word(String),
    Bool(bool),
    List(Vec<Raw>),
}

fn raw_scalar_from_text(s: &str) -> Option<Raw> {
    let s = s.trim();
    if let Some(n) = s.strip_suffix("ep").and_then(parse_finite) {
        return Some(Raw::Epochs(n));
    }
    if let Some(n) = parse_finite(s) {
        return Some(Raw::Num(n));
    }
    match s.to_ascii_lowercase().as_str() {
        "true" => return Some(Raw::Bool(true)),
        "false" => return Some(Raw::Bool(false)),
        _ => {}
    }
    let is_word = !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    is_word.then(|| Raw::Word(s.to_ascii_lowercase()))
}

/// A finite decimal number; rejects `inf` / `nan`, which `f64::from_str` would accept.
fn parse_finite(s: &str) -> Option<f64> {
    let s = s.trim();
    let looks_numeric = s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    if !looks_numeric {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn raw_from_toml(
    info: &PolicyInfo,
    param: &ParamInfo,
    v: &toml::Value,
) -> Result<Raw, PolicyError> {
    let scalar = |v: &toml::Value| -> Option<Raw> {
        match v {
            toml::Value::Integer(i) => Some(Raw::Num(*i as f64)),
            toml::Value::Float(x) if x.is_finite() => Some(Raw::Num(*x)),
            toml::Value::Boolean(b) => Some(Raw::Bool(*b)),
            toml::Value::String(s) => raw_scalar_from_text(s),
            _ => None,
        }
    };
    let bad = || PolicyError::WrongType {
        policy: info.name.into(),
        key: param.name.into(),
        expected: param.kind.expectation(),
        value: v.to_string(),
    };
    match v {
        toml::Value::Array(items) => items
            .iter()
            .map(|i| scalar(i).ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()
            .map(Raw::List),
        _ => scalar(v).ok_or_else(bad),
    }
}

/// Check a raw value against the key's type from the table.
fn typed_value(
    info: &PolicyInfo,
    param: &ParamInfo,
    raw: Raw,
    shown: &str,
) -> Result<Value, PolicyError> {
    let bad = || PolicyError::WrongType {
        policy: info.name.into(),
        key: param.name.into(),
        expected: param.kind.expectation(),
        value: shown.to_string(),
    };
    let step_count = |r: &Raw| -> Option<Num> {
        match *r {
            Raw::Num(v) if v.fract() == 0.0 => Some(Num {
                value: v,
                epochs: false,
            }),
            Raw::Epochs(v) => Some(Num {
                value: v,
                epochs: true,
            }),
            _ => None,
        }
    };
    match (param.kind, &raw) {
        (ParamKind::Float, Raw::Num(v)) => Ok(Value::Num(Num {
            value: *v,
            epochs: false,
        })),
        (ParamKind::Int, Raw::Num(v)) if v.fract() == 0.0 => Ok(Value::Num(Num {
            value: *v,
            epochs: false,
        })),
        (ParamKind::Steps, r) => step_count(r).map(Value::Num).ok_or_else(bad),
        (ParamKind::StepsList, Raw::List(items)) => items
            .iter()
            .map(|r| step_count(r).ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List),
        (ParamKind::StepsList, r) => step_count(r).map(|n| Value::List(vec![n])).ok_or_else(bad),
        (ParamKind::Enum(choices), Raw::Word(w)) if choices.contains(&w.as_str()) => {
            Ok(Value::Word(w.clone()))
        }
        (ParamKind::Bool, Raw::Bool(b)) => Ok(Value::Bool(*b)),
        _ => Err(bad()),
    }
}

fn lookup_policy(name: &str) -> Result<&'static PolicyInfo, PolicyError> {
    find_policy(name.trim()).ok_or_else(|| PolicyError::UnknownPolicy {
        name: name.trim().to_string(),
        suggestion: suggest(name.trim()),
        valid: policy_names(),
    })
}

fn lookup_key(info: &'static PolicyInfo, key: &str) -> Result<&'static ParamInfo, PolicyError> {
    let lower = key.trim().to_ascii_lowercase();
    if let Some(p) = info.param(&lower) {
        return Ok(p);
    }
    let mut valid = info.key_list();
    // LRBench's STEP / EXP / POLY share their lowercase names with PyTorch's policies; point users
    // who wrote LRBench keys (`step:k0=...`) at the `lrb_` spelling.
    let lrb_name = format!("lrb_{}", info.name);
    if let Some(lrb) = find_policy(&lrb_name).filter(|p| p.param(&lower).is_some()) {
        valid.push_str(&format!(
            " (LRBench's {} with keys {} is `{}`)",
            info.name.to_ascii_uppercase(),
            lrb.key_list(),
            lrb.name
        ));
    }
    Err(PolicyError::UnknownKey {
        policy: info.name.into(),
        key: key.trim().to_string(),
        suggestion: suggest_from(&lower, info.params.iter().map(|p| p.name)),
        valid,
    })
}

// ---- TOML composites ----------------------------------------------------------------------------

fn toml_children(t: &toml::Table, kind: &str, key: &str) -> Result<Vec<PolicySpec>, PolicyError> {
    match t.get(key) {
        Some(toml::Value::Array(items)) if items.len() >= 2 => {
            items.iter().map(PolicySpec::from_toml_value).collect()
        }
        other => Err(PolicyError::WrongType {
            policy: kind.into(),
            key: key.into(),
            expected: "an array of at least two policies (tables or spec text)".into(),
            value: other.map_or("nothing".into(), |v| v.to_string()),
        }),
    }
}

fn from_toml_seq(t: &toml::Table) -> Result<PolicySpec, PolicyError> {
    check_only_keys(t, "seq", &["name", "phases", "milestones"])?;
    let phases = toml_children(t, "seq", "phases")?;
    let expected = format!(
        "an array of {} step counts (each may be `Nep`), one per phase boundary",
        phases.len() - 1
    );
    let bad = |v: String| PolicyError::WrongType {
        policy: "seq".into(),
        key: "milestones".into(),
        expected: expected.clone(),
        value: v,
    };
    let milestones = match t.get("milestones") {
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|v| {
                let raw = match v {
                    toml::Value::Integer(i) => Some(Raw::Num(*i as f64)),
                    toml::Value::String(s) => raw_scalar_from_text(s),
                    _ => None,
                };
                match raw {
                    Some(Raw::Num(x)) if x.fract() == 0.0 => Ok(Num {
                        value: x,
                        epochs: false,
                    }),
                    Some(Raw::Epochs(x)) => Ok(Num {
                        value: x,
                        epochs: true,
                    }),
                    _ => Err(bad(v.to_string())),
                }
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => return Err(bad(other.map_or("nothing".into(), |v| v.to_string()))),
    };
    if milestones.len() != phases.len() - 1 {
        return Err(bad(format!("{} milestones", milestones.len())));
    }
    Ok(PolicySpec {
        node: Node::Seq { phases, milestones },
    })
}

fn from_toml_product(t: &toml::Table) -> Result<PolicySpec, PolicyError> {
    check_only_keys(t, "product", &["name", "factors"])?;
    Ok(PolicySpec {
        node: Node::Product(toml_children(t, "product", "factors")?),
    })
}

fn check_only_keys(
    t: &toml::Table,
    kind: &str,
    allowed: &[&'static str],
) -> Result<(), PolicyError> {
    match t.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(PolicyError::UnknownKey {
            policy: kind.into(),
            key: k.clone(),
            suggestion: suggest_from(k, allowed.iter().copied()),
            valid: allowed.join(", "),
        }),
        None => Ok(()),
    }
}

// ---- text parser --------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok<'a> {
    Open,
    Close,
    Star,
    At,
    Then,
    /// A run of text between operators: a single policy, or a milestone after `@`.
    Text(&'a str),
}

/// Deepest nesting of parentheses a spec may have. Real compositions nest two or three levels; the
/// parser recurses per level, so an unbounded depth would overflow the stack instead of erring.
pub const MAX_NESTING: usize = 32;

struct Parser<'a> {
    src: &'a str,
    toks: Vec<(Tok<'a>, usize)>,
    pos: usize,
    /// Parentheses open at the current position.
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser {
            src,
            toks: Vec::new(),
            pos: 0,
            depth: 0,
        }
    }

    fn err(&self, at: usize, message: impl Into<String>) -> PolicyError {
        PolicyError::syntax(self.src, at, message)
    }

    fn tokenize(&mut self) -> Result<(), PolicyError> {
        let bytes = self.src.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let (tok, len) = match bytes[i] {
                b'(' => (Tok::Open, 1),
                b')' => (Tok::Close, 1),
                b'*' => (Tok::Star, 1),
                b'@' => (Tok::At, 1),
                b'>' if bytes.get(i + 1) == Some(&b'>') => (Tok::Then, 2),
                b'>' => return Err(self.err(i, "a single `>`; phases are joined with `>>`")),
                c if c.is_ascii_whitespace() => {
                    i += 1;
                    continue;
                }
                _ => {
                    let end = bytes[i..]
                        .iter()
                        .position(|c| b"()*@>".contains(c))
                        .map_or(bytes.len(), |p| i + p);
                    let text = self.src[i..end].trim_end();
                    (Tok::Text(text), end - i)
                }
            };
            self.toks.push((tok, i));
            i += len;
        }
        Ok(())
    }

    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.pos).map(|t| t.0)
    }

    fn here(&self) -> usize {
        self.toks.get(self.pos).map_or(self.src.len(), |t| t.1)
    }

    fn parse(mut self) -> Result<PolicySpec, PolicyError> {
        if self.src.trim().is_empty() {
            return Err(PolicyError::Empty);
        }
        self.tokenize()?;
        let spec = self.seq()?;
        if let Some(tok) = self.peek() {
            let msg = match tok {
                Tok::Close => "unmatched `)`".to_string(),
                Tok::Text(t) => format!(
                    "unexpected `{t}`; separate phases with `@ STEP >>` and factors with `*`"
                ),
                _ => "unexpected operator".to_string(),
            };
            return Err(self.err(self.here(), msg));
        }
        Ok(spec)
    }

    /// seq := product ( '@' STEPS '>>' product )*
    fn seq(&mut self) -> Result<PolicySpec, PolicyError> {
        let mut phases = vec![self.product()?];
        let mut milestones = Vec::new();
        while self.peek() == Some(Tok::At) {
            self.pos += 1;
            let at = self.here();
            let milestone = match self.peek() {
                Some(Tok::Text(t)) => {
                    self.pos += 1;
                    match raw_scalar_from_text(t) {
                        Some(Raw::Num(v)) if v.fract() == 0.0 => Num {
                            value: v,
                            epochs: false,
                        },
                        Some(Raw::Epochs(v)) => Num {
                            value: v,
                            epochs: true,
                        },
                        _ => {
                            return Err(self.err(
                                at,
                                format!(
                                    "milestone `{t}` after `@` must be a whole step count or `Nep`"
                                ),
                            ));
                        }
                    }
                }
                _ => {
                    return Err(self.err(
                        at,
                        "expected a step count after `@` (e.g. `@ 500` or `@ 5ep`)",
                    ));
                }
            };
            if self.peek() != Some(Tok::Then) {
                return Err(self.err(
                    self.here(),
                    "expected `>>` after the milestone (`A @ 500 >> B`)",
                ));
            }
            self.pos += 1;
            milestones.push(milestone);
            phases.push(self.product()?);
        }
        if self.peek() == Some(Tok::Then) {
            return Err(self.err(
                self.here(),
                "`>>` needs a milestone before it: write `A @ STEP >> B`",
            ));
        }
        Ok(if phases.len() == 1 {
            phases.pop().expect("one phase")
        } else {
            PolicySpec {
                node: Node::Seq { phases, milestones },
            }
        })
    }

    /// product := atom ( '*' atom )*
    fn product(&mut self) -> Result<PolicySpec, PolicyError> {
        let mut factors = vec![self.atom()?];
        while self.peek() == Some(Tok::Star) {
            self.pos += 1;
            factors.push(self.atom()?);
        }
        Ok(if factors.len() == 1 {
            factors.pop().expect("one factor")
        } else {
            PolicySpec {
                node: Node::Product(factors),
            }
        })
    }

    /// atom := '(' seq ')' | POLICY
    fn atom(&mut self) -> Result<PolicySpec, PolicyError> {
        let at = self.here();
        match self.peek() {
            Some(Tok::Open) => {
                if self.depth == MAX_NESTING {
                    return Err(self.err(
                        at,
                        format!(
                            "parentheses nested more than {MAX_NESTING} deep; flatten the spec"
                        ),
                    ));
                }
                self.pos += 1;
                self.depth += 1;
                let inner = self.seq()?;
                self.depth -= 1;
                if self.peek() != Some(Tok::Close) {
                    return Err(self.err(self.here(), "expected `)`"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(Tok::Text(t)) => {
                self.pos += 1;
                self.leaf(t, at)
            }
            _ => Err(self.err(at, "expected a policy (NAME or NAME:key=value,...)")),
        }
    }

    /// POLICY := NAME [ ':' key=value ( ',' key=value )* ]
    fn leaf(&self, text: &str, at: usize) -> Result<PolicySpec, PolicyError> {
        let (name, rest) = match text.split_once(':') {
            Some((n, r)) => (n, Some(r)),
            None => (text, None),
        };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(self.err(at, format!("`{name}` is not a policy name")));
        }
        let info = lookup_policy(name)?;
        let mut params = BTreeMap::new();
        if let Some(rest) = rest {
            let mut offset = at + text.find(':').expect("has ':'") + 1;
            for item in rest.split(',') {
                let item_at = offset;
                offset += item.len() + 1;
                let Some((key, value)) = item.split_once('=') else {
                    return Err(self.err(
                        item_at,
                        format!(
                            "expected key=value, got `{}` ({} keys: {})",
                            item.trim(),
                            info.name,
                            info.key_list()
                        ),
                    ));
                };
                let param = lookup_key(info, key)?;
                let value = value.trim();
                let raw = if value.contains(';') {
                    value
                        .split(';')
                        .map(|s| raw_scalar_from_text(s).ok_or(()))
                        .collect::<Result<Vec<_>, _>>()
                        .map(Raw::List)
                } else {
                    raw_scalar_from_text(value).ok_or(())
                };
                let raw = raw.map_err(|()| PolicyError::WrongType {
                    policy: info.name.into(),
                    key: param.name.into(),
                    expected: param.kind.expectation(),
                    value: value.to_string(),
                })?;
                let typed = typed_value(info, param, raw, value)?;
                if let Some(previous) = params.insert(param.name.to_string(), typed) {
                    return Err(PolicyError::DuplicateKey {
                        policy: info.name.into(),
                        key: param.name.into(),
                        value: format!("{previous} and {value}"),
                    });
                }
            }
        }
        Ok(PolicySpec {
            node: Node::Leaf(Leaf { info, params }),
        })
    }
}
