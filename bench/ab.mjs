// Paired A/B of two built packages in one node process: the same documents are loaded into both,
// and each query runs on A and on B back to back (alternating which goes first), so a change of
// machine load affects both alike. Prints the median and minimum ms per query of each and the
// median of the per-query ratio B/A, the figure to trust on a noisy machine.
//
//   bench/build-pkg.sh && cp -r target/pkg-node /tmp/a    # build A, change the code, then:
//   bench/build-pkg.sh && node --max-old-space-size=8192 bench/ab.mjs /tmp/a target/pkg-node 100000 1024 80 exact
//
// Arguments: DIR_A DIR_B [N=100000] [D=1024] [QUERIES=60] [MODE[:OVERSAMPLE]=exact]
// MODE "load" times loading instead: every shard (10,000 documents each) into a new collection,
// QUERIES times per build, and reports MB/s of f32 vectors as well.
// Data: uniform random vectors (the scan's speed does not depend on their structure; recall is
// bench/rank.mjs's business), seeded, so every run sees the same data.
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";

const require = createRequire(import.meta.url);
const [dirA, dirB, nArg = "100000", dArg = "1024", qArg = "60", modeArg = "exact"] =
  process.argv.slice(2);
if (!dirA || !dirB) {
  console.error("usage: node bench/ab.mjs DIR_A DIR_B [N] [D] [QUERIES] [MODE[:OVERSAMPLE]]");
  process.exit(2);
}
const [n, d, nq] = [Number(nArg), Number(dArg), Number(qArg)];
const [mode, os] = modeArg.split(":");
const options = { k: 10, mode, ...(os ? { oversample: Number(os) } : {}) };

let seed = 12345;
const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5;
const docs = new Float32Array(n * d).map(random);
const queries = Array.from({ length: nq + 10 }, () => new Float32Array(d).map(random));

const libs = [dirA, dirB].map((dir) => require(resolve(dir, "s3vec.js")));
// Encoded once, by A: the format is the same for both builds.
const shards = [];
for (let start = 0; start < n; start += 10000) {
  const end = Math.min(n, start + 10000);
  const ids = Array.from({ length: end - start }, (_, i) => String(start + i));
  shards.push(libs[0].encodeShard({ dims: d, vectors: docs.subarray(start * d, end * d), ids, dtype: "f32" }));
}

/** `count` pairs, each running `timeOne(build, i)` (ms) on A and B, alternating which goes first. */
function paired(count, timeOne) {
  const times = [[], []];
  const ratios = [];
  for (let i = 0; i < count; i++) {
    const pair = [0, 0];
    for (const j of i % 2 ? [1, 0] : [0, 1]) pair[j] = timeOne(j, i);
    times[0].push(pair[0]);
    times[1].push(pair[1]);
    ratios.push(pair[1] / pair[0]);
  }
  return { times, ratios };
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

if (mode === "load") {
  const load = (j) => {
    const col = new libs[j].Collection();
    const t0 = performance.now();
    for (const shard of shards) col.loadShard(shard);
    const ms = performance.now() - t0;
    col.free();
    return ms;
  };
  paired(1, load); // the first pass warms V8's tiers up
  const { times, ratios } = paired(nq, load);
  const mbs = (ms) => ((n * d * 4) / 1e6 / (ms / 1000)).toFixed(0);
  console.log(
    `load ${n}×${d} in ${shards.length} shards, ${nq} passes: A median ${median(times[0]).toFixed(0)} ms ` +
      `(${mbs(median(times[0]))} MB/s), B median ${median(times[1]).toFixed(0)} ms (${mbs(median(times[1]))} MB/s), ` +
      `median B/A ${median(ratios).toFixed(3)}`,
  );
  process.exit(0);
}

const collections = libs.map((lib) => {
  const col = new lib.Collection();
  for (const shard of shards) col.loadShard(shard);
  return col;
});

// Warm up long enough for V8 to replace its baseline wasm code with optimised code.
for (const col of collections) {
  const start = performance.now();
  for (let i = 0; performance.now() - start < 1500; i++) col.search(queries[i % 10], options);
}

const { times, ratios } = paired(nq, (j, i) => {
  const t0 = performance.now();
  collections[j].search(queries[10 + i], options);
  return performance.now() - t0;
});
const min = (a) => Math.min(...a);
const f = (x) => x.toFixed(3);
console.log(
  `${modeArg} ${n}×${d}, ${nq} queries: A median ${f(median(times[0]))} ms (min ${f(min(times[0]))}), ` +
    `B median ${f(median(times[1]))} ms (min ${f(min(times[1]))}), median B/A ${f(median(ratios))}`,
);
