// A plain wasm SIMD read: the time V8 needs to stream a given number of bytes through 128-bit
// loads and nothing else, measured in the same process as the searches. It is the reference for
// a scan shaped like `exact`'s, which bench/membw.c (native, AVX) is not: the two together say
// how much of the gap between `exact` and the memory-bandwidth floor is V8's and how much is
// the kernel's. It is not a strict ceiling: a loop with fewer instructions per cache line reads
// faster still (docs/BENCHMARKS.md, "Changes at stop 12").
//
// The module is written in the text format and assembled by npm's binaryen (package.json), so
// there is no binary blob in the repository. Its loop is the shape of `dot_f32`'s without the
// query: four v128 loads into four accumulators per 64 bytes.
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
  let exports = new WebAssembly.Instance(wasmModule()).exports;
  exports.mem.grow(Math.ceil(len / 65536));
  new Float32Array(exports.mem.buffer, 0, len / 4).fill(1 / 1024);
  let sink = 0;
  return {
    bytes: len,
    read() {
      sink += exports.sum(0, len);
    },
    free() {
      exports = null;
      return sink;
    },
  };
}
