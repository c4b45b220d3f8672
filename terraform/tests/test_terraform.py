"""The terraform, without terraform (it cannot download providers here): every file parses, the
seed's requirements are in it, and the browser role bounds every session policy the presign
Lambda builds (`presign-lambda policy` prints them from the same code the function runs).

Run: python -m unittest discover -s terraform/tests  (with python-hcl2 and PRESIGN_BIN set;
`make test-infra` does both).
"""

import glob
import json
import os
import re
import subprocess
import sys
import unittest
from fnmatch import fnmatchcase

import hcl2

sys.path.insert(0, os.path.dirname(__file__))
from hcl_eval import unquote, value  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))
PRESIGN_BIN = os.environ.get("PRESIGN_BIN", os.path.join(ROOT, "..", "target", "debug", "presign-lambda"))
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PREFIXES = ["docs/", "team/"]


def load(name):
    with open(os.path.join(ROOT, name)) as f:
        return hcl2.load(f)


def blocks(doc, kind, type_name):
    """{name: body} of the `kind "type_name" "name"` blocks of a parsed file."""
    out = {}
    for block in doc.get(kind, []):
        for t, named in block.items():
            if unquote(t) == type_name:
                out.update({unquote(n): body for n, body in named.items()})
    return out


class LazyLocals:
    """main.tf's locals, evaluated when first referenced, over given variables."""

    def __init__(self, variables):
        self.raw = {}
        for block in load("main.tf")["locals"]:
            self.raw.update({k: v for k, v in block.items() if not k.startswith("__")})
        self.known = {f"var.{k}": v for k, v in variables.items()}
        self.known["data.aws_partition.current.partition"] = "aws"
        self.known["data.aws_region.current.region"] = "us-east-1"

    def __contains__(self, key):
        return key in self.known or (key.startswith("local.") and key[6:] in self.raw)

    def __getitem__(self, key):
        if key not in self.known:
            self.known[key] = value(self.raw[key[6:]], self)
        return self.known[key]


def statements(doc_body, env):
    """The statements of an aws_iam_policy_document, dynamic ones expanded, as IAM JSON."""
    out = []

    def add(body, extra_env):
        scope = dict(extra_env)

        class Env:
            def __contains__(self, k):
                return k in scope or k in env

            def __getitem__(self, k):
                return scope[k] if k in scope else env[k]

        e = Env()
        stmt = {
            "Effect": unquote(body.get("effect", '"Allow"')),
            "Action": flat(value(body["actions"], e)),
            "Resource": flat(value(body.get("resources", []), e)),
        }
        for cond in body.get("condition", []):
            c = stmt.setdefault("Condition", {}).setdefault(unquote(cond["test"]), {})
            c[unquote(cond["variable"])] = flat(value(cond["values"], e))
        out.append(stmt)

    for body in doc_body.get("statement", []):
        add(body, {})
    for dyn in doc_body.get("dynamic", []):
        for name, spec in dyn.items():
            assert unquote(name) == "statement", name
            for item in value(spec["for_each"], env):
                for body in spec["content"]:
                    add(body, {"statement.value": item})
    return out


def flat(v):
    if isinstance(v, list):
        return [y for x in v for y in flat(x)]
    return [v]


def covers(pattern, concrete_or_pattern):
    """Whether every string matched by the second IAM pattern is matched by the first. Exact for
    the forms used here: a literal, or a literal ending in `*`."""
    if pattern == concrete_or_pattern:
        return True
    if "*" not in concrete_or_pattern and "?" not in concrete_or_pattern:
        return fnmatchcase(concrete_or_pattern, pattern)
    return pattern.endswith("*") and "*" not in pattern[:-1] and "?" not in pattern and concrete_or_pattern.startswith(pattern[:-1])


def allowed_by(role, action, resource, conditions):
    for r in role:
        if r["Effect"] != "Allow":
            continue
        if not any(fnmatchcase(action, a) for a in r["Action"]):
            continue
        if not any(covers(p, resource) for p in r["Resource"]):
            continue
        ok = True
        for test, keys in r.get("Condition", {}).items():
            for key, values in keys.items():
                mine = conditions.get(test, {}).get(key)
                if mine is None or not all(any(covers(v, m) for v in values) for m in as_list(mine)):
                    ok = False
        if ok:
            return True
    return False


