import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { MalocherError, type FunctionRef } from "@malocher/protocol";
import { InspectorSession } from "./inspector-session.js";
import { isDefaultExpression, listModuleExports, type ModuleExports } from "./module-exports.js";

const OBJECT_GROUP = "malocher-locate-function";

const located = new WeakMap<Function, FunctionRef>();
const exportsByScript = new Map<string, ModuleExports>();
let session: InspectorSession | undefined;

/**
 * Finds the ES module that exports `fn` and the name it is exported under, so that another process can import the
 * very same function. The answer is checked, not guessed: the module's export must hold this function object.
 *
 * The first call connects a session to this thread's V8 inspector and enables its Debugger (20-30 ms); later calls
 * take about 0.3-0.7 ms, and answers are cached per function. The Debugger stays enabled for the life of the
 * process, which makes every script compiled later (eval, `new Function`) about 15 µs slower to compile.
 *
 * @throws {MalocherError} `FUNCTION_NOT_IMPORTABLE` for closures, methods, bound and built-in functions, functions
 * of CommonJS modules or of code without a file, and functions that their module does not export.
 *
 * @example
 * ```ts
 * // train.ts
 * export function train(epochs: number) { ... }
 * locateFunction(train); // { module: "file:///home/me/ml/train.ts", export: "train" }
 * ```
 */
export function locateFunction(fn: Function): FunctionRef {
  if (typeof fn !== "function") {
    throw refusal(undefined, `expected a function but got ${fn === null ? "null" : typeof fn}`);
  }
  let ref = located.get(fn);
  if (ref === undefined) {
    ref = locate(fn);
    located.set(fn, ref);
  }
  return { ...ref };
}

function locate(fn: Function): FunctionRef {
  try {
    return locateExport(fn);
  } catch (error) {
    if (error instanceof NotLocated) throw refusal(fn, error.message, error.options);
    throw error;
  }
}

/** Why `locateExport` could not find an export; the public functions word it for what they locate. */
export class NotLocated extends Error {
  constructor(
    reason: string,
    readonly options: { cause?: unknown; suggestOwnName?: boolean } = {},
  ) {
    super(reason);
  }
}

/** A function (or class) of each module located so far, through whose scope its module's exports can be read. */
const functionsByModule = new Map<string, Function>();

/**
 * Finds the module export that holds `fn` (a function or a class), uncached. Throws
 * {@link NotLocated} with the reason when there is none.
 */
export function locateExport(fn: Function): FunctionRef {
  const inspector = connect();
  try {
    const ref = locateWith(inspector, fn);
    if (!functionsByModule.has(ref.module)) functionsByModule.set(ref.module, fn);
    return ref;
  } catch (error) {
    if (error instanceof NotLocated) throw error;
    throw new NotLocated(`the V8 inspector could not examine it (${(error as Error).message})`, { cause: error });
  } finally {
    try {
      inspector.releaseObjectGroup(OBJECT_GROUP);
    } catch {
      // Only frees the inspector's handles; the answer above stands either way.
    }
  }
}

function connect(): InspectorSession {
  try {
    session ??= new InspectorSession();
    return session;
  } catch (error) {
    throw new NotLocated(`Malocher finds functions through the V8 inspector, which is not available here (${(error as Error).message})`, { cause: error });
  }
}

/**
 * The value a module exports under `name`, read through the scope of a function already located in
 * that module, without `import()`: for the process's own main module, which may still be running
 * its top-level `await` (importing it would wait for that). Undefined when no function of the
 * module was located or the export is not a binding of the module itself.
 */
export function readExportInPlace(moduleUrl: string, name: string): unknown {
  const fn = functionsByModule.get(moduleUrl);
  if (fn === undefined) return undefined;
  const inspector = connect();
  try {
    const { location, scopes } = inspector.functionInternals(inspector.remoteObject(fn, OBJECT_GROUP));
    const moduleScope = scopes.find((s) => /^Module\b/.test(s.description));
    if (location === undefined || moduleScope === undefined) return undefined;
    const local = moduleExportsOf(inspector, location.scriptId, moduleUrl).bindings.find((b) => b.name === name)?.local;
    return local === undefined ? undefined : inspector.readScopeVariable(moduleScope.objectId, local);
  } finally {
    inspector.releaseObjectGroup(OBJECT_GROUP);
  }
}

