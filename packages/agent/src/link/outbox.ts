import type { AgentMessage } from "@malocher/protocol";
import type { SupervisorChannel } from "./supervisor-channel.js";

/**
 * How long a message that may wait (`sendLater`) waits at most for company, while the agent sends
 * anyway (it sent a frame less than this long ago). A job's `jobStarted` then travels in the
 * frame of the next `jobFinished` while jobs are short, and alone, at most this much later, while
 * they are long. An agent that sent nothing for this long sends it at once.
 */
const LATER_MS = 25;

/**
 * The agent's messages to its supervisor, gathered into frames: every message sent during one
 * turn of the event loop goes out in one frame at its end (`send`), and a message that may wait
 * (`sendLater`) goes out with the next frame or after {@link LATER_MS}, if the agent is busy
 * sending. With many short jobs, an agent then sends one frame per job, or fewer, instead of one
 * per message; a result is never held back, nor is anything on an agent that is otherwise quiet.
 */
export class Outbox {
  private pending: AgentMessage[] = [];
  private flushSoon: NodeJS.Immediate | undefined;
  private flushLater: NodeJS.Timeout | undefined;
  private lastFlushAt = -Infinity;

  /** @param laterMs how long a message sent later waits at most (tests shorten or lengthen it) */
  constructor(
    private readonly channel: SupervisorChannel,
    private readonly laterMs = LATER_MS,
  ) {}

  /** Sends `message` at the end of this turn of the event loop, with everything sent during it. */
  send(message: AgentMessage): void {
    this.pending.push(message);
    this.flushSoon ??= setImmediate(() => this.flush());
  }

  /** Sends `message` with the next frame, or on its own after {@link LATER_MS} (at once on a quiet agent). */
  sendLater(message: AgentMessage): void {
    if (performance.now() - this.lastFlushAt > this.laterMs) return this.send(message);
    this.pending.push(message);
    this.flushLater ??= setTimeout(() => this.flush(), this.laterMs);
  }

  /** Sends what is pending now (before a `bye`). */
  flush(): void {
    clearImmediate(this.flushSoon);
    clearTimeout(this.flushLater);
    this.flushSoon = this.flushLater = undefined;
    const messages = this.pending;
    this.pending = [];
    if (messages.length === 0) return;
    this.lastFlushAt = performance.now();
    this.channel.send(...messages);
  }
}
