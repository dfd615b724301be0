/**
 * A TypeScript module that a warm worker imports, through tsx, once before it says it is ready;
 * `bundle.mjs` puts this source file, as it is, into dist/worker, where the bundled and the
 * unbundled worker find it. A worker's first `.ts` module costs its loader about twice the CPU of
 * the ones after it (its code paths for TypeScript start on that first one), and without this
 * import that first one would be the first job's. It imports the plain warm-up module in turn, so
 * one import takes both kinds of module through the loader.
 */
import { loaderWarmedUp } from "./loader-warm-up.js";

export const typeScriptWarmedUp: boolean = loaderWarmedUp;

export { warmUpJob } from "./loader-warm-up.js";
