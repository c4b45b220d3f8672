// node (ESM): the web build, instantiated synchronously from the .wasm file beside it, so
// `import { Client } from "s3vec"` works without a fetch of a file: URL (which node cannot do).
// `init()` is kept so code written for browsers (`await init()`) runs unchanged.
import { readFileSync } from "node:fs";
import { initSync } from "../web/s3vec.js";

const wasm = initSync({ module: readFileSync(new URL("../web/s3vec_bg.wasm", import.meta.url)) });

export * from "../web/s3vec.js";

/** Already initialised in node: resolves to the module's exports at once. */
export default async function init() {
  return wasm;
}
