import { describeType } from "./record-codec.js";

/**
 * Field readers for validating decoded records. Each throws a TypeError naming the field, which
 * the decoders turn into their own typed error.
 */
export function stringField(record: Record<string, unknown>, key: string): string {
  const value = record[key];
  if (typeof value !== "string") throw new TypeError(`field "${key}" should be a string, got ${describeType(value)}`);
  return value;
}

export function numberField(record: Record<string, unknown>, key: string): number {
  const value = record[key];
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError(`field "${key}" should be a finite number, got ${describeType(value)}`);
  }
  return value;
}

export function booleanField(record: Record<string, unknown>, key: string): boolean {
  const value = record[key];
  if (typeof value !== "boolean") throw new TypeError(`field "${key}" should be a boolean, got ${describeType(value)}`);
  return value;
}

export function bytesField(record: Record<string, unknown>, key: string): Uint8Array {
  const value = record[key];
  if (!(value instanceof Uint8Array)) throw new TypeError(`field "${key}" should be bytes, got ${describeType(value)}`);
  return value;
}

export function recordField(record: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = record[key];
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new TypeError(`field "${key}" should be a map, got ${describeType(value)}`);
  }
  return value as Record<string, unknown>;
}

export function stringArrayField(record: Record<string, unknown>, key: string): string[] {
  const value = record[key];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw new TypeError(`field "${key}" should be a list of strings`);
  }
  return value as string[];
}

export function stringMapField(record: Record<string, unknown>, key: string): Record<string, string> {
  const value = recordField(record, key);
  for (const [name, item] of Object.entries(value)) {
    if (typeof item !== "string") throw new TypeError(`field "${key}.${name}" should be a string`);
  }
  return value as Record<string, string>;
}

export function bytesMapField(record: Record<string, unknown>, key: string): Record<string, Uint8Array> {
  const value = recordField(record, key);
  for (const [name, item] of Object.entries(value)) {
    if (!(item instanceof Uint8Array)) throw new TypeError(`field "${key}.${name}" should be bytes`);
  }
  return value as Record<string, Uint8Array>;
}
