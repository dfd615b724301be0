/** The targets of issues 6, 19 and 20, as the ratios the benchmark prints. */
import type { Summary } from "./measurement.js";

export interface Target {
  /** How the issue states it, e.g. `≥ 10×`. */
  text: string;
  holds(value: number): boolean;
  /** The target holds only if every repeat meets it (otherwise: the median). */
  everyRepeat?: boolean;
}

const atLeast = (bound: number, text: string): Target => ({ text, holds: (value) => value >= bound });
const atMost = (bound: number, text: string): Target => ({ text, holds: (value) => value <= bound });
const below = (bound: number, text: string): Target => ({ text, holds: (value) => value < bound });

export const TARGETS = {
  /** W1: our jobs/s ÷ GNU parallel with ControlMaster running `node -e`. */
  dispatchVersusParallel: atLeast(10, "≥ 10×"),
  /** W1: our jobs/s ÷ the same jobs on one local agent. */
  dispatchVersusLocalAgent: atLeast(0.5, "≥ 0.5"),
  /** W2: ideal time ÷ actual time, in every repeat (issue 19; issue 6 asked it of the median). */
  efficiency: { ...atLeast(0.95, "≥ 0.95 in every repeat"), everyRepeat: true },
  /** W3: one job through GNU parallel with ControlMaster ÷ our warm p50. */
  warmLatencyVersusParallel: atLeast(20, "≥ 20×"),
  /** W3: 16 nodes ready ÷ 1 node ready. */
  readySixteenVersusOne: atMost(4, "≤ 4×"),
  /** W4: batch `submitMany` jobs/s ÷ one-by-one `submit()` jobs/s. */
  batchVersusOneByOne: atLeast(5, "≥ 5×"),
  /** W4: the busiest agent's CPU use (fraction of one core) while busy and queued. */
  agentCpuWhileQueued: below(0.01, "< 1 %"),
  /** Issue 19, W1 batch: `submitMany` + `processAll` jobs/s ÷ Dask's `client.map` + `gather`. */
  batchVersusDask: atLeast(2, "≥ 2×"),
  /** Issue 19, W1 one by one: a `submit()` loop ÷ Dask's `client.submit` loop. */
  oneByOneVersusDask: atLeast(2, "≥ 2×"),
  /** Issue 19: the batch path at least as fast as one-by-one submission. */
  batchVersusOneByOneDispatch: atLeast(1, "≥ 1×"),
  /** Issue 19: our warm p50 ÷ Dask's. */
  warmVersusDask: atMost(0.5, "≤ 0.5×"),
  /** Issue 19: our start until ready ÷ Dask's. */
  readyVersusDask: atMost(0.5, "≤ 0.5×"),
  /** Issue 20: the share of one core serving the dashboard (a page open) adds to the supervisor during W1. */
  dashboardCpu: below(0.02, "< 2 %"),
} as const;

export type Verdict = "PASS" | "MISS";

/** PASS or MISS of the median (or, for an every-repeat target, of every repeat) against the target. */
export function verdict(target: Target, value: Summary): Verdict {
  if (target.everyRepeat && value.samples.length > 0) return value.samples.every((sample) => target.holds(sample)) ? "PASS" : "MISS";
  return target.holds(value.median) ? "PASS" : "MISS";
}
