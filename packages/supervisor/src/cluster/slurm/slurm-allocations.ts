import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { chmod, mkdir, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MalocherError, type AgentLaunchConfig } from "@malocher/protocol";
import { lastChars, readOutputTail, SHOWN_OUTPUT_CHARS } from "./allocation-output.js";
import { agentCommand } from "../agent-process.js";
import { batchScript, sbatchArguments, type AllocationFiles } from "./sbatch-script.js";
import type { SlurmCommands } from "./slurm-commands.js";
import type { SlurmSettings } from "./slurm-options.js";
import { recordAllocation } from "./allocation-records.js";
import { cancelOnSignal } from "./cancel-on-signal.js";

/**
 * An allocation's life as the supervisor sees it: `pending` in Slurm's queue (with Slurm's
 * reason), `running` (its agents start), `ended` (gone from `squeue`, or finished there).
 */
export type AllocationState = "pending" | "running" | "ended";

/** What the progress view shows of an allocation. */
export interface AllocationStatus {
  /** Slurm's job id. */
  id: string;
  state: AllocationState;
  nodes: number;
  /** Why it is pending (Slurm's reason: `Resources`, `Priority`, …). */
  reason?: string;
  /** When it ends (this machine's clock), once Slurm knows. */
  endsAt?: number;
}

/** One allocation that this run asked for. */
export interface Allocation {
  readonly id: string;
  /** The agents' ids, one per task (`SLURM_PROCID`). */
  readonly agentIds: readonly string[];
  state: AllocationState;
  reason: string | undefined;
  endsAt: number | undefined;
  /** Some agent of it said hello. */
  everReady: boolean;
  /** Resolves once it has ended. */
  readonly ended: Promise<void>;
  /** The end of its output file (the batch script's and the agents' stderr), for error messages. */
  outputTail(): string;
}

interface OwnAllocation extends Allocation {
  /** Names its files (`<key>.launch.<task>`, `<key>.out`, `<key>.allocation`). */
  key: string;
  files: AllocationFiles;
  markEnded(): void;
  tail: string;
  /** Cancelled because Slurm would never start it as asked (see NEVER_STARTS): no failure of its agents. */
  neverStarts?: boolean;
}

/** What the allocations need from their cluster. */
export interface SlurmAllocationsHost {
  /** The launch config of one agent (the port, token and settings of this run). */
  launchConfig(agentId: string, files: AllocationFiles): AgentLaunchConfig;
  /** Whether jobs wait in the queue (then a new allocation is asked for). */
  workRemains(): Promise<boolean>;
  /** Slots per node, asked of Slurm as `--cpus-per-task` (0: what Slurm gives). */
  slots: number;
}

const POLL_MS = 2000;
/** Submissions (or allocations none of whose agents started) failing in a row before the run stops. */
const MAX_FAILURES = 3;
const CANCEL_WAIT_MS = 10_000;
/**
 * Slurm's reasons for a pending job that its own settings cause, which waiting does not clear
 * (what each means, said to the user: Slurm's names are terse).
 */
const NEVER_STARTS: Readonly<Record<string, string>> = {
  PartitionNodeLimit: "the partition has fewer nodes than asked for (or so many of them are down or drained: `sinfo` shows them); ask for fewer nodes (slurm.nodes, --slurm-nodes)",
  PartitionTimeLimit: "the time asked for is longer than the partition allows (`sinfo -o '%P %l'` shows its limit); ask for less (slurm.time, --slurm-time)",
  BadConstraints: "its constraints (sbatchArgs) can be met by no node",
  InvalidAccount: "the account is not valid (slurm.account, --slurm-account)",
  InvalidQOS: "the QOS is not valid (sbatchArgs)",
  AccountNotAllowed: "the account may not use this partition",
  QOSNotAllowed: "the QOS may not be used in this partition",
  PartitionConfig: "the partition has fewer nodes, CPUs or memory than asked for (`sinfo` shows them); ask for fewer nodes (slurm.nodes, --slurm-nodes) or slots (--slots)",
};

/** How long a run with a running allocation waits to ask again after Slurm refused to start one (see NEVER_STARTS). */
const NEVER_STARTS_BACKOFF_MS = 60_000;
/** How long an ending signal waits for a poll or a submit under way before it cancels the allocations. */
const SIGNAL_TICK_WAIT_MS = 2000;

