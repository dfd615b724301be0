import { statSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isAbsolute } from "node:path";
import { MalocherError, checkAndEncodeValue, type FunctionJobSpec, type FunctionRef } from "@malocher/protocol";
import { resolveJobOptions, type JobOptions, type ResolvedJobOptions } from "./job-options.js";
import { jobBaseOf } from "./prepare-job-base.js";
import { moduleHash } from "./module-hash.js";
import { locateClass, locateFunction } from "@malocher/locate";

/** An exported function, or an explicit reference to one. */
export type JobTarget = ((...args: never[]) => unknown) | FunctionRef;

/** What every job of one `submit` call or one batch shares: the function, the checked options, the key. */
export interface JobTemplate {
  fn: FunctionRef;
  options: ResolvedJobOptions;
  codeHash: string | undefined;
  directoryKey: Uint8Array;
}

/**
 * Checks what the jobs of a `submit` or a batch share, once: the function must be one an agent
 * can import (`FUNCTION_NOT_IMPORTABLE`), the options valid (`INVALID_OPTIONS`).
 */
export function prepareTemplate(target: JobTarget, options: JobOptions, directoryKey: Uint8Array): JobTemplate {
  const fn = typeof target === "function" ? locateFunction(target) : checkFunctionRef(target);
  return { fn, options: resolveJobOptions(options), codeHash: moduleHash(fn.module), directoryKey };
}

/**
 * The complete spec of one job of `template` (with the id `jobId`, default a fresh one), refusing
 * arguments that would not arrive unchanged (`ARG_NOT_SERIALIZABLE`, naming the argument's path
 * under `argsPath`: `args`, or `argLists[57]`). The jobs whose results the arguments take
 * (`resultOf`) join the ones it runs after in `spec.after`.
 */
export function buildJobSpec(template: JobTemplate, args: readonly unknown[], argsPath: string, jobId?: string): FunctionJobSpec {
  // The ids of `resultOf` references are collected as the codec writes them: no second walk.
  const resultRefs = new Set<string>();
  const encodedArgs = checkAndEncodeValue([...args], argsPath, "ARG_NOT_SERIALIZABLE", locateClass, resultRefs);
  // Object.assign, not a spread: copying the base into a new literal took a third of a batched job's spec time.
  const spec: FunctionJobSpec = Object.assign(jobBaseOf(template.options, template.directoryKey, jobId), { fn: template.fn, args: encodedArgs });
  if (resultRefs.size > 0) spec.after = [...new Set([...(spec.after ?? []), ...resultRefs])];
  if (template.codeHash !== undefined) spec.codeHash = template.codeHash;
  return spec;
}

/**
 * Turns `submit`'s arguments into a complete job spec, refusing what an agent could not run:
 * a function it cannot import (`FUNCTION_NOT_IMPORTABLE`) or arguments that would not arrive
 * unchanged (`ARG_NOT_SERIALIZABLE`, naming the argument's path).
 */
export function prepareJob(target: JobTarget, args: readonly unknown[], options: JobOptions, directoryKey: Uint8Array): FunctionJobSpec {
  return buildJobSpec(prepareTemplate(target, options, directoryKey), args, "args");
}

function checkFunctionRef(ref: FunctionRef): FunctionRef {
  if (typeof ref !== "object" || ref === null || typeof ref.module !== "string" || typeof ref.export !== "string") {
    throw new MalocherError(
      "FUNCTION_NOT_IMPORTABLE",
      'submit() takes an exported function or a reference { module: import.meta.url, export: "name" }.',
    );
  }
  const module = isAbsolute(ref.module) ? pathToFileURL(ref.module).href : ref.module;
  if (!module.startsWith("file:")) {
    throw new MalocherError(
      "FUNCTION_NOT_IMPORTABLE",
      `The module of { module: ${JSON.stringify(ref.module)}, export: ${JSON.stringify(ref.export)} } must be a file URL ` +
        `(import.meta.url) or an absolute path that every node sees on the shared file system.`,
    );
  }
  // Every job of it would fail JOB_IMPORT_FAILED, once a run started: said now instead.
  let path: string | undefined;
  try {
    path = fileURLToPath(module);
  } catch {}
  if (path === undefined || !isFile(path)) {
    throw new MalocherError(
      "FUNCTION_NOT_IMPORTABLE",
      `The module of { module: ${JSON.stringify(ref.module)}, export: ${JSON.stringify(ref.export)} } is no file on this machine${path === undefined ? "" : ` (${path})`}: ` +
        "check the path, and submit from a machine that sees it on the shared file system.",
    );
  }
  return { module, export: ref.export };
}

/** Whether `path` is a file (a symlink to one too). */
function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
