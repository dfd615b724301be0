import type { TransportKind } from "@malocher/protocol";

/** Why the supervisor closes a transport: done, a malformed frame, an agent it did not launch, no hello in time. */
export type CloseReason = "done" | "protocolError" | "unknownAgent" | "timeout";

/**
 * How one agent's encoded messages travel, whichever the carrier: a WebSocket through the SSH
 * remote forward ({@link webSocketTransport}), or length-prefixed frames on the agent's exec
 * channel ({@link stdioTransport}). Each frame is one encoded message.
 */
export interface AgentTransport {
  readonly kind: TransportKind;
  /** Sends one encoded message if the transport is open; dropped otherwise. */
  send(frame: Uint8Array): void;
  /** Calls `listener` with each frame that arrives, until the returned function is called. */
  onFrame(listener: (frame: Uint8Array) => void): () => void;
  /** Calls `listener` once the transport is closed, from either end. */
  onClose(listener: () => void): void;
  /** Closes the transport, saying why (a WebSocket close code tells the agent). Idempotent. */
  close(why?: CloseReason): void;
}
