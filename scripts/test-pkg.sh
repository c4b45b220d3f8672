#!/usr/bin/env bash
# Tests the built npm package (pkg/, `make pkg`) as users get it: `npm pack`, the tarball
# unpacked into tests/js/node_modules/s3vec and tests/vite-app/node_modules/s3vec (what
# `npm install <tarball>` does for a package without dependencies, minus the lock file), then
# node's test runner on tests/js/client.test.mjs (node ESM) and tests/vite-app/vite.test.mjs
# (a Vite build run in headless Chromium), with the local stack and its Bedrock service up.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f pkg/package.json ] || scripts/build-pkg.sh
# vite and playwright-core (pinned in package.json); Chromium is Debian's, never downloaded.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -x node_modules/.bin/vite ] || [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund
fi
mkdir -p target/npm
rm -f target/npm/s3vec-*.tgz
(cd pkg && npm pack --pack-destination ../target/npm --silent >/dev/null)
tarball=$(ls target/npm/s3vec-*.tgz)
echo "packed $tarball ($(du -k "$tarball" | cut -f1) KiB)"
for dir in tests/js tests/vite-app; do
  rm -rf "$dir/node_modules/s3vec"
  mkdir -p "$dir/node_modules/s3vec"
  tar -xzf "$tarball" -C "$dir/node_modules/s3vec" --strip-components=1
done
scripts/with-stack.sh --bedrock node --test tests/js/client.test.mjs tests/vite-app/vite.test.mjs