/**
 * The names of an object's `#private` fields and methods (which a copy of its own properties
 * cannot carry), e.g. `["#weights"]`.
 */
export function privateMemberNames(object: object): string[] {
  const inspector = connect();
  try {
    return inspector.privateMemberNames(inspector.remoteObject(object, OBJECT_GROUP));
  } finally {
    inspector.releaseObjectGroup(OBJECT_GROUP);
  }
}

function locateWith(inspector: InspectorSession, fn: Function): FunctionRef {
  const fnId = inspector.remoteObject(fn, OBJECT_GROUP);
  const { boundTarget, location, scopes } = inspector.functionInternals(fnId);
  if (boundTarget) {
    throw new NotLocated("it is a bound function (made by `.bind()`), and no module exports it; export the original function and pass the bound values as arguments to `submit` instead");
  }
  if (location === undefined) {
    throw new NotLocated("it is a built-in (native) function, not one defined in a module file; call it from an exported function of your own", { suggestOwnName: false });
  }
  const script = inspector.script(location.scriptId);
  const url = script?.url ?? "";
  if (url.startsWith("node:")) {
    throw new NotLocated(`it is part of Node.js itself (${url}); call it from an exported function of your own`, { suggestOwnName: false });
  }
  const path = existingFile(url);
  if (path === undefined) {
    const what = url === "" ? "" : ` (V8 calls its code "${url}")`;
    throw new NotLocated(`it does not come from a module file${what}; such code comes from \`node -e\`, eval, \`new Function\`, the REPL or a data: URL`);
  }
  if (script?.isModule !== true) {
    throw new NotLocated(`it is defined in ${path}, which is a CommonJS module or a classic script; Malocher loads functions with \`import()\`, so it must live in an ES module (.mjs, .mts, or .js/.ts under "type": "module")`);
  }

  const exports = moduleExportsOf(inspector, location.scriptId, path);
  // V8 leaves the module scope out of [[Scopes]] when none of its bindings is visible: no named exports, no imports,
  // nothing captured by a function. Then only an anonymous default export can be this function.
  const moduleScope = scopes.find((s) => /^Module\b/.test(s.description));
  const match: BindingMatch =
    moduleScope === undefined
      ? { hits: [], topLevel: null }
      : inspector.callOn<BindingMatch>(moduleScope.objectId, MATCH_BINDINGS, [
          { objectId: fnId },
          { value: exports.bindings.map((b) => b.local) },
        ]);
  const exported = match.hits.map((i) => exports.bindings[i]?.name).filter((n): n is string => n !== undefined);
  const { defaultExpression } = exports;
  if (exported.length === 0 && defaultExpression !== undefined && isDefaultExpression(defaultExpression, location.lineNumber, location.columnNumber ?? 0)) {
    exported.push("default");
  }
  const name = ownName(fn);
  const chosen = exported.find((n) => n === name) ?? exported.find((n) => n !== "default") ?? exported[0];
  if (chosen !== undefined) return { module: url, export: chosen };

  const nested = scopes.some((s) => !/^(?:Module|Script|Global)\b/.test(s.description));
  throw new NotLocated(notExportedReason(fn, path, nested, match.topLevel, exports));
}

interface BindingMatch {
  /** Indexes into the given names of the bindings that hold the function. */
  hits: number[];
  /** Some module-scope binding that holds the function, exported or not. */
  topLevel: string | null;
}

/**
 * Runs in the inspected context on one `[[Scopes]]` entry, which V8 shapes as `{ description, object }` with the
 * scope's variables as the properties of `object`. Compares objects, not names.
 */
