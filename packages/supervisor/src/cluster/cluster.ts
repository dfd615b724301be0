import { EventEmitter } from "node:events";
import { readdir } from "node:fs/promises";
import { isIP } from "node:net";
import { hostname, networkInterfaces } from "node:os";
import { backoffMs, MalocherError, SHARDS, directoryLayout, isJobId, type AgentMessage, type RetryReason, type TransportKind } from "@malocher/protocol";
import { LeaseObserver, requeueStaleJobs } from "@malocher/store";
import { recoverAgentJobs } from "@malocher/store";
import { OrphanedJobs, sweepWaitingJobs, type SettledDependents } from "@malocher/store";
import type { NodeTarget } from "../ssh/node-target.js";
import type { AgentLauncher } from "./agent-process.js";
import { AgentServer } from "./agent-server.js";
import { launchLocalAgent } from "./local-agent.js";
import { NodeSession, type NodeSessionSettings, type NodeState } from "./node-session.js";
import { remoteAgentLauncher } from "./remote-agent.js";
import { MisfitLedger } from "./misfit-ledger.js";
import { RecentResultFiles } from "./recent-result-files.js";
import { failQueuedJob } from "@malocher/store";
import type { SshOptions } from "../ssh/node-target.js";
import { slurmCommands } from "./slurm/slurm-commands.js";
import { agentStopMarginMs, type SlurmSettings } from "./slurm/slurm-options.js";
import { SlurmAllocations, type Allocation, type AllocationStatus } from "./slurm/slurm-allocations.js";
import { slurmAgentLauncher } from "./slurm/slurm-agent.js";

/** Something that happened in a run, for progress displays (`processAll({ onEvent })`). */
export type RunEvent =
  /** `waiting`: of the `pending` jobs, those waiting for others when the run started. */
  | { type: "run"; pending: number; nodes: number; waiting?: number }
  /**
   * The run took in jobs while it ran (submitted by another process, or retried): `total` is its
   * size now, the jobs with a result so far and those still to come (see `processAll`).
   */
  | { type: "runSize"; total: number }
  /** `transport`: how the node's agent talks to the supervisor, once known (see {@link NodeSession.transport}). */
  | { type: "node"; host: string; state: NodeState; slots: number; transport?: TransportKind; error?: MalocherError }
  /** `slot`: the worker slot it runs in, 1 to the node's slots (`MALOCHER_SLOT`); older agents do not say. */
  | { type: "jobStarted"; jobId: string; host: string; attempt: number; slot?: number }
  | { type: "jobFinished"; jobId: string; host: string; ok: boolean; durationMs: number }
  /** The job's attempt failed (`error`: why); it waits in `retrying/` until `notBefore`, then runs as attempt `attempt`. */
  | { type: "jobRetrying"; jobId: string; host: string; attempt: number; notBefore: number; error: RetryReason }
  /**
   * What became of the jobs a node was running when it went away: `requeued` went back to the
   * queue (to run again as the same attempt), `failed` had no attempt left. `reason`: its agent
   * ended them and put them back itself as it stopped (its `jobsRequeued`), and this is why it
   * stopped (a Slurm allocation's end, a drain's deadline, …); absent when the supervisor took
   * them back from a lost node.
   */
  | { type: "jobsRecovered"; host: string; requeued: number; failed: number; reason?: string }
  /**
   * Job `jobId`'s result (published on `host`) let `queued` jobs, which waited for it, into the
   * queue; `jobId` and `host` are `"-"` when a supervisor's sweep queued them.
   */
  | { type: "dependentsQueued"; jobId: string; host: string; queued: string[] }
  /** Job `jobId`'s failure ended `failed`, which waited for it or for one of them, with `DEPENDENCY_FAILED` (the whole chain). */
  | { type: "dependentsFailed"; jobId: string; host: string; failed: string[] }
  /**
   * The run drains (its `drainSignal`, a first Ctrl-C): running jobs finish, nothing new starts;
   * `deadlineAt` (ms since the epoch), with `drainTimeoutMs`: then the running jobs are stopped.
   */
  | { type: "draining"; deadlineAt?: number }
  /** A Slurm allocation of the run changed: pending (with Slurm's reason), running (with its end), ended. */
  | ({ type: "allocation" } & AllocationStatus);

