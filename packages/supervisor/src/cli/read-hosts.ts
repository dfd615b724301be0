import { readFileSync, statSync, type Stats } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { MalocherError } from "@malocher/protocol";
import { parseMachine } from "../ssh/node-target.js";

/**
 * A value that names a file rather than machines: a path (a slash anywhere but after a machine's
 * slot count, `4/node1`), or a name with a file's extension.
 */
const LOOKS_LIKE_FILE = /^~|^(?!\d+\/)[^/]*\/|\.(?:txt|hosts|conf|cfg|list)$/i;

/**
 * `--hosts` takes a file (one `[slots/][user@]host[:port]` a line, `#` comments) or a
 * comma-separated list of machines. A file that names no machine, and a value that looks like a
 * file's name but is no file, are refused: either would otherwise be a run without the machines
 * meant (none, or one called like the file).
 */
export function readHosts(value: string): string[] {
  // `--hosts=~/hosts`: no shell expands a ~ after "=".
  const path = value.startsWith("~/") ? join(homedir(), value.slice(2)) : value;
  let stats: Stats | undefined;
  try {
    stats = statSync(path);
  } catch {}
  const isFile = stats?.isFile() === true;
  if (!isFile && !value.includes(",") && LOOKS_LIKE_FILE.test(value)) {
    const what = stats === undefined ? "no such file" : "not a regular file";
    throw new MalocherError("INVALID_OPTIONS", `--hosts ${value}: ${what}. Give a hosts file, or the machines themselves: --hosts node1,alice@node2:2222.`);
  }
  const entries = isFile
    ? readFileSync(path, "utf8")
        .split("\n")
        .map((line) => line.replace(/#.*/, "").trim())
    : value.split(",").map((entry) => entry.trim());
  // A machine that cannot be read is named with where it is: the file's line, or its place in the list.
  entries.forEach((entry, index) => {
    if (entry === "") return;
    try {
      parseMachine(entry);
    } catch (error) {
      if (!(error instanceof MalocherError)) throw error;
      throw new MalocherError(error.code, `--hosts ${value}, ${isFile ? "line" : "entry"} ${index + 1}: ${error.message}`, { cause: error });
    }
  });
  const machines = entries.filter((entry) => entry !== "");
  if (isFile && machines.length === 0) {
    throw new MalocherError(
      "INVALID_OPTIONS",
      `--hosts ${value}: the file names no machine (only comments or blank lines). Add one a line, [slots/][user@]host[:port] [labels], or leave out --hosts to run on this machine.`,
    );
  }
  if (machines.length === 0) {
    throw new MalocherError("INVALID_OPTIONS", `--hosts ${JSON.stringify(value)} names no machine. Give the machines (--hosts node1,alice@node2:2222) or a hosts file, or leave out --hosts to run on this machine.`);
  }
  return machines;
}
