/**
 * An empty module that a warm worker imports once before it says it is ready: tsx's hooks thread
 * does its own start on the first module it loads, and that start would otherwise fall on the first
 * job (see worker-main.ts).
 */
export const loaderWarmedUp = true;

/** The function of the job a warm worker runs on itself before it says it is ready (see `runWarmUpJob`). */
export function warmUpJob(value: unknown): unknown {
  return value;
}
