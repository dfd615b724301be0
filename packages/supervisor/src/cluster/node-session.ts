import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import { MalocherError, type AgentMessage } from "@malocher/protocol";
import type { AgentConnection } from "./agent-connection.js";
import type { AgentLauncher, AgentProcess } from "./agent-process.js";
import type { AgentServer } from "./agent-server.js";

/** A node's life as the supervisor sees it. */
export type NodeState = "connecting" | "starting" | "ready" | "lost" | "failed" | "closed";

const HELLO_TIMEOUT_MS = 30000;

/** Settings a session passes to its agent. */
export interface NodeSessionSettings {
  dir: string;
  slots: number;
  disconnectGraceMs: number;
}

/**
 * The supervisor's session with one node: launch the agent (over SSH or locally), wait for its
 * `hello` through the tunnel, welcome it, relay its job events, and notice when it is gone.
 */
export class NodeSession extends EventEmitter<{
  state: [NodeState];
  message: [AgentMessage];
}> {
  state: NodeState = "connecting";
  /** Why the node failed or was lost. */
  error: MalocherError | undefined;
  /** The agent's id once launched (names its claims in the shared directory). */
  readonly agentId: string;
  /** Slots the agent reported in its hello. */
  slots = 0;
  private agent: AgentProcess | undefined;
  private connection: AgentConnection | undefined;
  private closing = false;

  constructor(
    readonly label: string,
    private readonly launch: AgentLauncher,
    private readonly server: AgentServer,
    private readonly settings: NodeSessionSettings,
  ) {
    super();
    this.agentId = `${label.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 60)}-${randomBytes(4).toString("hex")}`;
  }

  /** Launches the agent and waits until it is ready; on failure the session is `failed` and this rejects. */
  async start(): Promise<void> {
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
          disconnectGraceMs: this.settings.disconnectGraceMs,
        },
        this.server.port,
      );
      if (this.closing) throw new MalocherError("NODE_LOST", `${this.label}: closed while starting`);
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
                  `The agent on ${this.label} did not connect within ${HELLO_TIMEOUT_MS / 1000} s.${describeOutput(agent.outputTail())}`,
                ),
              ),
            HELLO_TIMEOUT_MS,
          ).unref(),
        ),
      ]);
      this.attach(connection, agent);
    } catch (error) {
      this.server.forget(this.agentId);
      await this.agent?.close();
      this.error =
        error instanceof MalocherError ? error : new MalocherError("SSH_FAILED", `${this.label}: ${(error as Error).message}`, { cause: error });
      if (!this.closing) this.setState("failed");
      throw this.error;
    }
  }

  /** Tells the agent that jobs were queued. */
  nudge(): void {
    this.connection?.send({ type: "nudge" });
  }

  /**
   * Stops the agent (it kills its jobs and puts their claims back) and closes the connection.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.connection?.send({ type: "stop", reason: "the run is over" });
    await this.agent?.close();
    this.connection?.close();
    if (this.state !== "failed") this.setState("closed");
  }

  private attach(connection: AgentConnection, agent: AgentProcess): void {
    this.connection = connection;
    this.slots = connection.hello.slots;
    connection.on("message", (message) => this.emit("message", message));
    connection.send({ type: "welcome" });
    this.setState("ready");
    const lost = (how: string) => {
      if (this.closing || this.state !== "ready") return;
      this.error = new MalocherError(
        "NODE_LOST",
        `Lost the agent on ${this.label}: ${how}.${describeOutput(agent.outputTail())}`,
      );
      this.setState("lost");
      void agent.close();
    };
    connection.on("close", () => lost("its connection closed"));
    void agent.ended.then((how) => lost(how));
  }

  private setState(state: NodeState): void {
    this.state = state;
    this.emit("state", state);
  }
}

function describeOutput(tail: string): string {
  return tail === "" ? "" : ` Its last output:\n${tail}`;
}
