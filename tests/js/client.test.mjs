// The Client API (docs/JS-API.md) through the built npm package (pkg/, `make pkg`), imported
// by name as an app would ("s3vec" under node's ESM "node" condition), against the local stack
// with its Bedrock service. `make test-pkg` unpacks the packed tarball into tests/js/node_modules
// and runs this under scripts/with-stack.sh --bedrock; without that stack it is skipped.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const stack = process.env.S3VEC_TEST_STACK;
const bedrock = process.env.S3VEC_TEST_BEDROCK;
const skip = !stack || !bedrock ? "needs the local stack with Bedrock (make test-pkg)" : false;

let s3vec;
let base;
before(async () => {
  if (skip) return;
  s3vec = await import("s3vec");
  const [s3, accessKeyId, secretAccessKey, region] = stack.split("|");
  base = (prefix) => ({
    credentials: { accessKeyId, secretAccessKey },
    region,
    bucket: "vec-test",
    prefix,
    dims: 512,
    endpoints: { s3, bedrock },
  });
});

const docs = [
  { id: "gimp", text: "GNU Image Manipulation Program: edit, resize and retouch photos", metadata: { section: "graphics" } },
  { id: "python3", text: "interactive high-level object-oriented programming language", metadata: { section: "python" } },
  { id: "curl", text: "command line tool for transferring data with URL syntax", metadata: { section: "web" } },
];

async function rejects(promise, code, pattern) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof Error, "an Error instance");
    assert.equal(e.name, "S3vecError");
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

test("init is a no-op under node and the module is ready at import", { skip }, async () => {
  const init = s3vec.default;
  assert.equal(typeof init, "function");
  await init();
  await init();
  assert.equal(typeof s3vec.Client.connect, "function");
  assert.equal(typeof s3vec.Collection, "function", "the low-level API is exported too");
});

test("connect checks its options", { skip }, async () => {
  const { Client } = s3vec;
  await rejects(Client.connect({ ...base("x"), bukket: "typo" }), "InvalidArgument", /unknown field `bukket`/);
  await rejects(Client.connect({ ...base("x"), endpoints: { s4: "x" } }), "InvalidArgument", /unknown field `s4`/);
  await rejects(Client.connect({ region: "us-east-1", bucket: "b" }), "InvalidArgument", /credentialsUrl/);
  await rejects(Client.connect({ ...base("x"), bedrockRoute: "relay" }), "InvalidArgument", /bedrockRelay/);
  await rejects(Client.connect({ ...base("x"), dtype: "f16" }), "InvalidArgument", /dtype/);
  await rejects(Client.connect(), "InvalidArgument");
});

