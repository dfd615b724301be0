import { describeType } from "@malocher/protocol";

/**
 * A wrong option value as a message shows it: as it is written in code (`"2"` for a string), with
 * its type when the type is what is wrong (`"2" (a string)` where a number belongs), or `nothing`.
 */
export function shownValue(value: unknown, expected: "number" | "string"): string {
  if (value === undefined) return "nothing";
  const text = typeof value === "number" ? String(value) : typeof value === "bigint" ? `${value}n` : (JSON.stringify(value) ?? String(value));
  if (typeof value === expected) return text;
  const type = describeType(value);
  return `${text} (${["string", "number", "boolean", "bigint", "symbol", "function"].includes(type) ? `a ${type}` : type === "object" ? "an object" : type})`;
}
