import { unloadedClassOf } from "@malocher/protocol";

const MAX_PREVIEW_CHARS = 8192;
const MAX_DEPTH = 8;
const MAX_ITEMS = 100;

/**
 * A value as readable JSON text for the job page, at most MAX_PREVIEW_CHARS: class instances
 * show their class's name, bytes their length, Maps and Sets their entries; long arrays and deep
 * nesting are cut with a note.
 */
export function previewValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(plain(value, 0), null, 2) ?? "undefined";
  } catch (error) {
    text = `(cannot show: ${(error as Error).message})`;
  }
  return text.length > MAX_PREVIEW_CHARS ? `${text.slice(0, MAX_PREVIEW_CHARS)}\n… (${text.length - MAX_PREVIEW_CHARS} more characters)` : text;
}

function plain(value: unknown, depth: number): unknown {
  if (value === undefined) return "(undefined)";
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (typeof value === "function") return `(function ${value.name})`;
  if (typeof value === "symbol") return value.toString();
  if (typeof value !== "object" || value === null) return value;
  if (depth >= MAX_DEPTH) return "(…)";
  if (value instanceof Date) return value.toISOString();
  if (ArrayBuffer.isView(value)) return `(${value.constructor.name}, ${value.byteLength} bytes)`;
  if (value instanceof Error) return { error: value.name, message: value.message, ...fields(value, depth) };
  if (Array.isArray(value)) return items(value, depth);
  if (value instanceof Map) return { "(Map)": items([...value].map(([key, item]) => [key, item]), depth) };
  if (value instanceof Set) return { "(Set)": items([...value], depth) };
  const ref = unloadedClassOf(value);
  const className = ref?.name ?? (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null ? undefined : (value.constructor as { name?: string } | undefined)?.name);
  const body = fields(value, depth);
  return className === undefined ? body : { "(class)": className, ...body };
}

function items(list: unknown[], depth: number): unknown[] {
  const shown = list.slice(0, MAX_ITEMS).map((item) => plain(item, depth + 1));
  if (list.length > MAX_ITEMS) shown.push(`(… ${list.length - MAX_ITEMS} more)`);
  return shown;
}

function fields(value: object, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let count = 0;
  for (const [key, item] of Object.entries(value)) {
    if (++count > MAX_ITEMS) {
      out["(…)"] = "more fields";
      break;
    }
    out[key] = plain(item, depth + 1);
  }
  return out;
}
