/**
 * A warm worker: a child process of the agent that runs one job at a time. It loads tsx once so
 * that `.ts` job modules import like `.js` ones, then waits for `run` requests on its IPC channel;
 * one request may be lined up behind the running job (`behind`), and starts the moment that job's
 * outcome is sent.
 * It runs in its own process group, so the agent can kill a job together with all it spawned.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { statSync } from "node:fs";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  MalocherError,
  decodeJobSpec,
  encodeJobSpec,
  newJobId,
  openSecret,
  decodeValueWithClasses,
  checkAndEncodeValue,
  failureFrom,
  importingJobModule,
  type FunctionJobSpec,
  type JobEnding,
  type LoadClass,
  type JobSpec,
  type StoredFailure,
} from "@malocher/protocol";
import { loadDirectoryKey } from "@malocher/store";
import { readJobSpecBytes } from "@malocher/store";
import { locateClass } from "@malocher/locate";
import { importClass } from "@malocher/locate";
import { runCommand } from "./run-command.js";
import { withDependencyValues } from "./dependency-values.js";
import { CWD_FIX, withRunDefaults } from "./with-run-defaults.js";
import { registerTypeScriptLoader } from "./typescript-loader.js";
import { endOfJobMarker, type AgentRequest, type JobOutcome, type RunJobRequest, type WorkerReply } from "./worker-messages.js";

await registerTypeScriptLoader();

const baseEnv = { ...process.env };
const baseCwd = process.cwd();
/** Job modules this worker imported, with their file's mtime then. */
const importedModules = new Map<string, number>();
/**
 * The namespaces of the job modules imported so far: `import()` of the same URL gives the same
 * namespace, but asks the module loader (and tsx's hooks thread) again each time.
 */
const namespaces = new Map<string, Record<string, unknown>>();
let runningJobId: string | undefined;
/** The job the agent lined up behind the running one: it starts the moment that one's outcome is sent. */
let linedUp: RunJobRequest | undefined;

/** Set once an error a job left behind was caught: this worker reports and exits. */
let dying = false;
/**
 * Set once this worker said it holds outdated code, or a job left it past its memory limit: the agent
 * retires it, and it starts no job.
 */
let retired = false;
/** maxWorkerMemoryMb, our second argument. */
const MEMORY_LIMIT_BYTES = Number(process.argv[3] ?? Infinity) * 1024 * 1024;

function send(reply: WorkerReply): void {
  process.send?.(reply);
}

/** A job's own error: plain, and also encoded with its class when the codec can carry it. */
function thrownFailure(error: unknown): JobEnding {
  const ending: StoredFailure = failureFrom("JOB_THREW", error);
  if (!(error instanceof Error)) return ending;
  try {
    ending.thrown = checkAndEncodeValue(error, "error", "RESULT_NOT_SERIALIZABLE", locateClass);
  } catch (refusal) {
    process.stderr.write(`malocher: the job's error arrives as a plain { name, message, stack, code }: ${(refusal as Error).message}\n`);
  }
  return ending;
}

/** The mtime of a job module's file (undefined for a module that is not a file). */
function moduleMtime(url: string): number | undefined {
  if (!url.startsWith("file:")) return undefined;
  // Synchronous: the worker runs one job at a time, and a round trip through libuv's thread pool
  // showed in the hand-off from one job to the next.
  try {
    return statSync(fileURLToPath(url)).mtimeMs;
  } catch {
    return undefined; // the import reports what is wrong with it
  }
}

const hashes = new Map<string, { mtimeMs: number; hash: string }>();

/** SHA-256 of a module's file whose mtime is `mtimeMs` (rehashed only when its mtime changed). */
async function moduleHash(url: string, mtimeMs: number | undefined): Promise<string | undefined> {
  if (mtimeMs === undefined) return undefined;
  const known = hashes.get(url);
  if (known?.mtimeMs === mtimeMs) return known.hash;
  try {
    const hash = createHash("sha256").update(await readFile(fileURLToPath(url))).digest("hex");
    hashes.set(url, { mtimeMs, hash });
    return hash;
  } catch {
    return undefined;
  }
}

/** Whether this worker holds an older version of the job's module than the one on disk (its mtime now). */
function holdsOutdatedCode(spec: FunctionJobSpec, mtimeMs: number | undefined): boolean {
  const importedAt = importedModules.get(spec.fn.module);
  return importedAt !== undefined && mtimeMs !== importedAt;
}

/** The job module's namespace, imported once per worker. */
async function importModule(url: string, mtimeMs: number | undefined): Promise<Record<string, unknown>> {
  const known = namespaces.get(url);
  if (known !== undefined) return known;
  // Malocher's entry points refuse while the flag is up: a module without an isMain guard fails to import.
  const module = await importingJobModule(url, async () => (await import(url)) as Record<string, unknown>);
  namespaces.set(url, module);
  if (mtimeMs !== undefined && !importedModules.has(url)) importedModules.set(url, mtimeMs);
  return module;
}

