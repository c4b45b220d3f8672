export * from "../web/s3vec.js";
import type { InitOutput } from "../web/s3vec.js";
/** Already initialised in node: resolves at once. */
export default function init(): Promise<InitOutput>;
