import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import { MalocherError, supervisorStopWaitMs, type AgentMessage, type HeartbeatMessage, type RunSettings, type TransportKind } from "@malocher/protocol";
import type { AgentConnection } from "./agent-connection.js";
import type { AgentLauncher, AgentProcess } from "./agent-process.js";
import type { AgentServer } from "./agent-server.js";

/**
 * A node's life as the supervisor sees it: `connecting` (SSH), `starting` (agent launched, no
 * hello yet), `ready`, then `lost` (it was ready and went away), `failed` (it never got ready),
 * `restarting` (waiting to start it again) or `closed` (the run ended, or it drained).
 */
export type NodeState = "connecting" | "starting" | "ready" | "lost" | "failed" | "restarting" | "closed";

const HELLO_TIMEOUT_MS = 30000;

/** Settings a session passes to its agent. */
export interface NodeSessionSettings {
  dir: string;
  slots: number;
  labels: string[];
  disconnectGraceMs: number;
  /** The node is lost when no message (heartbeats come every second) arrived for this long. */
  heartbeatTimeoutMs: number;
  /** Agents warn instead of refusing a directory others can write to. */
  allowSharedWriters: boolean;
  run: RunSettings;
  /** When set, agents claim only these jobs. */
  onlyJobs?: readonly string[];
  /** Files the agent must see at the same path (see `AgentLaunchConfig.mustSee`). */
  mustSee?: readonly string[];
}

/**
 * The supervisor's session with one agent on one node: launch it (over SSH or locally), wait for
 * its `hello` through the tunnel (or on its exec channel), welcome it, relay its messages, watch its heartbeats, and notice
 * when it is gone. One session is one agent; a restart is a new session.
 */
