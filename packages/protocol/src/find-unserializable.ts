/**
 * What `encodeValue` cannot carry, found before encoding, with the path to it.
 *
 * The rules mirror what msgpackr 2.1.4, configured as in `value-codec.ts`, was seen to do in round
 * trips (`test/value-codec.test.ts`). Changes that code rarely depends on are let through on
 * purpose, so a job's result is not thrown away over them, and documented instead:
 * - `-0` arrives as `0`: msgpackr writes it as the integer 0, and it has no option for that and no
 *   hook for primitives (extensions only see objects). Inside a Float32/64Array it survives.
 * - Array holes arrive as `undefined` (`[, 1]` becomes `[undefined, 1]`).
 * - Getters are read once; their value arrives as a plain data property. Non-enumerable
 *   properties are not sent. Frozen and sealed objects arrive extensible.
 * - Typed arrays, `DataView`s and `ArrayBuffer`s arrive as standalone copies: a view arrives with
 *   `byteOffset` 0 over a buffer of exactly its own bytes, and views that shared memory before
 *   (or a view and its `ArrayBuffer`) no longer do. A Node `Buffer` arrives as a `Buffer` (not a
 *   view into the pool it came from).
 * - Named (non-index) properties on arrays longer than {@link NAMED_ARRAY_KEY_CHECK_LIMIT} and on
 *   typed arrays are not looked for: finding them means listing every index as a string.
 */

import { ResultOf } from "./result-ref.js";
import { ERROR_OWN_KEYS, builtinClassOf, type ClassRef, type LocateClass, type MalocherEncodable } from "./class-ref.js";

/** Nesting deeper than this is refused: msgpackr encodes and decodes recursively. */
export const MAX_VALUE_DEPTH = 500;

/**
 * Arrays up to this length are checked for named properties (`match()` results carry `index`,
 * `input`, `groups`). Longer ones are not: `Object.keys` on 10M elements takes ~2 s.
 */
export const NAMED_ARRAY_KEY_CHECK_LIMIT = 100_000;

export const FUNCTION_REASON = "a function cannot be sent, only data (a job imports the functions it calls)";
const SYMBOL_REASON = "a symbol cannot be sent";
const SYMBOL_KEY_REASON = "a symbol-keyed property would be dropped; use a string key";
const PROTO_KEY_REASON =
  'an own property named "__proto__" would arrive renamed to "__proto_" (msgpackr guards against prototype pollution)';
const NULL_PROTO_CYCLE_REASON =
  "a null-prototype object that contains a reference to itself would arrive with Object.prototype " +
  "(msgpackr rebuilds cycles from a plain placeholder); give it Object.prototype or break the cycle";
const DEPTH_REASON =
  `nested more than ${MAX_VALUE_DEPTH} levels deep; msgpackr encodes recursively and would run out of stack ` +
  "(flatten it, e.g. a linked list into an array)";

const TYPED_ARRAY_CLASSES = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
] as const;

/** Typed-array prototypes msgpackr can rebuild (its type list), plus Buffer (sent as binary). */
const TYPED_ARRAY_PROTOTYPES: ReadonlySet<object> = new Set<object>([
  ...TYPED_ARRAY_CLASSES.map((c) => c.prototype),
  Buffer.prototype,
]);

/** Prototypes of the built-ins that arrive as themselves, for naming the base of a subclass. */
const SUPPORTED_BASES: ReadonlyMap<object, string> = new Map<object, string>([
  [Buffer.prototype, "Buffer"],
  ...TYPED_ARRAY_CLASSES.map((c): [object, string] => [c.prototype, c.name]),
  [Array.prototype, "Array"],
  [Map.prototype, "Map"],
  [Set.prototype, "Set"],
  [Date.prototype, "Date"],
  [RegExp.prototype, "RegExp"],
  [ArrayBuffer.prototype, "ArrayBuffer"],
  [DataView.prototype, "DataView"],
  [ResultOf.prototype, "ResultOf"],
]);

