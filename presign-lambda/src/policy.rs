//! The inline session policy passed to `AssumeRole`: what one browser session may do. The
//! browser role's own policy (terraform/iam.tf) bounds it; `terraform/tests` checks that every
//! statement built here is inside that bound.

use serde_json::{Value, json};

/// What a caller may do under its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// GetObject under the prefix, ListBucket limited to it, InvokeModel on the model.
    Read,
    /// Read, plus PutObject and DeleteObject under the prefix.
    Write,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// Everything a session policy names.
#[derive(Clone, Debug)]
pub struct Scope<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub bucket: &'a str,
    /// Validated by [`validate_prefix`]: ends with `/`, no wildcard or policy variable.
    pub prefix: &'a str,
    pub model_id: &'a str,
    /// The bucket's KMS key, when objects are encrypted with one: sessions then need to use it.
    pub kms_key_arn: Option<&'a str>,
    pub access: Access,
}

/// The foundation-model ARN that `bedrock:InvokeModel` is authorised on.
pub fn model_arn(partition: &str, region: &str, model_id: &str) -> String {
    format!("arn:{partition}:bedrock:{region}::foundation-model/{model_id}")
}

/// The session policy for `scope`, as the JSON text STS takes.
pub fn session_policy(scope: &Scope<'_>) -> String {
    policy_document(scope).to_string()
}

