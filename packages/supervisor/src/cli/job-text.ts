import type { JobState } from "@malocher/protocol";

/** A job's name and tags for a line of text: ` "train seed 3" #sweep #lr=0.01`, or "" without any. */
export function labelsText(labels: { name?: string; tags?: readonly string[] }): string {
  const name = labels.name === undefined ? "" : ` ${JSON.stringify(labels.name)}`;
  return name + (labels.tags ?? []).map((tag) => ` #${tag}`).join("");
}

/** Jobs per state as one line: `queued 3 · running 1 · succeeded 10 · failed 0 · cancelled 0`. */
export function countsText(counts: Record<JobState, number>): string {
  return `queued ${counts.queued} · running ${counts.running} · succeeded ${counts.succeeded} · failed ${counts.failed} · cancelled ${counts.cancelled}`;
}
