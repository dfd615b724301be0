import { pathToFileURL } from "node:url";
import { isAbsolute } from "node:path";
import { MalocherError, checkAndEncodeValue, type FunctionJobSpec, type FunctionRef } from "@malocher/protocol";
import type { JobOptions } from "./job-options.js";
import { prepareJobBase } from "./prepare-job-base.js";
import { moduleHash } from "./module-hash.js";
import { locateClass, locateFunction } from "@malocher/agent";

/** An exported function, or an explicit reference to one. */
export type JobTarget = ((...args: never[]) => unknown) | FunctionRef;

/**
 * Turns `submit`'s arguments into a complete job spec, refusing what an agent could not run:
 * a function it cannot import (`FUNCTION_NOT_IMPORTABLE`) or arguments that would not arrive
 * unchanged (`ARG_NOT_SERIALIZABLE`, naming the argument's path).
 */
export function prepareJob(target: JobTarget, args: readonly unknown[], options: JobOptions, directoryKey: Uint8Array): FunctionJobSpec {
  const fn = typeof target === "function" ? locateFunction(target) : checkFunctionRef(target);
  const spec: FunctionJobSpec = {
    ...prepareJobBase(options, directoryKey),
    fn,
    args: checkAndEncodeValue([...args], "args", "ARG_NOT_SERIALIZABLE", locateClass),
  };
  const codeHash = moduleHash(fn.module);
  if (codeHash !== undefined) spec.codeHash = codeHash;
  return spec;
}

function checkFunctionRef(ref: FunctionRef): FunctionRef {
  if (typeof ref !== "object" || ref === null || typeof ref.module !== "string" || typeof ref.export !== "string") {
    throw new MalocherError(
      "FUNCTION_NOT_IMPORTABLE",
      'submit() takes an exported function or a reference { module: import.meta.url, export: "name" }.',
    );
  }
  if (isAbsolute(ref.module)) return { module: pathToFileURL(ref.module).href, export: ref.export };
  if (!ref.module.startsWith("file:")) {
    throw new MalocherError(
      "FUNCTION_NOT_IMPORTABLE",
      `The module of { module: ${JSON.stringify(ref.module)}, export: ${JSON.stringify(ref.export)} } must be a file URL ` +
        `(import.meta.url) or an absolute path that every node sees on the shared file system.`,
    );
  }
  return { module: ref.module, export: ref.export };
}