/** Loads an argument's class by importing its module, as a job module is imported (see `importingJobModule`). */
const importJobClass: LoadClass = (ref) => importingJobModule(ref.module, () => importClass(ref));

/** Runs a function job whose module's file has the mtime `mtimeMs` (read once per job). */
async function runJob(spec: FunctionJobSpec, dir: string, mtimeMs: number | undefined): Promise<JobEnding> {
  try {
    process.chdir(spec.cwd);
  } catch (error) {
    return failureFrom(
      "JOB_CWD_UNAVAILABLE",
      error,
      `The job's working directory ${spec.cwd} does not exist on this node: ${(error as Error).message}. ${CWD_FIX}`,
    );
  }
  Object.assign(process.env, spec.env);
  const secrets = Object.entries(spec.secretEnv);
  if (secrets.length > 0) {
    try {
      const key = loadDirectoryKey(dir, { create: false });
      for (const [name, sealed] of secrets) process.env[name] = openSecret(sealed, spec.jobId, name, key);
    } catch (error) {
      return failureFrom("JOB_SPEC_REJECTED", error);
    }
  }
  let fn: unknown;
  try {
    fn = (await importModule(spec.fn.module, mtimeMs))[spec.fn.export];
  } catch (error) {
    return failureFrom("JOB_IMPORT_FAILED", error, `Cannot import ${spec.fn.module}: ${(error as Error).message}`);
  }
  if (typeof fn !== "function") {
    const message = `${spec.fn.module} has no exported function "${spec.fn.export}" on this node (found ${typeof fn}).`;
    return failureFrom("JOB_IMPORT_FAILED", new Error(message));
  }
  let args: unknown[];
  try {
    args = (await decodeValueWithClasses(spec.args, "JOB_SPEC_CORRUPT", importJobClass, "JOB_IMPORT_FAILED")) as unknown[];
  } catch (error) {
    const code = error instanceof MalocherError ? error.code : "JOB_SPEC_CORRUPT";
    return failureFrom(code, error, `The arguments of job ${spec.jobId} cannot be read on this node: ${(error as Error).message}`);
  }
  if (spec.after !== undefined && spec.after.length > 0) {
    const withValues = await withDependencyValues(dir, spec.after, args);
    if (!("args" in withValues)) return withValues;
    args = withValues.args ?? args;
  }
  let value: unknown;
  try {
    value = await (fn as (...args: unknown[]) => unknown)(...args);
  } catch (error) {
    return thrownFailure(error);
  }
  try {
    return { ok: true, value: checkAndEncodeValue(value, "result", "RESULT_NOT_SERIALIZABLE", locateClass) };
  } catch (error) {
    return failureFrom("RESULT_NOT_SERIALIZABLE", error);
  }
}

/**
 * Whether this process's resident memory is above its limit now. Its peak (`maxRSS`, one
 * `getrusage`) bounds it from above, so the size now (read from /proc: three system calls, about
 * 13 µs in a loop here, more between jobs) is read only once the peak passed the limit.
 */
function isPastMemoryLimit(): boolean {
  if (process.resourceUsage().maxRSS * 1024 <= MEMORY_LIMIT_BYTES) return false;
  return process.memoryUsage.rss() > MEMORY_LIMIT_BYTES;
}

function restoreProcessState(): void {
  for (const key of Object.keys(process.env)) if (!(key in baseEnv)) delete process.env[key];
  // Only what changed: each write to process.env goes to the C environment (it showed in the profile).
  for (const [key, value] of Object.entries(baseEnv)) if (process.env[key] !== value) process.env[key] = value;
  try {
    process.chdir(baseCwd);
  } catch {}
}

/** Ends the job's stretch of stdout and stderr (see `JobLogSplitter`). */
function endOutput(jobId: string): void {
  const marker = endOfJobMarker(jobId);
  // Our stdout and stderr are blocking (see below), so the markers follow all the job's own output.
  process.stdout.write(marker);
  process.stderr.write(marker);
}

/** Ends the job's stretch of stdout and stderr, then reports its outcome (`terminated`: see `outlivingSigterm`). */
function finishJob(jobId: string, ending: JobEnding, codeChanged: boolean, terminated = false): void {
  if (runningJobId !== jobId) return; // already failed by a stray error
  runningJobId = undefined;
  restoreProcessState();
  endOutput(jobId);
  // A worker left past its memory limit by this job runs no other: the next would be blamed for it.
  if (isPastMemoryLimit()) retired = true;
  // The lined-up job starts now, unless this worker is dying or retired.
  const next = dying || retired ? undefined : linedUp;
  linedUp = undefined;
  const outcome: JobOutcome = {
    type: "done",
    jobId,
    codeChanged,
    retiring: dying || retired,
    ...(terminated ? { terminated } : {}),
    ...ending,
  };
  send(outcome);
  if (next !== undefined) start(next);
}

