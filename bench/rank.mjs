#!/usr/bin/env node
// Ranking benchmark over the BUILT package (target/pkg-node, from bench/build-pkg.sh), in node.
//
//   bench/build-pkg.sh && node bench/rank.mjs                  # full run, a few minutes
//   node bench/rank.mjs --sizes 10k --queries 30 --no-membw    # quick run
//
// For each size (N documents × D dimensions, unit vectors with cluster structure) it prints:
// median and p95 ms per top-10 query for the modes exact, int8 and binary (default oversample),
// effective GB/s (bytes of the stores scanned ÷ time), recall@10 of int8 and binary against exact,
// recall/latency trade-off curves over oversample, and a naive JavaScript loop over the same data;
// a plain wasm read of the same bytes and a minimal wasm dot-product scan of the f32 rows
// (bench/plain-read.mjs: references for exact, which say how much of its time is V8's, how
// much the dot product's and how much ours), then the machine's single-thread read bandwidth
// (bench/membw.c, also once per round), the .wasm size and a SIMD check, and PASS/FAIL lines
// for the project's targets.
//
// Data: `--centres` random gaussian centres (unit length); a document is centre + gaussian noise
// of norm ≈ `--noise`, normalised; a query is a held-out document from the same distribution,
// perturbed by gaussian noise of norm ≈ `--perturb`, normalised. Everything comes from a seeded
// PRNG (sfc32), so runs are repeatable; each size has its own stream.
//
// Options:
//   --sizes LIST      comma-separated NxD, D defaulting to 1024: 10k, 100kx384, 100k (default
//                     "10kx1024,100kx384,100kx1024")
//   --queries N       measured queries per mode and per curve point (default 100)
//   --naive-queries N queries for the naive JS loop (default 20)
//   --warmup N        unmeasured queries before each measurement (default 5, at least 1)
//   --warmup-ms MS    ... and at least this long, so V8 has tiered the wasm up (default 500)
//   --rounds N        measure all configurations in N interleaved rounds (default 5)
//   --centres N       cluster centres (default 256)
//   --noise X         noise norm relative to the unit centre (default 0.75)
//   --perturb X       query perturbation norm (default 0.2)
//   --seed N          PRNG seed (default 1)
//   --shard N         documents per shard when loading (default 10000)
//   --no-curve        skip the oversample trade-off curves
//   --no-membw        skip the memory-bandwidth program (the exact target is then not checked);
//                     otherwise it runs once per round too, and the exact target is judged per
//                     round against that round's median pass
//   --no-plain-read   skip the plain wasm reads and the minimal scan (bench/plain-read.mjs)
//   --membw-mib N     array size for membw in MiB (default 1024)
//   --pkg DIR         package directory (default target/pkg-node)

import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { performance } from "node:perf_hooks";
import os from "node:os";
import { plainReader, scanReader } from "./plain-read.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

// ---------------------------------------------------------------------------------------------
// Options

