/** Gathering the `[jobId, result]` pairs that processAll() and results() yield. */
import { strict as assert } from "node:assert";
import type { JobResult } from "malocher";

/** Every `[jobId, result]` of an iteration, as a map in yield order; a job yielded twice fails the test. */
export async function collect(iterable: AsyncIterable<[string, JobResult]>): Promise<Map<string, JobResult>> {
  const results = new Map<string, JobResult>();
  for await (const [jobId, result] of iterable) {
    assert.ok(!results.has(jobId), `job ${jobId} was yielded twice`);
    results.set(jobId, result);
  }
  return results;
}
