import { EventEmitter } from "node:events";
import { FrameDecoder, encodeFrame } from "@malocher/protocol";
import type { AgentTransport } from "./agent-transport.js";

/** The agent's exec channel as the supervisor sees it: the agent's stdout in, its stdin out. */
export interface ExecStreams {
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  on(event: "close", listener: () => void): unknown;
  write(bytes: Uint8Array): unknown;
  /** Ends the agent's stdin, which tells it to stop. */
  end(): unknown;
}

/**
 * Length-prefixed frames on an agent's SSH exec channel, for nodes that refuse port forwarding.
 * The channel itself is the authentication (we opened it, with a verified host key), so no token.
 * Closing it ends the agent's stdin: the agent stops. A malformed frame closes it too.
 */
export function stdioTransport(channel: ExecStreams): AgentTransport {
  const decoder = new FrameDecoder();
  const events = new EventEmitter<{ frame: [Uint8Array]; close: [] }>();
  // Frames that arrive before anyone listens (the hello, before the server adopts the channel).
  const early: Uint8Array[] = [];
  const deliver = (frame: Uint8Array) => {
    if (events.listenerCount("frame") === 0) early.push(frame);
    else events.emit("frame", frame);
  };
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    channel.end();
    events.emit("close");
  };
  channel.on("data", (chunk) => {
    if (closed) return;
    let frames: Uint8Array[];
    try {
      frames = decoder.push(chunk);
    } catch (error) {
      process.emitWarning(`malocher: closing an agent's stdio channel: ${(error as Error).message}`);
      close();
      return;
    }
    for (const frame of frames) if (!closed) deliver(frame);
  });
  channel.on("close", close);
  return {
    kind: "stdio",
    send: (frame) => {
      if (!closed) channel.write(encodeFrame(frame));
    },
    onFrame: (listener) => {
      events.on("frame", listener);
      while (early.length > 0 && events.listenerCount("frame") > 0 && !closed) events.emit("frame", early.shift()!);
      return () => events.off("frame", listener);
    },
    onClose: (listener) => {
      if (closed) listener();
      else events.once("close", listener);
    },
    close: () => close(),
  };
}
