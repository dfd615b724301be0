/**
 * The dashboard's overview sums (summarize): the throughput and ETA of a run younger than a
 * minute, and the jobs still to come, waiting ones included (the index itself, over a real
 * directory, is tested through the dashboard in dashboard.test.ts).
 */
import { strict as assert } from "node:assert";
import { test } from "node:test";
import type { JobState } from "@malocher/protocol";
import { summarize } from "../packages/supervisor/src/dashboard/overview.js";
import type { JobIndex, JobRow } from "../packages/supervisor/src/dashboard/job-index.js";

/** An index of these rows: summarize reads only its rows, size, dir and indexing count. */
function indexOf(rows: JobRow[]): JobIndex {
  return { dir: "/shared/jobs", size: rows.length, indexing: 0, all: () => rows } as unknown as JobIndex;
}

const rows = (count: number, state: JobState, finishedAt?: (i: number) => number): JobRow[] =>
  Array.from({ length: count }, (_, i) => ({ id: `${state}-${i}`, state, ...(finishedAt === undefined ? {} : { finishedAt: finishedAt(i), host: "n1" }) }));

test("a run 10 s old that finished 40 jobs has 4 jobs/s, not 40 per minute; its ETA counts the waiting jobs too", () => {
  const now = 1_000_000;
  const index = indexOf([...rows(40, "succeeded", (i) => now - 10_000 + i * 250), ...rows(20, "queued"), ...rows(16, "waiting"), ...rows(4, "running")]);
  const { overview } = summarize(index, now);
  assert.equal(overview.throughput, 4);
  assert.equal(overview.etaSeconds, 10, "40 jobs left (queued, waiting, running) at 4 jobs/s");
});

test("a run older than a minute has its rate over the last minute; the first finishes make no spike", () => {
  const now = 1_000_000;
  const steady = summarize(indexOf([...rows(120, "succeeded", (i) => now - 90_000 + i * 750), ...rows(30, "queued")]), now).overview;
  assert.equal(steady.throughput, 1.33, "the 79 finishes of the last minute over the 59.25 s since the first of them (to 2 decimals)");
  const first = summarize(indexOf([...rows(2, "succeeded", () => now - 100), ...rows(30, "queued")]), now).overview;
  assert.equal(first.throughput, 0.4, "two finishes a moment ago count over 5 s at least");
});
