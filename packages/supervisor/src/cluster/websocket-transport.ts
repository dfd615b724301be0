import type { WebSocket } from "ws";
import type { AgentTransport } from "./agent-transport.js";

/** An agent's WebSocket (through the SSH remote forward, or local) as an {@link AgentTransport}. */
export function webSocketTransport(socket: WebSocket): AgentTransport {
  socket.on("error", () => {}); // "close" follows
  return {
    kind: "websocket",
    send: (frame) => {
      if (socket.readyState === socket.OPEN) socket.send(frame);
    },
    onFrame: (listener) => {
      const onMessage = (data: Buffer) => listener(data);
      socket.on("message", onMessage);
      return () => socket.off("message", onMessage);
    },
    onClose: (listener) => socket.once("close", () => listener()),
    close: (why = "done") => {
      if (why === "timeout") socket.terminate();
      else if (why === "protocolError") socket.close(1002, "protocol error");
      else if (why === "unknownAgent") socket.close(1008, "unknown agent");
      else socket.close(1000);
    },
  };
}