function parseArgs(argv) {
  const o = {
    sizes: "10kx1024,100kx384,100kx1024",
    queries: 100,
    naiveQueries: 20,
    warmup: 5,
    rounds: 5,
    warmupMs: 500,
    centres: 256,
    noise: 0.75,
    perturb: 0.2,
    seed: 1,
    shard: 10000,
    curve: true,
    membw: true,
    plainRead: true,
    membwMib: 1024,
    pkg: join(ROOT, "target/pkg-node"),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const num = () => {
      const v = Number(next());
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a} needs a non-negative number`);
      return v;
    };
    switch (a) {
      case "--sizes": o.sizes = next(); break;
      case "--queries": o.queries = Math.max(1, Math.floor(num())); break;
      case "--naive-queries": o.naiveQueries = Math.floor(num()); break;
      case "--warmup": o.warmup = Math.max(1, Math.floor(num())); break;
      case "--warmup-ms": o.warmupMs = num(); break;
      case "--rounds": o.rounds = Math.max(1, Math.floor(num())); break;
      case "--centres": o.centres = Math.max(1, Math.floor(num())); break;
      case "--noise": o.noise = num(); break;
      case "--perturb": o.perturb = num(); break;
      case "--seed": o.seed = Math.floor(num()); break;
      case "--shard": o.shard = Math.max(1, Math.floor(num())); break;
      case "--no-curve": o.curve = false; break;
      case "--no-membw": o.membw = false; break;
      case "--no-plain-read": o.plainRead = false; break;
      case "--membw-mib": o.membwMib = Math.max(1, Math.floor(num())); break;
      case "--pkg": o.pkg = resolve(next()); break;
      case "-h": case "--help":
        { // the comment block at the top of this file
          const lines = readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").slice(1);
          const end = lines.findIndex((l) => !l.startsWith("//"));
          console.log(lines.slice(0, end).map((l) => l.slice(3)).join("\n"));
        }
        process.exit(0);
        break;
      default: throw new Error(`unknown option ${a} (try --help)`);
    }
  }
  o.sizeList = o.sizes.split(",").map((s) => s.trim()).filter(Boolean).map(parseSize);
  return o;
}

function parseSize(s) {
  const m = /^(\d+)(k?)(?:[x×](\d+))?$/i.exec(s);
  if (!m) throw new Error(`bad size ${s}: expected e.g. 10k, 100kx384, 5000x1024`);
  const n = Number(m[1]) * (m[2] ? 1000 : 1);
  const d = m[3] ? Number(m[3]) : 1024;
  if (n < 10 || d < 1) throw new Error(`size ${s} too small`);
  return { n, d, label: `${m[1]}${m[2]}×${d}` };
}

// ---------------------------------------------------------------------------------------------
// Deterministic data

/** sfc32: small, fast, good enough for test data; 32-bit state words. */
function sfc32(a, b, c, d) {
  return () => {
    a |= 0; b |= 0; c |= 0; d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

function rng(seed, n, d) {
  const r = sfc32(0x9e3779b9 ^ seed, n | 0, d | 0, 0x85ebca6b);
  for (let i = 0; i < 32; i++) r(); // mix the seed in
  let spare = null;
  const gauss = () => {
    // Box–Muller, two normals per pair of uniforms.
    if (spare !== null) { const s = spare; spare = null; return s; }
    let u = r();
    while (u === 0) u = r();
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u));
    spare = m * Math.sin(2 * Math.PI * v);
    return m * Math.cos(2 * Math.PI * v);
  };
  return { uniform: r, gauss };
}

function normalizeRow(a, off, d) {
  let s = 0;
  for (let j = 0; j < d; j++) s += a[off + j] * a[off + j];
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let j = 0; j < d; j++) a[off + j] *= inv;
}

/** `count` rows of centre + noise (norm ≈ `noise`), normalised, into `out` from row `from`. */
function sampleRows(r, centres, c, d, noise, out, from, count) {
  const sd = noise / Math.sqrt(d);
  for (let i = 0; i < count; i++) {
    const off = (from + i) * d;
    const k = Math.floor(r.uniform() * c) * d;
    for (let j = 0; j < d; j++) out[off + j] = centres[k + j] + sd * r.gauss();
    normalizeRow(out, off, d);
  }
}

function makeData({ n, d }, o) {
  const r = rng(o.seed, n, d);
  const c = o.centres;
  const centres = new Float32Array(c * d);
  for (let i = 0; i < c * d; i++) centres[i] = r.gauss();
  for (let i = 0; i < c; i++) normalizeRow(centres, i * d, d);
  const docs = new Float32Array(n * d);
  sampleRows(r, centres, c, d, o.noise, docs, 0, n);
  const nq = Math.max(o.queries, o.naiveQueries) + o.warmup;
  const queries = new Float32Array(nq * d);
  sampleRows(r, centres, c, d, o.noise, queries, 0, nq); // held out: never loaded
  const sp = o.perturb / Math.sqrt(d);
  for (let i = 0; i < nq; i++) {
    for (let j = 0; j < d; j++) queries[i * d + j] += sp * r.gauss();
    normalizeRow(queries, i * d, d);
  }
  return { docs, queries, nq };
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function summary(times, cpu = []) {
  const s = [...times].sort((a, b) => a - b);
  const c = [...cpu].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), p95: quantile(s, 0.95), min: s[0], cpu: quantile(c, 0.5), n: s.length };
}

/** CPU time of this process in ms (all threads; the search runs on the main one). */
function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const f = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");
const pad = (s, w) => String(s).padStart(w);
const padEnd = (s, w) => String(s).padEnd(w);

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? padEnd(c, widths[i]) : pad(c, widths[i]))).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  rows.forEach((r) => console.log(line(r)));
}

const results = []; // PASS/FAIL lines, printed together at the end
function target(name, pass, detail) {
  const line = `${pass === null ? "SKIP" : pass ? "PASS" : "FAIL"}  ${name}: ${detail}`;
  results.push(line);
  console.log(line);
}

// ---------------------------------------------------------------------------------------------
// The naive JavaScript search: what a JS developer would write first.

function naiveSearch(docs, n, d, q, k) {
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const off = i * d;
    for (let j = 0; j < d; j++) s += docs[off + j] * q[j];
    scores[i] = s;
  }
  // Partial selection: a sorted list of the best k (cheaper than sorting all n scores).
  const best = [];
  for (let i = 0; i < n; i++) {
    const s = scores[i];
    if (best.length < k || s > best[best.length - 1].score) {
      let at = best.length;
      while (at > 0 && best[at - 1].score < s) at--;
      best.splice(at, 0, { score: s, i });
      if (best.length > k) best.pop();
    }
  }
  return best.map((b) => b.i);
}

// ---------------------------------------------------------------------------------------------
// Machine facts

function loadavg() {
  return os.loadavg().map((x) => x.toFixed(2)).join(" ");
}

function cpuModel() {
  try {
    const out = execFileSync("lscpu", { encoding: "utf8" });
    const m = /^Model name:\s*(.+)$/m.exec(out);
    if (m) return m[1].trim();
  } catch { /* fall through */ }
  return os.cpus()[0]?.model ?? "unknown";
}

function membw(o, passes = 7) {
  const src = join(ROOT, "bench/membw.c");
  const dir = join(ROOT, "target/bench");
  const bin = join(dir, "membw");
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    mkdirSync(dir, { recursive: true });
    console.log(`compiling ${src}: gcc -O2 -march=native -o ${bin}`);
    execFileSync("gcc", ["-O2", "-march=native", "-o", bin, src], { stdio: "inherit" });
  }
  const out = execFileSync(bin, [String(o.membwMib), String(passes)], { encoding: "utf8" });
  const best = /best_gbps=([\d.]+)/.exec(out);
  const median = /median_gbps=([\d.]+)/.exec(out);
  if (!best) throw new Error(`cannot parse membw output: ${out}`);
  return { best: Number(best[1]), median: Number(median[1]), line: out.trim() };
}

function wasmFacts(pkg) {
  const path = join(pkg, "s3vec_bg.wasm");
  const bytes = readFileSync(path);
  const gz = gzipSync(bytes, { level: 9 }).length;
  let text = null;
  let tool = null;
  for (const [cmd, args] of [["wasm-tools", ["print", path]], ["wasm2wat", ["--enable-all", path]]]) {
    try {
      text = execFileSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 30, stdio: ["ignore", "pipe", "ignore"] });
      tool = cmd;
      break;
    } catch { /* try the next one */ }
  }
  const count = (re) => (text === null ? NaN : (text.match(re) || []).length);
  return {
    path,
    size: bytes.length,
    gz,
    mtime: statSync(path).mtime.toISOString(),
    tool,
    v128: count(/\bv128\.[a-z_0-9]+/g),
    f32x4: count(/\bf32x4\.[a-z_0-9]+/g),
    dot: count(/\bi32x4\.dot_i16x8_s\b/g),
    extend: count(/\bi16x8\.(?:extend_(?:low|high)_i8x16_s|load8x8_s)\b/g),
    replaceLane: count(/\bi16x8\.replace_lane\b/g),
    popcnt: count(/\bi64\.popcnt\b/g),
  };
}

// ---------------------------------------------------------------------------------------------
// One size

function idsOf(hits) {
  return hits.map((h) => Number(h.id));
}

function recallAt(k, truth, got) {
  let sum = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = new Set(truth[i]);
    let hit = 0;
    for (const id of got[i]) if (t.has(id)) hit++;
    sum += hit / Math.min(k, truth[i].length);
  }
  return sum / truth.length;
}

function runSize(s3vec, size, o) {
  const { n, d, label } = size;
  const K = 10;
  console.log(`\n=== ${label}: ${n} documents × ${d} dimensions, ${o.centres} centres, noise ${o.noise}, query perturbation ${o.perturb}, seed ${o.seed} ===`);
  console.log(`load average ${loadavg()}`);

  let t0 = performance.now();
  const { docs, queries, nq } = makeData(size, o);
  console.log(`generated data in ${f((performance.now() - t0) / 1000, 1)} s (${f(docs.byteLength / 1e6, 0)} MB f32)`);

  const col = new s3vec.Collection();
  t0 = performance.now();
  let encodeMs = 0;
  let shardBytes = 0;
  for (let start = 0; start < n; start += o.shard) {
    const end = Math.min(n, start + o.shard);
    const ids = [];
    for (let i = start; i < end; i++) ids.push(String(i));
    const te = performance.now();
    const bytes = s3vec.encodeShard({ dims: d, vectors: docs.subarray(start * d, end * d), ids, dtype: "f32" });
    encodeMs += performance.now() - te;
    shardBytes += bytes.byteLength;
    col.loadShard(bytes);
  }
  const loadMs = performance.now() - t0 - encodeMs;
  console.log(
    `encodeShard ${f(encodeMs / 1000, 2)} s, loadShard ${f(loadMs / 1000, 2)} s ` +
      `(${f(shardBytes / 1e6 / (loadMs / 1000), 0)} MB/s of shard), ${col.size} docs, ` +
      `vectorBytes ${f(col.vectorBytes / 1e6, 1)} MB, rss ${f(process.memoryUsage().rss / 1e6, 0)} MB`,
  );

  const query = (i) => queries.subarray(i * d, (i + 1) * d);
  // Warm up by count and by time: V8 first runs wasm with its baseline compiler (Liftoff) and
  // swaps in optimised (TurboFan) code from a background thread; measuring before that would
  // time the baseline code.
  const warm = (opts) => {
    const start = performance.now();
    for (let i = 0; i < o.warmup || performance.now() - start < o.warmupMs; i++) {
      col.search(query(o.queries + (i % o.warmup)), opts);
    }
  };
  // Every configuration (mode and oversample) is measured over the same queries, split into
  // rounds: each round runs a slice of the queries for every configuration in turn, so a change
  // of load on a shared machine during the run affects all of them alike. Each slice starts
  // with one unmeasured query, so the configuration's store is as warm in the caches as when
  // one mode is used alone.
  // The plain reads (`extras`) and a membw run per round join the rounds too, so the exact
  // mode's ratio to each is taken between figures measured at the same time.
  const measureAll = (configs, extras) => {
    const state = [
      ...configs.map((opts) => {
        warm(opts);
        return { run: (q) => col.search(q, opts) };
      }),
      ...extras.map((x) => {
        const start = performance.now();
        for (let i = 0; i < o.warmup || performance.now() - start < o.warmupMs; i++) x.read();
        return { run: () => x.read() };
      }),
    ].map((st) => ({ ...st, times: [], cpu: [], roundMedians: [], ids: new Array(o.queries) }));
    const roundBw = [];
    const rounds = Math.min(o.rounds, o.queries);
    for (let r = 0; r < rounds; r++) {
      if (o.membw) roundBw.push(membw(o, 5));
      const from = Math.floor((r * o.queries) / rounds);
      const to = Math.floor(((r + 1) * o.queries) / rounds);
      for (const st of state) {
        st.run(query(o.queries + (r % o.warmup)));
        const times = [];
        for (let i = from; i < to; i++) {
          const q = query(i);
          const c = cpuMs();
          const t = performance.now();
          const hits = st.run(q);
          times.push(performance.now() - t);
          st.cpu.push(cpuMs() - c);
          if (hits) st.ids[i] = idsOf(hits);
        }
        st.times.push(...times);
        st.roundMedians.push(summary(times).median);
      }
    }
    const measured = state.map((st) => ({ ...summary(st.times, st.cpu), ids: st.ids, roundMedians: st.roundMedians }));
    return { configs: measured.slice(0, configs.length), extras: measured.slice(configs.length), roundBw };
  };

  // Bytes one query reads from the stores (rows are padded to 32 elements; see src/index.rs).
  const stride = Math.ceil(d / 32) * 32;
  const words = Math.ceil(d / 64);
  const f32Bytes = n * stride * 4;
  const bytesFor = (mode, os) => {
    const rerank = K * os * stride * 4;
    if (mode === "exact") return f32Bytes;
    if (mode === "int8") return n * stride + n * 4 + rerank;
    return n * words * 8 + rerank;
  };

  const DEFAULT_OS = { exact: 1, int8: 4, binary: 32 }; // Mode::default_oversample in src/index.rs
  const CURVES = { int8: [1, 2, 3, 4, 8], binary: [1, 2, 4, 8, 16, 32, 64] };
  // No oversample given for the three modes: the crate's default applies.
  const configs = ["exact", "int8", "binary"].map((mode) => ({ k: K, mode }));
  if (o.curve) {
    for (const mode of ["int8", "binary"]) {
      for (const os of CURVES[mode]) configs.push({ k: K, mode, oversample: os });
    }
  }
  // A plain wasm read of each store's bytes and a minimal dot-product scan of the f32 rows,
  // unless --no-plain-read.
  const readers = o.plainRead
    ? [plainReader(f32Bytes), plainReader(n * stride), scanReader(n, stride)]
    : [];
  const all = measureAll(configs, readers);
  // The split of exact's time, from a tighter pairing than the rounds give: one exact search,
  // one plain read and one minimal scan in turn, the order rotating, so each triple meets the
  // same machine state (a round runs a whole slice of one configuration, then the next).
  const split = readers.length ? pairedSplit(col, query, K, readers[0], readers[2], o.queries) : null;
  for (const r of readers) r.free();
  const measured = all.configs;
  const modes = { exact: measured[0], int8: measured[1], binary: measured[2] };
  const truth = modes.exact.ids;

  // Naive JS over the same data; also a cross-check of the exact mode.
  let naive = null;
  if (o.naiveQueries > 0) {
    const times = [];
    const cpu = [];
    let agree = 0;
    const start = performance.now(); // warm-up for the JIT, as for the wasm modes
    for (let i = 0; i < 2 || performance.now() - start < o.warmupMs; i++) naiveSearch(docs, n, d, query(o.queries), K);
    for (let i = 0; i < o.naiveQueries; i++) {
      const c = cpuMs();
      const t = performance.now();
      const got = naiveSearch(docs, n, d, query(i), K);
      times.push(performance.now() - t);
      cpu.push(cpuMs() - c);
      if (i < truth.length) agree += recallAt(K, [truth[i]], [got]);
    }
    naive = { ...summary(times, cpu), agree: agree / Math.min(o.naiveQueries, truth.length) };
  }

  const rows = [];
  const exactMs = modes.exact.median;
  for (const mode of ["exact", "int8", "binary"]) {
    const m = modes[mode];
    const os = DEFAULT_OS[mode];
    rows.push([
      mode === "exact" ? "exact" : `${mode} (oversample ${os})`,
      f(m.median, 3), f(m.p95, 3), f(m.min, 3), f(m.cpu, 3),
      f(bytesFor(mode, os) / 1e6 / m.median, 2),
      mode === "exact" ? "1 (truth)" : f(recallAt(K, truth, m.ids), 4),
      f(exactMs / m.median, 1) + "×",
    ]);
  }
  if (naive) {
    rows.push(["naive JS loop", f(naive.median, 3), f(naive.p95, 3), f(naive.min, 3), f(naive.cpu, 3),
      f(f32Bytes / 1e6 / naive.median, 2),
      f(naive.agree, 4), f(exactMs / naive.median, 2) + "×"]);
  }
  console.log(`\nqueries: ${o.queries} per mode in ${Math.min(o.rounds, o.queries)} interleaved rounds ` +
    `(naive JS: ${o.naiveQueries}), k = ${K}; load average now ${loadavg()}`);
  table(["mode", "median ms", "p95 ms", "min ms", "cpu ms", "GB/s", "recall@10", "speed vs exact"], rows);
  console.log("(ms: wall clock per query; cpu ms: median CPU time per query, which leaves out time the process");
  console.log(" was not scheduled on a shared machine; GB/s: store bytes scanned ÷ median wall time)");
  // The bandwidth floor is printed with the targets, once the run's last membw is in. Here:
  // the exact mode against membw per round (paired), and both against the plain wasm read.
  const perRound = (a, b) => quantile(a.map((x, r) => x / b[r]).sort((x, y) => x - y), 0.5);
  const roundFloors = all.roundBw.map((b) => floorMs(size, b.median));
  const pairedFloor = roundFloors.length ? perRound(modes.exact.roundMedians, roundFloors) : NaN;
  const bestBw = Math.max(0, ...all.roundBw.map((b) => b.best));
  if (all.roundBw.length) {
    console.log(`membw per round (median pass GB/s): ${all.roundBw.map((b) => f(b.median)).join(", ")}; ` +
      `exact ÷ that round's floor, median over rounds: ${f(pairedFloor, 2)}×`);
  }
  if (all.extras.length) {
    const [rf, ri, rs] = all.extras;
    console.log(`plain wasm read (bench/plain-read.mjs), median: f32 store ${f(rf.median, 3)} ms ` +
      `(${f(f32Bytes / 1e6 / rf.median, 2)} GB/s), i8 store ${f(ri.median, 3)} ms ` +
      `(${f((n * stride) / 1e6 / ri.median, 2)} GB/s)`);
    console.log(`  per round, median over rounds: exact ÷ f32 read ${f(perRound(modes.exact.roundMedians, rf.roundMedians), 2)}×, ` +
      `int8 ÷ i8 read ${f(perRound(modes.int8.roundMedians, ri.roundMedians), 2)}×` +
      (all.roundBw.length
        ? `, f32 read ÷ membw floor ${f(perRound(rf.roundMedians, roundFloors), 2)}×`
        : ""));
    console.log(`minimal wasm dot-product scan of the f32 rows (bench/plain-read.mjs), median ${f(rs.median, 3)} ms` +
      (all.roundBw.length ? `; per round, scan ÷ membw floor ${f(perRound(rs.roundMedians, roundFloors), 2)}×` : ""));
    console.log(`  exact, f32 read and scan in turn, ${split.triples} triples, medians of the ratios: ` +
      `scan ÷ f32 read ${f(split.scanOverRead, 3)}× (the dot product's part), ` +
      `exact ÷ scan ${f(split.exactOverScan, 3)}× (ours)`);
  }

  // Trade-off curves.
  const curves = { int8: [], binary: [] };
  if (o.curve) {
    for (const mode of ["int8", "binary"]) {
      const crow = [];
      for (const os of CURVES[mode]) {
        const m = measured[configs.findIndex((c) => c.mode === mode && c.oversample === os)];
        const rec = recallAt(K, truth, m.ids);
        curves[mode].push({ os, median: m.median, p95: m.p95, recall: rec });
        crow.push([String(os), f(m.median, 3), f(m.p95, 3), f(m.cpu, 3), f(rec, 4), f(exactMs / m.median, 1) + "×"]);
      }
      console.log(`\n${mode} + f32 rerank of k × oversample candidates:`);
      table(["oversample", "median ms", "p95 ms", "cpu ms", "recall@10", "speed vs exact"], crow);
    }
  }

  col.free();
  return { size, modes, naive, exactMs, pairedFloor, bestBw, curves, recall: {
    int8: recallAt(K, truth, modes.int8.ids), binary: recallAt(K, truth, modes.binary.ids) } };
}