const BOXED: readonly [Function, string][] = [
  [Number, "Number"], [String, "String"], [Boolean, "Boolean"], [BigInt, "BigInt"], [Symbol, "Symbol"],
];

/** Web streams exist as globals in Node 20; looked up lazily in case a runtime lacks them. */
const WEB_STREAM_NAMES = ["ReadableStream", "WritableStream", "TransformStream"] as const;

/**
 * Why this one object (not its contents) cannot be sent, or `undefined` when its kind arrives as
 * itself. Plain and null-prototype objects, arrays, Maps, Sets, Dates, RegExps, ArrayBuffers,
 * DataViews, the eleven typed arrays and Buffers are supported. `value-codec.ts` asks this for
 * every non-plain object while encoding, so `encodeValue` refuses what this refuses.
 */
export function unsupportedObjectReason(value: object): string | undefined {
  if (typeof value === "function") return FUNCTION_REASON;
  return kindReason(value, Object.getPrototypeOf(value) as object | null);
}

function kindReason(value: object, proto: object | null): string | undefined {
  if (proto === Object.prototype || proto === null || proto === Array.prototype) return undefined;
  if (TYPED_ARRAY_PROTOTYPES.has(proto) || proto === ResultOf.prototype) return undefined;
  if (proto === Map.prototype || proto === Set.prototype || proto === Date.prototype || proto === DataView.prototype) {
    return namedKeyReason(value, SUPPORTED_BASES.get(proto) ?? "object");
  }
  if (proto === RegExp.prototype) {
    const lastIndex = (value as RegExp).lastIndex;
    if (lastIndex !== 0) return `a RegExp's lastIndex (${lastIndex}) would reset to 0`;
    return namedKeyReason(value, "RegExp");
  }
  if (proto === ArrayBuffer.prototype) {
    if ((value as ArrayBuffer & { resizable?: boolean }).resizable === true) {
      return "a resizable ArrayBuffer would arrive with a fixed length";
    }
    return namedKeyReason(value, "ArrayBuffer");
  }
  return refusedKindReason(value, proto);
}

function refusedKindReason(value: object, proto: object): string {
  if (value instanceof Error) {
    return `an Error (${describeErrorName(value)}) would arrive without its stack, code and other own properties, ` +
      "and a subclass as a plain Error; send a plain object such as { name, message, code } instead";
  }
  if (value instanceof URL) return "a URL would not arrive as a URL; send url.href and call new URL() in the job";
  return nonClassReason(value, proto) ?? classReason(value, proto);
}

/** Why an object that no class reference can carry (a promise, a stream, a Map subclass…) cannot be sent. */
function nonClassReason(value: object, proto: object): string | undefined {
  if (value instanceof Promise) return "a Promise cannot be sent; await it and send its value";
  if (value instanceof WeakMap || value instanceof WeakSet || value instanceof WeakRef) {
    return `a ${value instanceof WeakMap ? "WeakMap" : value instanceof WeakSet ? "WeakSet" : "WeakRef"} cannot be sent: ` +
      "its contents cannot be enumerated";
  }
  if (value instanceof SharedArrayBuffer) {
    return "a SharedArrayBuffer would arrive as an empty object; copy it into an ArrayBuffer or a typed array";
  }
  for (const [Box, name] of BOXED) {
    if (value instanceof Box) return `a boxed ${name} (Object(…) or new ${name}(…)) would arrive as a plain object; send the primitive`;
  }
  if (isStream(value)) return "a stream cannot be sent; read it into a Buffer or string first";

  const className = classNameOf(proto);
  const base = supportedBaseOf(proto);
  if (base !== undefined) {
    return `an instance of class ${className ?? "(anonymous)"} (${withArticle(base)} subclass) would not arrive as one; ` +
      `send a plain ${base}, or give the class toMalocher() and a static fromMalocher(data)`;
  }
  if (ArrayBuffer.isView(value)) {
    // e.g. Float16Array on a newer Node: msgpackr 2.1 writes an unknown type code that no decoder reads.
    return `${withArticle(className ?? "typed array")} is not among the typed arrays msgpackr can rebuild; ` +
      "convert it to one of them (e.g. a Float32Array)";
  }
  return undefined;
}

