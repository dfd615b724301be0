import type { AgentMessage, SupervisorMessage } from "@malocher/protocol";

/** What a channel tells its agent. */
export interface SupervisorChannelEvents {
  message(message: SupervisorMessage): void;
  /** The channel is (again) up: send `hello` now. */
  connected(): void;
  /** The channel is gone for good (down longer than the grace period, refused, or broken). */
  lost(reason: string): void;
}

/**
 * The agent's way of talking to its supervisor, whichever transport carries it: a WebSocket
 * ({@link SupervisorLink}) or frames on stdin/stdout ({@link StdioLink}).
 */
export interface SupervisorChannel {
  /** Starts talking; `connected` follows once the supervisor can be reached. */
  open(): void;
  /**
   * Sends messages, in order and in as few frames as fit, if connected; messages while down are
   * dropped (the directory has the truth). The agent sends through its {@link Outbox}.
   */
  send(...messages: AgentMessage[]): void;
  /** Whether messages can be sent now. */
  readonly connected: boolean;
  /** Sends `bye` (if up) and closes for good. Idempotent. */
  close(reason: string): Promise<void>;
}