/**
 * Exact searches, plain reads of the f32 store and minimal scans of it, one of each in turn
 * (the order rotating), `count` times: the medians of the per-triple ratios.
 */
function pairedSplit(col, query, k, read, scan, count) {
  const runs = [(i) => col.search(query(i), { k, mode: "exact" }), () => read.read(), () => scan.read()];
  const ratios = { scanOverRead: [], exactOverScan: [] };
  for (let i = 0; i < count; i++) {
    const ms = [0, 0, 0];
    for (let j = 0; j < 3; j++) {
      const which = (i + j) % 3;
      const t = performance.now();
      runs[which](i);
      ms[which] = performance.now() - t;
    }
    ratios.scanOverRead.push(ms[2] / ms[1]);
    ratios.exactOverScan.push(ms[0] / ms[2]);
  }
  const median = (a) => quantile([...a].sort((x, y) => x - y), 0.5);
  return { triples: count, scanOverRead: median(ratios.scanOverRead), exactOverScan: median(ratios.exactOverScan) };
}

/** Milliseconds to read a size's f32 vectors (N·D·4 bytes) once at `gbps`. */
function floorMs({ n, d }, gbps) {
  return (n * d * 4) / (gbps * 1e9) * 1000;
}

function checkTargets(r) {
  const { label } = r.size;
  const ex = r.exactMs;
  if (Number.isFinite(r.pairedFloor)) {
    // Verdict on the paired figure: median query against median membw pass of the same round.
    // The strict figure (median query against the best pass of the whole run) is shown beside.
    const strict = ex / floorMs(r.size, r.bestBw);
    target(`${label} exact ≤ 1.2× bandwidth floor`, r.pairedFloor <= 1.2,
      `${f(r.pairedFloor, 2)}× per round against that round's membw median; strict ${f(strict, 2)}× ` +
      `(median ${f(ex, 2)} ms against the run's best membw pass, ${f(r.bestBw)} GB/s)`);
  } else {
    target(`${label} exact ≤ 1.2× bandwidth floor`, null, "membw not run");
  }
  const quant = (mode, speed, minRecall) => {
    const m = r.modes[mode];
    const sp = ex / m.median;
    const rec = r.recall[mode];
    target(`${label} ${mode} (default oversample) ≥ ${speed}× exact with recall@10 ≥ ${minRecall}`,
      sp >= speed && rec >= minRecall,
      `${f(sp, 1)}× faster (${f(r.modes.exact.cpu / m.cpu, 1)}× by CPU time), recall@10 ${f(rec, 4)}`);
    const ok = r.curves[mode].filter((c) => ex / c.median >= speed && c.recall >= minRecall);
    if (r.curves[mode].length) {
      console.log(`      curve points meeting both: ${ok.length ? ok.map((c) => `oversample ${c.os} (${f(ex / c.median, 1)}×, ${f(c.recall, 3)})`).join(", ") : "none"}`);
    }
  };
  quant("int8", 3, 0.99);
  quant("binary", 15, 0.95);
  if (r.naive) {
    target(`${label} exact ≥ 5× naive JS`, r.naive.median / ex >= 5,
      `${f(r.naive.median / ex, 2)}× (naive ${f(r.naive.median, 2)} ms, exact ${f(ex, 2)} ms; ` +
      `${f(r.naive.cpu / r.modes.exact.cpu, 2)}× by CPU time)`);
  }
}