/** Agents started through Slurm (`processAll({ slurm })`); `ssh` reaches `slurm.loginHost`. */
export interface SlurmNodes {
  slurm: SlurmSettings;
  ssh: SshOptions;
}

/** Where and how to start agents. */
export interface ClusterSettings extends Omit<NodeSessionSettings, "dir" | "labels"> {
  dir: string;
  /** The machines, `"local"` for one agent on this machine, or Slurm's allocations. */
  nodes: NodeTarget[] | "local" | SlurmNodes;
  /** A lease unchanged this long (on our clock) marks its agent dead. */
  leaseTimeoutMs: number;
  /** A lost node is started again this many times in a row before it is set aside. */
  maxNodeRestarts: number;
}

/** The Slurm settings of a run's nodes, when they are Slurm's allocations. */
export function slurmSettingsOf(nodes: ClusterSettings["nodes"]): SlurmSettings | undefined {
  return typeof nodes === "object" && "slurm" in nodes ? nodes.slurm : undefined;
}

/** One machine of a run as {@link Cluster.machineViews} shows it. */
export interface MachineView {
  label: string;
  labels: string[];
  state: NodeState;
  agentId: string;
  slots: number;
  restarts: number;
  transport?: TransportKind;
  heartbeat?: { running: number; load: number; cpu?: number; memoryUsed?: number; memoryTotal?: number; at: number };
  error?: { code: string; message: string };
}

/** A node that stayed ready this long has its restart count forgiven. */
const STABLE_MS = 60_000;
/** Result files kept from agents' messages until a `processAll` takes them (each is at most 64 KiB). */
const MAX_RECENT_RESULT_BYTES = 32 * 1024 * 1024;
const SWEEP_INTERVAL_MS = 2000;

/** One machine of the run and its current session. */
interface Machine {
  label: string;
  /** Its own slot count (`8/host`), else the run's. */
  slots: number | undefined;
  labels: string[];
  launch: AgentLauncher;
  session: NodeSession;
  restarts: number;
  readySince: number;
  retryTimer: NodeJS.Timeout | undefined;
  /** No more sessions: it failed for good, or the run is draining. */
  done: boolean;
  /** A task of this Slurm allocation (one session only: it ends with the allocation). */
  allocation?: Allocation;
  /** The agent id its launch file named (Slurm). */
  agentId?: string;
  /** Its agent said bye: it left by itself (a Slurm agent that was idle or out of time), not lost. */
  leftOnPurpose?: boolean;
  /** The state its last `node` event told (see `announceMachines`). */
  told?: { state: NodeState; error: MalocherError | undefined };
}

/**
 * The machines of one run and their sessions, sharing one agent server. A node that is lost is
 * recovered (its jobs requeued) and started again with exponential backoff and jitter, until it
 * failed `maxNodeRestarts` times in a row; a node that never got ready is set aside at once.
 * Emits every {@link RunEvent}, `unusable` with `NO_USABLE_NODES` once no node is left, and
 * `drained` once every agent stopped after {@link Cluster.drain}.
 */
