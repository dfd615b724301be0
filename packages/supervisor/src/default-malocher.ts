import type { JobResult } from "@malocher/protocol";
import type { CommandJobOptions } from "./submit/job-options.js";
import { Malocher, type SubmitFunction } from "./malocher.js";
import { rejectUnknownNames } from "./option-names.js";
import type { ProcessAllOptions } from "./process-all.js";
import type { CancelOutcome } from "@malocher/store";
import type { RetryOutcome } from "@malocher/store";
import type { CleanOptions, CleanedJob } from "@malocher/store";
import type { ClusterOptions } from "./cluster-options.js";
import type { RunEvent } from "./cluster/cluster.js";
import type { StartedCluster } from "./started-cluster.js";
import type { BatchOptions } from "./submit/submit-many.js";
import type { ResultWaitOptions } from "./results/wait-for-result.js";

let instance: Malocher | undefined;

/** The Malocher of the default directory, made on first use (so `$MALOCHER_DIR` may be set late). */
function defaultMalocher(): Malocher {
  instance ??= new Malocher();
  return instance;
}

/**
 * Queues `fn(...args)` as a job in the default directory and returns its id. `fn` must be an
 * exported function of an ES module (or `{ module: import.meta.url, export: "name" }`).
 *
 * @example
 * ```ts
 * export function square(x: number) { return x * x; }
 * if (isMain(import.meta)) for (let i = 0; i < 100; i++) submit(square, i);
 * ```
 */
export const submit: SubmitFunction = Object.assign(
  (...call: Parameters<SubmitFunction>) => (defaultMalocher().submit as (...a: unknown[]) => string)(...call),
  { with: (options: Parameters<SubmitFunction["with"]>[0]) => defaultMalocher().submit.with(options) },
) as SubmitFunction;

/**
 * Queues a command job in the default directory and returns its id: the program `argv[0]` with
 * the other words as its arguments, no shell. See {@link Malocher.submitCommand}.
 *
 * @example
 * ```ts
 * for (const seed of [1, 2, 3]) submitCommand(["python", "train.py", "--seed", String(seed)]);
 * ```
 */
export function submitCommand(argv: readonly string[], options: CommandJobOptions = {}): string {
  return defaultMalocher().submitCommand(argv, options);
}

/**
 * Queues one job per argument list in the default directory, in chunks; resolves with the ids in
 * the same order. See {@link Malocher.submitMany}.
 *
 * @example
 * ```ts
 * const ids = await submitMany(square, [[1], [2], [3]]);
 * function* sweep() { for (let seed = 0; seed < 10_000; seed++) yield [seed, 0.01] as [number, number]; }
 * await submitMany(train, sweep(), { tags: ["sweep-1"] });
 * ```
 */
export function submitMany<F extends (...args: never[]) => unknown>(fn: F, argLists: Iterable<Parameters<F>>, options?: BatchOptions): Promise<string[]>;
export function submitMany(fn: { module: string; export: string }, argLists: Iterable<readonly unknown[]>, options?: BatchOptions): Promise<string[]>;
export function submitMany(fn: { module: string; export: string }, argLists: Iterable<readonly unknown[]>, options?: BatchOptions): Promise<string[]> {
  return defaultMalocher().submitMany(fn, argLists, options);
}

/**
 * Runs the jobs without a result and yields `[jobId, result]` as they finish. `dir` picks a
 * directory other than the default.
 *
 * @example
 * ```ts
 * for await (const [jobId, result] of processAll({ sshMachines: ["node1", "node2"] })) {
 *   if (result.ok) console.log(jobId, result.value); else console.error(jobId, result.error.message);
 * }
 * ```
 */
export function processAll(options: ProcessAllOptions = {}): AsyncIterable<[string, JobResult]> {
  const malocher = options.dir === undefined ? defaultMalocher() : new Malocher({ dir: options.dir });
  return malocher.processAll(options);
}

/**
 * Every finished job's `[jobId, result]` in the default directory (or `dir`); see
 * {@link Malocher.results} for `loadClasses`.
 */
export function results(options: { dir?: string; loadClasses?: boolean } = {}): AsyncIterable<[string, JobResult]> {
  const { dir: _dir, ...rest } = options;
  return directoryMalocher(options).results(rest);
}

/**
 * Waits for one job's result in the default directory (or `dir`), whoever runs it; see
 * {@link Malocher.result}.
 *
 * @example
 * ```ts
 * const id = submit(train, 3);
 * const outcome = await result(id, { timeoutMs: 60_000 });
 * ```
 */
export function result(jobId: string, options: ResultWaitOptions & { dir?: string } = {}): Promise<JobResult> {
  const { dir: _dir, ...rest } = options;
  return directoryMalocher(options).result(jobId, rest);
}

/**
 * Cancels jobs of the default directory (or `dir`): queued ones never start, running ones are
 * killed; their results say `JOB_CANCELLED`.
 *
 * @example
 * ```ts
 * const id = submit(train, 1);
 * await cancel(id);
 * ```
 */
export function cancel(jobIds: string | readonly string[], options: { dir?: string } = {}): Promise<Record<string, CancelOutcome>> {
  return directoryMalocher(options, "cancel").cancel(jobIds);
}

/**
 * Gives failed jobs of the default directory (or `dir`) a fresh run: their failed results are set
 * aside and they are queued again for the next `processAll`.
 *
 * @example
 * ```ts
 * await retry([jobId]);
 * ```
 */
export function retry(jobIds: string | readonly string[], options: { dir?: string } = {}): Promise<Record<string, RetryOutcome>> {
  return directoryMalocher(options, "retry").retry(jobIds);
}

/**
 * {@link retry} for every failed job of the default directory (or `dir`); returns the ids requeued.
 *
 * @example
 * ```ts
 * console.log(`${(await retryFailed()).length} jobs requeued`);
 * for await (const [jobId, result] of processAll()) console.log(jobId, result.ok);
 * ```
 */
export function retryFailed(options: { dir?: string } = {}): Promise<string[]> {
  return directoryMalocher(options, "retryFailed").retryFailed();
}

/**
 * Removes the files of finished jobs of the default directory (or `dir`); queued and running
 * jobs are never touched.
 *
 * @example
 * ```ts
 * await clean({ olderThanMs: 7 * 24 * 3600_000, only: "failed" });
 * ```
 */
export function clean(options: CleanOptions & { dir?: string } = {}): Promise<CleanedJob[]> {
  const { dir: _dir, ...rest } = options;
  return directoryMalocher(options).clean(rest);
}

/** The Malocher of `options.dir` (default directory without); with `where`, `dir` is the only option it takes. */
function directoryMalocher(options: { dir?: string }, where?: string): Malocher {
  if (where !== undefined) rejectUnknownNames(options, ["dir"], where);
  return options.dir === undefined ? defaultMalocher() : new Malocher({ dir: options.dir });
}

/**
 * Starts agents on the machines (or locally) that stay up between `processAll` calls, for the
 * default directory (or `dir`).
 *
 * @example
 * ```ts
 * const cluster = await startCluster({ sshMachines: ["node1", "node2"] });
 * for await (const [jobId, result] of cluster.processAll()) console.log(jobId, result);
 * await cluster.close();
 * ```
 */
export function startCluster(options: ClusterOptions & { onEvent?: (event: RunEvent) => void } = {}): Promise<StartedCluster> {
  const malocher = options.dir === undefined ? defaultMalocher() : new Malocher({ dir: options.dir });
  return malocher.startCluster(options);
}