export class NodeSession extends EventEmitter<{
  state: [NodeState];
  message: [AgentMessage];
}> {
  state: NodeState = "connecting";
  /** Why the node failed or was lost. */
  error: MalocherError | undefined;
  /** The agent's id (names its claims and lease in the shared directory). */
  readonly agentId: string;
  /** Slots the agent reported in its hello. */
  slots = 0;
  /** Every slot's warm worker has started (the agent said `warm`). */
  warm = false;
  /** The agent's last heartbeat and when it came (for the dashboard's view of the node). */
  lastHeartbeat: (HeartbeatMessage & { at: number }) | undefined;
  /** Jobs that started on the agent since its last heartbeat and have not ended, as its messages tell. */
  private readonly startedSinceHeartbeat = new Set<string>();
  /**
   * How the agent's messages travel, once launched: `websocket` through the SSH remote forward
   * (or locally), `stdio` on its exec channel when the node refuses port forwarding.
   */
  transport: TransportKind | undefined;
  private agent: AgentProcess | undefined;
  private connection: AgentConnection | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastHeard = 0;
  private closing = false;
  private readonly abandon = new AbortController();

  /**
   * @param label the machine as the user named it; with `identity.labelFromHello`, a placeholder
   *   until the agent's hello names its node (an agent Slurm placed)
   * @param identity an agent id chosen by the launcher beforehand (Slurm's launch files name it),
   *   and how long its hello may take (an agent on a Slurm node loads from a busy shared file system)
   */
  constructor(
    public label: string,
    private readonly launch: AgentLauncher,
    private readonly server: AgentServer,
    private readonly settings: NodeSessionSettings,
    identity: { agentId?: string; labelFromHello?: boolean; helloTimeoutMs?: number } = {},
  ) {
    super();
    this.helloTimeoutMs = identity.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
    this.agentId = identity.agentId ?? `${label.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 60)}-${randomBytes(4).toString("hex")}`;
    this.labelFromHello = identity.labelFromHello === true;
  }

  private readonly labelFromHello: boolean;
  /** How long the launched agent has to say hello. */
  private readonly helloTimeoutMs: number;

  /** Launches the agent and waits until it is ready; on failure the session is `failed` and this rejects. */
  async start(): Promise<void> {
    this.setState("connecting");
    const hello = this.server.expect(this.agentId);
    hello.catch(() => {});
    try {
      this.agent = await this.launch(
        {
          agentId: this.agentId,
          dir: this.settings.dir,
          token: this.server.token,
          host: this.label,
          slots: this.settings.slots,
          labels: this.settings.labels,
          disconnectGraceMs: this.settings.disconnectGraceMs,
          allowSharedWriters: this.settings.allowSharedWriters,
          mustSee: [...(this.settings.mustSee ?? [])],
        },
        this.server,
        this.abandon.signal,
      );
      if (this.closing) throw new MalocherError("NODE_LOST", `${this.label}: the run ended while it was starting`);
      this.transport = this.agent.transport;
      if (this.agent.stdio !== undefined) this.server.adopt(this.agent.stdio);
      this.setState("starting");
      const agent = this.agent;
      const connection = await Promise.race([
        hello,
        agent.ended.then((how) => {
          throw new MalocherError(
            "AGENT_START_FAILED",
            `The agent on ${this.label} ended before it connected (${how}).${describeOutput(agent.outputTail())}`,
          );
        }),
        new Promise<never>((_, reject) =>
          setTimeout(
            () =>
              reject(
                new MalocherError(
                  "AGENT_START_FAILED",
                  `The agent on ${this.label} did not connect within ${this.helloTimeoutMs / 1000} s.${describeOutput(agent.outputTail())}`,
                ),
              ),
            this.helloTimeoutMs,
          ).unref(),
        ),
      ]);
      if (this.closing) {
        connection.close();
        throw new MalocherError("NODE_LOST", `${this.label}: the run ended while it was starting`);
      }
      this.attach(connection, agent);
    } catch (error) {
      this.server.forget(this.agentId);
      await this.agent?.close(this.stopWaitMs);
      this.error =
        error instanceof MalocherError ? error : new MalocherError("SSH_FAILED", `${this.label}: ${(error as Error).message}`, { cause: error });
      if (!this.closing) this.setState("failed");
      throw this.error;
    }
  }

  /**
   * Whether the agent is surely idle, as far as its messages tell: ready with its warm workers
   * started, its last heartbeat ran no job, and no job started since. Only then may a nudge for a
   * few jobs go to it alone (see `Cluster.nudge`); a guess that is off costs the job up to the
   * agents' scan interval, so anything less certain counts as busy.
   */
  get surelyIdle(): boolean {
    return this.state === "ready" && this.warm && this.lastHeartbeat?.running === 0 && this.startedSinceHeartbeat.size === 0;
  }

  /** Sends a message to the agent, if it is connected. */
  send(message: Parameters<AgentConnection["send"]>[0]): void {
    this.connection?.send(message);
  }

  /**
   * Stops the agent (it kills its jobs and puts their claims back) and closes the connection.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.abandon.abort();
    clearInterval(this.watchdog);
    this.connection?.send({ type: "stop", reason: "the run is over" });
    await this.agent?.close(this.stopWaitMs);
    this.connection?.close();
    if (this.state !== "failed" && this.state !== "lost") this.setState("closed");
  }

  /**
   * How long the agent may take to stop before the session gives up on it (`supervisorStopWaitMs`):
   * from the run's `killGraceMs`, or a running job's longer one that its last heartbeat told of.
   * An agent that was never welcomed ran no job: it has no grace to give.
   */
  private readonly stopWaitMs = (): number => {
    const runGraceMs = this.connection === undefined ? 0 : this.settings.run.killGraceMs;
    return supervisorStopWaitMs(Math.max(runGraceMs, this.lastHeartbeat?.longestKillGraceMs ?? 0));
  };

  private attach(connection: AgentConnection, agent: AgentProcess): void {
    this.connection = connection;
    if (this.labelFromHello) this.label = connection.hello.host;
    agent.attachConnection?.(connection);
    this.slots = connection.hello.slots;
    this.lastHeard = Date.now();
    connection.on("message", (message) => {
      this.lastHeard = Date.now();
      if (message.type === "warm") {
        this.warm = true;
      } else if (message.type === "heartbeat") {
        this.lastHeartbeat = { ...message, at: this.lastHeard };
        this.startedSinceHeartbeat.clear();
      } else if (message.type === "jobStarted") {
        this.startedSinceHeartbeat.add(message.jobId);
      } else if (message.type === "jobFinished" || message.type === "jobRetrying" || message.type === "misfit") {
        this.startedSinceHeartbeat.delete(message.jobId);
      }
      this.emit("message", message);
    });
    const only = this.settings.onlyJobs;
    connection.send({ type: "welcome", settings: this.settings.run, ...(only ? { onlyJobs: [...only] } : {}) });
    this.setState("ready");
    const gone = (how: string) => {
      if (this.closing || this.state !== "ready") return;
      clearInterval(this.watchdog);
      this.error = new MalocherError("NODE_LOST", `Lost the agent on ${this.label}: ${how}.${describeOutput(agent.outputTail())}`);
      this.setState("lost");
      connection.close();
      void agent.close(this.stopWaitMs);
    };
    connection.on("close", () => gone("its connection closed"));
    void agent.ended.then((how) => gone(how));
    const period = Math.min(1000, this.settings.heartbeatTimeoutMs / 2);
    let lastTick = Date.now();
    this.watchdog = setInterval(() => {
      const now = Date.now();
      const stalled = now - lastTick > 2 * period;
      lastTick = now;
      if (stalled) {
        // This process itself was not running (a busy machine): the agent's heartbeats may be
        // waiting unread in our socket, and timers run before I/O. Judge again once awake.
        this.lastHeard = Math.max(this.lastHeard, now - period);
        return;
      }
      const silent = now - this.lastHeard;
      if (silent > this.settings.heartbeatTimeoutMs) gone(`no heartbeat for ${Math.round(silent / 1000)} s`);
    }, period);
  }

  private setState(state: NodeState): void {
    this.state = state;
    this.emit("state", state);
  }
}

function describeOutput(tail: string): string {
  return tail === "" ? "" : ` Its last output:\n${tail}`;
}
