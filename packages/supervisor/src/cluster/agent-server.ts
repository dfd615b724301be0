import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import {
  MALOCHER_VERSION,
  MalocherError,
  PROTOCOL_VERSION,
  SUPERVISOR_PROOF_HEADER,
  checkAgentAuthorization,
  decodeAgentMessage,
  supervisorProof,
  type HelloMessage,
} from "@malocher/protocol";
import { AgentConnection } from "./agent-connection.js";
import type { AgentEndpoint } from "./agent-process.js";
import type { AgentTransport } from "./agent-transport.js";
import { webSocketTransport } from "./websocket-transport.js";

const HELLO_TIMEOUT_MS = 10000;
/** A connection that has not presented the token's proof and become a WebSocket by then is closed. */
const HANDSHAKE_TIMEOUT_MS = 5000;
/** Nonces of admitted agents kept to refuse a replayed proof (oldest forgotten first). */
const NONCES_KEPT = 10000;

interface Expected {
  resolve(connection: AgentConnection): void;
  reject(error: MalocherError): void;
}

/**
 * The supervisor's end of the agents' WebSockets, on 127.0.0.1 (reached from nodes through SSH
 * remote forwards), and the admission of agents that talk over their exec channel instead. Admits only clients that present this run's token, compared in constant
 * time; the first frame must be a `hello` of a compatible version from an agent we launched.
 */
export class AgentServer implements AgentEndpoint {
  /** The per-run secret agents present; it travels only on agents' stdin. */
  readonly token = randomBytes(32).toString("base64url");
  private readonly expected = new Map<string, Expected>();
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private closed = false;
  /** Connections that became an agent's WebSocket. */
  private readonly upgraded = new WeakSet<object>();
  /** Nonces of the proofs admitted so far: each is good once. */
  private readonly nonces = new Set<string>();

  private constructor() {
    this.http = createServer((_request, response) => response.writeHead(404).end());
    this.wss = new WebSocketServer({
      server: this.http,
      maxPayload: 1 << 20,
      verifyClient: (info: { req: IncomingMessage }) => this.admits(info.req.headers.authorization),
    });
    // Our proof of the token, for the agent's nonce: the agent talks only to its own supervisor.
    this.wss.on("headers", (headers, request) => {
      const nonce = /^Malocher ([^.]+)\./.exec(request.headers.authorization ?? "")?.[1];
      if (nonce !== undefined) headers.push(`${SUPERVISOR_PROOF_HEADER}: ${supervisorProof(this.token, nonce)}`);
    });
    this.wss.on("connection", (socket, request) => {
      this.upgraded.add(request.socket);
      this.admit(webSocketTransport(socket));
    });
    this.http.on("connection", (stream: Duplex) => this.closeUnlessUpgraded(stream));
    // ws passes on the HTTP server's errors (a listen that fails): `start` reports those.
    this.wss.on("error", () => {});
  }

  /**
   * Starts listening on an ephemeral port of 127.0.0.1, or of `host` (`undefined`: every address,
   * for agents that Slurm started on other machines; only token holders are admitted).
   */
  static async start(host: string | undefined = "127.0.0.1"): Promise<AgentServer> {
    const server = new AgentServer();
    await new Promise<void>((resolve, reject) => {
      server.http.once("error", reject);
      server.http.listen(0, host, () => resolve());
    });
    return server;
  }

  /** The local port agents (or tunnels) connect to. */
  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  /**
   * Takes a WebSocket connection that came through an SSH remote forward: the SSH channel itself
   * is served, not a local TCP connection to our port. What we send then leaves at once, even
   * while this process's event loop is busy (a long loop of `submit()` calls nudges agents as it
   * goes), and each message skips a hop through a loopback socket in each direction.
   */
  acceptTunnel(stream: Duplex): void {
    if (this.closed) {
      stream.destroy();
      return;
    }
    // The HTTP server and ws tune their sockets; an SSH channel has no such knobs (its TCP
    // connection has TCP_NODELAY set already), so these are no-ops.
    Object.assign(stream, { setTimeout: () => stream, setNoDelay: () => stream, setKeepAlive: () => stream });
    stream.on("error", () => stream.destroy());
    this.http.emit("connection", stream);
  }

  /** Waits for the `hello` of the agent launched as `agentId`. */
  expect(agentId: string): Promise<AgentConnection> {
    return new Promise((resolve, reject) => this.expected.set(agentId, { resolve, reject }));
  }

  /** Stops waiting for `agentId` (its launch failed). */
  forget(agentId: string): void {
    this.expected.delete(agentId);
  }

  /** Closes the server and every agent connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeAllConnections();
  }

  private admits(authorization: string | undefined): boolean {
    const nonce = checkAgentAuthorization(authorization, this.token);
    if (nonce === undefined || this.nonces.has(nonce)) return false;
    this.nonces.add(nonce);
    if (this.nonces.size > NONCES_KEPT) this.nonces.delete(this.nonces.values().next().value!);
    return true;
  }

  /** Closes a connection that has not become an agent's WebSocket within the handshake timeout. */
  private closeUnlessUpgraded(stream: Duplex): void {
    const timer = setTimeout(() => {
      if (!this.upgraded.has(stream)) stream.destroy();
    }, HANDSHAKE_TIMEOUT_MS);
    timer.unref();
    stream.once("close", () => clearTimeout(timer));
  }

  /**
   * Takes an agent's transport that did not come through this server's WebSocket (the agent's
   * exec channel, when its node refuses port forwarding): its first frame must be a `hello`, as
   * on the WebSocket. The token is not needed: the SSH channel is the authentication.
   */
  adopt(transport: AgentTransport): void {
    this.admit(transport);
  }

  /** Waits for the first frame, which must be a `hello` of a compatible agent that we launched. */
  private admit(transport: AgentTransport): void {
    const timer = setTimeout(() => transport.close("timeout"), HELLO_TIMEOUT_MS);
    const stopListening = transport.onFrame((data) => {
      stopListening();
      clearTimeout(timer);
      let hello: HelloMessage;
      try {
        const message = decodeAgentMessage(data);
        if (message.type !== "hello") throw new MalocherError("PROTOCOL_ERROR", `expected hello, got ${message.type}`);
        hello = message;
      } catch {
        transport.close("protocolError");
        return;
      }
      const expected = this.expected.get(hello.agentId);
      if (expected === undefined) {
        transport.close("unknownAgent");
        return;
      }
      this.expected.delete(hello.agentId);
      const connection = new AgentConnection(transport, hello);
      if (hello.version !== MALOCHER_VERSION || hello.protocolVersion !== PROTOCOL_VERSION) {
        const reason =
          `the agent on ${hello.host} runs Malocher ${hello.version} (protocol ${hello.protocolVersion}), ` +
          `the supervisor ${MALOCHER_VERSION} (protocol ${PROTOCOL_VERSION}); install the same version on every node`;
        connection.send({ type: "stop", reason });
        connection.close();
        expected.reject(new MalocherError("AGENT_VERSION_MISMATCH", `Refused ${hello.host}: ${reason}.`));
        return;
      }
      expected.resolve(connection);
    });
    transport.onClose(() => clearTimeout(timer));
  }
}
