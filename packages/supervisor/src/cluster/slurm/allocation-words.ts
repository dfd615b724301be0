import type { AllocationStatus } from "./slurm-allocations.js";

/**
 * An allocation's state in words, as `malocher run`, `malocher status` and the dashboard's nodes
 * page say it: `pending (Resources)`, `running, 14 min left`, `ended`.
 */
export function allocationWords(allocation: AllocationStatus, now = Date.now()): string {
  if (allocation.state === "pending") return allocation.reason ? `pending (${allocation.reason})` : "pending";
  if (allocation.state !== "running" || allocation.endsAt === undefined) return allocation.state;
  return `running, ${formatDuration(Math.max(0, (allocation.endsAt - now) / 1000))} left`;
}

/** `45 s`, `14 min`, `2.5 h`: a duration as long as a run's ETA or an allocation's time left. */
export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.ceil(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
