import { randomBytes } from "node:crypto";
import { WebSocket } from "ws";
import {
  SUPERVISOR_PROOF_HEADER,
  agentAuthorization,
  checkSupervisorProof,
  decodeSupervisorMessage,
  encodeAgentFrames,
  type AgentMessage,
} from "@malocher/protocol";
import type { SupervisorChannel, SupervisorChannelEvents } from "./supervisor-channel.js";
import { say } from "../say.js";

const RECONNECT_INTERVAL_MS = 500;

/** What the link tells its agent. */
export type SupervisorLinkEvents = SupervisorChannelEvents;

/**
 * The agent's WebSocket to its supervisor, reached through the SSH remote forward on the node's
 * 127.0.0.1 (or directly in local mode). Reconnects while the connection is down, for at most
 * `graceMs`; then reports the supervisor lost.
 */
export class SupervisorLink implements SupervisorChannel {
  private socket: WebSocket | undefined;
  private downSince: number | undefined = Date.now();
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Whether the WebSocket was ever open: until then, a failure is the supervisor's address out of reach. */
  private everConnected = false;
  /** Why the last attempt failed (`ECONNREFUSED`, `ENOTFOUND`, …), for the messages. */
  private lastError: Error | undefined;
  private toldUnreachable = false;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly graceMs: number,
    private readonly events: SupervisorLinkEvents,
  ) {}

  /** Opens the connection (and keeps reopening it). */
  open(): void {
    if (this.closed) return;
    // The token itself never leaves: a proof of it for a fresh nonce, and the server must answer
    // with its own proof (whatever listens on the port now may not be our supervisor).
    const nonce = randomBytes(18).toString("base64url");
    const socket = new WebSocket(this.url, { headers: { authorization: agentAuthorization(this.token, nonce) } });
    this.socket = socket;
    socket.binaryType = "nodebuffer";
    socket.on("upgrade", (response) => {
      const answer = response.headers[SUPERVISOR_PROOF_HEADER];
      if (checkSupervisorProof(typeof answer === "string" ? answer : undefined, this.token, nonce)) return;
      socket.terminate();
      this.fail("the server on the forwarded port did not prove it knows this run's token: it is not our supervisor");
    });
    socket.on("open", () => {
      this.downSince = undefined;
      this.everConnected = true;
      this.events.connected();
    });
    socket.on("message", (data: Buffer) => {
      try {
        this.events.message(decodeSupervisorMessage(data));
      } catch (error) {
        say(`${(error as Error).message}; closing the connection`);
        socket.close(1002, "protocol error");
      }
    });
    socket.on("unexpected-response", (_request, response) => {
      socket.terminate();
      if (response.statusCode === 401) this.fail("the supervisor refused this agent's token (401)");
    });
    socket.on("error", (error) => (this.lastError = error)); // "close" follows and decides
    socket.on("close", () => this.onDown());
  }

  send(...messages: AgentMessage[]): void {
    const socket = this.socket;
    if (socket?.readyState === WebSocket.OPEN) for (const frame of encodeAgentFrames(messages)) socket.send(frame);
  }

  /** Whether the WebSocket is up. */
  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /** Sends `bye` (if up) and closes for good. Idempotent. */
  async close(reason: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    const socket = this.socket;
    if (socket === undefined || socket.readyState !== WebSocket.OPEN) {
      socket?.terminate();
      return;
    }
    this.send({ type: "bye", reason });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.terminate();
        resolve();
      }, 1000);
      socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.close(1000, "bye");
    });
  }

  private onDown(): void {
    if (this.closed) return;
    this.downSince ??= Date.now();
    if (Date.now() - this.downSince >= this.graceMs) {
      this.fail(this.everConnected ? `the connection to the supervisor was down for ${this.graceMs} ms` : `${this.unreachable()} for ${this.graceMs} ms`);
      return;
    }
    // Said once, on the node's own output (a Slurm allocation's file): the supervisor only sees that no hello came.
    if (!this.everConnected && !this.toldUnreachable) {
      this.toldUnreachable = true;
      say(`${this.unreachable()}; trying again for ${Math.round(this.graceMs / 1000)} s`);
    }
    this.retryTimer = setTimeout(() => this.open(), RECONNECT_INTERVAL_MS);
  }

  /** The address that could not be reached, and why. */
  private unreachable(): string {
    const why = this.lastError === undefined ? "" : ` (${(this.lastError as NodeJS.ErrnoException).code ?? this.lastError.message})`;
    return `cannot reach the supervisor at ${this.url}${why}`;
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.events.lost(reason);
  }
}
