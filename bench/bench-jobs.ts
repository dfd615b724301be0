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
