// The JavaScript API of the built package (target/pkg-node, `make pkg-node`), as a user calls it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const pkgDir = fileURLToPath(new URL("../../target/pkg-node/", import.meta.url));
const require = createRequire(import.meta.url);
const { Collection, encodeShard } = require(pkgDir + "s3vec.js");

const DIMS = 4;
const docs = {
  ids: ["cat", "dog", "car", "bus"],
  vectors: new Float32Array([
    1, 0.9, 0, 0, // cat
    0.9, 1, 0, 0, // dog
    0, 0, 1, 0.8, // car
    0, 0, 0.8, 1, // bus
  ]),
  metadata: [{ kind: "animal", legs: 4 }, { kind: "animal", legs: 4 }, { kind: "vehicle", wheels: 4 }, null],
  texts: ["a small cat", "a loyal dog", null, "a city bus"],
};

function loaded(dtype = "f32") {
  const c = new Collection();
  assert.equal(c.loadShard(encodeShard({ dims: DIMS, ...docs, dtype })), 4);
  return c;
}

function expectS3vecError(fn, code, pattern) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof Error, "an Error instance");
    assert.equal(e.name, "S3vecError");
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    return true;
  });
}

test("search returns plain objects, best first, with metadata and text", () => {
  const c = loaded();
  assert.equal(c.size, 4);
  assert.equal(c.dims, DIMS);
  assert.equal(c.dtype, "f32");
  const hits = c.search(new Float32Array([1, 1, 0, 0]), { k: 3 });
  assert.deepEqual(hits.map((h) => h.id), ["cat", "dog", "bus"].slice(0, 2).concat(hits[2].id));
  assert.ok(Math.abs(hits[0].score - hits[1].score) < 1e-6, "cat and dog are symmetric to the query");
  assert.equal(Object.getPrototypeOf(hits[0]), Object.prototype);
  assert.deepEqual(hits.find((h) => h.id === "cat").metadata, { kind: "animal", legs: 4 });
  assert.equal(hits.find((h) => h.id === "dog").text, "a loyal dog");
  assert.ok(hits[0].score > 0.99 && hits[0].score <= 1.0001);
});

test("k defaults to 10, options are optional, and a plain array works as a query", () => {
  const hits = loaded().search([0, 0, 1, 1]);
  assert.equal(hits.length, 4);
  assert.deepEqual(hits.slice(0, 2).map((h) => h.id).sort(), ["bus", "car"]);
  assert.equal(hits.find((h) => h.id === "car").text, undefined, "absent text is absent, not null");
  assert.equal(hits.find((h) => h.id === "bus").metadata, undefined);
});

test("every mode finds the nearest document, from every dtype", () => {
  for (const dtype of ["f32", "i8"]) {
    const c = loaded(dtype);
    for (const mode of ["exact", "int8", "binary"]) {
      const [top] = c.search(new Float32Array([0, 0, 0.8, 1]), { k: 1, mode });
      assert.equal(top.id, "bus", `${dtype}/${mode}`);
    }
  }
  const bits = loaded("binary");
  assert.equal(bits.search(new Float32Array([0, 0, 1, 1]), { k: 1, mode: "binary" }).length, 1);
  expectS3vecError(() => bits.search(new Float32Array([0, 0, 1, 1]), { mode: "exact" }), "ModeUnavailable", /mode "binary"/);
});

test("filters apply before ranking", () => {
  const c = loaded();
  const hits = c.search(new Float32Array([0, 0, 1, 1]), { k: 2, filter: { kind: "animal" } });
  assert.deepEqual(hits.map((h) => h.id).sort(), ["cat", "dog"]);
  const none = c.search(new Float32Array([1, 0, 0, 0]), { filter: { wheels: { $gte: 5 } } });
  assert.deepEqual(none, []);
});

test("loadShard takes an ArrayBuffer too, and remove/get work by id", () => {
  const c = new Collection();
  const bytes = encodeShard({ dims: DIMS, ...docs });
  c.loadShard(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  assert.equal(c.get("car").id, "car");
  assert.equal(c.remove(["car", "nope"]), 1);
  assert.equal(c.get("car"), undefined);
  assert.equal(c.size, 3);
  assert.ok(c.search(new Float32Array([0, 0, 1, 0])).every((h) => h.id !== "car"));
});

test("bad input throws S3vecError with a stable code and a message that says what to do", () => {
  const c = loaded();
  expectS3vecError(() => new Collection().search(new Float32Array([1, 0, 0, 0])), "EmptyCollection", /load a shard/);
  expectS3vecError(() => c.search(new Float32Array([1, 0, 0])), "DimensionMismatch", /3 dimensions but the collection has 4/);
  expectS3vecError(() => c.search(new Float32Array([1, 0, 0, 0]), { k: 0 }), "InvalidArgument", /k must be at least 1/);
  expectS3vecError(() => c.search(new Float32Array(4)), "InvalidArgument", /all zeros/);
  expectS3vecError(() => c.search(new Float32Array([1, 0, 0, 0]), { mode: "fast" }), "InvalidArgument", /"exact", "int8" or "binary"/);
  expectS3vecError(() => c.search(new Float32Array([1, 0, 0, 0]), { topK: 3 }), "InvalidArgument", /unknown field `topK`/);
  expectS3vecError(() => c.search(new Float32Array([1, 0, 0, 0]), { filter: { legs: { $between: [1, 2] } } }), "InvalidFilter", /\$between/);
  expectS3vecError(() => c.loadShard(new Uint8Array([1, 2, 3])), "InvalidShard", /S3VSHARD/);
  expectS3vecError(() => c.loadShard("not bytes"), "InvalidArgument", /Uint8Array or an ArrayBuffer/);
  const corrupt = encodeShard({ dims: DIMS, ...docs });
  corrupt[corrupt.length - 1] ^= 1;
  expectS3vecError(() => c.loadShard(corrupt), "ChecksumMismatch", /fetch it again/);
  expectS3vecError(() => c.loadShard(encodeShard({ dims: 2, ids: ["x"], vectors: new Float32Array([1, 0]) })), "DimensionMismatch", /shard has 2/);
  expectS3vecError(() => encodeShard({ dims: DIMS, ids: ["a"], vectors: new Float32Array(3) }), "InvalidArgument", /3 vector values for 1 ids/);
  expectS3vecError(() => encodeShard({ dims: DIMS, ids: ["a", "a"], vectors: new Float32Array(8).fill(1) }), "InvalidArgument", /already used/);
  expectS3vecError(() => encodeShard({ dims: DIMS, ids: ["a"], vectors: [1, 2, 3, 4] }), "InvalidArgument", /Float32Array/);
  expectS3vecError(() => encodeShard({ dims: DIMS, ids: ["a"], vectors: new Float32Array(4), meta: [] }), "InvalidArgument", /unknown field `meta`/);
  // The collection is still usable after every error above.
  assert.equal(c.search(new Float32Array([1, 0, 0, 0]), { k: 1 })[0].id, "cat");
});

test("the TypeScript declarations are precise", () => {
  const dts = readFileSync(pkgDir + "s3vec.d.ts", "utf8");
  assert.match(dts, /search\(query: Float32Array \| number\[\], options\?: SearchOptions\): SearchHit\[\];/);
  assert.match(dts, /loadShard\(bytes: Uint8Array \| ArrayBuffer\): number;/);
  assert.match(dts, /get\(id: string\): SearchHit \| undefined;/);
  assert.match(dts, /export function encodeShard\(input: ShardInput\): Uint8Array;/);
  assert.match(dts, /mode\?: SearchMode;/);
  assert.doesNotMatch(dts, /: any\b/);
});
