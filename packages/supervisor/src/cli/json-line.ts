/**
 * One JSON line for `--json` output. Values JSON cannot hold are written in a readable form:
 * BigInt as a string, Map as an object (or entry list), Set and typed arrays as arrays, bytes of
 * an ArrayBuffer as an array, Dates as ISO strings (JSON's default), undefined as null.
 */
export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value, replacer)}\n`;
}

function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Map) {
    const entries = [...value.entries()];
    return entries.every(([key]) => typeof key === "string") ? Object.fromEntries(entries) : entries;
  }
  if (value instanceof Set) return [...value];
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<unknown>, (x) => (typeof x === "bigint" ? x.toString() : x));
  if (value instanceof ArrayBuffer) return Array.from(new Uint8Array(value));
  if (value === undefined) return null;
  return value;
}
