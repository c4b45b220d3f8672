#!/usr/bin/env bash
# Builds the npm package into pkg/ (docs/JS-API.md "Importing"):
#   pkg/web/      wasm-pack --target web      (browsers, Vite, esbuild, Rollup; node through node/)
#   pkg/bundler/  wasm-pack --target bundler  (webpack 5 and plugins that import .wasm as ESM)
#   pkg/node/     the node ESM entry: the web build, instantiated synchronously (npm/node/)
#   pkg/package.json, pkg/README.md           from npm/, with the crate's version
#
# Usage: scripts/build-pkg.sh [--no-opt]
#   --no-opt  skip wasm-opt (quicker; the module is larger and slower)
#
# Installs what is missing: wasm-bindgen-cli 0.2.130 and wasm-pack 0.15.1 (cargo install; with
# wasm-bindgen on PATH wasm-pack needs no network), and binaryen's wasm-opt from npm (the
# repository's package.json; Debian's binaryen 108 emits modules that fail to load). SIMD comes
# from .cargo/config.toml, so RUSTFLAGS must not be set (it would replace those flags).
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
export PATH="$HOME/.cargo/bin:$PATH"

if ! wasm-bindgen --version 2>/dev/null | grep -q "0.2.130"; then
  cargo install wasm-bindgen-cli --version 0.2.130
fi
if ! wasm-pack --version 2>/dev/null | grep -q "0.15.1"; then
  cargo install wasm-pack --version 0.15.1
fi
WASM_OPT=node_modules/.bin/wasm-opt
if [[ $OPT == 1 && ! -x $WASM_OPT ]]; then
  npm ci --no-audit --no-fund >&2
fi

rm -rf pkg
mkdir -p pkg
for target in web bundler; do
  # --no-pack: one package.json for both builds (npm/package.json); --no-opt: wasm-pack would
  # download its own binaryen.
  wasm-pack --log-level warn build --release --no-pack --no-opt --target "$target" \
    --out-dir "pkg/$target" --out-name s3vec
  # wasm-pack writes a `*` .gitignore, which npm pack would read as "publish nothing here".
  rm -f "pkg/$target/.gitignore" "pkg/$target/README.md" "pkg/$target/package.json"
  if [[ $OPT == 1 ]]; then
    # --low-memory-unused lets wasm-opt fold constant address offsets into the loads'
    # `offset=` immediates (LLVM leaves them as separate adds, which V8 executes one by one in
    # the hot loops). Sound here: the folded and unfolded forms differ only for an address that
    # wraps past 4 GiB into the first KiB, and Rust never computes one; that KiB is the bottom
    # of the 1 MiB stack, reached only on overflow.
    "$WASM_OPT" -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
      --low-memory-unused \
      "pkg/$target/s3vec_bg.wasm" -o "pkg/$target/s3vec_bg.opt.wasm"
    mv "pkg/$target/s3vec_bg.opt.wasm" "pkg/$target/s3vec_bg.wasm"
  fi
done
cp -r npm/node pkg/node
cp npm/README.md pkg/README.md
node -e '
  const fs = require("fs");
  const cargo = fs.readFileSync("Cargo.toml", "utf8");
  const pkgSection = cargo.split(/^\[package\]$/m)[1].split(/^\[/m)[0];
  const version = /^version\s*=\s*"([^"]+)"/m.exec(pkgSection)[1];
  const pkg = JSON.parse(fs.readFileSync("npm/package.json", "utf8"));
  pkg.version = version;
  fs.writeFileSync("pkg/package.json", JSON.stringify(pkg, null, 2) + "\n");
'
ls -l pkg/web/s3vec_bg.wasm pkg/bundler/s3vec_bg.wasm
