//! IAM policy documents, evaluated the way AWS evaluates a session policy: an explicit `Deny`
//! wins, then any `Allow`, and everything else is an implicit deny.
//!
//! Supported: `Effect`, `Action`/`NotAction`, `Resource`/`NotResource` (strings or arrays, with
//! `*` and `?` wildcards; actions match case-insensitively), and `Condition` blocks with the
//! operators `StringEquals`, `StringNotEquals`, `StringLike`, `StringNotLike` (and their
//! `…IfExists` forms). Condition keys are looked up in the request context, e.g. `s3:prefix` on
//! `ListBucket`. Anything else in a policy is rejected when it is parsed, rather than ignored,
//! because ignoring a condition would grant more than the policy says.

use serde_json::Value;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Clone, Debug, PartialEq)]
struct Statement {
    allow: bool,
    actions: Matcher,
    resources: Matcher,
    conditions: Vec<Condition>,
}

/// Patterns, or their complement (`NotAction`, `NotResource`).
#[derive(Clone, Debug, PartialEq)]
struct Matcher {
    patterns: Vec<String>,
    negated: bool,
}

#[derive(Clone, Debug, PartialEq)]
struct Condition {
    op: Op,
    if_exists: bool,
    key: String,
    values: Vec<String>,
}

/// Named as in IAM's condition operators.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    StringEquals,
    StringNotEquals,
    StringLike,
    StringNotLike,
}

/// Request facts that conditions test, e.g. `{"s3:prefix": "collections/demo/"}`.
pub type Context = HashMap<String, String>;

impl Policy {
    /// Parses a policy document. Errors read like IAM's `MalformedPolicyDocument` messages.
    pub fn parse(json: &str) -> Result<Policy, String> {
        let doc: Value =
            serde_json::from_str(json).map_err(|e| format!("policy is not valid JSON: {e}"))?;
        let statements = match doc.get("Statement") {
            Some(Value::Array(items)) => items
                .iter()
                .map(Statement::parse)
                .collect::<Result<_, _>>()?,
            Some(one @ Value::Object(_)) => vec![Statement::parse(one)?],
            _ => return Err("policy has no Statement".into()),
        };
        Ok(Policy { statements })
    }

    /// A policy that allows everything (what an unrestricted role grants in the local stack).
    pub fn allow_all() -> Policy {
        let any = Matcher {
            patterns: vec!["*".into()],
            negated: false,
        };
        Policy {
            statements: vec![Statement {
                allow: true,
                actions: any.clone(),
                resources: any,
                conditions: vec![],
            }],
        }
    }

    pub fn evaluate(&self, action: &str, resource: &str, context: &Context) -> Decision {
        let mut allowed = false;
        for s in &self.statements {
            if s.actions.matches(action, true)
                && s.resources.matches(resource, false)
                && s.conditions_hold(context)
            {
                if !s.allow {
                    return Decision::ExplicitDeny;
                }
                allowed = true;
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        }
    }
}

impl Statement {
    fn parse(v: &Value) -> Result<Statement, String> {
        let obj = v.as_object().ok_or("each Statement must be an object")?;
        for key in obj.keys() {
            if ![
                "Sid",
                "Effect",
                "Action",
                "NotAction",
                "Resource",
                "NotResource",
                "Condition",
            ]
            .contains(&key.as_str())
            {
                return Err(format!("unsupported policy element {key:?}"));
            }
        }
        let allow = match obj.get("Effect").and_then(Value::as_str) {
            Some("Allow") => true,
            Some("Deny") => false,
            other => {
                return Err(format!(
                    "Effect must be \"Allow\" or \"Deny\", found {other:?}"
                ));
            }
        };
        let actions = Matcher::parse(obj, "Action", "NotAction")?;
        let resources = Matcher::parse(obj, "Resource", "NotResource")?;
        let mut conditions = Vec::new();
        if let Some(block) = obj.get("Condition") {
            let block = block.as_object().ok_or("Condition must be an object")?;
            for (op_name, keys) in block {
                let (base, if_exists) = match op_name.strip_suffix("IfExists") {
                    Some(base) => (base, true),
                    None => (op_name.as_str(), false),
                };
                let op = match base {
                    "StringEquals" => Op::StringEquals,
                    "StringNotEquals" => Op::StringNotEquals,
                    "StringLike" => Op::StringLike,
                    "StringNotLike" => Op::StringNotLike,
                    _ => return Err(format!("unsupported condition operator {op_name:?}")),
                };
                let keys = keys
                    .as_object()
                    .ok_or_else(|| format!("{op_name} must map condition keys to values"))?;
                for (key, values) in keys {
                    conditions.push(Condition {
                        op,
                        if_exists,
                        key: key.to_ascii_lowercase(),
                        values: strings(values, key)?,
                    });
                }
            }
        }
        Ok(Statement {
            allow,
            actions,
            resources,
            conditions,
        })
    }

