#!/usr/bin/env node
// A collection in the browser: headless Chromium loads it from the local S3 server through the
// npm package (pkg/web), then searches it. Prints, per run, the seconds from `Client.connect`
// to a searchable collection and the MB/s of shard bytes, the median and p95 ms per top-10
// search in each mode, and the ms of one `client.pca2()` (the demo page's map). The same
// collection's native load (`Store::load`) and plain `curl` downloads are printed first, by
// examples/load_bench, which also writes the collection.
//
//   scripts/build-pkg.sh
//   cargo build --release -p s3vec-dev --example load_bench
//   S3VEC_DEV_BIN=target/release/s3vec-dev scripts/with-stack.sh node bench/browser-load.mjs
//
// Options: --docs N (100000), --dims D (1024), --runs N (3), --queries N (30 per mode),
//          --concurrency N (6, shards in flight: the package's default `loadConcurrency`).
// Needs S3VEC_TEST_STACK (endpoint|key|secret|region; set by scripts/with-stack.sh) and
// Chromium at /usr/bin/chromium ($CHROMIUM). $LOAD_BENCH_BIN overrides
// target/release/examples/load_bench.
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function parseArgs(argv) {
  const o = { docs: 100000, dims: 1024, runs: 3, queries: 30, concurrency: 6 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "");
    const value = Number(argv[i + 1]);
    if (!(key in o)) throw new Error(`unknown option ${argv[i]} (see the comment at the top)`);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${argv[i]} needs a whole number ≥ 1`);
    o[key] = value;
  }
  return o;
}

/** Serves the page and pkg/web on 127.0.0.1 (a module script needs an http origin). The page
 *  is cross-origin isolated, which gives `performance.now()` 5 µs steps instead of 100 µs; the
 *  S3 requests are CORS requests, which isolation allows. */
function serve() {
  const page = `<!doctype html><meta charset="utf-8"><title>s3vec browser load</title>`;
  const types = { ".js": "text/javascript", ".wasm": "application/wasm" };
  const isolated = { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" };
  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/") {
      res.writeHead(200, { "content-type": "text/html", ...isolated }).end(page);
      return;
    }
    const file = normalize(join(ROOT, path));
    if (!file.startsWith(join(ROOT, "pkg", "web")) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream", ...isolated });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

/** Runs in the page: one fresh client, loaded, then searched in every mode. */
async function inPage({ stack, prefix, dims, queries, concurrency }) {
  const { default: init, Client } = await import("/pkg/web/s3vec.js");
  await init();
  const [endpoint, accessKeyId, secretAccessKey, region] = stack.split("|");
  const t0 = performance.now();
  const client = await Client.connect({
    credentials: { accessKeyId, secretAccessKey },
    region,
    bucket: "vec-test",
    prefix,
    endpoints: { s3: endpoint },
    loadConcurrency: concurrency,
    shardCache: false,
  });
  const report = await client.load();
  const loadMs = performance.now() - t0;
  let seed = 7;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5;
  const modes = {};
  for (const mode of ["exact", "int8", "binary"]) {
    const times = [];
    for (let i = 0; i < queries + 3; i++) {
      const q = new Float32Array(dims).map(random);
      const t = performance.now();
      await client.search(q, { k: 10, mode });
      if (i >= 3) times.push(performance.now() - t); // the first three warm V8's tiers up
    }
    times.sort((a, b) => a - b);
    modes[mode] = { median: times[times.length >> 1], p95: times[Math.floor(times.length * 0.95)] };
  }
  const tMap = performance.now();
  const map = client.pca2();
  const mapMs = performance.now() - tMap;
  const out = {
    loadMs, documents: report.documents, bytes: report.downloadedBytes, modes, mapMs,
    mapPoints: map.points.length / 2, isolated: crossOriginIsolated,
  };
  client.close();
  return out;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const stack = process.env.S3VEC_TEST_STACK;
  if (!stack) throw new Error("S3VEC_TEST_STACK is not set: run through scripts/with-stack.sh");
  if (!existsSync(join(ROOT, "pkg/web/s3vec_bg.wasm"))) throw new Error("pkg/web not built: run scripts/build-pkg.sh");
  const loadBench = process.env.LOAD_BENCH_BIN ?? join(ROOT, "target/release/examples/load_bench");
  if (!existsSync(loadBench)) throw new Error(`${loadBench} not found: cargo build --release --example load_bench`);

  console.log(`s3vec browser load, ${new Date().toISOString()}: ${o.docs} × ${o.dims} f32, ${o.concurrency} shards in flight`);
  console.log("--- examples/load_bench (writes the collection if missing; native load and curl) ---");
  const args = ["--docs", o.docs, "--dims", o.dims, "--runs", o.runs, "--concurrency", o.concurrency].map(String);
  console.log(execFileSync(loadBench, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim());

  const server = await serve();
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  console.log(`--- Chromium ${browser.version()}, pkg/web ---`);
  const f = (x, d = 2) => x.toFixed(d);
  try {
    for (let run = 1; run <= o.runs; run++) {
      const context = await browser.newContext(); // nothing cached between runs
      const page = await context.newPage();
      await page.goto(url);
      const r = await page.evaluate(inPage, {
        stack, prefix: `load-bench/${o.docs}x${o.dims}`, dims: o.dims, queries: o.queries,
        concurrency: o.concurrency,
      });
      console.log(
        `run ${run}${r.isolated ? "" : " (not cross-origin isolated: 100 µs timer steps)"}: connect + load ${f(r.loadMs / 1000)} s for ${r.documents} documents, ` +
          `${f(r.bytes / 1e6, 1)} MB of shards (${f(r.bytes / 1e6 / (r.loadMs / 1000), 0)} MB/s); ` +
          `search median / p95 ms: ` +
          Object.entries(r.modes).map(([m, t]) => `${m} ${f(t.median)} / ${f(t.p95)}`).join(", ") +
          `; pca2 (the map) ${f(r.mapMs, 0)} ms for ${r.mapPoints} points`,
      );
      await context.close();
    }
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e) => {
  console.error(`bench/browser-load.mjs: ${e.message}`);
  process.exit(1);
});