export class Cluster extends EventEmitter<{
  event: [RunEvent];
  unusable: [MalocherError];
  drained: [];
  warm: [];
}> {
  /** The result files agents sent with `jobFinished` (read by `processAll` instead of the files). */
  readonly recentResultFiles = new RecentResultFiles(MAX_RECENT_RESULT_BYTES);
  private closed = false;
  private readonly misfits: MisfitLedger;
  private draining = false;
  private readonly machines: Machine[] = [];
  /** The machine a nudge for a few jobs asks first (see `nudge`). */
  private nextNudged = 0;
  private readonly sweeper: NodeJS.Timeout;
  private readonly orphanSweeper: NodeJS.Timeout;
  private readonly observer: LeaseObserver;
  private readonly orphans: OrphanedJobs;
  /** Kept so that a listener attached after the fact still learns it. */
  unusableError: MalocherError | undefined;
  /** The run's Slurm allocations, when Slurm starts its agents. */
  private slurm: SlurmAllocations | undefined;

  private constructor(
    private readonly server: AgentServer,
    private readonly settings: ClusterSettings,
  ) {
    super();
    this.observer = new LeaseObserver(settings.leaseTimeoutMs);
    this.misfits = new MisfitLedger(slurmSettingsOf(settings.nodes) !== undefined);
    this.sweeper = setInterval(() => void this.sweepStaleLeases(), SWEEP_INTERVAL_MS);
    // Looking for jobs that are nowhere lists the whole directory: not as often as leases.
    const orphanSweepMs = 2 * settings.leaseTimeoutMs;
    this.orphans = new OrphanedJobs(orphanSweepMs);
    this.orphanSweeper = setInterval(() => void this.sweepOrphans(), orphanSweepMs);
    void this.sweepOrphans();
  }

  /** Starts the agent server and every node session (in parallel, without waiting for them). */
  static async start(settings: ClusterSettings): Promise<Cluster> {
    if (Array.isArray(settings.nodes) && settings.nodes.length === 0) {
      throw new MalocherError("NO_USABLE_NODES", "No machines were given (sshMachines is empty): name at least one, or leave sshMachines out to run locally.");
    }
    if (!Array.isArray(settings.nodes) && settings.nodes !== "local") return Cluster.startWithSlurm(settings, settings.nodes);
    const server = await AgentServer.start();
    const cluster = new Cluster(server, settings);
    const launchers: Array<[string, AgentLauncher, number | undefined, string[]]> =
      !Array.isArray(settings.nodes)
        ? [["local", launchLocalAgent, undefined, []]]
        : settings.nodes.map((target) => [target.label, remoteAgentLauncher(target), target.slots, target.labels]);
    for (const [label, launch, slots, labels] of launchers) {
      const machine: Machine = { label, slots, labels, launch, session: undefined!, restarts: 0, readySince: 0, retryTimer: undefined, done: false };
      cluster.machines.push(machine);
      cluster.startSession(machine);
    }
    return cluster;
  }

  /**
   * Slurm: the supervisor listens where the nodes reach it (`supervisorHost`: that address when it
   * is one, else every address) and asks for allocations; each task of a running one becomes a
   * machine of the run, whose agent announces its node's name.
   */
  private static async startWithSlurm(settings: ClusterSettings, nodes: SlurmNodes): Promise<Cluster> {
    const { slurm } = nodes;
    const commands = await slurmCommands(slurm.loginHost, nodes.ssh);
    const listenOn = slurm.supervisorHost !== undefined && isIP(slurm.supervisorHost) !== 0 ? slurm.supervisorHost : undefined;
    const server = await AgentServer.start(listenOn).catch((error: unknown) => {
      commands.close();
      throw listenFailure(error, listenOn);
    });
    const cluster = new Cluster(server, settings);
    const address = slurm.supervisorHost ?? hostname();
    const allocations = new SlurmAllocations(commands, slurm, settings.dir, {
      slots: settings.slots,
      launchConfig: (agentId, files) => ({
        agentId,
        dir: settings.dir,
        transport: "websocket",
        port: server.port,
        token: server.token,
        address,
        host: agentId,
        slots: settings.slots,
        labels: [],
        // An agent whose supervisor is gone leaves within idleTimeoutMs, ending its allocation.
        disconnectGraceMs: Math.min(settings.disconnectGraceMs, slurm.idleTimeoutMs),
        allowSharedWriters: settings.allowSharedWriters,
        mustSee: [...(settings.mustSee ?? [])],
        slurm: {
          timeLimitMs: slurm.timeLimitMs,
          // Stopping ends running jobs gracefully (SIGTERM, SIGKILL killGraceMs later): before Slurm's own SIGTERM.
          stopMarginMs: agentStopMarginMs(slurm, settings.run.killGraceMs),
          idleTimeoutMs: slurm.idleTimeoutMs,
          warningFile: files.warningFile,
          warningLeadMs: slurm.warningLeadMs,
        },
      }),
      workRemains: () => queuedJobsWait(settings.dir, settings.onlyJobs),
    });
    cluster.slurm = allocations;
    allocations.on("status", (status) => cluster.emit("event", { type: "allocation", ...status }));
    allocations.on("running", (allocation) => cluster.startAllocation(allocation));
    allocations.on("failed", (error) => {
      if (cluster.closed || cluster.draining) return;
      cluster.unusableError = error;
      cluster.emit("unusable", error);
    });
    allocations.start();
    return cluster;
  }

  /** Each task of a running allocation is a machine of the run, with one session. */
  private startAllocation(allocation: Allocation): void {
    if (this.closed) return;
    for (const [task, agentId] of allocation.agentIds.entries()) {
      const machine: Machine = {
        label: `slurm job ${allocation.id} task ${task}`,
        slots: undefined,
        labels: [],
        launch: slurmAgentLauncher(allocation),
        session: undefined!,
        restarts: 0,
        readySince: 0,
        retryTimer: undefined,
        done: false,
        allocation,
        agentId,
      };
      this.machines.push(machine);
      this.startSession(machine);
    }
  }

  /** The current session of every machine. */
  get sessions(): NodeSession[] {
    return this.machines.map((machine) => machine.session);
  }

  /**
   * Resolves once every machine's agent is ready with its warm workers started, or the machine
   * was set aside (at least one ready); rejects with `NO_USABLE_NODES` when none is usable.
   */
  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.unusableError !== undefined) return finish(() => reject(this.unusableError));
        // With Slurm, machines come with a running allocation: none yet is not ready.
        const settled = this.machines.length > 0 && this.machines.every((machine) => machine.done || (machine.session.state === "ready" && machine.session.warm));
        if (settled) finish(resolve);
      };
      const finish = (then: () => void) => {
        this.off("event", check);
        this.off("unusable", check);
        this.off("warm", check);
        then();
      };
      this.on("event", check);
      this.on("unusable", check);
      this.on("warm", check);
      check();
    });
  }

  /**
   * Tells the listeners each machine's state now, as a `node` event: a run that begins listening
   * after the cluster started missed their first states (a host that cannot be reached goes on
   * `connecting` for seconds before it fails, and a short run would never have named it).
   */
  announceMachines(): void {
    for (const machine of this.machines) {
      // The state last told (a session's own may be one the run shows otherwise: lost while it restarts);
      // a machine not told of yet (a Slurm task before its agent named it) is left out.
      if (machine.told !== undefined) this.emitNode(machine, machine.told.state, machine.told.error);
    }
  }

  /** Each machine as it is now: its session's state and last heartbeat, and its restarts (the dashboard's nodes). */
  machineViews(): MachineView[] {
    return this.machines.map(({ label, labels, restarts, session }) => ({
      label,
      labels,
      restarts,
      state: session.state,
      agentId: session.agentId,
      slots: session.slots,
      ...(session.transport === undefined ? {} : { transport: session.transport }),
      ...(session.lastHeartbeat === undefined ? {} : { heartbeat: session.lastHeartbeat }),
      ...(session.error === undefined ? {} : { error: { code: session.error.code, message: session.error.message } }),
    }));
  }

  /**
   * Tells agents that `jobs` jobs were queued: as many surely idle agents as their slots need,
   * taken in turn so that single jobs spread over the nodes; every agent when those are too few,
   * the count is not given (a job that asks for a label or several slots), or the run is on Slurm
   * (an agent may hand a job back for its allocation's time left, and tells no one). A nudge costs
   * the supervisor an SSH write per agent and wakes the agent to read the queue; for one job, one
   * idle agent is enough. `jobIds`: the jobs, when known; the agents chosen for them try them
   * before they read the queue (a nudge of every agent does not name them: all would race for them).
   */
  nudge(jobs = Infinity, jobIds?: string[]): void {
    const sessions = this.sessions;
    if (!(jobs > 0) || sessions.length === 0) return;
    const chosen: NodeSession[] = [];
    let idleSlots = 0;
    let next = this.nextNudged;
    if (this.slurm === undefined) {
      for (let step = 0; step < sessions.length && idleSlots < jobs; step++) {
        const at = (this.nextNudged + step) % sessions.length;
        const session = sessions[at]!;
        if (!session.surelyIdle) continue;
        chosen.push(session);
        idleSlots += session.slots;
        next = at + 1;
      }
    }
    if (idleSlots < jobs) {
      for (const session of sessions) session.send({ type: "nudge" });
      return;
    }
    this.nextNudged = next % sessions.length;
    for (const session of chosen) session.send(jobIds === undefined ? { type: "nudge" } : { type: "nudge", jobIds });
  }

  /** Whether this run's agents take any queued job (not only the `onlyJobs` of a `processAll({ jobs })`). */
  get takesAnyJob(): boolean {
    return this.settings.onlyJobs === undefined;
  }

  /** Tells every agent to kill these jobs if it runs them. */
  cancel(jobIds: string[]): void {
    for (const session of this.sessions) session.send({ type: "cancel", jobIds });
  }

  /** Agents claim nothing more and stop once their running jobs are done; then `drained`. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    const { drainTimeoutMs } = this.settings.run;
    this.emit("event", { type: "draining", ...(drainTimeoutMs > 0 ? { deadlineAt: Date.now() + drainTimeoutMs } : {}) });
    this.slurm?.drain();
    for (const machine of this.machines) {
      clearTimeout(machine.retryTimer);
      if (machine.session.state === "ready") machine.session.send({ type: "drain" });
      else {
        machine.done = true;
        void machine.session.close();
      }
    }
    this.checkDrained();
  }

  /** Stops every agent (their running jobs go back to the queue) and the server. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    clearInterval(this.orphanSweeper);
    for (const machine of this.machines) clearTimeout(machine.retryTimer);
    await Promise.all(this.sessions.map((session) => session.close()));
    await this.slurm?.close(); // scancel of every allocation still there
    await this.server.close();
  }

  private startSession(machine: Machine): void {
    const sessionSettings: NodeSessionSettings = {
      dir: this.settings.dir,
      slots: machine.slots ?? this.settings.slots,
      labels: machine.labels,
      disconnectGraceMs: this.settings.disconnectGraceMs,
      heartbeatTimeoutMs: this.settings.heartbeatTimeoutMs,
      allowSharedWriters: this.settings.allowSharedWriters,
      run: this.settings.run,
      ...(this.settings.onlyJobs ? { onlyJobs: this.settings.onlyJobs } : {}),
      ...(this.settings.mustSee ? { mustSee: this.settings.mustSee } : {}),
    };
    const identity = machine.allocation === undefined ? {} : { agentId: machine.agentId!, labelFromHello: true, helloTimeoutMs: SLURM_HELLO_TIMEOUT_MS };
    const session = new NodeSession(machine.label, machine.launch, this.server, sessionSettings, identity);
    machine.session = session;
    session.on("state", (state) => this.onState(machine, session, state));
    session.on("message", (message: AgentMessage) => this.onMessage(session, message));
    session.start().catch(() => {}); // the session's state and error say what happened
  }

  private onState(machine: Machine, session: NodeSession, state: NodeState): void {
    if (session !== machine.session || this.closed) return;
    if (machine.allocation !== undefined) {
      // A Slurm task is a node of the run once its agent named it; before, its allocation is shown.
      if (state === "connecting" || state === "starting") return;
      if (state === "ready") {
        machine.label = session.label = this.slurmNodeLabel(machine, session.label);
        this.slurm?.agentReady(machine.allocation);
      }
      if (state === "lost" && machine.leftOnPurpose) {
        this.emitNode(machine, "closed", undefined);
        void this.recover(machine, session);
        return;
      }
    }
    // An agent that drained stops by itself: that is the end it was asked for, not a loss.
    this.emitNode(machine, this.draining && state === "lost" ? "closed" : state, session.error);
    if (state === "ready") machine.readySince = Date.now();
    if (state === "failed" && machine.restarts === 0) {
      machine.done = true; // never got ready: a configuration problem, not a passing one
    }
    if (state === "lost" || (state === "failed" && machine.restarts > 0)) void this.recover(machine, session);
    if (state === "failed" || state === "lost") this.checkUsable();
  }

  /**
   * A Slurm task's name in the run: its node's, or, when an agent of another allocation of the run
   * still works on that node (Slurm may place two small allocations on one), the node's with the
   * allocation's id. Progress, events and the dashboard count nodes by this name.
   */
  private slurmNodeLabel(machine: Machine, node: string): string {
    const shared = this.machines.some((other) => other !== machine && !other.done && other.allocation !== machine.allocation && other.label === node);
    return shared ? `${node} (slurm job ${machine.allocation!.id})` : node;
  }

  private async recover(machine: Machine, session: NodeSession): Promise<void> {
    // An allocation's time limit is no failure of its jobs: what its agents left goes back as the same attempt.
    const timeIsUp = machine.allocation?.endsAt !== undefined && Date.now() >= machine.allocation.endsAt - TIME_LIMIT_SLACK_MS;
    const recovery = await recoverAgentJobs(this.settings.dir, session.agentId, this.settings.run.retries, !timeIsUp).catch(() => undefined);
    if (recovery && recovery.requeued.length + recovery.failed.length > 0) {
      this.emit("event", { type: "jobsRecovered", host: machine.label, requeued: recovery.requeued.length, failed: recovery.failed.length });
      this.nudge(recovery.requeued.length);
    }
    if (machine.allocation !== undefined) {
      machine.done = true; // its allocation ends with it; the allocations ask for another while jobs remain
      if (this.draining) this.checkDrained();
      else void this.failJobsNoNodeFits();
      return;
    }
    if (this.draining) {
      machine.done = true;
      this.checkDrained();
      return;
    }
    if (Date.now() - machine.readySince > STABLE_MS && machine.readySince > 0) machine.restarts = 0;
    if (machine.restarts >= this.settings.maxNodeRestarts) {
      machine.done = true;
      const why = new MalocherError(
        "NODE_LOST",
        `${machine.label} was set aside after ${machine.restarts} failed restarts; the run goes on without it. Last error: ${session.error?.message ?? "unknown"}`,
      );
      this.emitNode(machine, "failed", why);
      this.checkUsable();
      return;
    }
    machine.restarts++;
    const delay = backoffMs(machine.restarts, 1000);
    this.emitNode(machine, "restarting", session.error);
    machine.retryTimer = setTimeout(() => {
      if (!this.closed && !this.draining) this.startSession(machine);
    }, delay);
  }

  private onMessage(session: NodeSession, message: AgentMessage): void {
    if (message.type === "bye") {
      const machine = this.machines.find((candidate) => candidate.session === session);
      if (machine?.allocation !== undefined) machine.leftOnPurpose = true;
    } else if (message.type === "warm") {
      this.emit("warm");
    } else if (message.type === "jobStarted") {
      this.emit("event", { type: "jobStarted", jobId: message.jobId, host: session.label, attempt: message.attempt, ...(message.slot === undefined ? {} : { slot: message.slot }) });
    } else if (message.type === "jobFinished") {
      if (message.resultFile !== undefined) this.recentResultFiles.keep(message.jobId, message.resultFile);
      this.emit("event", { type: "jobFinished", jobId: message.jobId, host: session.label, ok: message.ok, durationMs: message.durationMs });
    } else if (message.type === "jobsRequeued" && message.jobIds.length > 0) {
      this.emit("event", { type: "jobsRecovered", host: session.label, requeued: message.jobIds.length, failed: 0, reason: message.reason });
      this.nudge(message.jobIds.length); // other agents may take them now
    } else if (message.type === "jobRetrying") {
      this.emit("event", { type: "jobRetrying", jobId: message.jobId, host: session.label, attempt: message.attempt, notBefore: message.notBefore, error: message.error });
    } else if (message.type === "dependentsSettled") {
      this.onDependentsSettled(message.jobId, session.label, message);
    } else if (message.type === "misfit") {
      this.misfits.refused(message.jobId, session.label, message.reason);
      this.nudge(); // the job is back in the queue, for the nodes that may fit it
      void this.failJobsNoNodeFits();
    }
  }

  /** Jobs that waited for job `jobId` were queued or failed: tell the agents and the run. */
  private onDependentsSettled(jobId: string, host: string, settled: SettledDependents): void {
    if (settled.queued.length > 0) {
      this.nudge(settled.queued.length);
      this.emit("event", { type: "dependentsQueued", jobId, host, queued: settled.queued });
    }
    if (settled.failed.length > 0) this.emit("event", { type: "dependentsFailed", jobId, host, failed: settled.failed });
  }

  /** Fails the jobs that every node still in the run refused: no node of this run can run them. */
  private async failJobsNoNodeFits(): Promise<void> {
    // A Slurm task's agent that has left is out of the run (the next allocation's agents are asked).
    const inRun = this.machines
      .filter((machine) => !(machine.done && (machine.session.state === "failed" || machine.allocation !== undefined)))
      .map((m) => m.label);
    for (const [jobId, error] of this.misfits.unplaceable(inRun)) {
      const failed = await failQueuedJob(this.settings.dir, jobId, error).catch(() => false);
      if (!failed) continue; // a node holds it for a moment; its refusal will come back here
      this.misfits.forget(jobId);
      this.emit("event", { type: "jobFinished", jobId, host: "-", ok: false, durationMs: 0 });
    }
  }

  private async sweepStaleLeases(): Promise<void> {
    const recovery = await requeueStaleJobs(this.settings.dir, this.observer, this.settings.run.retries).catch(() => undefined);
    if (recovery && recovery.requeued.length > 0) this.nudge(recovery.requeued.length);
  }

  /**
   * Jobs that are nowhere are queued again, and waiting jobs whose dependencies are all done
   * settled: both are left behind only by a process that died between two steps.
   */
  private async sweepOrphans(): Promise<void> {
    const requeued = await this.orphans.recover(this.settings.dir).catch(() => []);
    if (requeued.length > 0) this.nudge(requeued.length);
    const settled = await sweepWaitingJobs(this.settings.dir).catch((): SettledDependents => ({ queued: [], failed: [] }));
    this.onDependentsSettled("-", "-", settled);
  }

  private emitNode(machine: Machine, state: NodeState, error: MalocherError | undefined): void {
    machine.told = { state, error };
    const transport = machine.session.transport;
    this.emit("event", {
      type: "node",
      host: machine.label,
      state,
      slots: machine.session.slots,
      ...(transport === undefined ? {} : { transport }),
      ...(error ? { error } : {}),
    });
  }

  private checkUsable(): void {
    if (this.closed || this.draining) return;
    void this.failJobsNoNodeFits(); // a node set aside may have been the last one to refuse a job
    if (this.slurm !== undefined) return; // machines come and go with allocations; the allocations report failures
    if (this.machines.some((machine) => !machine.done)) return;
    const errors = this.machines.flatMap((machine) => (machine.session.error ? [machine.session.error] : []));
    const lines = errors.map((error) => `  - [${error.code}] ${error.message}`).join("\n");
    this.unusableError = new MalocherError("NO_USABLE_NODES", `No node can run jobs:\n${lines}`, { errors });
    this.emit("unusable", this.unusableError);
  }

  private checkDrained(): void {
    const active = this.machines.some((machine) => !machine.done && machine.session.state === "ready");
    if (!active) this.emit("drained");
  }
}