// ---------------------------------------------------------------------------------------------

function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`bench/rank.mjs: ${e.message}`);
    process.exit(2);
  }
  const require = createRequire(import.meta.url);
  const pkgJs = join(o.pkg, "s3vec.js");
  if (!existsSync(pkgJs)) {
    console.error(`${pkgJs} not found: run bench/build-pkg.sh first`);
    process.exit(1);
  }
  const s3vec = require(pkgJs);

  console.log(`s3vec ranking benchmark, ${new Date().toISOString()}`);
  console.log(`node ${process.version} (V8 ${process.versions.v8}), ${os.platform()} ${os.arch()}, ` +
    `cpu: ${cpuModel()}, ${os.cpus().length} logical CPUs`);
  console.log(`options: ${process.argv.slice(2).join(" ") || "(defaults)"}`);

  const w = wasmFacts(o.pkg);
  console.log(`\nwasm: ${w.path} (built ${w.mtime}): ${w.size} bytes, ${w.gz} gzipped (-9)`);
  console.log(`SIMD (${w.tool ?? "no disassembler found"}): v128.* ${w.v128}, f32x4.* ${w.f32x4}, ` +
    `i32x4.dot_i16x8_s ${w.dot}, i8→i16 widening (extend/load8x8) ${w.extend}, ` +
    `i16x8.replace_lane ${w.replaceLane}, i64.popcnt ${w.popcnt}`);

  let bw = null;
  if (o.membw) {
    bw = membw(o);
    console.log(`memory read bandwidth, 1 thread: ${bw.line}`);
  }

  const runs = [];
  for (const size of o.sizeList) {
    runs.push(runSize(s3vec, size, o));
    if (global.gc) global.gc();
  }
  if (bw) {
    // The strict floor takes the best membw pass of the whole run, this last one included.
    const again = membw(o);
    console.log(`\nmemory read bandwidth again: ${again.line}`);
    const best = Math.max(bw.best, again.best, ...runs.map((r) => r.bestBw));
    for (const r of runs) r.bestBw = best;
  }

  console.log(`\n=== targets === (load average ${loadavg()})`);
  results.length = 0;
  target("wasm contains SIMD (v128, f32x4, i32x4.dot_i16x8_s)",
    w.tool ? w.v128 > 0 && w.f32x4 > 0 && w.dot > 0 : null,
    `v128 ${w.v128}, f32x4 ${w.f32x4}, dot_i16x8_s ${w.dot}`);
  for (const r of runs) checkTargets(r);
}

main();