def as_list(v):
    return v if isinstance(v, list) else [v]


def session_policy(prefix, write, kms):
    args = [PRESIGN_BIN, "policy", "--bucket", "s3vec-dev-vector-docs", "--prefix", prefix]
    args += ["--model-id", "amazon.titan-embed-text-v2:0", "--region", "us-east-1"]
    if write:
        args.append("--write")
    if kms:
        args += ["--kms-key-arn", kms]
    return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


def browser_role(write_enabled, kms):
    variables = {
        "project": "s3vec",
        "environment": "dev",
        "vector_bucket_purposes": ["docs", "user-embeddings"],
        "browser_bucket_purpose": "docs",
        "browser_prefixes": PREFIXES,
        "bedrock_model_id": "amazon.titan-embed-text-v2:0",
        "kms_key_arn": kms,
        "write_token_sha256": "ab" * 32 if write_enabled else None,
    }
    env = LazyLocals(variables)
    doc = blocks(load("iam.tf"), "data", "aws_iam_policy_document")["browser_bound"]
    return statements(doc, env), env


class ParsesTest(unittest.TestCase):
    def test_every_terraform_file_parses(self):
        files = glob.glob(os.path.join(ROOT, "**", "*.tf"), recursive=True)
        self.assertGreaterEqual(len(files), 12)
        for path in files:
            with open(path) as f:
                self.assertTrue(hcl2.load(f), path)

    def test_modules_follow_the_standard_layout(self):
        for d in (ROOT, os.path.join(ROOT, "examples", "complete")):
            for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
                self.assertTrue(os.path.exists(os.path.join(d, name)), f"{d}/{name}")

    def test_every_variable_and_output_is_typed_and_described(self):
        for d in (ROOT, os.path.join(ROOT, "examples", "complete")):
            with open(os.path.join(d, "variables.tf")) as f:
                for block in hcl2.load(f)["variable"]:
                    for name, body in block.items():
                        self.assertIn("type", body, name)
                        self.assertIn("description", body, name)
            with open(os.path.join(d, "outputs.tf")) as f:
                for block in hcl2.load(f)["output"]:
                    for name, body in block.items():
                        self.assertIn("description", body, name)


