import { MalocherError } from "@malocher/protocol";

const DURATION_UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const SIZE_UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Parses a whole number ≥ 0, for option `name`. */
export const integer = (name: string) => (value: string) => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new MalocherError("INVALID_OPTIONS", `${name} takes a whole number, got ${value}`);
  return number;
};

/** Parses a duration like `90s`, `30m`, `12h`, `7d` or `2w` into milliseconds, for option `name`. */
export const duration = (name: string) => (value: string) => {
  const match = /^(\d+)([smhdw])$/.exec(value.trim());
  if (match === null) throw new MalocherError("INVALID_OPTIONS", `${name} takes a duration like 30m, 12h or 7d, got ${JSON.stringify(value)}.`);
  return Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
};

/** Parses a size like `65536`, `512k`, `1M` or `2G` (powers of 1024) into bytes, for option `name`. */
export const byteSize = (name: string) => (value: string) => {
  const match = /^(\d+)([kmg]?)(i?b)?$/i.exec(value.trim());
  const bytes = match === null ? NaN : Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new MalocherError("INVALID_OPTIONS", `${name} takes a size in bytes like 65536, 512k or 1M, got ${JSON.stringify(value)}.`);
  }
  return bytes;
};

/** Parses `NAME=value` for a repeatable option `name`, adding it to the variables given before. */
export const envAssignment = (name: string) => (value: string, previous: Record<string, string> | undefined) => {
  const equals = value.indexOf("=");
  if (equals < 1) throw new MalocherError("INVALID_OPTIONS", `${name} takes NAME=value, got ${JSON.stringify(value)}.`);
  return { ...previous, [value.slice(0, equals)]: value.slice(equals + 1) };
};
