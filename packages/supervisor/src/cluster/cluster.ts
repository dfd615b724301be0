import { EventEmitter } from "node:events";
import { MalocherError, type AgentMessage } from "@malocher/protocol";
import { requeueAgentClaims } from "../store/requeue-agent-claims.js";
import type { NodeTarget } from "../ssh/node-target.js";
import { AgentServer } from "./agent-server.js";
import { launchLocalAgent } from "./local-agent.js";
import { NodeSession, type NodeState } from "./node-session.js";
import { remoteAgentLauncher } from "./remote-agent.js";

/** Something that happened in a run, for progress displays (`processAll({ onEvent })`). */
export type RunEvent =
  | { type: "run"; pending: number; nodes: number }
  | { type: "node"; host: string; state: NodeState; slots: number; error?: MalocherError }
  | { type: "jobStarted"; jobId: string; host: string; attempt: number }
  | { type: "jobFinished"; jobId: string; host: string; ok: boolean; durationMs: number };

/** Where and how to start agents. */
export interface ClusterSettings {
  dir: string;
  /** The machines, or `"local"` for one agent on this machine. */
  nodes: NodeTarget[] | "local";
  /** Jobs at once per node; 0 = the node's CPU count. */
  slots: number;
  /** How long an agent outlives its lost WebSocket. */
  disconnectGraceMs: number;
}

/**
 * A set of node sessions sharing one agent server. Emits every {@link RunEvent}, and `unusable`
 * with a `NO_USABLE_NODES` error once no node is left that is starting or ready.
 */
export class Cluster extends EventEmitter<{ event: [RunEvent]; unusable: [MalocherError] }> {
  private closed = false;

  private constructor(
    private readonly server: AgentServer,
    readonly sessions: NodeSession[],
    private readonly dir: string,
  ) {
    super();
  }

  /** Starts the agent server and every node session (in parallel, without waiting for them). */
  static async start(settings: ClusterSettings): Promise<Cluster> {
    const server = await AgentServer.start();
    const sessionSettings = { dir: settings.dir, slots: settings.slots, disconnectGraceMs: settings.disconnectGraceMs };
    const sessions =
      settings.nodes === "local"
        ? [new NodeSession("local", launchLocalAgent, server, sessionSettings)]
        : settings.nodes.map((target) => new NodeSession(target.label, remoteAgentLauncher(target), server, sessionSettings));
    const cluster = new Cluster(server, sessions, settings.dir);
    for (const session of sessions) cluster.watch(session);
    if (sessions.length === 0) {
      queueMicrotask(() => cluster.emit("unusable", new MalocherError("NO_USABLE_NODES", "No machines were given.")));
    }
    return cluster;
  }

  /** Tells every ready agent that jobs were queued. */
  nudge(): void {
    for (const session of this.sessions) session.nudge();
  }

  /** Stops every agent (their running jobs go back to the queue) and the server. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.sessions.map((session) => session.close()));
    await this.server.close();
  }

  private watch(session: NodeSession): void {
    session.on("state", (state) => {
      this.emit("event", { type: "node", host: session.label, state, slots: session.slots, ...(session.error ? { error: session.error } : {}) });
      if (state === "lost") void this.recoverLostNode(session);
      if ((state === "failed" || state === "lost") && !this.closed) this.checkUsable();
    });
    session.on("message", (message: AgentMessage) => {
      if (message.type === "jobStarted") {
        this.emit("event", { type: "jobStarted", jobId: message.jobId, host: session.label, attempt: message.attempt });
      } else if (message.type === "jobFinished") {
        this.emit("event", { type: "jobFinished", jobId: message.jobId, host: session.label, ok: message.ok, durationMs: message.durationMs });
      }
    });
    session.start().catch(() => {}); // the session's state and error say what happened
  }

  private async recoverLostNode(session: NodeSession): Promise<void> {
    const requeued = await requeueAgentClaims(this.dir, session.agentId).catch(() => []);
    if (requeued.length > 0) this.nudge();
  }

  private checkUsable(): void {
    const alive = this.sessions.some((s) => s.state === "connecting" || s.state === "starting" || s.state === "ready");
    if (alive) return;
    const errors = this.sessions.flatMap((s) => (s.error ? [s.error] : []));
    const lines = errors.map((error) => `  - [${error.code}] ${error.message}`).join("\n");
    this.emit(
      "unusable",
      new MalocherError("NO_USABLE_NODES", `No node can run jobs:\n${lines}`, { errors }),
    );
  }
}
