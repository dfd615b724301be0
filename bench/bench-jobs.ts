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
