/**
 * A worker imports a job's module to find its function. Code at the top level of that module runs
 * then, in the worker; a script that calls `submit` and `processAll` there without an
 * `if (isMain(import.meta))` guard would submit its jobs again from every worker and start a run
 * in each: jobs and processes multiply across the cluster. So while a worker imports a job's
 * module, Malocher's entry points refuse at once, and the import fails with a message that says
 * how to fix the script.
 *
 * The flag lives on `globalThis` under a registered symbol: the worker's bundle and the `malocher`
 * package the job's module imports are separate copies of this code, and share only the global.
 */
import { MalocherError } from "./malocher-error.js";

const IMPORTING = Symbol.for("malocher.importingJobModule");

type Flagged = typeof globalThis & { [IMPORTING]?: string };

/** Runs `load` (an `import()` of the job module `url`) with the flag set that makes {@link refuseWhileImportingJobModule} throw. */
export async function importingJobModule<T>(url: string, load: () => Promise<T>): Promise<T> {
  const global = globalThis as Flagged;
  const before = global[IMPORTING];
  global[IMPORTING] = url;
  try {
    return await load();
  } finally {
    global[IMPORTING] = before;
  }
}

/** Throws `JOB_IMPORT_FAILED` when called while a worker imports a job's module (`call` names the entry point, e.g. `submit()`). */
export function refuseWhileImportingJobModule(call: string): void {
  const url = (globalThis as Flagged)[IMPORTING];
  if (url === undefined) return;
  throw new MalocherError(
    "JOB_IMPORT_FAILED",
    `${call} was called while a Malocher worker imported ${url} to run a job from it. The module's main code runs ` +
      "again in every worker that imports it: wrap it in `if (isMain(import.meta)) { … }` (import { isMain } from \"malocher\"), " +
      "so it runs only in the script you started. Nothing was submitted or started by this call.",
  );
}