class SeedRequirementsTest(unittest.TestCase):
    def test_buckets_are_named_project_env_vector_purpose(self):
        _, env = browser_role(False, None)
        self.assertEqual(env["local.vector_bucket_names"], {"docs": "s3vec-dev-vector-docs", "user-embeddings": "s3vec-dev-vector-user-embeddings"})
        self.assertEqual(env["local.vector_bucket_glob"], "arn:aws:s3:::s3vec-*-vector-*")

    def test_noncurrent_versions_go_to_glacier_ir_at_90_days_and_expire_at_180(self):
        variables = {}
        for block in load("variables.tf")["variable"]:
            variables.update(block)
        self.assertEqual(variables['"noncurrent_version_transition_days"']["default"], 90)
        self.assertEqual(variables['"noncurrent_version_expiration_days"']["default"], 180)
        rule = blocks(load("vector_buckets.tf"), "resource", "aws_s3_bucket_lifecycle_configuration")["vector"]["rule"][0]
        self.assertEqual(unquote(rule["status"]), "Enabled")
        transition = rule["noncurrent_version_transition"][0]
        self.assertEqual(unquote(transition["storage_class"]), "GLACIER_IR")
        self.assertEqual(transition["noncurrent_days"], "${var.noncurrent_version_transition_days}")
        self.assertEqual(rule["noncurrent_version_expiration"][0]["noncurrent_days"], "${var.noncurrent_version_expiration_days}")

    def test_buckets_are_versioned_encrypted_private_and_tls_only(self):
        doc = load("vector_buckets.tf")
        versioning = blocks(doc, "resource", "aws_s3_bucket_versioning")["vector"]
        self.assertEqual(unquote(versioning["versioning_configuration"][0]["status"]), "Enabled")
        sse = blocks(doc, "resource", "aws_s3_bucket_server_side_encryption_configuration")["vector"]
        algo = sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"]
        self.assertIn('"AES256"', algo)
        self.assertIn('"aws:kms"', algo)
        pab = blocks(doc, "resource", "aws_s3_bucket_public_access_block")["vector"]
        for key in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
            self.assertIs(pab[key], True, key)
        tls = blocks(doc, "data", "aws_iam_policy_document")["vector_bucket"]["statement"][0]
        self.assertEqual(unquote(tls["effect"]), "Deny")
        self.assertEqual(unquote(tls["condition"][0]["variable"]), "aws:SecureTransport")

    def test_management_has_no_object_access_and_services_cannot_configure_buckets(self):
        env = LazyLocals({"project": "s3vec", "environment": "dev", "kms_key_arn": None})
        docs = blocks(load("iam.tf"), "data", "aws_iam_policy_document")
        for s in statements(docs["s3_vector_management"], env):
            self.assertEqual(s["Resource"], ["arn:aws:s3:::s3vec-*-vector-*"])
            for action in s["Action"]:
                self.assertIsNone(re.match(r"s3:(Get|Put|Delete|Restore)Object", action), action)
                self.assertNotIn("*", action)
        service = statements(docs["s3_vector_service_access"], env)
        actions = {a for s in service for a in s["Action"]}
        self.assertEqual(actions, {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"})

    def test_the_presign_function_holds_no_s3_or_bedrock_permission(self):
        doc = blocks(load("lambda.tf"), "data", "aws_iam_policy_document")["presign"]
        env = LazyLocals({"project": "s3vec", "environment": "dev"})
        env.known["aws_iam_role.browser.arn"] = "arn:aws:iam::123456789012:role/s3vec-dev-browser"
        env.known["aws_cloudwatch_log_group.presign.arn"] = "arn:aws:logs:us-east-1:123456789012:log-group:x"
        actions = {a for s in statements(doc, env) for a in s["Action"]}
        self.assertEqual({a.split(":")[0] for a in actions}, {"sts", "logs", "xray"})
        assume = [s for s in statements(doc, env) if "sts:AssumeRole" in s["Action"]]
        self.assertEqual(assume[0]["Resource"], ["arn:aws:iam::123456789012:role/s3vec-dev-browser"])


class PolicyAgreementTest(unittest.TestCase):
    """Every session policy the Lambda builds lies inside the browser role's policy, and the role
    grants nothing no session uses."""

    def check(self, write_enabled, kms):
        role, _ = browser_role(write_enabled, kms)
        used = set()
        accesses = [False, True] if write_enabled else [False]
        for prefix in PREFIXES + ["team/project-a/"]:
            for write in accesses:
                policy = session_policy(prefix, write, kms)
                for s in policy["Statement"]:
                    self.assertEqual(s["Effect"], "Allow")
                    for action in as_list(s["Action"]):
                        for resource in as_list(s["Resource"]):
                            used.add(action)
                            self.assertTrue(
                                allowed_by(role, action, resource, s.get("Condition", {})),
                                f"session {prefix} write={write}: {action} on {resource} "
                                f"{s.get('Condition')} is outside the browser role",
                            )
        granted = {a for r in role for a in r["Action"]}
        self.assertEqual(granted, used, "the role grants actions no session uses")

    def test_read_only_deployments(self):
        self.check(write_enabled=False, kms=None)
        role, _ = browser_role(False, None)
        self.assertFalse({"s3:PutObject", "s3:DeleteObject"} & {a for r in role for a in r["Action"]})

    def test_deployments_with_writers(self):
        self.check(write_enabled=True, kms=None)

    def test_deployments_with_a_kms_key(self):
        self.check(write_enabled=True, kms=KMS_KEY)
        self.check(write_enabled=False, kms=KMS_KEY)

    def test_a_wider_session_would_be_caught(self):
        role, _ = browser_role(False, None)
        self.assertFalse(allowed_by(role, "s3:PutObject", "arn:aws:s3:::s3vec-dev-vector-docs/docs/*", {}))
        self.assertFalse(allowed_by(role, "s3:GetObject", "arn:aws:s3:::s3vec-dev-vector-docs/*", {}))
        self.assertFalse(allowed_by(role, "s3:ListBucket", "arn:aws:s3:::s3vec-dev-vector-docs", {}))
        self.assertFalse(allowed_by(role, "bedrock:InvokeModel", "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v1", {}))


if __name__ == "__main__":
    unittest.main()