pub fn policy_document(scope: &Scope<'_>) -> Value {
    let Scope {
        partition,
        region,
        bucket,
        prefix,
        model_id,
        kms_key_arn,
        access,
    } = *scope;
    let objects = format!("arn:{partition}:s3:::{bucket}/{prefix}*");
    let object_actions: Vec<&str> = match access {
        Access::Read => vec!["s3:GetObject"],
        Access::Write => vec!["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
    };
    let mut statements = vec![
        json!({
            "Sid": "Objects",
            "Effect": "Allow",
            "Action": object_actions,
            "Resource": objects,
        }),
        // Without the condition a session could list every key of the bucket.
        json!({
            "Sid": "ListPrefix",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": format!("arn:{partition}:s3:::{bucket}"),
            "Condition": {"StringLike": {"s3:prefix": format!("{prefix}*")}},
        }),
        json!({
            "Sid": "Embed",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": model_arn(partition, region, model_id),
        }),
    ];
    if let Some(key) = kms_key_arn {
        // SSE-KMS: reading decrypts with the key, writing asks it for a data key.
        let kms_actions: Vec<&str> = match access {
            Access::Read => vec!["kms:Decrypt"],
            Access::Write => vec!["kms:Decrypt", "kms:GenerateDataKey"],
        };
        statements.push(json!({
            "Sid": "BucketKey",
            "Effect": "Allow",
            "Action": kms_actions,
            "Resource": key,
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Longest prefix accepted: keeps the packed policy far below STS's limit.
pub const MAX_PREFIX_LEN: usize = 256;

/// Checks a collection prefix and returns it with a trailing `/`.
///
/// Only `A-Z a-z 0-9 . _ - /` are allowed: `*` and `?` are wildcards in a policy's Resource and
/// `${` starts a policy variable, either of which would widen the session far past the prefix.
pub fn validate_prefix(prefix: &str) -> Result<String, String> {
    let trimmed = prefix.trim_start_matches('/');
    if trimmed.is_empty() {
        return Err(
            "the prefix is empty: name a collection prefix such as \"docs/\" (a session is \
             never given the whole bucket)"
                .into(),
        );
    }
    if trimmed.len() > MAX_PREFIX_LEN {
        return Err(format!(
            "the prefix is {} characters long: use at most {MAX_PREFIX_LEN}",
            trimmed.len()
        ));
    }
    if let Some(c) = trimmed
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')))
    {
        return Err(format!(
            "the prefix {trimmed:?} contains {c:?}: use only letters, digits, '.', '_', '-' and '/'"
        ));
    }
    if trimmed.split('/').any(|part| part == "." || part == "..") || trimmed.contains("//") {
        return Err(format!(
            "the prefix {trimmed:?} has an empty, '.' or '..' segment: give a plain path like \"docs/\""
        ));
    }
    Ok(if trimmed.ends_with('/') {
        trimmed.to_string()
    } else {
        format!("{trimmed}/")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(access: Access, kms: Option<&'static str>) -> Scope<'static> {
        Scope {
            partition: "aws",
            region: "us-east-1",
            bucket: "s3vec-dev-vector-docs",
            prefix: "docs/",
            model_id: "amazon.titan-embed-text-v2:0",
            kms_key_arn: kms,
            access,
        }
    }

    fn actions(doc: &Value) -> Vec<String> {
        let mut out = Vec::new();
        for s in doc["Statement"].as_array().unwrap() {
            match &s["Action"] {
                Value::String(a) => out.push(a.clone()),
                Value::Array(a) => out.extend(a.iter().map(|v| v.as_str().unwrap().to_string())),
                other => panic!("unexpected Action {other}"),
            }
        }
        out.sort();
        out
    }

    #[test]
    fn read_sessions_get_list_and_invoke_only() {
        let doc = policy_document(&scope(Access::Read, None));
        assert_eq!(
            actions(&doc),
            ["bedrock:InvokeModel", "s3:GetObject", "s3:ListBucket"]
        );
        let s = &doc["Statement"];
        assert_eq!(
            s[0]["Resource"],
            "arn:aws:s3:::s3vec-dev-vector-docs/docs/*"
        );
        assert_eq!(s[1]["Resource"], "arn:aws:s3:::s3vec-dev-vector-docs");
        assert_eq!(s[1]["Condition"]["StringLike"]["s3:prefix"], "docs/*");
        assert_eq!(
            s[2]["Resource"],
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"
        );
    }

    #[test]
    fn write_sessions_add_put_and_delete_on_the_prefix_only() {
        let doc = policy_document(&scope(Access::Write, None));
        assert_eq!(
            actions(&doc),
            [
                "bedrock:InvokeModel",
                "s3:DeleteObject",
                "s3:GetObject",
                "s3:ListBucket",
                "s3:PutObject"
            ]
        );
        assert_eq!(
            doc["Statement"][0]["Resource"],
            "arn:aws:s3:::s3vec-dev-vector-docs/docs/*"
        );
    }

    #[test]
    fn a_kms_key_adds_decrypt_and_for_writers_data_keys() {
        let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let read = policy_document(&scope(Access::Read, Some(key)));
        assert!(actions(&read).contains(&"kms:Decrypt".to_string()));
        assert!(!actions(&read).contains(&"kms:GenerateDataKey".to_string()));
        let write = policy_document(&scope(Access::Write, Some(key)));
        assert!(actions(&write).contains(&"kms:GenerateDataKey".to_string()));
        assert_eq!(write["Statement"][3]["Resource"], key);
    }

    #[test]
    fn the_policy_is_compact_json() {
        let text = session_policy(&scope(Access::Write, None));
        assert!(!text.contains('\n'));
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["Version"], "2012-10-17");
    }

    #[test]
    fn prefixes_get_a_trailing_slash_and_lose_a_leading_one() {
        assert_eq!(validate_prefix("docs").unwrap(), "docs/");
        assert_eq!(validate_prefix("/team-a/docs/").unwrap(), "team-a/docs/");
        assert_eq!(validate_prefix("v1.2_x/").unwrap(), "v1.2_x/");
    }

    #[test]
    fn prefixes_that_would_widen_the_policy_are_refused() {
        for bad in [
            "",
            "/",
            "docs*",
            "do?s/",
            "${aws:username}/",
            "a b/",
            "a//b/",
            "../x/",
            "x/./",
        ] {
            let err = validate_prefix(bad).unwrap_err();
            assert!(err.contains("prefix"), "{bad:?}: {err}");
        }
        assert!(validate_prefix(&"a".repeat(MAX_PREFIX_LEN + 1)).is_err());
        assert!(validate_prefix(&"a".repeat(MAX_PREFIX_LEN)).is_ok());
    }
}