/** The error for a supervisor that cannot listen where Slurm's agents are to reach it (`slurm.supervisorHost`). */
function listenFailure(error: unknown, host: string | undefined): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (host === undefined || code !== "EADDRNOTAVAIL") return error;
  const own = Object.values(networkInterfaces())
    .flatMap((addresses) => addresses ?? [])
    .map((address) => address.address);
  return new MalocherError(
    "INVALID_OPTIONS",
    `slurm.supervisorHost (--slurm-supervisor-host) ${host} is no address of this machine (${code}), so its agents could not reach this supervisor there. Give one of this machine's addresses that the compute nodes reach (${own.join(", ")}), or its host name.`,
    { cause: error },
  );
}

/**
 * How long an agent of a running allocation has to say hello: Slurm has started it, but a node
 * loads Node.js and the agent from the shared file system, which may be slow (every node at once).
 */
const SLURM_HELLO_TIMEOUT_MS = 90_000;

/** Claims left when an allocation ends this close to its end time count as its time limit's doing. */
const TIME_LIMIT_SLACK_MS = 15_000;

/** Whether any job (of `onlyJobs`, when given) waits in the queue. */
async function queuedJobsWait(dir: string, onlyJobs: readonly string[] | undefined): Promise<boolean> {
  const only = onlyJobs === undefined ? undefined : new Set(onlyJobs);
  for (const shard of SHARDS) {
    const names = await readdir(directoryLayout.queuedShardDir(dir, shard)).catch((): string[] => []);
    if (names.some((name) => isJobId(name) && (only === undefined || only.has(name)))) return true;
  }
  return false;
}
