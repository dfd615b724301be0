/** The targets of issue 6, as the ratios the benchmark prints. */

export interface Target {
  /** How the issue states it, e.g. `≥ 10×`. */
  text: string;
  holds(value: number): boolean;
}

const atLeast = (bound: number, text: string): Target => ({ text, holds: (value) => value >= bound });
const atMost = (bound: number, text: string): Target => ({ text, holds: (value) => value <= bound });
const below = (bound: number, text: string): Target => ({ text, holds: (value) => value < bound });

export const TARGETS = {
  /** W1: our jobs/s ÷ GNU parallel with ControlMaster running `node -e`. */
  dispatchVersusParallel: atLeast(10, "≥ 10×"),
  /** W1: our jobs/s ÷ the same jobs on one local agent. */
  dispatchVersusLocalAgent: atLeast(0.5, "≥ 0.5"),
  /** W2: ideal time ÷ actual time. */
  efficiency: atLeast(0.95, "≥ 0.95"),
  /** W3: one job through GNU parallel with ControlMaster ÷ our warm p50. */
  warmLatencyVersusParallel: atLeast(20, "≥ 20×"),
  /** W3: 16 nodes ready ÷ 1 node ready. */
  readySixteenVersusOne: atMost(4, "≤ 4×"),
  /** W4: batch `submitMany` jobs/s ÷ one-by-one `submit()` jobs/s. */
  batchVersusOneByOne: atLeast(5, "≥ 5×"),
  /** W4: the busiest agent's CPU use (fraction of one core) while busy and queued. */
  agentCpuWhileQueued: below(0.01, "< 1 %"),
} as const;

export type Verdict = "PASS" | "MISS";

/** PASS or MISS of the median against the target. */
export function verdict(target: Target, median: number): Verdict {
  return target.holds(median) ? "PASS" : "MISS";
}