function classReason(value: object, proto: object): string {
  const className = classNameOf(proto);
  if (className !== undefined) return `an instance of class ${className} would arrive as a plain object without its methods`;
  if (hasOwnConstructor(proto)) return "an instance of an anonymous class would arrive as a plain object without its methods";
  return `an object with a custom prototype (${Object.prototype.toString.call(value)}) would arrive as a plain object ` +
    "without its prototype";
}

/** How one class instance crosses: its own fields under its class, or its class's custom encoding. */
export type InstanceEncoding =
  | { kind: "fields"; ref: ClassRef; error: boolean }
  | { kind: "custom"; ref: ClassRef };

/**
 * How an object whose prototype is not one of the supported built-ins crosses, or why it cannot.
 * Without `locate` every such object is refused (the contract of a process that cannot find
 * classes). The rule, in order: built-in errors cross with their fields and URLs as their `href`;
 * an instance with a `toMalocher()` method uses its class's custom encoding (the class needs a
 * static `fromMalocher`); promises, weak collections, streams, boxed primitives and subclasses
 * of Map, Set, Array and the other built-ins are refused; anything else crosses as its own
 * enumerable fields (errors also their message, stack, cause and errors) under the exported class
 * `locate` finds for it.
 */
export function classifyInstance(value: object, proto: object, locate: LocateClass | undefined): InstanceEncoding | { refused: string } {
  if (locate === undefined) return { refused: refusedKindReason(value, proto) };
  const builtin = builtinClassOf(proto);
  if (builtin === "URL") return { kind: "custom", ref: { builtin } };
  if (builtin !== undefined) return { kind: "fields", ref: { builtin }, error: true };
  const custom = typeof (value as Partial<MalocherEncodable>).toMalocher === "function";
  if (!custom) {
    const reason = nonClassReason(value, proto);
    if (reason !== undefined) return { refused: reason };
  }
  const found = locate(value, custom);
  if ("refused" in found) return found;
  if (!custom) return { kind: "fields", ref: found.ref, error: value instanceof Error };
  if (typeof (found.constructor as { fromMalocher?: unknown }).fromMalocher !== "function") {
    return {
      refused: `an instance of class ${found.ref.name} has toMalocher() but the class has no static fromMalocher(data) ` +
        "to rebuild it on the other side",
    };
  }
  return { kind: "custom", ref: found.ref };
}

/** Whether objects with this prototype are sent by the codec itself (no class reference needed). */
export function isCodecPrototype(proto: object | null): boolean {
  return proto === Object.prototype || proto === null || proto === Array.prototype || TYPED_ARRAY_PROTOTYPES.has(proto) ||
    SUPPORTED_BASES.has(proto);
}

function withArticle(name: string): string {
  return `${/^[AEIOU]/i.test(name) ? "an" : "a"} ${name}`;
}

function namedKeyReason(value: object, kind: string): string | undefined {
  const keys = Object.keys(value);
  const key = keys[0];
  if (key === undefined) return undefined;
  return `own property ${quote(key)} of ${withArticle(kind)} would be dropped (only the ${kind}'s contents are sent)`;
}

function describeErrorName(error: Error): string {
  try {
    return String(error.name);
  } catch {
    return "Error";
  }
}

function isStream(value: object): boolean {
  for (const name of WEB_STREAM_NAMES) {
    const Ctor = (globalThis as Record<string, unknown>)[name];
    if (typeof Ctor === "function" && value instanceof Ctor) return true;
  }
  // Node streams: duck-typed, so streams from any copy of `stream` or `readable-stream` count.
  const candidate = value as { pipe?: unknown; on?: unknown };
  return typeof candidate.pipe === "function" && typeof candidate.on === "function";
}

function hasOwnConstructor(proto: object): boolean {
  const descriptor = Object.getOwnPropertyDescriptor(proto, "constructor");
  return descriptor !== undefined && typeof descriptor.value === "function";
}

