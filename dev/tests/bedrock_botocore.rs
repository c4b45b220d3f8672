//! Signature fidelity against an independent signer: botocore's `SigV4Auth` (the signer of the
//! AWS CLI and boto3) signs InvokeModel requests for `bedrock` in us-east-1 with a session
//! token, urllib sends them to the in-process service.
//!
//! botocore comes from PyPI: the test uses it if `python3` already has it, else installs it into
//! a virtual environment under the target directory (once). If that is impossible the test fails
//! and says why; it never passes without running the signer.

mod bedrock_common;

use bedrock_common::*;
use s3vec_dev::bedrock::BedrockConfig;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

/// Signs `sign_body`, sends `send_body`, prints `{"status", "headers", "body"}`.
const SIGN_AND_SEND: &str = r#"
import json, sys, urllib.request, urllib.error
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

url, access_key, secret, token, sign_body, send_body = sys.argv[1:7]
request = AWSRequest(method="POST", url=url, data=sign_body.encode(),
                     headers={"Content-Type": "application/json", "Accept": "application/json"})
SigV4Auth(Credentials(access_key, secret, token), "bedrock", "us-east-1").add_auth(request)
prepared = request.prepare()
# urllib sets Content-Length from the body it sends (botocore does not sign it).
headers = {k: v for k, v in prepared.headers.items() if k.lower() != "content-length"}
out = urllib.request.Request(url, data=send_body.encode(), method="POST", headers=headers)
try:
    with urllib.request.urlopen(out, timeout=60) as response:
        status, headers, body = response.status, dict(response.headers), response.read()
except urllib.error.HTTPError as e:
    status, headers, body = e.code, dict(e.headers), e.read()
print(json.dumps({"status": status, "headers": {k.lower(): v for k, v in headers.items()},
                  "body": json.loads(body)}))
"#;

fn has_botocore(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import botocore"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A Python interpreter that can import botocore, installing it from PyPI if needed.
fn python_with_botocore() -> PathBuf {
    let system = PathBuf::from(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()));
    if has_botocore(&system) {
        return system;
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("botocore-venv");
    let python = venv.join("bin/python");
    if !has_botocore(&python) {
        let status = Command::new(&system)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap_or_else(|e| {
                panic!(
                    "this test needs {} (to run botocore): {e}",
                    system.display()
                )
            });
        assert!(
            status.success(),
            "`{} -m venv {}` failed: install python3-venv, or botocore for {} \
             (pip install botocore)",
            system.display(),
            venv.display(),
            system.display()
        );
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "botocore",
            ])
            .status()
            .expect("running pip");
        assert!(
            status.success(),
            "pip install botocore failed (PyPI must be reachable)"
        );
    }
    assert!(has_botocore(&python), "botocore is still not importable");
    python
}

fn botocore_invoke(
    python: &Path,
    url: &str,
    keys: &Keys,
    sign_body: &str,
    send_body: &str,
) -> Value {
    let output = Command::new(python)
        .args(["-c", SIGN_AND_SEND, url, &keys.access_key, &keys.secret])
        .arg(keys.token.as_deref().unwrap_or(""))
        .args([sign_body, send_body])
        .output()
        .expect("running python");
    assert!(
        output.status.success(),
        "the botocore script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn botocore_signed_requests_are_verified() {
    let python = tokio::task::spawn_blocking(python_with_botocore)
        .await
        .unwrap();
    let server = start(BedrockConfig::default()).await;
    let policy = format!(
        r#"{{"Statement": {{"Effect": "Allow", "Action": "bedrock:InvokeModel",
            "Resource": "arn:aws:bedrock:{REGION}::foundation-model/{V2}"}}}}"#
    );
    let keys = server.session(Some(&policy), Duration::from_secs(900), SystemTime::now());
    assert!(keys.token.is_some());
    // The model id's `:` travels as %3A and is signed double-encoded (%253A) by botocore.
    let url = server.invoke_url(V2);
    assert!(url.contains("%3A"));
    let body = json!({"inputText": "The weather is lovely today.", "dimensions": 256,
                      "embeddingTypes": ["float", "binary"]})
    .to_string();

    let (p, u, k, b) = (python.clone(), url.clone(), keys.clone(), body.clone());
    let ok = tokio::task::spawn_blocking(move || botocore_invoke(&p, &u, &k, &b, &b))
        .await
        .unwrap();
    assert_eq!(ok["status"], 200, "{ok}");
    assert_eq!(ok["body"]["embedding"].as_array().unwrap().len(), 256);
    assert_eq!(
        ok["body"]["embeddingsByType"]["binary"]
            .as_array()
            .unwrap()
            .len(),
        256
    );
    assert_eq!(ok["body"]["inputTextTokenCount"], 6);
    assert!(ok["headers"]["x-amzn-requestid"].is_string());

    // The body changed after signing.
    let tampered = body.replace("lovely", "awful");
    let (p, u, k) = (python.clone(), url.clone(), keys.clone());
    let bad = tokio::task::spawn_blocking(move || botocore_invoke(&p, &u, &k, &body, &tampered))
        .await
        .unwrap();
    assert_eq!(bad["status"], 403, "{bad}");
    assert_eq!(
        bad["headers"]["x-amzn-errortype"],
        "InvalidSignatureException"
    );
    assert!(
        bad["body"]["message"]
            .as_str()
            .unwrap()
            .starts_with("The request signature we calculated does not match")
    );

    // Signed with the session's keys but another model than the policy allows.
    let v1 = server.invoke_url(V1);
    let (p, k) = (python.clone(), keys.clone());
    let denied = tokio::task::spawn_blocking(move || {
        botocore_invoke(
            &p,
            &v1,
            &k,
            r#"{"inputText": "hi"}"#,
            r#"{"inputText": "hi"}"#,
        )
    })
    .await
    .unwrap();
    assert_eq!(denied["status"], 403, "{denied}");
    assert_eq!(
        denied["headers"]["x-amzn-errortype"],
        "AccessDeniedException"
    );
}
