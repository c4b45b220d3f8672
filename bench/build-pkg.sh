#!/usr/bin/env bash
# Builds the Node.js flavour of the package that bench/rank.mjs loads:
#   target/pkg-node/s3vec.js + s3vec_bg.wasm
#
# Usage: bench/build-pkg.sh [--no-opt]
#   --no-opt  skip wasm-opt (otherwise run from npm's binaryen@132.0.0, the repository's
#             package.json, installed on first use; Debian's binaryen 108 emits a broken module).
#
# SIMD comes from .cargo/config.toml (+simd128 for wasm32); RUSTFLAGS is deliberately not set,
# since it would replace those flags. The release profile is opt-level "s" (see DESIGN.md).
set -euo pipefail
cd "$(dirname "$0")/.."

OPT=1
for arg in "$@"; do
  case "$arg" in
    --no-opt) OPT=0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

if [[ -n "${RUSTFLAGS:-}" ]]; then
  echo "warning: RUSTFLAGS is set and overrides .cargo/config.toml (simd128); unsetting it" >&2
  unset RUSTFLAGS
fi

BINDGEN="$(command -v wasm-bindgen || echo "$HOME/.cargo/bin/wasm-bindgen")"
[[ -x "$BINDGEN" ]] || { echo "wasm-bindgen not found (cargo install wasm-bindgen-cli --version 0.2.130)" >&2; exit 1; }

cargo build --release --target wasm32-unknown-unknown --lib
OUT=target/pkg-node
"$BINDGEN" --target nodejs --out-dir "$OUT" target/wasm32-unknown-unknown/release/s3vec.wasm

if [[ $OPT == 1 ]]; then
  WASM_OPT=node_modules/.bin/wasm-opt
  if [[ ! -x $WASM_OPT ]]; then
    npm ci --no-audit --no-fund >&2   # binaryen@132.0.0, pinned in package.json
  fi
  "$WASM_OPT" --version >&2
  # --low-memory-unused: offsets folded into loads, as in scripts/build-pkg.sh (reason there).
  "$WASM_OPT" -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --low-memory-unused \
    "$OUT/s3vec_bg.wasm" -o "$OUT/s3vec_bg.opt.wasm"
  mv "$OUT/s3vec_bg.opt.wasm" "$OUT/s3vec_bg.wasm"
fi
ls -l "$OUT/s3vec_bg.wasm"
