/** processAll() running in the background while a test looks at its events and results. */
import type { JobResult, Malocher, ProcessAllOptions, RunEvent } from "malocher";
import { within } from "./wait.js";

/** A run in the background: its events and results as they come, and how it ended. */
export interface Recording {
  events: RunEvent[];
  /** When each event arrived (Date.now()), parallel to `events`. */
  times: number[];
  results: Map<string, JobResult>;
  /** Jobs yielded more than once (must stay empty). */
  duplicates: string[];
  /** What the iteration threw, if it did. */
  error: unknown;
  finished: boolean;
  done: Promise<void>;
  /** When the run was started (Date.now()). */
  startedAt: number;
}

/** Runs still going; `stopActiveRuns` (in afterEach) stops them, so a failed test's run cannot spill into the next. */
const activeRuns = new Set<{ stop: AbortController; recording: Recording }>();

/** Starts `m.processAll(options)` in the background; `options.signal`, if given, still aborts it. */
export function record(m: Malocher, options: Omit<ProcessAllOptions, "dir">): Recording {
  const recording: Recording = { events: [], times: [], results: new Map(), duplicates: [], error: undefined, finished: false, done: Promise.resolve(), startedAt: Date.now() };
  const stop = new AbortController();
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal]);
  const entry = { stop, recording };
  activeRuns.add(entry);
  recording.done = (async () => {
    try {
      for await (const [jobId, result] of m.processAll({ ...options, signal, onEvent: (event) => recording.times.push(Date.now()) && recording.events.push(event) })) {
        if (recording.results.has(jobId)) recording.duplicates.push(jobId);
        recording.results.set(jobId, result);
      }
    } catch (error) {
      recording.error = error;
    } finally {
      recording.finished = true;
      activeRuns.delete(entry);
    }
  })();
  return recording;
}

/** Aborts every run `record` started that is still going, waiting up to 15 s for each to end. */
export async function stopActiveRuns(): Promise<void> {
  for (const { stop, recording } of activeRuns) {
    stop.abort(new Error("the test ended"));
    await within(recording.done, 15_000, "stopping a run the test left").catch(() => {});
  }
}
