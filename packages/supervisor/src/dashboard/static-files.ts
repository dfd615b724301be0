import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

/** The page's files, shipped with the package (no build step, no CDN). */
const PAGE_DIR = fileURLToPath(new URL("../../page/", import.meta.url));

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
};

/** A file of the page by its name (`app.js`), or undefined for a name that is not one of them. */
export async function pageFile(name: string): Promise<{ body: Buffer; type: string } | undefined> {
  const match = /^[a-z0-9][a-z0-9-]*\.(html|js|css|svg|png)$/.exec(name);
  if (match === null) return undefined;
  try {
    return { body: await readFile(join(PAGE_DIR, name)), type: TYPES[match[1]!]! };
  } catch {
    return undefined;
  }
}
