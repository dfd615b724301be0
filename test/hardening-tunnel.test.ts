/**
 * Issue 16, point 10: the tunnel. Connections that never authenticate are closed after a short
 * handshake timeout; the agent never sends the token itself, and talks only to a server that
 * proves it knows it; connections through a node's forward from beyond loopback are refused.
 */
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { WebSocketServer } from "ws";
import { prepareSharedDirectory } from "@malocher/store";
// Internal, as in ssh-errors.test.ts: the tunnel's server and the forward's address check have no other handle.
import { AgentServer } from "../packages/supervisor/dist/cluster/agent-server.js";
import { isLoopbackAddress } from "../packages/supervisor/dist/cluster/remote-agent.js";
import { removeDir, tempDir } from "./support/temp.js";
import { within } from "./support/wait.js";

const AGENT_MAIN = fileURLToPath(new URL("../packages/agent/dist/bundle/main.js", import.meta.url));

test("connections that never authenticate are closed after the handshake timeout", { timeout: 30_000 }, async (t) => {
  const server = await AgentServer.start();
  t.after(() => server.close());
  const idle = Array.from({ length: 50 }, () => connect(server.port, "127.0.0.1"));
  t.after(() => idle.forEach((socket) => socket.destroy()));
  // Half a request, then nothing: as a client that stalls its handshake.
  idle[0]!.write("GET / HTTP/1.1\r\nHost: x\r\n");
  const started = Date.now();
  await within(Promise.all(idle.map((socket) => once(socket, "close"))), 15_000, "closing the idle connections");
  assert.ok(Date.now() - started < 12_000, `closed after ${Date.now() - started} ms`);
});

test("the agent sends no token, and stops at a server that cannot prove it knows the token", { timeout: 30_000 }, async (t) => {
  const dir = tempDir("rebound");
  t.after(() => removeDir(dir));
  prepareSharedDirectory(dir, { create: true });
  // What binds the port after the supervisor let it go: it accepts any WebSocket and notes the headers.
  const seen: string[] = [];
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  wss.on("connection", (_socket, request: IncomingMessage) => seen.push(request.headers.authorization ?? ""));
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  t.after(() => {
    wss.close();
    http.close();
  });
  const token = "t".repeat(43);
  const config = {
    agentId: "agent-rebound",
    dir,
    transport: "websocket",
    port: (http.address() as AddressInfo).port,
    token,
    host: "local",
    slots: 1,
    labels: [],
    disconnectGraceMs: 3000,
    allowSharedWriters: false,
  };
  const agent = spawn(process.execPath, [AGENT_MAIN], { stdio: ["pipe", "ignore", "pipe"] });
  t.after(() => agent.kill("SIGKILL"));
  let stderr = "";
  agent.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  agent.stdin.write(`${JSON.stringify(config)}\n`);
  const [code] = (await within(once(agent, "exit"), 20_000, "the agent to stop")) as [number | null];
  assert.ok(!stderr.includes(token) && seen.every((header) => !header.includes(token)), `the token travelled: ${seen.join(" | ")}`);
  assert.match(stderr, /did not prove it knows this run's token/);
  assert.ok(code !== null, `exit ${code}`);
});

test("a connection through a node's forward is taken only from loopback (GatewayPorts yes listens on every address)", () => {
  for (const address of ["127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1"]) assert.ok(isLoopbackAddress(address), address);
  for (const address of ["10.0.0.5", "0.0.0.0", "::", "192.168.1.2", "::ffff:10.0.0.1", "1127.0.0.1"]) assert.ok(!isLoopbackAddress(address), address);
});
