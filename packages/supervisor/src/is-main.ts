import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";

/**
 * Whether the calling module is the script Node was started with, like Python's
 * `if __name__ == "__main__"`. Agents import your module to find the job function; this guard
 * keeps them from running your submit loop again.
 *
 * @example
 * ```ts
 * if (isMain(import.meta)) { submit(train, 1); for await (const r of processAll()) console.log(r); }
 * ```
 */
export function isMain(meta: ImportMeta): boolean {
  return meta.url === mainModuleUrl();
}

/** The `file:` URL of the script Node was started with, or undefined (REPL, `node -e`). */
export function mainModuleUrl(): string | undefined {
  const script = process.argv[1];
  if (script === undefined) return undefined;
  try {
    return pathToFileURL(realpathSync(script)).href;
  } catch {
    return undefined;
  }
}
