import { initSync, parse } from "es-module-lexer";

/** An export that names a module-scope binding: `export function f`, `export const f`, `export { g as f }`. */
export interface BindingExport {
  /** The name importers use. */
  name: string;
  /** The binding in the module's own scope that holds the exported value. */
  local: string;
}

/** Where an anonymous `export default <expression>` starts, in the positions V8 reports (0-based). */
export interface DefaultExpression {
  line: number;
  column: number;
  /** The first characters of the expression, enough to hold a function header. */
  head: string;
}

/** The exports of one ES module, as far as locating a function needs them. */
export interface ModuleExports {
  bindings: BindingExport[];
  /** Set for `export default <expression>` that has no binding of its own (V8 keeps it in `*default*`). */
  defaultExpression?: DefaultExpression;
}

const HEAD_LENGTH = 256;
let lexerReady = false;

/**
 * Lists the exports of an ES module from its source (the JavaScript V8 runs; under tsx the transpiled code).
 * Re-exports (`export { f } from "./x.js"`) are left out: their values live in the other module.
 *
 * `export default train;` is listed as the binding `train` exported as `default`. Strictly, V8 copies the value
 * into a hidden binding when that statement runs, so this is only wrong if `train` is reassigned afterwards.
 *
 * @example
 * ```ts
 * listModuleExports("function g() {}\nexport { g as f };").bindings; // [{ name: "f", local: "g" }]
 * ```
 */
export function listModuleExports(source: string): ModuleExports {
  if (!lexerReady) {
    initSync(); // compiles a small WebAssembly module synchronously, well under a millisecond
    lexerReady = true;
  }
  const [imports, exports] = parse(source);
  const reexports = imports.filter((i) => i.d === -1);
  const result: ModuleExports = { bindings: [] };
  for (const e of exports) {
    if (reexports.some((i) => e.s >= i.ss && e.s < i.se)) continue;
    if (e.ln !== undefined) {
      result.bindings.push({ name: e.n, local: e.ln });
    } else if (e.n === "default") {
      const start = skipTrivia(source, e.e);
      const local = defaultIdentifier(source, start);
      if (local !== undefined) result.bindings.push({ name: "default", local });
      else result.defaultExpression = { ...positionOf(source, start), head: source.slice(start, start + HEAD_LENGTH) };
    }
  }
  return result;
}

/**
 * Whether V8's location of a function (its `[[FunctionLocation]]`) is that of the function literal that is the whole
 * anonymous default export. V8 puts an arrow function and a class without constructor at their first character and a
 * `function` at the `(` of its parameters. A literal at that spot is the entire default expression: an unparenthesized
 * arrow cannot be an operand and `function`/`class` there are declarations. It is evaluated once per module instance.
 */
export function isDefaultExpression(expr: DefaultExpression, line: number, column: number): boolean {
  const offset = offsetIn(expr, line, column);
  if (offset === undefined) return false;
  const header = expr.head.slice(0, offset);
  if (header === "") return true;
  return /^(?:async\s+)?function\s*(?:\*\s*)?$/.test(header);
}

function offsetIn(expr: DefaultExpression, line: number, column: number): number | undefined {
  let l = expr.line;
  let lineStart = -expr.column; // so that column = index - lineStart on the first line
  for (let i = 0; i <= expr.head.length; i++) {
    if (l === line && i - lineStart === column) return i;
    if (l > line) return undefined;
    if (isLineBreak(expr.head, i)) {
      l++;
      lineStart = i + 1;
    }
  }
  return undefined;
}

/** V8's line terminators; `\r\n` counts once (at the `\n`). */
function isLineBreak(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c === 0x0a || c === 0x2028 || c === 0x2029 || (c === 0x0d && s.charCodeAt(i + 1) !== 0x0a);
}

function positionOf(source: string, offset: number): { line: number; column: number } {
  let line = 0;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (isLineBreak(source, i)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart };
}

/** Skips white space, line breaks and comments from `i`. */
function skipTrivia(source: string, i: number, stopAtLineBreak = false): number {
  for (;;) {
    if (stopAtLineBreak && isLineBreak(source, i)) return i;
    const c = source[i];
    if (c === undefined) return i;
    if (/\s/.test(c)) {
      i++;
    } else if (source.startsWith("//", i)) {
      if (stopAtLineBreak) return i; // a line comment runs into the line break
      const end = source.slice(i).search(/[\n\r\u2028\u2029]/);
      i = end < 0 ? source.length : i + end;
    } else if (source.startsWith("/*", i)) {
      const end = source.indexOf("*/", i + 2);
      if (end < 0) return source.length;
      if (stopAtLineBreak && /[\n\r\u2028\u2029]/.test(source.slice(i, end))) return i;
      i = end + 2;
    } else {
      return i;
    }
  }
}

const IDENTIFIER = /^[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*/u;

/**
 * For `export default train;` the name `train`, or undefined if the default expression is more than one identifier.
 * Without a `;` the statement must end where automatic semicolon insertion ends it for sure.
 */
function defaultIdentifier(source: string, start: number): string | undefined {
  const name = IDENTIFIER.exec(source.slice(start, start + HEAD_LENGTH))?.[0];
  if (name === undefined || name === "function" || name === "class" || name === "async") return undefined;
  let i = skipTrivia(source, start + name.length, true);
  if (source[i] === ";" || i >= source.length) return name;
  if (!isLineBreak(source, i) && !source.startsWith("//", i) && !source.startsWith("/*", i)) return undefined;
  i = skipTrivia(source, i);
  if (i >= source.length) return name;
  const next = IDENTIFIER.exec(source.slice(i, i + HEAD_LENGTH))?.[0];
  if (next !== undefined) return next === "in" || next === "instanceof" ? undefined : name;
  return /["'{}]/.test(source[i] ?? "") ? name : undefined;
}
