import type { ProgressReport } from "../run-tally.js";
import { allocationWords, formatDuration } from "../cluster/slurm/allocation-words.js";

/** The widest progress bar, in characters between the brackets. */
const MAX_BAR_WIDTH = 40;
const MIN_BAR_WIDTH = 10;

/** The counts of a run: `done 6/10 · failed 1 · running 2 · queued 2` (`done` counts the jobs that succeeded), `· cancelled 1` when jobs were, and `· waiting 3` while jobs wait for others. */
export function progressCounts(report: ProgressReport): string {
  const { done, failed, cancelled, running, queued, waiting, total } = report;
  return `done ${done - failed - cancelled}/${total} · failed ${failed}${cancelled > 0 ? ` · cancelled ${cancelled}` : ""} · running ${running} · queued ${queued}${waiting > 0 ? ` · waiting ${waiting}` : ""}`;
}

/** The pace of a run: `1.5 jobs/s · ETA 3 s` (no ETA before the first result or when nothing is left). */
export function progressRates(report: ProgressReport): string {
  const eta = report.etaMs === undefined ? "" : ` · ETA ${formatDuration(report.etaMs / 1000)}`;
  return `${report.jobsPerSecond.toFixed(1)} jobs/s${eta}`;
}

/** The one-line totals plain output prints: counts, then pace. */
export function progressSummary(report: ProgressReport): string {
  return `${progressCounts(report)} · ${progressRates(report)}`;
}

/**
 * The lines the TTY view draws: a bar with the share of jobs finished (succeeded or failed), jobs/s
 * and ETA; the counts; then one line per node (state, slots in use, jobs finished there, why it was
 * lost). Every line is cut to `columns - 1` characters, so that none wraps and the block can be
 * redrawn in place by moving the cursor up by its line count.
 */
export function progressFrame(report: ProgressReport, columns: number): string[] {
  const width = Math.max(1, columns - 1);
  const share = report.total === 0 ? 1 : report.done / report.total;
  const after = ` ${String(Math.floor(share * 100)).padStart(3)}% · ${progressRates(report)}`;
  // The bar takes what the text leaves, within bounds; a narrow terminal cuts the text instead.
  const barWidth = Math.min(MAX_BAR_WIDTH, Math.max(MIN_BAR_WIDTH, width - after.length - 2));
  const filled = Math.floor(share * barWidth);
  const lines = [`[${"#".repeat(filled)}${"-".repeat(barWidth - filled)}]${after}`, progressCounts(report)];
  const hostWidth = Math.min(24, Math.max(...report.nodes.map((node) => node.host.length), 4));
  for (const node of report.nodes) {
    const slots = node.slots > 0 ? `slots ${node.slotsInUse}/${node.slots}` : "";
    const why = node.error !== undefined && (node.state === "lost" || node.state === "failed" || node.state === "restarting") ? ` · ${node.error}` : "";
    lines.push(`  ${node.host.padEnd(hostWidth)}  ${node.state.padEnd(10)} ${slots.padEnd(12)} ${node.done} finished${why}`);
  }
  for (const allocation of report.allocations) lines.push(`  ${allocationLine(allocation)}`);
  return lines.map((text) => {
    const line = text.replace(/[\x00-\x1f\x7f]+/g, " "); // an error's newlines, and no escape sequence of anyone else's
    return line.length > width ? `${line.slice(0, width - 1)}…` : line;
  });
}

/** `slurm job 12: running, 14 min left, 2 nodes` or `slurm job 13: pending (Resources), 2 nodes`. */
export function allocationLine(allocation: ProgressReport["allocations"][number], now = Date.now()): string {
  return `slurm job ${allocation.id}: ${allocationWords(allocation, now)}, ${allocation.nodes} node${allocation.nodes === 1 ? "" : "s"}`;
}
