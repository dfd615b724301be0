/**
 * The decoding side of class instances (see `class-substitution.ts`): gives each decoded stand-in
 * its class's prototype in place (the constructor does not run), and replaces each custom-encoded
 * stand-in by what its class's `fromMalocher(data)` returns, wherever it is referenced.
 * A class that cannot be loaded gets a placeholder class of the same name, so the value can still
 * be shown: plain fields under the class's name, never a crash.
 */
import {
  BUILTIN_CLASSES,
  classRefKey,
  type ClassRef,
  type ModuleClassRef,
} from "./class-ref.js";
import { isCodecPrototype } from "./find-unserializable.js";

/** What `value-codec.ts` decoded from a class extension, before the classes are loaded. */
export class DecodedEnvelope {
  constructor(
    readonly classes: ClassRef[],
    readonly instances: unknown[],
    readonly customs: unknown[],
    readonly value: unknown,
  ) {}

  /** The module classes the value names (built-ins need no loading). */
  moduleClasses(): ModuleClassRef[] {
    return this.classes.filter((ref): ref is ModuleClassRef => !("builtin" in ref));
  }
}

/** Marks placeholder classes: its value is the reference of the class that could not be loaded. */
const UNLOADED = Symbol("malocher.unloadedClass");
const placeholders = new Map<string, Function>();

/**
 * The class a value stood for when it arrived as a placeholder (its class could not be loaded in
 * this process), or undefined for every other value.
 *
 * @example
 * ```ts
 * const ref = unloadedClassOf(result.value); // { module: "file:///…/model.ts", export: "Model", name: "Model" }
 * ```
 */
export function unloadedClassOf(value: unknown): ModuleClassRef | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const ctor = (Object.getPrototypeOf(value) as { constructor?: unknown } | null)?.constructor;
  return typeof ctor === "function" ? ((ctor as unknown as Record<symbol, ModuleClassRef | undefined>)[UNLOADED]) : undefined;
}

function placeholderFor(ref: ModuleClassRef, error: boolean): Function {
  const key = `${classRefKey(ref)}${error ? "!" : ""}`;
  let placeholder = placeholders.get(key);
  if (placeholder === undefined) {
    placeholder = error ? class extends Error {} : class {};
    Object.defineProperty(placeholder, "name", { value: ref.name });
    Object.defineProperty(placeholder, UNLOADED, { value: { ...ref } });
    placeholders.set(key, placeholder);
  }
  return placeholder;
}

/**
 * Gives the envelope's stand-ins their classes and returns the value. `loaded` maps
 * `classRefKey(ref)` to the loaded class; a module class missing from it gets a placeholder.
 */
export function reviveInstances(envelope: DecodedEnvelope, loaded: ReadonlyMap<string, Function>): unknown {
  const { classes, instances, customs } = envelope;
  const classAt = (index: unknown, error: boolean): { ref: ClassRef; Class: Function; loaded: boolean } => {
    const ref = classes[index as number];
    if (ref === undefined) throw new TypeError(`class index ${String(index)} out of range`);
    if ("builtin" in ref) return { ref, Class: BUILTIN_CLASSES[ref.builtin], loaded: true };
    const Class = loaded.get(classRefKey(ref));
    return Class === undefined ? { ref, Class: placeholderFor(ref, error), loaded: false } : { ref, Class, loaded: true };
  };

  for (let i = 0; i < instances.length; i += 2) {
    const object = instances[i + 1] as Record<string, unknown>;
    const isError = typeof object["message"] === "string" && typeof object["stack"] === "string";
    const { Class } = classAt(instances[i], isError);
    Object.setPrototypeOf(object, (Class as { prototype: object }).prototype);
    if (object instanceof Error) hideErrorFields(object);
  }
  if (customs.length === 0) return envelope.value;

  const rebuilders = new Map<object, (data: unknown) => unknown>();
  for (let i = 0; i < customs.length; i += 2) {
    const holder = customs[i + 1] as { data: unknown };
    const { ref, Class, loaded } = classAt(customs[i], false);
    if (!loaded) {
      // Shown as the class's name with its custom data: `Model { data: … }`.
      Object.setPrototypeOf(holder, (Class as { prototype: object }).prototype);
      continue;
    }
    const fromMalocher = "builtin" in ref
      ? (data: unknown) => new URL(String(data))
      : (Class as unknown as { fromMalocher: (data: unknown) => unknown }).fromMalocher.bind(Class);
    rebuilders.set(holder, fromMalocher);
  }
  return rebuilders.size === 0 ? envelope.value : replaceCustoms(envelope.value, rebuilders);
}

/** The own properties that `new Error()` (and AggregateError) make non-enumerable. */
const ERROR_HIDDEN_KEYS = ["message", "stack", "cause", "errors"] as const;

/** Errors keep message, stack and cause as non-enumerable own properties, as `new Error()` makes them. */
function hideErrorFields(error: Error): void {
  for (const key of ERROR_HIDDEN_KEYS) {
    const descriptor = Object.getOwnPropertyDescriptor(error, key);
    if (descriptor?.enumerable === true) Object.defineProperty(error, key, { ...descriptor, enumerable: false });
  }
}

/**
 * Replaces every reference to a custom-encoded holder by its rebuilt instance, innermost first (a
 * `fromMalocher` receives data whose own instances are already rebuilt).
 */
function replaceCustoms(root: unknown, rebuilders: ReadonlyMap<object, (data: unknown) => unknown>): unknown {
  const replaced = new Map<object, unknown>();
  const visit = (value: unknown): unknown => {
    if (typeof value !== "object" || value === null) return value;
    if (replaced.has(value)) return replaced.get(value);
    const rebuild = rebuilders.get(value);
    if (rebuild !== undefined) {
      replaced.set(value, value); // a cycle back here was refused when encoding
      const instance = rebuild(visit((value as { data: unknown }).data));
      replaced.set(value, instance);
      return instance;
    }
    replaced.set(value, value);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = visit(value[i]);
    } else if (value instanceof Map) {
      const entries = [...value].map(([k, v]) => [visit(k), visit(v)] as const);
      value.clear();
      for (const [k, v] of entries) value.set(k, v);
    } else if (value instanceof Set) {
      const members = [...value].map(visit);
      value.clear();
      for (const member of members) value.add(member);
    } else if (!isCodecPrototype(Object.getPrototypeOf(value) as object | null) || isPlain(value)) {
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) record[key] = visit(record[key]);
      if (value instanceof Error) {
        for (const key of ERROR_HIDDEN_KEYS) {
          if (Object.prototype.hasOwnProperty.call(value, key)) record[key] = visit(record[key]);
        }
      }
    }
    return value;
  };
  return visit(root);
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === Object.prototype || proto === null;
}