/** The name of the class whose prototype this is (its own `constructor`, read without getters). */
function classNameOf(proto: object): string | undefined {
  const ctor: unknown = Object.getOwnPropertyDescriptor(proto, "constructor")?.value;
  if (typeof ctor !== "function") return undefined;
  return ctor.name === "" ? undefined : ctor.name;
}

function supportedBaseOf(proto: object): string | undefined {
  for (let p: object | null = Object.getPrototypeOf(proto) as object | null; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    const base = SUPPORTED_BASES.get(p);
    if (base !== undefined) return base;
  }
  return undefined;
}

/** What {@link findUnserializable} reports. */
export interface Unserializable {
  /** Where the value is, starting with the root path, e.g. `args[1].model.forward`. */
  path: string;
  /** What would go wrong and what to do instead. */
  reason: string;
}

/** A problem found below the current value; `segments` are collected innermost first. */
interface Found {
  segments: string[];
  reason: string;
}

/**
 * Walks a value the way `encodeValue` will and reports the first thing that would not arrive
 * unchanged after `decodeValue`, or `undefined` if everything would. Call it before encoding
 * arguments or results, so the error can name the path.
 *
 * Paths are JavaScript-like: `.key` or `["odd key"]` for properties, `[3]` for array elements,
 * `.get("key")` for a Map value under a primitive key, `.keys()[i]` / `.values()[i]` for the i-th
 * key / value of a Map (values under object keys are named this way), `.values()[i]` for the i-th
 * member of a Set, and `[Symbol(description)]` for symbol keys.
 *
 * Cycles and shared references are fine (each object is walked once). Typed arrays are not walked
 * element by element, so large binary data costs nothing; a 10M-element array of numbers takes
 * about 0.1 s.
 *
 * @example
 * ```ts
 * const problem = findUnserializable(args, "args");
 * if (problem) throw new MalocherError("ARG_NOT_SERIALIZABLE", `${problem.path}: ${problem.reason}`);
 * // e.g. "args[1].model: an instance of class Model would arrive as a plain object without its methods"
 * ```
 */
export function findUnserializable(value: unknown, rootPath: string, options: FindOptions = {}): Unserializable | undefined {
  const found = new Walker(options).visit(value, 0);
  if (found === undefined) return undefined;
  return { path: rootPath + found.segments.reverse().join(""), reason: found.reason };
}

/** How {@link findUnserializable} treats class instances. */
export interface FindOptions {
  /** Finds instances' classes; without it every class instance is refused. */
  classes?: LocateClass;
  /** Filled in while walking: how the value's class instances will be encoded. */
  seen?: SeenInstances;
}

/**
 * Each class instance {@link findUnserializable} met, with how it will be encoded and, for a
 * custom-encoded one, its `toMalocher()` data: pass it to `encodeValue`, so that neither the
 * class lookup nor `toMalocher()` runs a second time.
 */
export type SeenInstances = Map<object, { encoding: InstanceEncoding; data?: unknown }>;

class Walker {
  constructor(private readonly options: FindOptions) {}

  private readonly visited = new Set<object>();
  /** Null-prototype objects on the current path: a reference back to one is a cycle through it. */
  private readonly nullProtoAncestors = new Set<object>();

  visit(value: unknown, depth: number): Found | undefined {
    switch (typeof value) {
      case "number":
      case "boolean":
      case "bigint":
      case "undefined":
        return undefined;
      case "string":
        return stringProblem(value);
      case "symbol":
        return { segments: [], reason: SYMBOL_REASON };
      case "function":
        return { segments: [], reason: FUNCTION_REASON };
    }
    if (value === null) return undefined;
    const object = value as object;
    if (this.visited.has(object)) {
      return this.nullProtoAncestors.has(object) ? { segments: [], reason: NULL_PROTO_CYCLE_REASON } : undefined;
    }
    if (depth > MAX_VALUE_DEPTH) return { segments: [], reason: DEPTH_REASON };
    this.visited.add(object);
    try {
      return this.visitObjectOfKind(object, Object.getPrototypeOf(object) as object | null, depth);
    } catch (error) {
      // A revoked Proxy, a throwing trap: msgpackr would throw on it too.
      return { segments: [], reason: `inspecting it threw (${errorMessage(error)}); it cannot be encoded` };
    }
  }

