/**
 * A warm worker: a child process of the agent that runs one job at a time. It loads tsx once so
 * that `.ts` job modules import like `.js` ones, then waits for `run` requests on its IPC channel.
 * It runs in its own process group, so the agent can kill a job together with all it spawned.
 */
import { register } from "tsx/esm/api";
import { readFile } from "node:fs/promises";
import {
  MalocherError,
  decodeJobSpec,
  decodeValue,
  encodeValue,
  findUnserializable,
  serializeError,
  type JobError,
  type JobSpec,
} from "@malocher/protocol";
import { endOfJobMarker, type JobOutcome, type RunJobRequest, type WorkerReply } from "./worker-messages.js";

register();

const baseEnv = { ...process.env };
const baseCwd = process.cwd();
let runningJobId: string | undefined;

function send(reply: WorkerReply): void {
  process.send?.(reply);
}

function failure(jobId: string, code: string, error: unknown, message?: string): JobOutcome {
  const serialized: JobError = serializeError(error);
  if (message !== undefined) serialized.message = message;
  return { type: "done", jobId, ok: false, error: { ...serialized, code } };
}

async function runJob(request: RunJobRequest): Promise<JobOutcome> {
  const { jobId } = request;
  let spec: JobSpec;
  try {
    spec = decodeJobSpec(await readFile(request.specFile), jobId);
  } catch (error) {
    const code = error instanceof MalocherError ? error.code : "JOB_SPEC_CORRUPT";
    return failure(jobId, code, error, `Cannot read the spec of job ${jobId}: ${(error as Error).message}`);
  }
  try {
    process.chdir(spec.cwd);
  } catch (error) {
    return failure(
      jobId,
      "JOB_CWD_UNAVAILABLE",
      error,
      `The job's working directory ${spec.cwd} does not exist on this node: ${(error as Error).message}. ` +
        `Submit from a directory on the shared file system, or pass submit.with({ cwd }).`,
    );
  }
  Object.assign(process.env, spec.env);
  let fn: unknown;
  try {
    const module = (await import(spec.fn.module)) as Record<string, unknown>;
    fn = module[spec.fn.export];
  } catch (error) {
    return failure(jobId, "JOB_IMPORT_FAILED", error, `Cannot import ${spec.fn.module}: ${(error as Error).message}`);
  }
  if (typeof fn !== "function") {
    const message = `${spec.fn.module} has no exported function "${spec.fn.export}" on this node (found ${typeof fn}).`;
    return failure(jobId, "JOB_IMPORT_FAILED", new Error(message));
  }
  let args: unknown[];
  try {
    args = decodeValue(spec.args) as unknown[];
  } catch (error) {
    return failure(jobId, "JOB_SPEC_CORRUPT", error, `The arguments of job ${jobId} are corrupt: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = await (fn as (...args: unknown[]) => unknown)(...args);
  } catch (error) {
    return failure(jobId, "JOB_THREW", error);
  }
  const problem = findUnserializable(value, "result");
  if (problem !== undefined) {
    const message = `The job returned a value that cannot be sent back: ${problem.path} is ${problem.reason}.`;
    return failure(jobId, "RESULT_NOT_SERIALIZABLE", new Error(message));
  }
  try {
    return { type: "done", jobId, ok: true, value: encodeValue(value, "RESULT_NOT_SERIALIZABLE") };
  } catch (error) {
    const message = `The job's result could not be encoded: ${(error as Error).message}`;
    return failure(jobId, "RESULT_NOT_SERIALIZABLE", error, message);
  }
}

function restoreProcessState(): void {
  for (const key of Object.keys(process.env)) if (!(key in baseEnv)) delete process.env[key];
  Object.assign(process.env, baseEnv);
  try {
    process.chdir(baseCwd);
  } catch {}
}

/** Ends the job's stretch of stdout and stderr, then reports its outcome. */
function finishJob(outcome: JobOutcome): void {
  if (runningJobId !== outcome.jobId) return; // already failed by a stray error
  runningJobId = undefined;
  restoreProcessState();
  const marker = endOfJobMarker(outcome.jobId);
  // Pipes are synchronous on Linux, so the markers follow all the job's own output.
  process.stdout.write(marker);
  process.stderr.write(marker);
  send(outcome);
}

process.on("message", (request: RunJobRequest) => {
  if (request.type !== "run" || runningJobId !== undefined) return;
  runningJobId = request.jobId;
  void runJob(request).then(finishJob);
});

// An error thrown later from a callback the job left behind fails that job (if it still runs)
// and ends this worker: its state can no longer be trusted. The agent starts a fresh one.
function onStrayError(error: unknown): void {
  if (runningJobId !== undefined) finishJob(failure(runningJobId, "JOB_THREW", error));
  else process.stderr.write(`malocher worker: uncaught error outside a job: ${String((error as Error)?.stack ?? error)}\n`);
  process.exitCode = 70;
  setImmediate(() => process.disconnect?.());
}
process.on("uncaughtException", onStrayError);
process.on("unhandledRejection", onStrayError);
// Without its agent (the IPC channel closed) a worker has nothing left to do.
process.on("disconnect", () => process.exit(process.exitCode ?? 0));

send({ type: "ready" });