    fn conditions_hold(&self, context: &Context) -> bool {
        self.conditions.iter().all(|c| {
            let Some(actual) = context
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&c.key))
                .map(|(_, v)| v)
            else {
                // A missing key fails every positive test; the negated ones and …IfExists pass.
                return c.if_exists || matches!(c.op, Op::StringNotEquals | Op::StringNotLike);
            };
            match c.op {
                Op::StringEquals => c.values.iter().any(|v| v == actual),
                Op::StringNotEquals => c.values.iter().all(|v| v != actual),
                Op::StringLike => c.values.iter().any(|v| wildcard(v, actual, false)),
                Op::StringNotLike => c.values.iter().all(|v| !wildcard(v, actual, false)),
            }
        })
    }
}

impl Matcher {
    fn parse(
        obj: &serde_json::Map<String, Value>,
        positive: &str,
        negative: &str,
    ) -> Result<Matcher, String> {
        match (obj.get(positive), obj.get(negative)) {
            (Some(v), None) => Ok(Matcher {
                patterns: strings(v, positive)?,
                negated: false,
            }),
            (None, Some(v)) => Ok(Matcher {
                patterns: strings(v, negative)?,
                negated: true,
            }),
            (Some(_), Some(_)) => Err(format!(
                "a statement cannot have both {positive} and {negative}"
            )),
            (None, None) => Err(format!("a statement needs {positive} or {negative}")),
        }
    }

    fn matches(&self, value: &str, case_insensitive: bool) -> bool {
        self.patterns
            .iter()
            .any(|p| wildcard(p, value, case_insensitive))
            != self.negated
    }
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{what} entries must be strings"))
            })
            .collect(),
        _ => Err(format!("{what} must be a string or an array of strings")),
    }
}

