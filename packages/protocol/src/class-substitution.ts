/**
 * The encoding side of class instances: a copy of a value in which every class instance is
 * replaced by a plain stand-in object, with a table that says which stand-in belongs to which
 * class. msgpackr then encodes the copy like any other value, keeping shared references and
 * cycles, and the decoding side (`class-revival.ts`) gives the stand-ins their classes back in
 * place, so every reference to an instance still points at one object.
 */
import { ERROR_OWN_KEYS, classRefKey, type ClassRef, type LocateClass, type MalocherEncodable } from "./class-ref.js";
import { classifyInstance, isCodecPrototype, type SeenInstances } from "./find-unserializable.js";

/** A value whose class instances were replaced; what the codec's class extension writes. */
export class ClassEnvelope {
  constructor(
    /** Every class named below, each once. */
    readonly classes: ClassRef[],
    /** Pairs of (index into `classes`, the plain object that carries the instance's fields). */
    readonly instances: unknown[],
    /** Pairs of (index into `classes`, `{ data }` holding what `toMalocher()` returned). */
    readonly customs: unknown[],
    /** The value with every instance replaced. */
    readonly value: unknown,
  ) {}
}

/** Why a value cannot be substituted; `value-codec.ts` turns it into a MalocherError. */
export class SubstitutionRefused extends Error {}

/**
 * Copies `value` with its class instances replaced, or returns undefined if it has none (the
 * value is then encoded as it is). Leaves binary data, Dates and RegExps shared, not copied.
 * `seen` holds what `findUnserializable` found out about the instances (their class, their
 * `toMalocher()` data), so that neither is looked up again.
 */
export function substituteInstances(
  value: unknown,
  locate: LocateClass,
  seen: SeenInstances = new Map(),
): ClassEnvelope | undefined {
  const substituter = new Substituter(locate, seen);
  const copy = substituter.copy(value);
  if (substituter.classes.length === 0) return undefined;
  return new ClassEnvelope(substituter.classes, substituter.instances, substituter.customs, copy);
}

class Substituter {
  readonly classes: ClassRef[] = [];
  readonly instances: unknown[] = [];
  readonly customs: unknown[] = [];
  private readonly classIndexes = new Map<string, number>();
  private readonly copies = new Map<object, unknown>();
  /** Custom-encoded instances whose data is being copied: meeting one again is a cycle through it. */
  private readonly unfinished = new Set<object>();

  constructor(
    private readonly locate: LocateClass,
    private readonly seen: SeenInstances,
  ) {}

  copy(value: unknown): unknown {
    if (typeof value !== "object" || value === null) return value;
    if (this.unfinished.has(value)) {
      throw new SubstitutionRefused("an object with toMalocher() is reachable from its own toMalocher() data, which fromMalocher() cannot rebuild");
    }
    if (this.copies.has(value)) return this.copies.get(value);
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto === Object.prototype || proto === null) {
      const out: Record<string, unknown> = proto === null ? (Object.create(null) as Record<string, unknown>) : {};
      this.copies.set(value, out);
      this.copyFields(value, out);
      return out;
    }
    if (proto === Array.prototype) {
      const array = value as unknown[];
      const out = new Array<unknown>(array.length);
      this.copies.set(value, out);
      for (let i = 0; i < array.length; i++) out[i] = this.copy(array[i]);
      return out;
    }
    if (proto === Map.prototype) {
      const out = new Map<unknown, unknown>();
      this.copies.set(value, out);
      for (const [k, v] of value as Map<unknown, unknown>) out.set(this.copy(k), this.copy(v));
      return out;
    }
    if (proto === Set.prototype) {
      const out = new Set<unknown>();
      this.copies.set(value, out);
      for (const member of value as Set<unknown>) out.add(this.copy(member));
      return out;
    }
    if (isCodecPrototype(proto)) return value; // Date, RegExp, binary data: nothing inside to replace
    return this.copyInstance(value, proto as object);
  }

  private copyInstance(instance: object, proto: object): unknown {
    const known = this.seen.get(instance);
    const encoding = known?.encoding ?? classifyInstance(instance, proto, this.locate);
    if ("refused" in encoding) throw new SubstitutionRefused(encoding.refused);
    const index = this.classIndex(encoding.ref);
    if (encoding.kind === "custom") {
      const holder: { data: unknown } = { data: undefined };
      this.copies.set(instance, holder);
      this.customs.push(index, holder);
      const data = "builtin" in encoding.ref
        ? (instance as URL).href
        : known !== undefined ? known.data : (instance as MalocherEncodable).toMalocher();
      this.unfinished.add(instance);
      holder.data = this.copy(data);
      this.unfinished.delete(instance);
      return holder;
    }
    const out: Record<string, unknown> = {};
    this.copies.set(instance, out);
    this.instances.push(index, out);
    this.copyFields(instance, out);
    if (encoding.error) {
      for (const key of ERROR_OWN_KEYS) {
        const descriptor = Object.getOwnPropertyDescriptor(instance, key);
        if (descriptor !== undefined && "value" in descriptor && !(key in out)) out[key] = this.copy(descriptor.value);
      }
    }
    return out;
  }

  private copyFields(from: object, to: Record<string, unknown>): void {
    for (const key of Object.keys(from)) to[key] = this.copy((from as Record<string, unknown>)[key]);
  }

  private classIndex(ref: ClassRef): number {
    const key = classRefKey(ref);
    let index = this.classIndexes.get(key);
    if (index === undefined) {
      index = this.classes.push(ref) - 1;
      this.classIndexes.set(key, index);
    }
    return index;
  }
}
