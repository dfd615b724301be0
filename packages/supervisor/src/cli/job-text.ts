import type { JobState } from "@malocher/protocol";

/** A job's name and tags for a line of text: ` "train seed 3" #sweep #lr=0.01`, or "" without any. */
export function nameAndTagsText(job: { name?: string; tags?: readonly string[] }): string {
  const name = job.name === undefined ? "" : ` ${JSON.stringify(job.name)}`;
  return name + (job.tags ?? []).map((tag) => ` #${tag}`).join("");
}

/** Jobs per state as one line: `queued 3 · running 1 · succeeded 10 · failed 0 · cancelled 0`. */
export function countsText(counts: Record<JobState, number>): string {
  return `queued ${counts.queued} · running ${counts.running} · succeeded ${counts.succeeded} · failed ${counts.failed} · cancelled ${counts.cancelled}`;
}

/** How much of a value or a message `malocher results` prints before cutting it (`--full` prints all). */
export const RESULT_TEXT_LIMIT = 2000;

/**
 * `text` if it is at most `limit` characters, else its start and a note of how much was cut, like
 * the logs' `[... N bytes cut ...]`: a job returning 100 MB must not flood the terminal.
 */
export function cutText(text: string, limit: number, hint = "--full or --json prints it whole"): string {
  if (text.length <= limit) return text;
  const cut = Buffer.byteLength(text.slice(limit));
  return `${text.slice(0, limit)}[... ${cut} bytes cut: ${hint} ...]`;
}