function start(request: RunJobRequest): void {
  runningJobId = request.jobId;
  void handle(request);
}

async function handle(request: RunJobRequest): Promise<void> {
  const { jobId } = request;
  let spec: JobSpec;
  try {
    spec = withRunDefaults(decodeJobSpec(request.spec ?? (await readJobSpecBytes(request.specFile, jobId)), jobId, loadDirectoryKey(request.dir, { create: false })), request.run);
  } catch (error) {
    const code = error instanceof MalocherError ? error.code : "JOB_SPEC_CORRUPT";
    finishJob(jobId, failureFrom(code, error, `Cannot read the spec of job ${jobId}: ${(error as Error).message}`), false);
    return;
  }
  if (spec.kind === "command") {
    if (spec.after !== undefined && spec.after.length > 0) {
      const checked = await withDependencyValues(request.dir, spec.after, undefined);
      if (!("args" in checked)) {
        finishJob(jobId, checked, false);
        return;
      }
    }
    const { done: run, terminated } = await outlivingSigterm(() => runCommand(spec, request.dir));
    if (run.leftovers) dying = true; // retired by the agent, which kills the group and what was left in it
    finishJob(jobId, run.ending, false, terminated);
    return;
  }
  const mtimeMs = moduleMtime(spec.fn.module);
  if (holdsOutdatedCode(spec, mtimeMs)) {
    runningJobId = undefined;
    retired = true; // the agent retires this worker and gives the lined-up job back to the queue
    linedUp = undefined;
    endOutput(jobId);
    send({ type: "outdatedCode", jobId });
    return;
  }
  const { ending, codeChanged } = await runAndCheckCode(spec, request.dir, mtimeMs);
  finishJob(jobId, ending, codeChanged);
}

/**
 * Runs `work` (a command job) with SIGTERM ignored by this worker; says whether one came. A job is ended by SIGTERM to
 * its whole process group (a timeout, a cancel, its agent stopping, Slurm ending the allocation),
 * the worker included; the worker copies the command's output into the job's logs, so it must
 * live on while the command saves its work, or what the command prints then is lost. SIGKILL,
 * killGraceMs later, still ends them all.
 */
async function outlivingSigterm<T>(work: () => Promise<T>): Promise<{ done: T; terminated: boolean }> {
  let terminated = false;
  const outlive = () => void (terminated = true);
  process.on("SIGTERM", outlive);
  try {
    return { done: await work(), terminated };
  } finally {
    process.off("SIGTERM", outlive);
  }
}

/** Runs a function job, then tells whether its module's file differs from the one it was submitted with. */
async function runAndCheckCode(spec: FunctionJobSpec, dir: string, mtimeMs: number | undefined): Promise<{ ending: JobEnding; codeChanged: boolean }> {
  const ending = await runJob(spec, dir, mtimeMs);
  const codeChanged = spec.codeHash !== undefined && (await moduleHash(spec.fn.module, mtimeMs)) !== spec.codeHash;
  return { ending, codeChanged };
}

process.on("message", (request: AgentRequest) => {
  if (request.type === "withdraw") {
    if (linedUp?.jobId !== request.jobId) return; // it started already, and runs
    linedUp = undefined;
    send({ type: "withdrew", jobId: request.jobId });
  } else if (request.type === "run") {
    if (dying || retired) send({ type: "refused", jobId: request.jobId }); // the agent requeues it
    // Idle: a job for an idle worker, or one lined up behind a job that ended before it came (our
    // outcome for that one said we go on, which tells the agent that we start it).
    else if (runningJobId === undefined) start(request);
    else if (request.behind === runningJobId) linedUp ??= request;
    // Never sent while another job runs; should it come, the agent gives it back to the queue.
    else send({ type: "refused", jobId: request.jobId });
  }
});

