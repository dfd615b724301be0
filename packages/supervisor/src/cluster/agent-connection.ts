import { EventEmitter } from "node:events";
import {
  decodeAgentFrame,
  encodeMessage,
  type AgentMessage,
  type HelloMessage,
  type SupervisorMessage,
  type TransportKind,
} from "@malocher/protocol";
import type { AgentTransport } from "./agent-transport.js";

/** One admitted agent's messages, after its `hello`, over whichever transport carries them. */
export class AgentConnection extends EventEmitter<{
  message: [AgentMessage];
  close: [];
}> {
  constructor(
    private readonly transport: AgentTransport,
    readonly hello: HelloMessage,
  ) {
    super();
    transport.onFrame((frame) => {
      try {
        for (const message of decodeAgentFrame(frame)) this.emit("message", message);
      } catch (error) {
        process.emitWarning(`malocher: closing ${hello.host}'s connection: ${(error as Error).message}`);
        transport.close("protocolError");
      }
    });
    transport.onClose(() => this.emit("close"));
  }

  /** How this agent's messages travel. */
  get transportKind(): TransportKind {
    return this.transport.kind;
  }

  /** Sends one message if the connection is open. */
  send(message: SupervisorMessage): void {
    this.transport.send(encodeMessage(message));
  }

  /** Closes the connection. */
  close(): void {
    this.transport.close();
  }
}