const MATCH_BINDINGS = `function (fn, names) {
  const vars = this.object;
  if (typeof vars !== "object" || vars === null) throw new Error("unexpected shape of a [[Scopes]] entry");
  const hits = [];
  for (let i = 0; i < names.length; i++) if (vars[names[i]] === fn) hits.push(i);
  let topLevel = null;
  if (hits.length === 0) for (const key of Object.keys(vars)) if (vars[key] === fn) { topLevel = key; break; }
  return { hits, topLevel };
}`;

function moduleExportsOf(inspector: InspectorSession, scriptId: string, path: string): ModuleExports {
  let exports = exportsByScript.get(scriptId);
  if (exports === undefined) {
    try {
      exports = listModuleExports(inspector.scriptSource(scriptId));
    } catch (error) {
      throw new NotLocated(`the exports of ${path} could not be read (${(error as Error).message})`, { cause: error });
    }
    exportsByScript.set(scriptId, exports);
  }
  return exports;
}

function notExportedReason(fn: Function, path: string, nested: boolean, topLevel: string | null, exports: ModuleExports): string {
  const name = ownName(fn);
  const noun = isClass(fn) ? "class" : "function";
  if (!nested && exports.bindings.some((b) => b.name === "default" && b.local === name)) {
    // `export default name;` copies the value into a binding V8 does not show; `name` itself shows only when a
    // function of the module uses it.
    const declaration = noun === "class" ? `export default class ${name}` : `export default function ${name}(...)`;
    return (
      `its module ${path} has \`export default ${name}\`, whose value V8 keeps hidden, so Malocher cannot confirm that ` +
      `it is this very ${noun}; write \`export { ${name} as default }\` or \`${declaration}\` instead`
    );
  }
  const note = exports.bindings.some((b) => b.name === name) ? `; the module's export \`${name}\` is a different ${noun}` : "";
  if (nested) {
    return `it is defined inside another function or block in ${path} (a closure), so its module cannot export it as it is${note}`;
  }
  if (topLevel !== null) {
    return `it is a top-level ${noun} of ${path} (\`${topLevel}\`), but that module does not export it${note}`;
  }
  if (noun === "class") return `no export of ${path} is this class${note}`;
  return `no export of ${path} is this function${note} (closures, arrow functions kept in local variables, class and object methods, and functions created at run time cannot be imported)`;
}

function isClass(fn: Function): boolean {
  try {
    return /^class\b/.test(Function.prototype.toString.call(fn));
  } catch {
    return false;
  }
}

/** The path of a `file:` URL if that file exists (`node --input-type=module -e` code has a made-up `file:` URL). */
function existingFile(url: string): string | undefined {
  if (!url.startsWith("file:")) return undefined;
  try {
    const path = fileURLToPath(url);
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

/** The function's own `name` property, read without running a getter. */
function ownName(fn: Function | undefined): string {
  const name: unknown = fn === undefined ? undefined : Object.getOwnPropertyDescriptor(fn, "name")?.value;
  return typeof name === "string" ? name : "";
}

function refusal(
  fn: Function | undefined,
  reason: string,
  options: { cause?: unknown; suggestOwnName?: boolean } = {},
): MalocherError {
  const name = ownName(fn).replace(/^(?:bound )+/, "");
  const own = options.suggestOwnName !== false && /^[A-Za-z_$][\w$]*$/.test(name) && name !== "default";
  const identifier = own ? name : "myJob";
  const subject = name === "" || name === "default" ? "an anonymous function" : `function \`${name}\``;
  return new MalocherError(
    "FUNCTION_NOT_IMPORTABLE",
    `Cannot submit ${subject}: ${reason}. A node loads a job's function by importing it, so export it from its ` +
      `module: \`export function ${identifier}(...)\`, or pass an explicit reference ` +
      `\`{ module: import.meta.url, export: "${identifier}" }\`.`,
    options.cause === undefined ? {} : { cause: options.cause },
  );
}