  private visitObjectOfKind(object: object, proto: object | null, depth: number): Found | undefined {
    if (!isCodecPrototype(proto) && this.options.classes !== undefined) return this.visitInstance(object, proto as object, depth);
    const reason = kindReason(object, proto);
    if (reason !== undefined) return { segments: [], reason };
    const symbolKey = enumerableSymbolKey(object);
    if (symbolKey !== undefined) return { segments: [`[${String(symbolKey)}]`], reason: SYMBOL_KEY_REASON };

    if (proto === Object.prototype) return this.visitObject(object, depth);
    if (proto === Array.prototype) return this.visitArray(object as unknown[], depth);
    if (proto === null) {
      this.nullProtoAncestors.add(object);
      try {
        return this.visitObject(object, depth);
      } finally {
        this.nullProtoAncestors.delete(object);
      }
    }
    if (proto === Map.prototype) return this.visitMap(object as Map<unknown, unknown>, depth);
    if (proto === Set.prototype) return this.visitSet(object as Set<unknown>, depth);
    if (proto === RegExp.prototype) return stringProblem((object as RegExp).source, ".source");
    return undefined; // Date, ArrayBuffer, DataView, typed arrays, Buffer: nothing inside to walk
  }

  private visitInstance(object: object, proto: object, depth: number): Found | undefined {
    const encoding = classifyInstance(object, proto, this.options.classes);
    if ("refused" in encoding) return { segments: [], reason: encoding.refused };
    if (encoding.kind === "custom") {
      let data: unknown;
      try {
        data = "builtin" in encoding.ref ? undefined : (object as MalocherEncodable).toMalocher();
      } catch (error) {
        return { segments: [".toMalocher()"], reason: `it threw (${errorMessage(error)})` };
      }
      this.options.seen?.set(object, { encoding, data });
      const found = this.visit(data, depth + 1);
      found?.segments.push(".toMalocher()");
      return found;
    }
    this.options.seen?.set(object, { encoding });
    const symbolKey = enumerableSymbolKey(object);
    if (symbolKey !== undefined) return { segments: [`[${String(symbolKey)}]`], reason: SYMBOL_KEY_REASON };
    const found = this.visitObject(object, depth);
    if (found !== undefined || !encoding.error) return found;
    for (const key of ERROR_OWN_KEYS) {
      const descriptor = Object.getOwnPropertyDescriptor(object, key);
      if (descriptor === undefined || descriptor.enumerable === true || !("value" in descriptor)) continue;
      const inner = this.visit(descriptor.value, depth + 1);
      if (inner !== undefined) {
        inner.segments.push(propertySegment(key));
        return inner;
      }
    }
    return undefined;
  }

  private visitArray(array: unknown[], depth: number): Found | undefined {
    const length = array.length;
    if (length <= NAMED_ARRAY_KEY_CHECK_LIMIT) {
      const named = firstNamedArrayKey(array);
      if (named !== undefined) {
        return {
          segments: [propertySegment(named)],
          reason: "a named property on an Array would be dropped (only its elements are sent)",
        };
      }
    }
    // Skip the leading run of numbers, booleans, null and undefined with a builtin: a hand-written
    // loop that V8 optimized for other arrays is thrown away on the first array of a new element
    // kind (say, doubles) and then runs interpreted, 10M numbers in 0.3-0.8 s instead of ~0.1 s.
    const first = array.findIndex(needsVisit);
    if (first === -1) return undefined;
    for (let i = first; i < length; i++) {
      const element = array[i];
      if (typeof element === "number") continue;
      if (element === null || element === undefined || typeof element === "boolean") continue;
      const found = this.visit(element, depth + 1);
      if (found !== undefined) {
        found.segments.push(`[${i}]`);
        return found;
      }
    }
    return undefined;
  }

