/**
 * Repeated measurements and their summaries: every number the benchmark reports is the median of
 * its repeats, with the smallest and largest repeat next to it.
 */

/** A repeated measurement: median, min and max of its samples. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

/** The median, min and max of `samples` (at least one). */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error("summarize: no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, samples: [...samples] };
}

/** The nearest-rank `p`-th percentile (0 < p ≤ 100) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error("percentile: no values");
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/**
 * `a / b` of two summaries: the ratio of the medians, and the widest range the repeats allow
 * (`a.min / b.max` to `a.max / b.min`), since the two were measured in separate repeats.
 */
export function ratio(a: Summary, b: Summary): Summary {
  return { median: a.median / b.median, min: a.min / b.max, max: a.max / b.min, samples: [] };
}

/** Runs `measure` `times` times, one after another, and returns what each run gave. */
export async function repeat<T>(times: number, measure: (round: number) => Promise<T>): Promise<T[]> {
  const runs: T[] = [];
  for (let round = 0; round < times; round++) runs.push(await measure(round));
  return runs;
}

/** Milliseconds since an arbitrary start, with sub-millisecond resolution. */
export function now(): number {
  return performance.now();
}
