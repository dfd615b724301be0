import { JOB_STATES, type JobState } from "@malocher/protocol";

/** A job's name and tags for a line of text: ` "train seed 3" #sweep #lr=0.01`, or "" without any. */
export function nameAndTagsText(job: { name?: string; tags?: readonly string[] }): string {
  const name = job.name === undefined ? "" : ` ${JSON.stringify(job.name)}`;
  return name + (job.tags ?? []).map((tag) => ` #${tag}`).join("");
}

/** Jobs per state as one line: `waiting 0 · queued 3 · retrying 0 · running 1 · succeeded 10 · failed 0 · cancelled 0`. */
export function countsText(counts: Record<JobState, number>): string {
  return JOB_STATES.map((state) => `${state} ${counts[state]}`).join(" · ");
}
