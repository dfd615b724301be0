import { classRefKey, type ClassLookup, type LocateClass, type ModuleClassRef } from "@malocher/protocol";
import { NotLocated, locateExport, privateMemberNames } from "./locate-function.js";

/** Per prototype: where its class is exported, or why it cannot cross. */
const lookups = new WeakMap<object, ClassLookup>();
/** Per prototype: why a field copy of its instances would lose `#private` members (empty: it would not). */
const privateMembers = new WeakMap<object, string>();
/** Every class located in this process, by `classRefKey`: the classes this process can load without `import()`. */
const locatedClasses = new Map<string, Function>();

/**
 * Finds the exported class of an instance, for the value codec (see `LocateClass`): the class is
 * its prototype's own `constructor`, and its module must export that very class. Uses the V8
 * inspector like `locateFunction`, once per class.
 *
 * @example
 * ```ts
 * checkAndEncodeValue(args, "args", "ARG_NOT_SERIALIZABLE", locateClass);
 * ```
 */
export const locateClass: LocateClass = (instance, custom) => {
  const proto = Object.getPrototypeOf(instance) as object;
  let lookup = lookups.get(proto);
  if (lookup === undefined) {
    lookup = lookUp(instance, proto);
    lookups.set(proto, lookup);
  }
  if ("refused" in lookup || custom) return lookup;
  let privates = privateMembers.get(proto);
  if (privates === undefined) {
    // Instances of one class have the same private members, so one look per class is enough.
    privates = privateMemberNames(instance).join(", ");
    privateMembers.set(proto, privates);
  }
  if (privates === "") return lookup;
  return {
    refused: `an instance of class ${lookup.ref.name} with private members (${privates}), which a copy of its fields cannot ` +
      `carry; give the class a toMalocher() method and a static fromMalocher(data) that rebuilds it`,
  };
};

/** A class located in this process under this reference, if any. */
export function locatedClass(ref: ModuleClassRef): Function | undefined {
  return locatedClasses.get(classRefKey(ref));
}

function lookUp(instance: object, proto: object): ClassLookup {
  const ctor: unknown = Object.getOwnPropertyDescriptor(proto, "constructor")?.value;
  if (typeof ctor !== "function" || ctor.prototype !== proto) {
    return {
      refused: `an object with a custom prototype (${Object.prototype.toString.call(instance)}) that no class owns; ` +
        "make it with an exported class, or send a plain object",
    };
  }
  const name = ctor.name === "" ? "(anonymous)" : ctor.name;
  try {
    const { module, export: exportName } = locateExport(ctor);
    const ref: ModuleClassRef = { module, export: exportName, name: ctor.name === "" ? exportName : ctor.name };
    locatedClasses.set(classRefKey(ref), ctor);
    return { ref, constructor: ctor };
  } catch (error) {
    if (!(error instanceof NotLocated)) throw error;
    if (error.options.suggestOwnName === false) {
      // A class of Node.js itself or a native one: no module of the user's can export it.
      return {
        refused: `an instance of class ${name}, a class of Node.js itself or a native one, which the other side cannot rebuild: ` +
          "send what it holds instead (a plain object of its data), or an instance of a class of your own that keeps that data",
      };
    }
    return {
      refused: `an instance of class ${name}, which the other side could not load: ${error.message}. ` +
        `Export the class from its module (\`export class ${name === "(anonymous)" ? "MyClass" : name}\`)`,
    };
  }
}
