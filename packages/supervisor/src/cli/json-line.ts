import { randomBytes } from "node:crypto";
/**
 * One JSON line for `--json` output. Values JSON cannot hold are written in a readable form:
 * BigInt as a string, Map as an object (or entry list), Set and typed arrays as arrays, bytes of
 * an ArrayBuffer as an array, Dates as ISO strings (JSON's default), undefined as null, a class
 * instance as its fields plus `"$class"`, its class's name (errors also with name, message, stack
 * and code),
 * and a reference back to an enclosing object (a cycle) as the string `"[Circular]"`. A typed
 * array or ArrayBuffer of more than {@link MAX_ARRAY_ITEMS} items is written as
 * `{ "$class": "Uint8Array", "byteLength": …, "omitted": true }` (as an array, 200 MB of bytes
 * would be a line longer than a string can be: read such a value with the library), and so is one
 * of more than {@link FEW_ARRAY_ITEMS} when the value has so many arrays that its line would be.
 */
export function jsonLine(value: unknown): string {
  return `${withinStringLength((maxItems) => JSON.stringify(toJson(value, new Set(), false, maxItems)))}\n`;
}

/**
 * `write(MAX_ARRAY_ITEMS)`, or, when its text would be longer than a string can be (many arrays,
 * each under the cap), `write(FEW_ARRAY_ITEMS)`: such a value is read with the library anyway.
 */
function withinStringLength(write: (maxItems: number) => string | undefined): string | undefined {
  try {
    return write(MAX_ARRAY_ITEMS);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return write(FEW_ARRAY_ITEMS);
  }
}

/** Marks a value's text that {@link literalText} writes as it is, not as a JSON string (a string of a job's cannot guess it). */
const LITERAL_TAG = randomBytes(6).toString("hex");
const LITERAL = `\u0000${LITERAL_TAG}:`;
const QUOTED_LITERAL = new RegExp(`"\\\\u0000${LITERAL_TAG}:([^"]*)"`, "g");

/**
 * A value as one line of text for people (a job's arguments, a result in `malocher results`): as
 * {@link jsonLine} writes it, but for what JSON cannot hold, which reads as in code: `12n`,
 * `undefined`, `NaN`, `Infinity`.
 */
export function literalText(value: unknown): string {
  return withinStringLength((maxItems) => JSON.stringify(toJson(value, new Set(), true, maxItems))?.replace(QUOTED_LITERAL, "$1")) ?? "undefined";
}

/** The most items of a typed array or ArrayBuffer written out (see {@link jsonLine}); of each, when all of them would make too long a text. */
const MAX_ARRAY_ITEMS = 1_000_000;
const FEW_ARRAY_ITEMS = 1000;

/** A typed array or ArrayBuffer too long to write out: its class and size (in text for people as the dashboard shows it). */
function omittedBytes(name: string, byteLength: number, literals: boolean): unknown {
  return literals ? `${LITERAL}(${name}, ${byteLength} bytes)` : { $class: name, byteLength, omitted: true };
}

function toJson(value: unknown, ancestors: Set<object>, literals: boolean, maxItems: number): unknown {
  if (typeof value === "bigint") return literals ? `${LITERAL}${value}n` : value.toString();
  if (value === undefined) return literals ? `${LITERAL}undefined` : null;
  if (literals && typeof value === "number" && !Number.isFinite(value)) return `${LITERAL}${value}`;
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof Date || value instanceof URL) return value.toJSON();
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const items = value as unknown as ArrayLike<unknown>;
    if (items.length > maxItems) return omittedBytes(value.constructor.name, value.byteLength, literals);
    return Array.from(items, (x) => (typeof x === "bigint" ? toJson(x, ancestors, literals, maxItems) : x));
  }
  if (value instanceof ArrayBuffer) return value.byteLength > maxItems ? omittedBytes("ArrayBuffer", value.byteLength, literals) : Array.from(new Uint8Array(value));
  if (ancestors.has(value)) return "[Circular]";
  ancestors.add(value);
  try {
    const inner = (v: unknown) => toJson(v, ancestors, literals, maxItems);
    if (Array.isArray(value)) return value.map(inner);
    if (value instanceof Set) return [...value].map(inner);
    if (value instanceof Map) {
      const entries = [...value.entries()];
      return entries.every(([key]) => typeof key === "string")
        ? Object.fromEntries(entries.map(([k, v]) => [k, inner(v)]))
        : entries.map(([k, v]) => [inner(k), inner(v)]);
    }
    const out: Record<string, unknown> = {};
    const proto = Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null;
    if (proto !== null && proto !== Object.prototype) out["$class"] = typeof proto.constructor?.name === "string" ? proto.constructor.name : "";
    if (value instanceof Error) {
      const { code } = value as { code?: unknown };
      Object.assign(out, { name: value.name, message: value.message, stack: value.stack }, code === undefined ? {} : { code });
    }
    for (const [key, field] of Object.entries(value)) out[key] = inner(field);
    return out;
  } finally {
    ancestors.delete(value);
  }
}