/// IAM wildcard match: `*` is any run of characters, `?` any one character.
pub fn wildcard(pattern: &str, value: &str, case_insensitive: bool) -> bool {
    let norm = |s: &str| {
        if case_insensitive {
            s.to_ascii_lowercase()
        } else {
            s.to_string()
        }
    };
    let (p, v): (Vec<char>, Vec<char>) = (
        norm(pattern).chars().collect(),
        norm(value).chars().collect(),
    );
    // Iterative glob match with backtracking to the last star: linear in practice.
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> Context {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const READ_ONLY: &str = r#"{
      "Version": "2012-10-17",
      "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::vec-dev-vector-docs/demo/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::vec-dev-vector-docs",
         "Condition": {"StringLike": {"s3:prefix": ["demo/*", "demo"]}}},
        {"Effect": "Allow", "Action": "bedrock:InvokeModel",
         "Resource": "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"}
      ]
    }"#;

    #[test]
    fn allows_only_what_is_listed() {
        let p = Policy::parse(READ_ONLY).unwrap();
        let none = Context::new();
        assert_eq!(
            p.evaluate(
                "s3:GetObject",
                "arn:aws:s3:::vec-dev-vector-docs/demo/manifest.json",
                &none
            ),
            Decision::Allow
        );
        assert_eq!(
            p.evaluate(
                "S3:getobject",
                "arn:aws:s3:::vec-dev-vector-docs/demo/a",
                &none
            ),
            Decision::Allow,
            "actions are case-insensitive"
        );
        assert_eq!(
            p.evaluate(
                "s3:GetObject",
                "arn:aws:s3:::vec-dev-vector-docs/other/a",
                &none
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            p.evaluate(
                "s3:GetObject",
                "arn:aws:s3:::vec-dev-vector-docs/DEMO/a",
                &none
            ),
            Decision::ImplicitDeny,
            "resources are case-sensitive"
        );
        assert_eq!(
            p.evaluate(
                "s3:PutObject",
                "arn:aws:s3:::vec-dev-vector-docs/demo/a",
                &none
            ),
            Decision::ImplicitDeny
        );
        let model = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0";
        assert_eq!(
            p.evaluate("bedrock:InvokeModel", model, &none),
            Decision::Allow
        );
        assert_eq!(
            p.evaluate(
                "bedrock:InvokeModel",
                "arn:aws:bedrock:us-east-1::foundation-model/cohere.embed-english-v3",
                &none
            ),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn list_bucket_is_limited_by_the_prefix_condition() {
        let p = Policy::parse(READ_ONLY).unwrap();
        let bucket = "arn:aws:s3:::vec-dev-vector-docs";
        assert!(
            p.evaluate(
                "s3:ListBucket",
                bucket,
                &ctx(&[("s3:prefix", "demo/shards/")])
            )
            .is_allowed()
        );
        assert!(
            p.evaluate("s3:ListBucket", bucket, &ctx(&[("s3:prefix", "demo")]))
                .is_allowed()
        );
        assert!(
            !p.evaluate("s3:ListBucket", bucket, &ctx(&[("s3:prefix", "private/")]))
                .is_allowed()
        );
        assert!(
            !p.evaluate("s3:ListBucket", bucket, &Context::new())
                .is_allowed(),
            "no prefix means the whole bucket"
        );
    }

    #[test]
    fn explicit_deny_wins_and_not_elements_complement() {
        let p = Policy::parse(
            r#"{"Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                {"Effect": "Deny", "Action": ["s3:Delete*", "s3:PutObject"], "Resource": "arn:aws:s3:::b/locked/*"},
                {"Effect": "Deny", "NotAction": "s3:Get*", "NotResource": "arn:aws:s3:::b/*"}
            ]}"#,
        )
        .unwrap();
        let none = Context::new();
        assert_eq!(
            p.evaluate("s3:DeleteObject", "arn:aws:s3:::b/locked/x", &none),
            Decision::ExplicitDeny
        );
        assert_eq!(
            p.evaluate("s3:DeleteObject", "arn:aws:s3:::b/open/x", &none),
            Decision::Allow
        );
        assert_eq!(
            p.evaluate("s3:PutObject", "arn:aws:s3:::other/x", &none),
            Decision::ExplicitDeny
        );
        assert_eq!(
            p.evaluate("s3:GetObject", "arn:aws:s3:::other/x", &none),
            Decision::Allow
        );
    }

    #[test]
    fn negated_and_if_exists_conditions() {
        let p = Policy::parse(
            r#"{"Statement": {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*",
                "Condition": {"StringNotLike": {"s3:prefix": "secret/*"}, "StringEqualsIfExists": {"s3:delimiter": "/"}}}}"#,
        )
        .unwrap();
        assert!(
            p.evaluate("s3:ListBucket", "arn:aws:s3:::b", &Context::new())
                .is_allowed()
        );
        assert!(
            !p.evaluate(
                "s3:ListBucket",
                "arn:aws:s3:::b",
                &ctx(&[("s3:prefix", "secret/x")])
            )
            .is_allowed()
        );
        assert!(
            !p.evaluate(
                "s3:ListBucket",
                "arn:aws:s3:::b",
                &ctx(&[("s3:delimiter", ",")])
            )
            .is_allowed()
        );
    }

    #[test]
    fn rejects_what_it_cannot_enforce() {
        assert!(Policy::parse("{}").unwrap_err().contains("no Statement"));
        assert!(
            Policy::parse(
                r#"{"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}"#
            )
            .unwrap_err()
            .contains("Effect")
        );
        assert!(Policy::parse(r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "1.2.3.4"}}}]}"#)
            .unwrap_err()
            .contains("IpAddress"));
        assert!(Policy::parse(r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"}]}"#).unwrap_err().contains("Principal"));
        assert!(
            Policy::parse(r#"{"Statement": [{"Effect": "Allow", "Resource": "*"}]}"#)
                .unwrap_err()
                .contains("needs Action")
        );
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("s3:Get*", "s3:GetObject", false));
        assert!(wildcard("a?c", "abc", false));
        assert!(!wildcard("a?c", "ac", false));
        assert!(wildcard("*", "", false));
        assert!(wildcard("demo/*/x", "demo/a/b/x", false));
        assert!(!wildcard("demo/*/x", "demo/a/b/y", false));
    }
}
