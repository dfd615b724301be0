import { MalocherError, isJobId } from "@malocher/protocol";
import { isTcpPort } from "../ssh/node-target.js";

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const SIZE_UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** The units a duration takes, for messages. */
export const DURATION_EXAMPLES = "500ms, 10s, 5m, 1h or 2d";

/** Parses a whole number ≥ `least` (default 0), for option `name`. */
export const integer =
  (name: string, least = 0) =>
  (value: string) => {
    const number = Number(value);
    if (value.trim() === "" || !Number.isInteger(number) || number < least) {
      throw new MalocherError("INVALID_OPTIONS", `${name} takes a whole number${least > 0 ? ` ≥ ${least}` : ""}, got ${JSON.stringify(value)}.`);
    }
    return number;
  };

/** Parses a TCP port (1-65535) for option `name`. */
export const tcpPort = (name: string) => (value: string) => {
  const number = Number(value);
  if (value.trim() === "" || !isTcpPort(number)) {
    throw new MalocherError("INVALID_OPTIONS", `${name} takes a TCP port, a whole number from 1 to 65535, got ${JSON.stringify(value)}.`);
  }
  return number;
};

/**
 * Parses a duration with its unit, `500ms`, `10s`, `1.5m`, `1h`, `2d` or `2w`, into milliseconds,
 * for option `name`. A bare number is refused: `--timeout 60` meant 60 ms to the computer and a
 * minute to the person who typed it.
 */
export const duration = (name: string) => (value: string) => {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|[smhdw])$/.exec(value.trim());
  const ms = match === null ? NaN : Math.round(Number(match[1]) * DURATION_UNITS_MS[match[2]!]!);
  if (!Number.isSafeInteger(ms)) {
    const written = value.trim();
    const bare = /^\d+(\.\d+)?$/.test(written) ? ` (a bare number has no unit: write ${written}s for seconds, ${written}m for minutes, ${written}h for hours, ${written}d for days or ${written}ms for milliseconds)` : "";
    throw new MalocherError("INVALID_OPTIONS", `${name} takes a duration with a unit like ${DURATION_EXAMPLES}, got ${JSON.stringify(value)}${bare}.`);
  }
  return ms;
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

/** Collects a repeatable option `name`'s values into a list. */
export const repeated = () => (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/**
 * Job ids, given as several values, repeated, or comma-separated (`--after a b`, `--after a --after b`,
 * `--after a,b`), for option `name`. It takes every word up to the next option, so a command that
 * follows without `--` would be read as ids: a word that is no job id is refused, saying so.
 */
export const jobIdList = (name: string) => (value: string, previous: string[] | undefined) => {
  const ids = value.split(",").filter((id) => id !== "");
  const notId = ids.find((id) => !isJobId(id));
  if (notId !== undefined) {
    throw new MalocherError(
      "INVALID_OPTIONS",
      `${name} takes job ids, and ${JSON.stringify(notId)} is none. A command after ${name} needs -- before it: malocher submit ${name} <id> -- <command>.`,
    );
  }
  return [...(previous ?? []), ...ids];
};
