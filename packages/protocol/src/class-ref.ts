/**
 * How class instances cross between processes: each instance travels as a reference to its class
 * plus its own data, and the receiving process loads the class and gives the data its prototype.
 * Locating a class (which module exports it) and loading one (`import()`) are I/O and runtime
 * introspection, so this package only names them; the agent package implements them.
 */

/** A class exported by an ES module: the receiver runs `(await import(module))[export]`. */
export interface ModuleClassRef {
  /** The module's `file:` URL. */
  module: string;
  /** The export's name (`"default"` for a default export). */
  export: string;
  /** The class's own name, for showing instances whose class cannot be loaded. */
  name: string;
}

/** The JavaScript built-in classes that cross by reference without being exported by anyone. */
export const BUILTIN_CLASSES = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError,
  URL,
} as const;

export type BuiltinClassName = keyof typeof BUILTIN_CLASSES;

/** A class named in an encoded value. */
export type ClassRef = ModuleClassRef | { builtin: BuiltinClassName };

/** What a {@link LocateClass} found for an instance. */
export type ClassLookup = { ref: ModuleClassRef; constructor: Function } | { refused: string };

/**
 * Finds the exported class of an instance (its prototype's `constructor`, checked to be exported
 * by its module). With `custom` false it also refuses instances with `#private` members, which a
 * copy of the own fields cannot carry. Called once per instance; implementations cache per class.
 */
export type LocateClass = (instance: object, custom: boolean) => ClassLookup;

/**
 * Loads the class a {@link ModuleClassRef} names in this process; rejects with an Error whose
 * message says why it cannot (module missing, export absent or not a class).
 */
export type LoadClass = (ref: ModuleClassRef) => Promise<Function>;

/**
 * The custom encoding a class may opt into, for instances whose own fields do not carry them
 * (handles, `#private` fields, caches): `toMalocher()` returns data the codec can send (class
 * instances included), and the static `fromMalocher(data)` makes an equal instance from it.
 *
 * @example
 * ```ts
 * export class Secretive {
 *   #seed: number;
 *   constructor(seed: number) { this.#seed = seed; }
 *   toMalocher() { return { seed: this.#seed }; }
 *   static fromMalocher(data: { seed: number }) { return new Secretive(data.seed); }
 * }
 * ```
 */
export interface MalocherEncodable {
  toMalocher(): unknown;
}

const BUILTIN_BY_PROTOTYPE: ReadonlyMap<object, BuiltinClassName> = new Map(
  Object.entries(BUILTIN_CLASSES).map(([name, Class]) => [Class.prototype as object, name as BuiltinClassName]),
);

/** The built-in class whose prototype this is, if any. */
export function builtinClassOf(proto: object | null): BuiltinClassName | undefined {
  return proto === null ? undefined : BUILTIN_BY_PROTOTYPE.get(proto);
}

/** Own properties of errors that are sent although they are not enumerable. */
export const ERROR_OWN_KEYS = ["name", "message", "stack", "cause", "errors", "code"] as const;

/** A short, stable text for a class reference: `Model (file:///…/model.ts#Model)`. */
export function describeClassRef(ref: ClassRef): string {
  return "builtin" in ref ? ref.builtin : `${ref.name} (${ref.module}#${ref.export})`;
}

/** The key that tells class references apart in caches. */
export function classRefKey(ref: ClassRef): string {
  return "builtin" in ref ? `builtin:${ref.builtin}` : `${ref.module}#${ref.export}`;
}
