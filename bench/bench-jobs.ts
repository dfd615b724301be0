/**
 * The jobs the benchmark runs. Agents import this module by its path (the shared file system puts
 * it at the same path on every node), so it imports nothing and does nothing at load.
 */

/** The no-op job: returns its argument. */
export function echo<T>(value: T): T {
  return value;
}

/** Waits `ms` milliseconds on a timer (no CPU), then returns `ms`. */
export async function sleepFor(ms: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
}

/** When a job's code ran (`Date.now()` at its start and end) and in which worker process. */
export interface SleepStamp {
  startedAt: number;
  endedAt: number;
  pid: number;
}

/** Like {@link sleepFor}, and says when it ran and where, so that the gaps between jobs can be measured. */
export async function sleepStamped(ms: number): Promise<SleepStamp> {
  const startedAt = Date.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { startedAt, endedAt: Date.now(), pid: process.pid };
}

/** A pipeline's prepared input: a number (small, so that jobs that take it and jobs given it inline have specs of one size). */
export function pipelineInput(): number {
  return 42;
}

/** A pipeline's fan-out job: its input and its index. */
export function pipelineWork(input: number, index: number): number {
  return input + index;
}

/** A pipeline's fan-in job: the sum of all values. */
export function pipelineSum(values: number[]): number {
  let sum = 0;
  for (const value of values) sum += value;
  return sum;
}

/** One hop of a chain: its input plus one. */
export function pipelineNext(value: number): number {
  return value + 1;
}
