import { MalocherError, ResultOf, isJobId } from "@malocher/protocol";

/**
 * Stands for the value of job `jobId`'s result in another job's arguments, anywhere in them (also
 * inside objects, arrays, Maps and Sets): that job then runs only after job `jobId` succeeded,
 * with its value in this place (class instances keep their class, as results do). If job `jobId`
 * fails or is cancelled, the job ends `DEPENDENCY_FAILED` without running. `jobId` must name a
 * job submitted before (`JOB_NOT_FOUND` at submit otherwise), so dependencies never form a cycle.
 * The type parameter is the value's type, for the job's signature: `resultOf<Dataset>(id)`.
 *
 * @example
 * ```ts
 * const data = submit(prepare, "train.csv");
 * const models = [1, 2, 3].map((depth) => submit(train, resultOf(data), { depth }));
 * submit(pickBest, models.map((id) => resultOf(id)));
 * ```
 */
export function resultOf<T = any>(jobId: string): T {
  if (typeof jobId !== "string" || !isJobId(jobId)) {
    throw new MalocherError("JOB_NOT_FOUND", `resultOf() takes the id of a submitted job (what submit() returned), got ${JSON.stringify(jobId)}.`);
  }
  return new ResultOf(jobId) as T;
}
