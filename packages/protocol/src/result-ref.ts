/**
 * `resultOf(jobId)`: a reference to another job's result, standing in a job's arguments where
 * that job's value goes. The value codec writes it as its own msgpack extension (the job id
 * only), so it crosses like any argument, nested in objects, arrays, Maps and Sets and inside
 * class instances; the worker replaces each one by the value of that job's result before the
 * job runs ({@link replaceResultRefs}).
 */
import { isJobId } from "./job-id.js";

/** Stands for the value of job `jobId`'s result in a job's arguments. Make one with `resultOf`. */
export class ResultOf {
  constructor(readonly jobId: string) {
    if (!isJobId(jobId)) throw new TypeError(`${JSON.stringify(jobId)} is not a job id`);
    Object.freeze(this);
  }
}

/**
 * Replaces every {@link ResultOf} in `value` (a freshly decoded argument list: changed in place)
 * by `valueOf(jobId)`, at any depth: object fields (also class instances'), array elements, Map
 * keys and values, Set members. Shared references and cycles are walked once. Returns the value
 * (the replacement itself when `value` is a reference).
 */
export function replaceResultRefs(value: unknown, valueOf: (jobId: string) => unknown): unknown {
  const seen = new Set<object>();
  const walk = (item: unknown): unknown => {
    if (typeof item !== "object" || item === null) return item;
    if (item instanceof ResultOf) return valueOf(item.jobId);
    if (seen.has(item) || ArrayBuffer.isView(item) || item instanceof ArrayBuffer || item instanceof Date || item instanceof RegExp) return item;
    seen.add(item);
    if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) item[i] = walk(item[i]);
    } else if (item instanceof Map) {
      const entries = [...item.entries()];
      item.clear();
      for (const [k, v] of entries) item.set(walk(k), walk(v));
    } else if (item instanceof Set) {
      const members = [...item];
      item.clear();
      for (const member of members) item.add(walk(member));
    } else {
      const record = item as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        const before = record[key];
        const after = walk(before);
        if (after !== before) record[key] = after;
      }
    }
    return item;
  };
  return walk(value);
}

/** The job ids of the {@link ResultOf} references in `value`, each once (the value is left as it is). */
export function collectResultRefs(value: unknown): Set<string> {
  const ids = new Set<string>();
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item !== "object" || item === null) continue;
    if (item instanceof ResultOf) {
      ids.add(item.jobId);
      continue;
    }
    if (seen.has(item) || ArrayBuffer.isView(item) || item instanceof ArrayBuffer || item instanceof Date || item instanceof RegExp) continue;
    seen.add(item);
    if (Array.isArray(item)) for (const element of item) stack.push(element);
    else if (item instanceof Map) for (const [k, v] of item) stack.push(k, v);
    else if (item instanceof Set) for (const member of item) stack.push(member);
    else for (const key of Object.keys(item)) stack.push((item as Record<string, unknown>)[key]);
  }
  return ids;
}
