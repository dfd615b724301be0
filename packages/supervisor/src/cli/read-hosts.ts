import { readFileSync, statSync } from "node:fs";

/**
 * `--hosts` takes a file (one `[slots/][user@]host[:port]` a line, `#` comments) or a
 * comma-separated list of machines.
 */
export function readHosts(value: string): string[] {
  let isFile = false;
  try {
    isFile = statSync(value).isFile();
  } catch {}
  const entries = isFile
    ? readFileSync(value, "utf8")
        .split("\n")
        .map((line) => line.replace(/#.*/, "").trim())
    : value.split(",").map((entry) => entry.trim());
  return entries.filter((entry) => entry !== "");
}