test("add, search, get, remove, with the query embedding remembered", { skip }, async () => {
  const client = await s3vec.Client.connect(base("js-basic"));
  assert.equal(client.bucket, "vec-test");
  assert.equal(client.prefix, "js-basic");
  assert.equal(client.modelId, "amazon.titan-embed-text-v2:0");
  assert.equal(client.access, undefined);
  assert.equal(client.size, 0);
  await rejects(client.search("anything"), "NotLoaded", /load\(\)/);
  await rejects(client.load(), "NoCollection", /add documents first/);

  const progress = [];
  const added = await client.add(docs, { onProgress: (p) => progress.push(p) });
  assert.deepEqual({ added: added.added, generation: added.generation }, { added: 3, generation: 1 });
  assert.match(added.shard, /^shards\//);
  assert.deepEqual(progress.at(-1), { done: 3, total: 3 });
  assert.equal(client.size, 3);
  assert.equal(client.dims, 512);
  assert.equal(client.dtype, "f32");

  const hits = await client.search("a program to resize images", { k: 2 });
  assert.equal(hits[0].id, "gimp");
  assert.deepEqual(hits[0].metadata, { section: "graphics" });
  assert.match(hits[0].text, /resize/);
  assert.ok(hits[0].score > hits[1].score);
  const calls = client.stats.bedrockRequests;
  await client.search("a program to resize images", { k: 2 });
  assert.equal(client.stats.bedrockRequests, calls, "a repeated query costs no Bedrock call");
  assert.equal(client.stats.queryCacheHits, 1);
  assert.equal(client.stats.bedrockRoute, "direct");

  const filtered = await client.search("a program to resize images", { filter: { section: { $in: ["web", "python"] } }, mode: "int8" });
  assert.deepEqual(filtered.map((h) => h.id).sort(), ["curl", "python3"]);
  const vector = await client.embed("transfer files over http");
  assert.ok(vector instanceof Float32Array && vector.length === 512);
  assert.equal((await client.search(vector, { k: 1 }))[0].id, "curl");
  assert.equal((await client.search(Array.from(vector), { k: 1 }))[0].id, "curl");
  await rejects(client.search(vector.subarray(0, 10)), "DimensionMismatch", /10 dimensions/);
  await rejects(client.search(vector, { topK: 3 }), "InvalidArgument", /unknown field `topK`/);
  await rejects(client.search(vector, { filter: { a: { $nope: 1 } } }), "InvalidFilter");
  await rejects(client.search(42), "InvalidArgument", /string, a Float32Array/);
  await rejects(client.add([{ id: "a", text: "x", meta: {} }]), "InvalidArgument", /unknown field `meta`/);
  await rejects(client.add([{ id: "a", text: "x" }, { id: "a", text: "y" }]), "InvalidArgument", /twice/);

  assert.deepEqual(client.ids().sort(), ["curl", "gimp", "python3"]);
  const map = client.pca2();
  assert.equal(map.ids.length, 3);
  assert.ok(map.points instanceof Float32Array && map.points.length === 6);
  assert.equal(map.mean.length, 512);
  assert.equal(map.components.length, 1024);
  assert.ok(map.explained[0] >= map.explained[1] && map.explained[0] > 0);

  assert.equal(client.get("python3").id, "python3");
  assert.equal(client.get("nope"), undefined);
  const removed = await client.remove(["python3", "nope"]);
  assert.deepEqual(removed, { removed: 1, generation: 2 });
  assert.equal(client.get("python3"), undefined);
  assert.ok((await client.search("programming language")).every((h) => h.id !== "python3"));

  client.close();
  assert.throws(() => client.get("gimp"), (e) => e.code === "Closed");
  await rejects(client.load(), "Closed");
});

test("load reports progress; refresh fetches only what another writer added", { skip }, async () => {
  const { Client } = s3vec;
  const writer = await Client.connect(base("js-shared"));
  await writer.add(docs);
  const reader = await Client.connect(base("js-shared"));
  const seen = [];
  const loaded = await reader.load({ onProgress: (p) => seen.push(p) });
  assert.equal(loaded.kind, "loaded");
  assert.equal(loaded.documents, 3);
  assert.equal(loaded.failed.length, 0);
  assert.deepEqual(Object.keys(seen[0]).sort(), ["loadedBytes", "loadedShards", "totalBytes", "totalShards"]);
  assert.equal(seen[0].loadedShards, 0);
  assert.equal(seen.at(-1).loadedBytes, seen.at(-1).totalBytes);
  assert.equal(reader.generation, 1);

  assert.equal((await reader.refresh()).kind, "unchanged");
  await writer.add([{ id: "vim", text: "Vi IMproved, a text editor" }]);
  const refreshed = await reader.refresh();
  assert.equal(refreshed.kind, "extended");
  assert.equal(refreshed.shards, 1);
  assert.equal(refreshed.documents, 4);
  assert.equal((await reader.search("text editor", { k: 1 }))[0].id, "vim");
  await writer.remove(["curl"]);
  const again = await reader.refresh();
  assert.deepEqual([again.kind, again.shards, again.documents], ["extended", 0, 3]);
  assert.equal(reader.get("curl"), undefined);
});

test("errors carry codes, retryable and what AWS said", { skip }, async () => {
  const { Client } = s3vec;
  const wrong = await Client.connect({ ...base("js-shared"), credentials: { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "nope" } });
  await assert.rejects(wrong.load(), (e) => {
    assert.equal(e.code, "InvalidCredentials", e.message);
    assert.equal(e.awsCode, "SignatureDoesNotMatch");
    assert.equal(e.status, 403);
    assert.equal(e.retryable, false);
    return true;
  });
  const dead = await Client.connect({ ...base("js-shared"), endpoints: { s3: "http://127.0.0.1:9", bedrock } });
  await assert.rejects(dead.load(), (e) => e.code === "Network" && e.retryable === true);
  const unknown = await Client.connect({ ...base("js-model"), modelId: "amazon.titan-embed-text-v9:0" });
  await rejects(unknown.add([{ id: "a", text: "x" }]), "ModelNotAvailable");
});

test("the TypeScript declarations describe the Client precisely", { skip }, () => {
  const dir = fileURLToPath(new URL("./node_modules/s3vec/", import.meta.url));
  const dts = readFileSync(dir + "web/s3vec.d.ts", "utf8");
  assert.match(dts, /static connect\(options: ConnectOptions\): Promise<Client>;/);
  assert.match(dts, /load\(options\?: LoadOptions\): Promise<LoadReport>;/);
  assert.match(dts, /search\(query: Query, options\?: SearchOptions\): Promise<SearchHit\[\]>;/);
  assert.match(dts, /add\(docs: Doc\[\], options\?: AddOptions\): Promise<AddReport>;/);
  assert.match(dts, /remove\(ids: string\[\]\): Promise<RemoveReport>;/);
  assert.match(dts, /readonly stats: ClientStats;/);
  assert.match(dts, /pca2\(\): Pca2;/);
  assert.match(dts, /ids\(\): string\[\];/);
  assert.match(dts, /code: ErrorCode;/);
  // wasm-bindgen's InitOutput (the raw exports of the web build) is typed with `any`; the API
  // before it must not be.
  const api = dts.slice(0, dts.indexOf("export type InitInput"));
  assert.ok(api.length > 1000);
  assert.doesNotMatch(api, /\bany\b/);
  const pkg = JSON.parse(readFileSync(dir + "package.json", "utf8"));
  assert.equal(pkg.exports["."].node.default, "./node/index.js");
  assert.equal(pkg.exports["."].default, "./web/s3vec.js");
});

test("the bundler build instantiates as an ES module import of the .wasm", { skip }, () => {
  // What webpack 5 (asyncWebAssembly) and vite-plugin-wasm do, done by node's own (flagged) wasm
  // ES module integration.
  const out = execFileSync(process.execPath, [
    "--experimental-wasm-modules", "--no-warnings", "--input-type=module", "-e",
    'const m = await import("s3vec/bundler"); const c = new m.Collection(); console.log(typeof m.Client.connect, c.size);',
  ], { cwd: fileURLToPath(new URL(".", import.meta.url)), encoding: "utf8" });
  assert.equal(out.trim(), "function 0");
});
