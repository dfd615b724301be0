import { describeClassRef, type LoadClass } from "@malocher/protocol";

/**
 * Loads a class by importing its module (the `LoadClass` of processes that may import user code:
 * workers, and the library for modules other than the main one).
 */
export const importClass: LoadClass = async (ref) => {
  const module = (await import(ref.module)) as Record<string, unknown>;
  const Class = module[ref.export];
  if (typeof Class !== "function") {
    throw new Error(`${ref.module} has no exported class "${ref.export}" here (found ${typeof Class}); ` +
      `was ${describeClassRef(ref)} renamed or removed since?`);
  }
  return Class;
};
