import { describeType } from "./record-codec.js";

/** A shown value longer than this is cut. */
const MAX_SHOWN_CHARS = 80;

/**
 * A wrong option value as a message shows it: as it is written in code (`"2"` for a string), with
 * its type when the type is what is wrong (`"2" (a string)` where a number belongs), or `nothing`;
 * cut to 80 characters. Never throws (a BigInt, a cycle).
 */
export function shownValue(value: unknown, expected?: "number" | "string"): string {
  if (value === undefined) return "nothing";
  let text: string;
  if (typeof value === "number") text = String(value);
  else if (typeof value === "bigint") text = `${value}n`;
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
  }
  if (text.length > MAX_SHOWN_CHARS) text = `${text.slice(0, MAX_SHOWN_CHARS - 1)}…`;
  if (typeof value === expected) return text;
  const type = describeType(value);
  return `${text} (${["string", "number", "boolean", "bigint", "symbol", "function"].includes(type) ? `a ${type}` : type === "object" ? "an object" : type})`;
}
