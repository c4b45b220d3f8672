#!/usr/bin/env node
// The collection map (`client.pca2()`) in node: connects a Client to the local stack, loads a
// collection, and prints the ms of three pca2() calls (the first one includes V8's tier-up).
//
//   bench/build-pkg.sh
//   cargo build --release -p s3vec-dev && cargo build --release --example load_bench
//   S3VEC_DEV_BIN=target/release/s3vec-dev scripts/with-stack.sh bash -c \
//     'target/release/examples/load_bench --docs 100000 --dims 1024 --runs 1 && node bench/map-node.mjs'
//
// $PKG picks another build of the package (default target/pkg-node/s3vec.js, e.g. a copy made
// with bench/build-pkg.sh for a paired comparison); $PREFIX another collection
// (default load-bench/100000x1024, which load_bench writes).
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const stack = process.env.S3VEC_TEST_STACK;
if (!stack) throw new Error("S3VEC_TEST_STACK is not set: run through scripts/with-stack.sh");
const { Client } = createRequire(import.meta.url)(process.env.PKG ?? join(ROOT, "target/pkg-node/s3vec.js"));
const [s3, accessKeyId, secretAccessKey, region] = stack.split("|");
const client = await Client.connect({
  credentials: { accessKeyId, secretAccessKey }, region, bucket: "vec-test",
  prefix: process.env.PREFIX ?? "load-bench/100000x1024", endpoints: { s3 }, shardCache: false,
});
await client.load();
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  const map = client.pca2();
  console.log(`pca2 ${(performance.now() - t).toFixed(0)} ms, ${map.ids.length} points, explained ${map.explained}`);
}
client.close();
