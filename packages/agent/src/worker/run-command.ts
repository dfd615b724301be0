/**
 * Runs a command job inside a warm worker. The program is a child of the worker and stays in the
 * worker's process group, which is the job's own group while it runs: every way a job is killed
 * (timeout, cancel, memory, the agent or its node gone) takes the command down with everything it
 * started, exactly as for a function job. Its output is copied to the worker's stdout and stderr,
 * so it lands in the job's log files like a function's, and the last few KB are kept for the result.
 * What the command leaves running in the background when it exits is killed too: the worker is
 * then retired, which takes its process group down.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import { stat } from "node:fs/promises";
import {
  COMMAND_OUTPUT_TAIL_BYTES,
  encodeValue,
  failure,
  openSecret,
  serializeError,
  type CommandJobSpec,
  type CommandOutput,
  type JobError,
} from "@malocher/protocol";
import { CWD_FIX } from "./with-run-defaults.js";
import { loadDirectoryKey } from "@malocher/store";
import { hasOrphansInGroup } from "./process-group-orphans.js";

/** How long the output pipes may stay open after the program exited before we stop waiting. */
const PIPE_DRAIN_MS = 1000;
/** How much of the stderr tail a failure's message quotes (the error's `stderr` has all of it). */
const MESSAGE_STDERR_CHARS = 1000;

/** What a command job ended with. */
export interface CommandRun {
  ending: { ok: true; value: Uint8Array } | { ok: false; error: JobError };
  /**
   * Something the command started still runs after it exited (it holds the command's output
   * open, or it is an orphan in the worker's process group). The worker must be retired, which
   * kills its process group and so these processes.
   */
  leftovers: boolean;
}

/** Runs `spec.argv` in `spec.cwd` with the node's environment plus the job's; never rejects. */
export async function runCommand(spec: CommandJobSpec, dir: string): Promise<CommandRun> {
  const argv = spec.replaceJobSlot ? spec.argv.map((word) => word.replaceAll("{%}", process.env["MALOCHER_SLOT"] ?? "1")) : spec.argv;
  const [program, ...args] = argv as [string, ...string[]];
  const isDirectory = await stat(spec.cwd).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
  if (!isDirectory) {
    const message = `The job's working directory ${spec.cwd} does not exist on this node. ${CWD_FIX}`;
    return { ending: failure("JOB_CWD_UNAVAILABLE", message), leftovers: false };
  }
  const env: NodeJS.ProcessEnv = { ...process.env, ...spec.env };
  try {
    const key = loadDirectoryKey(dir, { create: false });
    for (const [name, sealed] of Object.entries(spec.secretEnv)) env[name] = openSecret(sealed, spec.jobId, name, key);
  } catch (error) {
    return { ending: { ok: false, error: { ...serializeError(error), code: "JOB_SPEC_REJECTED" } }, leftovers: false };
  }
  let child: ChildProcessByStdio<null, Readable, Readable>;
  try {
    child = spawn(program, args, { cwd: spec.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    return { ending: notStarted(program, error as Error), leftovers: false }; // e.g. a NUL byte in a spec written by hand
  }
  const stdout = new OutputTail();
  const stderr = new OutputTail();
  child.stdout.on("data", (chunk: Buffer) => {
    process.stdout.write(chunk);
    stdout.add(chunk);
  });
  child.stderr.on("data", (chunk: Buffer) => {
    process.stderr.write(chunk);
    stderr.add(chunk);
  });
  const allClosed = new Promise<boolean>((resolve) => child.once("close", () => resolve(true)));
  const end = await new Promise<{ exitCode: number | null; signal: string | null } | { error: Error }>((resolve) => {
    child.once("error", (error) => resolve({ error }));
    child.once("exit", (exitCode, signal) => resolve({ exitCode, signal }));
  });
  if ("error" in end) return { ending: notStarted(program, end.error), leftovers: false };
  let drainTimer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([allClosed, new Promise<boolean>((resolve) => (drainTimer = setTimeout(() => resolve(false), PIPE_DRAIN_MS)))]);
  clearTimeout(drainTimer);
  if (!closed) {
    child.stdout.destroy();
    child.stderr.destroy();
  }
  const leftovers = !closed || hasOrphansInGroup(child.pid ?? 0);
  const output: CommandOutput = { ...end, stdout: stdout.text(), stderr: stderr.text() };
  if (end.exitCode === 0) return { ending: { ok: true, value: encodeValue(output) }, leftovers };
  return { ending: { ok: false, error: { ...failure("COMMAND_FAILED", describeFailure(argv, output)).error, ...output } }, leftovers };
}

function notStarted(program: string, error: Error): CommandRun["ending"] {
  if ((error as NodeJS.ErrnoException).code === "E2BIG") {
    return failure(
      "COMMAND_NOT_STARTED",
      `Cannot start ${JSON.stringify(program)} on this node: its arguments and environment together are larger than the ` +
        `system allows (E2BIG). Pass large data in a file (or on stdin) instead of in arguments or environment variables.`,
    );
  }
  const message =
    `Cannot start ${JSON.stringify(program)} on this node: ${error.message}. Check that it is installed and ` +
    `executable on every node, on the PATH of the agent's (non-interactive SSH) environment, or give its absolute path.`;
  return failure("COMMAND_NOT_STARTED", message);
}

/** How much of the command line a failure's message quotes. */
const MESSAGE_COMMAND_CHARS = 300;

/** The command line as a shell would read it back (`sh -c 'exit 3' a`), so a failure names its arguments, cut when long. */
function commandText(argv: readonly string[]): string {
  const text = argv.map((word) => (/^[\w./=:,+@%-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`)).join(" ");
  return text.length <= MESSAGE_COMMAND_CHARS ? text : `${text.slice(0, MESSAGE_COMMAND_CHARS)}…`;
}

function describeFailure(argv: readonly string[], output: CommandOutput): string {
  const how =
    output.signal === null
      ? `exited with code ${output.exitCode}`
      : `was killed by ${output.signal}${output.signal === "SIGKILL" ? " (the kernel's out-of-memory killer sends it, and kill -9)" : ""}`;
  const said = output.stderr.trim().slice(-MESSAGE_STDERR_CHARS);
  return `The command ${commandText(argv)} ${how}${said === "" ? " and wrote nothing to stderr." : `; its stderr ends with:\n${said}`}`;
}


/** The last {@link COMMAND_OUTPUT_TAIL_BYTES} bytes of a stream. */
class OutputTail {
  private bytes = Buffer.alloc(0);
  private cut = false;

  add(chunk: Buffer): void {
    const joined = this.bytes.length === 0 ? chunk : Buffer.concat([this.bytes, chunk]);
    this.cut ||= joined.length > COMMAND_OUTPUT_TAIL_BYTES;
    this.bytes = Buffer.from(joined.subarray(-COMMAND_OUTPUT_TAIL_BYTES));
  }

  /** As UTF-8, without the remains of a character cut in two at the start. */
  text(): string {
    let start = 0;
    // UTF-8 continuation bytes are 10xxxxxx.
    if (this.cut) while (start < 3 && start < this.bytes.length && ((this.bytes[start] as number) & 0xc0) === 0x80) start++;
    return this.bytes.subarray(start).toString("utf8");
  }
}
