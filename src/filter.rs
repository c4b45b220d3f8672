//! Metadata filters, in the MongoDB-style syntax most vector databases share:
//!
//! ```json
//! {"section": "graphics", "size": {"$gte": 100, "$lt": 5000}, "$or": [{"priority": "optional"}, {"tags": {"$in": ["gui"]}}]}
//! ```
//!
//! A bare value means `$eq`; several keys in one object are ANDed. Operators: `$eq`, `$ne`,
//! `$in`, `$nin`, `$gt`, `$gte`, `$lt`, `$lte`, `$exists`, and `$and`, `$or`, `$not`.
//! Numbers compare as numbers (`1` equals `1.0`), strings compare by code point; comparing a
//! number with a string is simply false. When the field holds an array, `$eq`/`$in` match if any
//! element matches. A missing field matches only `$ne`, `$nin` and `$exists: false`.
//! Field names may use dots to reach into nested objects (`"package.section"`).

use serde_json::{Map, Value};
use std::cmp::Ordering;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
#[error("invalid filter: {0}")]
pub struct FilterError(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Eq(String, Value),
    Ne(String, Value),
    In(String, Vec<Value>),
    Nin(String, Vec<Value>),
    Compare(String, CmpOp, Value),
    Exists(String, bool),
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

/// A comparison operator of [`Filter::Compare`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmpOp(Cmp);

const OPERATORS: &str = "$eq, $ne, $in, $nin, $gt, $gte, $lt, $lte, $exists";

impl Filter {
    /// Parses a filter from its JSON form.
    pub fn parse(value: &Value) -> Result<Filter, FilterError> {
        let Value::Object(map) = value else {
            return Err(FilterError(format!(
                "a filter is a JSON object like {{\"field\": value}}, not {}",
                kind(value)
            )));
        };
        let mut clauses = Vec::with_capacity(map.len());
        for (key, v) in map {
            clauses.push(match key.as_str() {
                "$and" | "$or" => {
                    let Value::Array(items) = v else {
                        return Err(FilterError(format!("{key} takes an array of filters, not {}", kind(v))));
                    };
                    if items.is_empty() {
                        return Err(FilterError(format!("{key} needs at least one filter")));
                    }
                    let parts = items.iter().map(Filter::parse).collect::<Result<Vec<_>, _>>()?;
                    if key == "$and" { Filter::And(parts) } else { Filter::Or(parts) }
                }
                "$not" => Filter::Not(Box::new(Filter::parse(v)?)),
                op if op.starts_with('$') => {
                    return Err(FilterError(format!("unknown logical operator {op:?}; use $and, $or or $not, or an operator inside a field: {{\"field\": {{\"{op}\": …}}}}")));
                }
                field => parse_field(field, v)?,
            });
        }
        Ok(if clauses.len() == 1 {
            clauses.remove(0)
        } else {
            Filter::And(clauses)
        })
    }

    /// Whether a document with this metadata passes. No metadata behaves like `{}`.
    pub fn matches(&self, metadata: Option<&Map<String, Value>>) -> bool {
        let get = |path: &str| metadata.and_then(|m| lookup(m, path));
        match self {
            Filter::Eq(path, want) => {
                get(path).is_some_and(|v| any_element(v, |x| json_eq(x, want)))
            }
            Filter::Ne(path, want) => {
                !get(path).is_some_and(|v| any_element(v, |x| json_eq(x, want)))
            }
            Filter::In(path, set) => {
                get(path).is_some_and(|v| any_element(v, |x| set.iter().any(|w| json_eq(x, w))))
            }
            Filter::Nin(path, set) => {
                !get(path).is_some_and(|v| any_element(v, |x| set.iter().any(|w| json_eq(x, w))))
            }
            Filter::Compare(path, CmpOp(op), bound) => get(path).is_some_and(|v| {
                compare(v, bound).is_some_and(|ord| match op {
                    Cmp::Gt => ord == Ordering::Greater,
                    Cmp::Gte => ord != Ordering::Less,
                    Cmp::Lt => ord == Ordering::Less,
                    Cmp::Lte => ord != Ordering::Greater,
                })
            }),
            Filter::Exists(path, want) => get(path).is_some() == *want,
            Filter::And(parts) => parts.iter().all(|f| f.matches(metadata)),
            Filter::Or(parts) => parts.iter().any(|f| f.matches(metadata)),
            Filter::Not(inner) => !inner.matches(metadata),
        }
    }
}

fn parse_field(field: &str, v: &Value) -> Result<Filter, FilterError> {
    let ops = match v {
        Value::Object(m) if m.keys().any(|k| k.starts_with('$')) => m,
        _ => return Ok(Filter::Eq(field.to_string(), v.clone())),
    };
    let mut parts = Vec::with_capacity(ops.len());
    for (op, arg) in ops {
        let f = field.to_string();
        parts.push(match op.as_str() {
            "$eq" => Filter::Eq(f, arg.clone()),
            "$ne" => Filter::Ne(f, arg.clone()),
            "$in" | "$nin" => {
                let Value::Array(set) = arg else {
                    return Err(FilterError(format!(
                        "{op} on {field:?} takes an array, not {}",
                        kind(arg)
                    )));
                };
                if op == "$in" {
                    Filter::In(f, set.clone())
                } else {
                    Filter::Nin(f, set.clone())
                }
            }
            "$gt" | "$gte" | "$lt" | "$lte" => {
                if !(arg.is_number() || arg.is_string()) {
                    return Err(FilterError(format!(
                        "{op} on {field:?} compares numbers or strings, not {}",
                        kind(arg)
                    )));
                }
                let cmp = match op.as_str() {
                    "$gt" => Cmp::Gt,
                    "$gte" => Cmp::Gte,
                    "$lt" => Cmp::Lt,
                    _ => Cmp::Lte,
                };
                Filter::Compare(f, CmpOp(cmp), arg.clone())
            }
            "$exists" => match arg {
                Value::Bool(b) => Filter::Exists(f, *b),
                _ => {
                    return Err(FilterError(format!(
                        "$exists on {field:?} takes true or false, not {}",
                        kind(arg)
                    )));
                }
            },
            other => {
                return Err(FilterError(format!(
                    "unknown operator {other:?} on {field:?}; expected one of {OPERATORS}"
                )));
            }
        });
    }
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        Filter::And(parts)
    })
}

fn lookup<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = map.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut current = map.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

fn any_element(v: &Value, pred: impl Fn(&Value) -> bool) -> bool {
    match v {
        Value::Array(items) => pred(v) || items.iter().any(pred),
        _ => pred(v),
    }
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