/** Slurm's states of a job that is over (it may linger in `squeue` for `MinJobAge`). */
const ENDED_STATES = new Set(["COMPLETED", "COMPLETING", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY", "SPECIAL_EXIT", "STOPPED", "SUSPENDED", "REVOKED"]);

/**
 * The Slurm allocations of one run: asks for one at the start and another while jobs remain
 * queued and fewer than `maxAllocations` are pending or running (one pending at a time), watches
 * them with `squeue` every 2 s, and cancels every one still there on `close()`. Repeated failures
 * (a rejected `sbatch`, allocations whose agents never started) stop asking and emit `failed`;
 * a rejected first `sbatch` does so at once (bad partition, account or time: asking again won't help).
 * Emits `status` on every change, `running` when an allocation starts, `ended` when it is over.
 */
export class SlurmAllocations extends EventEmitter<{
  status: [AllocationStatus];
  running: [Allocation];
  ended: [Allocation];
  failed: [MalocherError];
}> {
  private readonly runKey = randomBytes(4).toString("hex");
  private readonly own: OwnAllocation[] = [];
  private sequence = 0;
  private failures = 0;
  private nextSubmitAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private draining = false;
  private closed = false;
  private stopped = false;
  /** The files of an allocation whose `sbatch` is under way (it has no id yet). */
  private submitting: AllocationFiles | undefined;
  /** Stops cancelling the allocations on a signal that ends the process (see cancel-on-signal.ts). */
  private stopCancelOnSignal: (() => void) | undefined;
  /** Set once the run stopped asking because of failures. */
  failedWith: MalocherError | undefined;

  constructor(
    private readonly commands: SlurmCommands,
    private readonly settings: SlurmSettings,
    private readonly dir: string,
    private readonly host: SlurmAllocationsHost,
  ) {
    super();
  }

  /** The directory of launch, warning and output files (0700, in the shared directory). */
  get slurmDir(): string {
    return join(this.dir, "slurm");
  }

  /** Asks for the first allocation and starts watching. */
  start(): void {
    this.stopCancelOnSignal = cancelOnSignal(async () => {
      this.draining = true; // no new allocation while the process ends
      // No poll may write a record after the files below are gone (bounded: an sbatch under way may take long).
      clearInterval(this.timer);
      await Promise.race([this.ticking, new Promise((resolve) => setTimeout(resolve, SIGNAL_TICK_WAIT_MS).unref())]);
      await this.cancelActive();
      // No `close()` follows: the files of its allocations go now, their output too (the run was ended, not refused).
      await Promise.all(
        this.own.filter((allocation) => allocation.state !== "ended").map(async (allocation) => {
          await removeFiles(allocation.files, this.settings.nodes, true);
          await recordAllocation(this.slurmDir, allocation.key, { ...this.statusOf(allocation), state: "ended" }).catch(() => {});
        }),
      );
      // An sbatch still under way (a slow slurmctld) may queue its allocation after this process is
      // gone, beyond any scancel: its launch files (with the run's token) go now, so that its agents,
      // should it start, find none and end it at once.
      if (this.submitting !== undefined) await removeFiles(this.submitting, this.settings.nodes, true);
    });
    this.timer = setInterval(() => this.tick(), POLL_MS);
    this.ticking = this.submit()
      .catch((error: unknown) => this.fail(error))
      .finally(() => (this.ticking = undefined));
  }

  /** Allocations not yet ended. */
  get active(): Allocation[] {
    return this.own.filter((allocation) => allocation.state !== "ended");
  }

  /** An agent of `allocation` said hello: it works, so the failure count starts over. */
  agentReady(allocation: Allocation): void {
    allocation.everReady = true;
    this.failures = 0;
  }

  /** Asks for no more allocations and cancels the pending ones; running ones drain with their agents. */
  drain(): void {
    this.draining = true;
    const pending = this.own.filter((allocation) => allocation.state === "pending").map((allocation) => allocation.id);
    if (pending.length > 0) void this.commands.run("scancel", pending).catch(() => {});
  }

  /**
   * Cancels every allocation not yet ended (`scancel`) and waits (bounded) until `squeue` no
   * longer lists them; removes their launch and warning files. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.ticking;
    if (await this.cancelActive()) {
      const deadline = Date.now() + CANCEL_WAIT_MS;
      while (this.active.length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        await this.poll().catch(() => {});
      }
    }
    for (const allocation of this.own) {
      if (allocation.state !== "ended") this.end(allocation);
    }
    this.stopCancelOnSignal?.();
    this.commands.close();
  }

  /** `scancel` of every allocation not yet ended; whether there was any. */
  private async cancelActive(): Promise<boolean> {
    const left = this.active.map((allocation) => allocation.id);
    if (left.length > 0) await this.commands.run("scancel", left).catch(() => {});
    return left.length > 0;
  }

  private tick(): void {
    if (this.ticking !== undefined || this.closed) return;
    this.ticking = (async () => {
      try {
        // A failed squeue (a busy slurmctld) is tried again at the next tick; it is no failed allocation.
        await this.poll().catch(() => {});
        if (await this.shouldSubmit()) await this.submit();
      } catch (error) {
        this.fail(error);
      } finally {
        this.ticking = undefined;
      }
    })();
  }

  private async shouldSubmit(): Promise<boolean> {
    if (this.closed || this.draining || this.stopped || Date.now() < this.nextSubmitAt) return false;
    const active = this.active;
    if (active.length >= this.settings.maxAllocations || active.some((allocation) => allocation.state === "pending")) return false;
    return this.host.workRemains();
  }

  /** Submits one allocation; a rejection counts as a failure (and stops the run when it is the first). */
  private async submit(): Promise<void> {
    if (this.closed) return;
    const key = `slurm-${this.runKey}-${++this.sequence}`;
    await mkdir(this.slurmDir, { recursive: true, mode: 0o700 });
    await chmod(this.slurmDir, 0o700);
    const files: AllocationFiles = {
      launchPrefix: join(this.slurmDir, `${key}.launch`),
      warningFile: join(this.slurmDir, `${key}.warned`),
      outputFile: join(this.slurmDir, `${key}.out`),
    };
    const agentIds = Array.from({ length: this.settings.nodes }, (_, task) => `${key}-${task}`);
    for (const [task, agentId] of agentIds.entries()) {
      await writeFile(`${files.launchPrefix}.${task}`, `${JSON.stringify(this.host.launchConfig(agentId, files))}\n`, { mode: 0o600, flag: "wx" });
    }
    // Made here, 0600 as every file of the directory: Slurm would create it under the user's umask (0644).
    await writeFile(files.outputFile, "", { mode: 0o600, flag: "wx" });
    const { node, script } = agentCommand();
    const args = sbatchArguments(this.settings, this.host.slots, files);
    this.submitting = files;
    const output = await this.commands.run("sbatch", args, batchScript(this.settings, this.host.slots, files, node, script)).finally(() => (this.submitting = undefined));
    const id = /^(\d+)/.exec(output.stdout.trim())?.[1];
    if (output.code !== 0 || id === undefined) {
      await removeFiles(files, this.settings.nodes, true);
      const message = (output.stderr.trim() || output.stdout.trim() || `exit code ${output.code}`).replace(/^sbatch: error: /gm, "");
      const error = new MalocherError("SLURM_SUBMIT_FAILED", `Slurm refused the allocation (sbatch on ${this.commands.where}): ${message}`);
      if (this.own.length === 0) this.stop(error);
      else this.failed(error);
      return;
    }
    let markEnded!: () => void;
    const ended = new Promise<void>((resolve) => (markEnded = resolve));
    const allocation: OwnAllocation = {
      id,
      agentIds,
      state: "pending",
      reason: undefined,
      endsAt: undefined,
      everReady: false,
      ended,
      key,
      files,
      markEnded,
      tail: "",
      // What the allocation printed so far, while it runs (an agent that cannot reach us says so there).
      outputTail: () => (allocation.state === "ended" ? allocation.tail : readOutputTail(files.outputFile)),
    };
    this.own.push(allocation);
    this.emitStatus(allocation);
  }

  /** Reads the state of every allocation not yet ended from `squeue`. */
  private async poll(): Promise<void> {
    const active = this.own.filter((allocation) => allocation.state !== "ended");
    if (active.length === 0) return;
    const output = await this.commands.run("squeue", ["-h", "-j", active.map((allocation) => allocation.id).join(","), "-o", "%i|%T|%r|%e"]);
    // squeue refuses the whole list when none of the ids is known any more. Another failure (a busy
    // slurmctld) says nothing new: the records are only kept fresh, so that `clean` sees a live run.
    if (output.code !== 0 && !/Invalid job id/i.test(output.stderr)) {
      for (const allocation of active) void recordAllocation(this.slurmDir, allocation.key, this.statusOf(allocation)).catch(() => {});
      return;
    }
    const seen = new Map<string, string[]>();
    for (const line of output.code === 0 ? output.stdout.split("\n") : []) {
      const fields = line.trim().split("|");
      if (fields.length >= 4) seen.set(fields[0]!, fields);
    }
    for (const allocation of active) {
      const fields = seen.get(allocation.id);
      const state = fields?.[1] ?? "GONE";
      if (fields === undefined || ENDED_STATES.has(state)) {
        allocation.tail = readOutputTail(allocation.files.outputFile);
        this.end(allocation);
        continue;
      }
      const reason = fields[2] === "None" ? undefined : fields[2];
      const endsAt = /^\d{4}-/.test(fields[3] ?? "") ? new Date(fields[3]!).getTime() : undefined;
      const next: AllocationState = state === "PENDING" || state === "CONFIGURING" ? "pending" : "running";
      const never = next === "pending" && reason !== undefined ? NEVER_STARTS[reason] : undefined;
      if (never !== undefined) {
        // With another allocation running, the run goes on (some of these reasons clear, as nodes
        // come back): this one is cancelled and another asked for later. Without, nothing would run.
        const othersRun = active.some((other) => other !== allocation && other.state === "running");
        if (othersRun) this.nextSubmitAt = Date.now() + NEVER_STARTS_BACKOFF_MS;
        else this.stop(new MalocherError("SLURM_SUBMIT_FAILED", `Slurm will not start allocation ${allocation.id} as asked (${reason}): ${never}. It was cancelled; queued jobs stay queued.`));
        allocation.neverStarts = true;
        await this.commands.run("scancel", [allocation.id]).catch(() => {});
        this.end(allocation);
        continue;
      }
      if (next === allocation.state && reason === allocation.reason && endsAt === allocation.endsAt) {
        void recordAllocation(this.slurmDir, allocation.key, this.statusOf(allocation)).catch(() => {}); // still seen: for `malocher status`
        continue;
      }
      const started = allocation.state === "pending" && next === "running";
      allocation.state = next;
      allocation.reason = next === "pending" ? reason : undefined;
      allocation.endsAt = endsAt;
      this.emitStatus(allocation);
      if (started) this.emit("running", allocation);
    }
  }

  private end(allocation: OwnAllocation): void {
    if (allocation.state === "ended") return;
    allocation.state = "ended";
    allocation.reason = undefined;
    this.emitStatus(allocation);
    allocation.markEnded();
    this.emit("ended", allocation);
    void removeFiles(allocation.files, this.settings.nodes, allocation.everReady);
    if (!allocation.everReady && !allocation.neverStarts && !this.closed && !this.draining && !this.stopped) {
      const tail = allocation.tail === "" ? "" : ` Its output (${allocation.files.outputFile}):\n${lastChars(allocation.tail, SHOWN_OUTPUT_CHARS)}`;
      this.failed(new MalocherError("AGENT_START_FAILED", `Slurm allocation ${allocation.id} ended before any of its agents connected.${tail}`));
    }
    this.tick();
  }

  /** One more failure in a row: ask again after a backoff, or stop after MAX_FAILURES. */
  private failed(error: MalocherError): void {
    this.failures++;
    if (this.failures >= MAX_FAILURES) {
      this.stop(new MalocherError(error.code, `${error.message} (${this.failures} failures in a row: no more allocations are asked for; queued jobs stay queued)`));
      return;
    }
    this.nextSubmitAt = Date.now() + 2000 * 2 ** (this.failures - 1);
  }

  private stop(error: MalocherError): void {
    this.stopped = true;
    this.failedWith = error;
    this.emit("failed", error);
  }

  private fail(error: unknown): void {
    if (this.closed) return;
    this.failed(error instanceof MalocherError ? error : new MalocherError("SLURM_SUBMIT_FAILED", `Asking Slurm for an allocation failed: ${(error as Error).message}`, { cause: error }));
  }

  private emitStatus(allocation: OwnAllocation): void {
    const status = this.statusOf(allocation);
    void recordAllocation(this.slurmDir, allocation.key, status).catch(() => {});
    this.emit("status", status);
  }

  private statusOf(allocation: Allocation): AllocationStatus {
    return {
      id: allocation.id,
      state: allocation.state,
      nodes: this.settings.nodes,
      ...(allocation.reason === undefined ? {} : { reason: allocation.reason }),
      ...(allocation.endsAt === undefined ? {} : { endsAt: allocation.endsAt }),
    };
  }
}


/** Removes an allocation's launch files (those no agent took) and warning file; its output too if `withOutput`. */
async function removeFiles(files: AllocationFiles, tasks: number, withOutput: boolean): Promise<void> {
  const paths = [files.warningFile, ...Array.from({ length: tasks }, (_, task) => `${files.launchPrefix}.${task}`)];
  if (withOutput) paths.push(files.outputFile);
  await Promise.all(paths.map((path) => unlink(path).catch(() => {})));
}
