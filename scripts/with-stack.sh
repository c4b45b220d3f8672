#!/usr/bin/env bash
# Runs a command with the local stack up: `scripts/with-stack.sh [--bedrock] CMD ARGS...`.
# Starts target/debug/s3vec-dev (built if missing) on a free port with CORS open to any origin,
# exports S3VEC_TEST_STACK="endpoint|access key|secret|region" for the wasm tests that need a
# live stack (tests/aws_wasm_stack.rs), runs the command, and stops the stack by PID.
# --bedrock also starts the Bedrock-compatible service (one worker) and exports its URL as
# S3VEC_TEST_BEDROCK (tests/js/, tests/vite-app/).
set -euo pipefail
cd "$(dirname "$0")/.."
extra=()
if [[ ${1:-} == --bedrock ]]; then
  shift
  extra=(--bedrock-port 0 --bedrock-workers 1)
fi
bin=${S3VEC_DEV_BIN:-target/debug/s3vec-dev}
[ -x "$bin" ] || cargo build -p s3vec-dev
work=$(mktemp -d)
ready="$work/ready.json"
"$bin" --s3-port 0 --bucket vec-test --cors-origin '*' --ready-file "$ready" "${extra[@]}" >"$work/stack.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
# The Bedrock service loads its model (fetched on first use) before the ready file appears.
for _ in $(seq 1 3000); do
  [ -s "$ready" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/stack.log" >&2; echo "s3vec-dev exited before it was ready" >&2; exit 1; }
  sleep 0.1
done
[ -s "$ready" ] || { echo "s3vec-dev was not ready after 300 s" >&2; exit 1; }
S3VEC_TEST_STACK=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("|".join([r["s3"], r["access_key_id"], r["secret_access_key"], r["region"]]))' "$ready")
export S3VEC_TEST_STACK
if [[ ${#extra[@]} -gt 0 ]]; then
  S3VEC_TEST_BEDROCK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bedrock"] or "")' "$ready")
  export S3VEC_TEST_BEDROCK
fi
"$@"