  private visitObject(object: object, depth: number): Found | undefined {
    if (Object.prototype.hasOwnProperty.call(object, "__proto__")) {
      return { segments: ['["__proto__"]'], reason: PROTO_KEY_REASON };
    }
    for (const key of Object.keys(object)) {
      const keyProblem = stringProblem(key);
      if (keyProblem !== undefined) {
        keyProblem.reason = `its key: ${keyProblem.reason}`;
        keyProblem.segments.push(propertySegment(key));
        return keyProblem;
      }
      let child: unknown;
      try {
        child = (object as Record<string, unknown>)[key];
      } catch (error) {
        return { segments: [propertySegment(key)], reason: `reading it threw (${errorMessage(error)}); it cannot be encoded` };
      }
      const found = this.visit(child, depth + 1);
      if (found !== undefined) {
        found.segments.push(propertySegment(key));
        return found;
      }
    }
    return undefined;
  }

  private visitMap(map: Map<unknown, unknown>, depth: number): Found | undefined {
    let i = 0;
    for (const [key, entryValue] of map) {
      const keyFound = this.visit(key, depth + 1);
      if (keyFound !== undefined) {
        keyFound.segments.push(`.keys()[${i}]`);
        return keyFound;
      }
      const found = this.visit(entryValue, depth + 1);
      if (found !== undefined) {
        found.segments.push(isPrimitive(key) ? `.get(${describeMapKey(key)})` : `.values()[${i}]`);
        return found;
      }
      i++;
    }
    return undefined;
  }

  private visitSet(set: Set<unknown>, depth: number): Found | undefined {
    let i = 0;
    for (const member of set) {
      const found = this.visit(member, depth + 1);
      if (found !== undefined) {
        found.segments.push(`.values()[${i}]`);
        return found;
      }
      i++;
    }
    return undefined;
  }
}

function needsVisit(element: unknown): boolean {
  return typeof element !== "number" && typeof element !== "boolean" && element !== null && element !== undefined;
}

/** Node 20 has `String.prototype.isWellFormed`; the ES2023 lib types do not. */
type WellFormedString = string & { isWellFormed(): boolean };

function stringProblem(value: string, segment?: string): Found | undefined {
  if ((value as WellFormedString).isWellFormed()) return undefined;
  const match = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.exec(value);
  const where = match === null ? "" : ` (\\u${match[0].charCodeAt(0).toString(16).toUpperCase()} at index ${match.index})`;
  return {
    segments: segment === undefined ? [] : [segment],
    reason: `a string with a lone surrogate${where} would arrive with U+FFFD in its place (UTF-8 cannot carry it)`,
  };
}

function enumerableSymbolKey(object: object): symbol | undefined {
  for (const symbol of Object.getOwnPropertySymbols(object)) {
    if (Object.prototype.propertyIsEnumerable.call(object, symbol)) return symbol;
  }
  return undefined;
}

/**
 * The first own enumerable key of an array that is not an index. `Object.keys` lists indices
 * first, so any named key is at the end.
 */
function firstNamedArrayKey(array: unknown[]): string | undefined {
  const keys = Object.keys(array);
  let first: string | undefined;
  for (let i = keys.length - 1; i >= 0; i--) {
    const key = keys[i] as string;
    if (isArrayIndex(key)) break;
    first = key;
  }
  return first;
}

function isArrayIndex(key: string): boolean {
  return /^(?:0|[1-9]\d*)$/.test(key) && Number(key) < 2 ** 32 - 1;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function propertySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${quote(key)}]`;
}

function isPrimitive(value: unknown): boolean {
  return value === null || (typeof value !== "object" && typeof value !== "function");
}

function describeMapKey(key: unknown): string {
  switch (typeof key) {
    case "string":
      return quote(key);
    case "bigint":
      return `${key}n`;
    default:
      return String(key);
  }
}

/** A JSON string literal, shortened so a huge key does not flood the message. */
function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
