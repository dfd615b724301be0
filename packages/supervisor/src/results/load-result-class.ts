import { fileURLToPath } from "node:url";
import { importClass, locatedClass, readExportInPlace } from "@malocher/locate";
import type { LoadClass } from "@malocher/protocol";
import { mainModuleUrl } from "../is-main.js";

/**
 * How the submitting process loads the classes named in results: a class it sent itself is
 * already known; a class of its own main module is read from that module's scope, never
 * imported (the main module may be awaiting this very result at its top level, and importing it
 * would wait for that); any other module is imported.
 */
export const loadResultClass: LoadClass = async (ref) => {
  const known = locatedClass(ref);
  if (known !== undefined) return known;
  if (ref.module === mainModuleUrl()) {
    const value = readExportInPlace(ref.module, ref.export);
    if (typeof value === "function") return value;
    throw new Error(
      `it is exported by ${fileURLToPath(ref.module)}, the script this process runs, which Malocher does not import ` +
        "(its top-level await may be waiting for this result); submit a job or send an instance of a class from it first",
    );
  }
  return importClass(ref);
};
