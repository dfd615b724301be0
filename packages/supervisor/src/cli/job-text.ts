import { JOB_STATES, type JobState } from "@malocher/protocol";
import type { JobListing } from "@malocher/store";
import { literalText } from "./json-line.js";

/** A job's name and tags for a line of text: ` "train seed 3" #sweep #lr=0.01`, or "" without any. */
export function nameAndTagsText(job: { name?: string; tags?: readonly string[] }): string {
  const name = job.name === undefined ? "" : ` ${JSON.stringify(job.name)}`;
  return name + (job.tags ?? []).map((tag) => ` #${tag}`).join("");
}

/** Jobs per state as one line: `waiting 0 · queued 3 · retrying 0 · running 1 · succeeded 10 · failed 0 · cancelled 0`. */
export function countsText(counts: Record<JobState, number>): string {
  return JOB_STATES.map((state) => `${state} ${counts[state]}`).join(" · ");
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

/** How long a preview of what a job runs may be on a line of `jobs`, `results` and `run`. */
export const PREVIEW_LIMIT = 60;

/** A `resultOf(id)` argument as {@link literalText} writes it: shown as written in code, so that the arguments after it still show. */
const RESULT_OF_JSON = /\{"\$class":"ResultOf","jobId":"([0-9a-z-]+)"\}/g;

/**
 * What a job runs, short, for telling jobs apart: `train(3, 0.01)` (arguments as JSON, class
 * instances as their fields) or `python train.py --seed 13`, cut to `limit` characters.
 */
export function previewText(what: JobListing["what"], limit = PREVIEW_LIMIT): string {
  if (what === undefined) return "?";
  const text =
    what.kind === "command"
      ? what.argv.map((word) => (/^[\w./=:,+@%-]+$/.test(word) ? word : JSON.stringify(word))).join(" ")
      : `${what.export}(${what.args === undefined ? "?" : what.args.map((arg) => literalText(arg).replace(RESULT_OF_JSON, "resultOf($1)")).join(", ")})`;
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

/** A job's key for a line of text: ` key=seed-3`, or "" without one. */
export function keyText(job: { key?: string }): string {
  return job.key === undefined ? "" : ` key=${JSON.stringify(job.key).slice(1, -1)}`;
}

/** A duration for people: `850 ms`, `12.3 s`, `4.5 min`, `2.1 h`. */
export function durationText(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 90_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 5_400_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
