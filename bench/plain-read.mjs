// Two hand-written wasm references for `exact`, measured in the same process as the searches:
// - a plain SIMD read: the time V8 needs to stream a given number of bytes through 128-bit
//   loads and nothing else. Against bench/membw.c (native, AVX) it is V8's part of the gap
//   between `exact` and the memory-bandwidth floor. It is not a strict ceiling: a loop with
//   fewer instructions per cache line reads faster still (docs/BENCHMARKS.md, "Changes at
//   stop 12").
// - a minimal dot-product scan: rows of f32 against one query, the least a wasm exact scan can
//   do (per 64 bytes four row loads, four query loads, four multiplies, four adds; per row a
//   horizontal sum and a running maximum, no top-k, no bounds checks, no per-row call). Against
//   the plain read it is the cost of the dot product itself; `exact` against it is what our
//   kernel and collection add.
//
// The module is written in the text format and assembled by npm's binaryen (package.json), so
// there is no binary blob in the repository. Both loops step 64 bytes at a time into four
// accumulators, the shape of `dot_f32`'s.
import binaryen from "binaryen";

const WAT = `
(module
  (memory (export "mem") 1)
  (func (export "sum") (param $p i32) (param $end i32) (result f32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (block $out (loop $step
      (br_if $out (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $a (f32x4.add (local.get $a) (v128.load offset=0 (local.get $p))))
      (local.set $b (f32x4.add (local.get $b) (v128.load offset=16 (local.get $p))))
      (local.set $c (f32x4.add (local.get $c) (v128.load offset=32 (local.get $p))))
      (local.set $d (f32x4.add (local.get $d) (v128.load offset=48 (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (br $step)))
    (call $hsum (local.get $a) (local.get $b) (local.get $c) (local.get $d)))
  ;; The query lives at address 0, the rows from $rows to $end, $row_bytes each.
  (func (export "scan") (param $rows i32) (param $end i32) (param $row_bytes i32) (result f32)
    (local $p i32) (local $q i32) (local $row_end i32) (local $best f32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local.set $p (local.get $rows))
    (local.set $best (f32.const -inf))
    (block $done (loop $row
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $row_end (i32.add (local.get $p) (local.get $row_bytes)))
      (local.set $q (i32.const 0))
      (local.set $a (v128.const i64x2 0 0)) (local.set $b (v128.const i64x2 0 0))
      (local.set $c (v128.const i64x2 0 0)) (local.set $d (v128.const i64x2 0 0))
      (loop $step
        (local.set $a (f32x4.add (local.get $a)
          (f32x4.mul (v128.load offset=0 (local.get $p)) (v128.load offset=0 (local.get $q)))))
        (local.set $b (f32x4.add (local.get $b)
          (f32x4.mul (v128.load offset=16 (local.get $p)) (v128.load offset=16 (local.get $q)))))
        (local.set $c (f32x4.add (local.get $c)
          (f32x4.mul (v128.load offset=32 (local.get $p)) (v128.load offset=32 (local.get $q)))))
        (local.set $d (f32x4.add (local.get $d)
          (f32x4.mul (v128.load offset=48 (local.get $p)) (v128.load offset=48 (local.get $q)))))
        (local.set $q (i32.add (local.get $q) (i32.const 64)))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br_if $step (i32.lt_u (local.get $p) (local.get $row_end))))
      ;; The horizontal sum written out, not called: a call per row is not the least possible.
      (local.set $a (f32x4.add (f32x4.add (local.get $a) (local.get $b))
                               (f32x4.add (local.get $c) (local.get $d))))
      (local.set $best (f32.max (local.get $best)
        (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a)) (f32x4.extract_lane 1 (local.get $a)))
                 (f32.add (f32x4.extract_lane 2 (local.get $a)) (f32x4.extract_lane 3 (local.get $a))))))
      (br $row)))
    (local.get $best))
  (func $hsum (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result f32)
    (local.set $a (f32x4.add (f32x4.add (local.get $a) (local.get $b))
                             (f32x4.add (local.get $c) (local.get $d))))
    (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a)) (f32x4.extract_lane 1 (local.get $a)))
             (f32.add (f32x4.extract_lane 2 (local.get $a)) (f32x4.extract_lane 3 (local.get $a))))))
`;

let compiled = null;

function wasmModule() {
  if (!compiled) {
    const m = binaryen.parseText(WAT);
    m.setFeatures(binaryen.Features.SIMD128);
    if (!m.validate()) throw new Error("plain-read.mjs: the read module does not validate");
    compiled = new WebAssembly.Module(m.emitBinary());
    m.dispose();
  }
  return compiled;
}

/**
 * A reader over `bytes` bytes (rounded up to 64) of its own wasm memory, filled with non-zero
 * data so every page is really mapped (untouched pages would all read the kernel's zero page,
 * which stays in cache). `read()` streams them once; `free()` drops the memory.
 */
export function plainReader(bytes) {
  const len = Math.ceil(bytes / 64) * 64;
  return reader(len, len, (exports) => exports.sum(0, len));
}

/**
 * A minimal dot-product scan over `rows` rows of `rowFloats` floats (a multiple of 16, as the
 * collection pads them), in its own memory after a 64-byte-aligned query, all filled like the
 * plain reader's: the loop's time does not depend on the values. `read()` scans every row
 * once; `free()` drops the memory.
 */
export function scanReader(rows, rowFloats) {
  if (rowFloats % 16 !== 0) throw new Error(`scanReader: row length ${rowFloats} is not a multiple of 16`);
  const rowBytes = rowFloats * 4;
  const start = Math.ceil(rowBytes / 64) * 64; // the query, then the rows
  const end = start + rows * rowBytes;
  return reader(rows * rowBytes, end, (exports) => exports.scan(start, end, rowBytes));
}

/** An instance of the module over `memBytes` of filled memory, `run` being one pass. */
function reader(bytes, memBytes, run) {
  let exports = new WebAssembly.Instance(wasmModule()).exports;
  exports.mem.grow(Math.ceil(memBytes / 65536));
  new Float32Array(exports.mem.buffer, 0, memBytes / 4).fill(1 / 1024);
  let sink = 0;
  return {
    bytes,
    read() {
      sink += run(exports);
    },
    free() {
      exports = null;
      return sink;
    },
  };
}
