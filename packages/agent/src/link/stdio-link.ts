import {
  FrameDecoder,
  decodeSupervisorMessage,
  encodeFrame,
  encodeAgentFrames,
  type AgentMessage,
  type SupervisorMessage,
} from "@malocher/protocol";
import type { SupervisorChannel, SupervisorChannelEvents } from "./supervisor-channel.js";

/** Where the link reads frames from: the agent's stdin (after the launch line). */
export interface FrameInput {
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
}

/**
 * The agent's channel to its supervisor when the node refuses port forwarding: length-prefixed
 * frames (see `encodeFrame`) on its own stdin and stdout, i.e. on the SSH exec channel that
 * started it. Up from `open()` until stdin ends; there is nothing to reconnect (the end of stdin
 * stops the agent anyway). Frames that arrive before `open()` are kept until then.
 */
export class StdioLink implements SupervisorChannel {
  private readonly decoder = new FrameDecoder();
  private readonly early: SupervisorMessage[] = [];
  private opened = false;
  private ended = false;
  private closed = false;

  /**
   * @param input the agent's stdin, already past the launch line
   * @param leftover bytes that arrived on stdin with the launch line, after its newline
   * @param write writes bytes to the agent's real stdout
   */
  constructor(
    input: FrameInput,
    leftover: Uint8Array,
    private readonly write: (bytes: Uint8Array) => void,
    private readonly events: SupervisorChannelEvents,
  ) {
    input.on("data", (chunk) => this.receive(chunk));
    input.on("end", () => (this.ended = true));
    input.on("close", () => (this.ended = true));
    if (leftover.length > 0) this.receive(leftover);
  }

  open(): void {
    if (this.opened || this.closed) return;
    this.opened = true;
    this.events.connected();
    for (const message of this.early.splice(0)) this.events.message(message);
  }

  send(...messages: AgentMessage[]): void {
    if (this.connected) for (const frame of encodeAgentFrames(messages)) this.write(encodeFrame(frame));
  }

  get connected(): boolean {
    return this.opened && !this.closed && !this.ended;
  }

  async close(reason: string): Promise<void> {
    if (this.closed) return;
    this.send({ type: "bye", reason });
    this.closed = true;
  }

  private receive(chunk: Uint8Array): void {
    if (this.closed) return;
    let messages: SupervisorMessage[];
    try {
      messages = this.decoder.push(chunk).map((frame) => decodeSupervisorMessage(frame));
    } catch (error) {
      // A broken stream cannot be resynchronized: give up on the supervisor.
      this.closed = true;
      this.events.lost(`its stdin carried a malformed frame (${(error as Error).message})`);
      return;
    }
    for (const message of messages) {
      if (this.opened) this.events.message(message);
      else this.early.push(message);
    }
  }
}