// An error thrown later from a callback the job left behind fails that job (if it still runs)
// and ends this worker: its state can no longer be trusted. The agent starts a fresh one.
function onStrayError(error: unknown): void {
  if (dying) return;
  dying = true;
  if (runningJobId !== undefined) finishJob(runningJobId, failureFrom("JOB_THREW", error), false);
  else process.stderr.write(`malocher worker: uncaught error outside a job: ${String((error as Error)?.stack ?? error)}\n`);
  process.exitCode = 70;
  setImmediate(() => process.disconnect?.());
}
// Our stdout and stderr are sockets to the agent, which Node writes asynchronously: a job that
// writes faster than the agent reads piles its output up in this process (a job writing 1 GB as
// strings wedged here: the pile never drained and the end-of-job marker never came). Blocking
// writes make a chatty job wait for the agent instead, and keep its output in order with the marker.
for (const stream of [process.stdout, process.stderr]) {
  (stream as unknown as { _handle?: { setBlocking?(blocking: boolean): number } })._handle?.setBlocking?.(true);
}
// The agent reads our stdout and stderr; when it is gone (EPIPE), so is our reason to live.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => endProcessGroup());
process.on("uncaughtException", onStrayError);
process.on("unhandledRejection", onStrayError);
// Without its agent a worker has nothing left to do, and neither has anything its job started:
// the whole process group goes. A job that blocks the event loop (spawnSync, a busy loop) never
// sees the IPC channel close, so a small shell in our group watches the agent's pid as well: with
// GNU tail's --pid, which checks it once a second without a process; where tail has no --pid
// (it fails at once), with a loop of `sleep 1`, which forks a process a second (about 4 CPU-ms a
// second per worker here).
function endProcessGroup(): void {
  try {
    process.kill(-process.pid, "SIGKILL");
  } catch {
    process.exit(process.exitCode ?? 0);
  }
}
process.on("disconnect", endProcessGroup);
// The agent's pid comes as our argument: had the agent died before we got here, our parent would
// be init (or a subreaper) by now, which the shell would watch forever.
spawn("sh", ["-c", 'tail --pid="$0" -f /dev/null 2>/dev/null; while kill -0 "$0" 2>/dev/null; do sleep 1; done; kill -9 "-$1"', process.argv[2] ?? String(process.ppid), String(process.pid)], {
  stdio: "ignore",
}).unref();

/**
 * Runs one function job of the warm-up module (`warmUpJob`) on this worker, through most of the
 * steps of a function job: its spec signed, verified and decoded, its module imported and hashed,
 * its arguments decoded, its value encoded, the process's state restored. Nothing is sent or
 * written. The first job through these steps cost a worker about 15 CPU-ms more than the jobs
 * after it here (Node compiles each function on its first call), and the workers of a started
 * cluster all take their first job at once, while the submitter runs: on these 2 cores, a
 * cluster's first jobs (W2 in the benchmark) started 50–150 ms after the first submit, against
 * 5–15 ms once each worker had run a job. On one idle node, the agent measured a worker's first
 * job at 16 ms (median of 12 fresh workers) without this and 11.5 ms with it; the jobs after it
 * take 3 ms. What is left of the first job's extra is mostly the import of its own module, and
 * the steps skipped here (the request's decoding, the outcome's sending). A warm-up that fails
 * fails no job: the worker says so once on stderr, and the first job takes these steps again.
 */
async function runWarmUpJob(module: string): Promise<void> {
  try {
    const key = randomBytes(32);
    const jobId = newJobId();
    const args = checkAndEncodeValue([{ warmUp: [1, "one", 1.5, true, null] }], "args", "ARG_NOT_SERIALIZABLE", locateClass);
    const fn = { module, export: "warmUpJob" };
    // A code hash, so that the module is hashed and compared as a submitted job's is (it differs: no matter).
    const spec = { jobId, cwd: baseCwd, env: {}, secretEnv: {}, submittedAt: Date.now(), options: {}, fn, args, codeHash: "" };
    const decoded = withRunDefaults(decodeJobSpec(encodeJobSpec(spec, key), jobId, key), { env: {} });
    if (decoded.kind === "command") return; // never: this narrows the decoded spec's type
    // No directory: runJob reads one only for a job's secrets and dependencies, which this job has not.
    const { ending } = await runAndCheckCode(decoded, "", moduleMtime(decoded.fn.module));
    if (!ending.ok) throw new Error(ending.error.message);
  } catch (error) {
    process.stderr.write(`malocher: this worker's warm-up job failed (its first job will be slower): ${(error as Error).message}\n`);
  } finally {
    restoreProcessState();
  }
}

// tsx's hooks thread starts its work on the first module it loads, and more of it on the first `.ts`
// one: about 10 ms of CPU each here, more when a node's workers start together, which would fall on
// the first job. Modules of our own take it now (see typescript-warm-up.ts). The URL is built at
// run time so that bundling leaves these files out of the bundle; they are in dist/worker, which
// `../worker/` reaches from the bundled worker (dist/bundle) and the unbundled one alike.
// Should the TypeScript one fail (a node whose esbuild cannot run, say), this worker still runs
// command and `.js` jobs: it says so once and warms up with the plain one.
let warmUpModule = new URL("../worker/typescript-warm-up.ts", import.meta.url).href;
try {
  await import(warmUpModule);
} catch (error) {
  process.stderr.write(`malocher: this worker cannot load TypeScript, so .ts job modules will fail here: ${(error as Error).message}\n`);
  warmUpModule = new URL("../worker/loader-warm-up.js", import.meta.url).href;
  await import(warmUpModule);
}
await runWarmUpJob(warmUpModule);
send({ type: "ready" });
