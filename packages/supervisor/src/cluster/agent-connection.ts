import { EventEmitter } from "node:events";
import type { WebSocket } from "ws";
import {
  decodeAgentMessage,
  encodeMessage,
  type AgentMessage,
  type HelloMessage,
  type SupervisorMessage,
} from "@malocher/protocol";

/** One admitted agent's WebSocket, after its `hello`. */
export class AgentConnection extends EventEmitter<{
  message: [AgentMessage];
  close: [];
}> {
  constructor(
    private readonly socket: WebSocket,
    readonly hello: HelloMessage,
  ) {
    super();
    socket.on("message", (data: Buffer) => {
      try {
        this.emit("message", decodeAgentMessage(data));
      } catch (error) {
        process.emitWarning(`malocher: closing ${hello.host}'s connection: ${(error as Error).message}`);
        socket.close(1002, "protocol error");
      }
    });
    socket.on("close", () => this.emit("close"));
    socket.on("error", () => {});
  }

  /** Sends one message if the connection is open. */
  send(message: SupervisorMessage): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(encodeMessage(message));
  }

  /** Closes the connection. */
  close(): void {
    this.socket.close(1000);
  }
}
