import type { Client as SshClient, ClientChannel } from "ssh2";
import { MalocherError } from "@malocher/protocol";
import { changedHostKeyOf, connectSsh } from "../ssh/connect-ssh.js";
import type { NodeTarget } from "../ssh/node-target.js";
import { shellQuote } from "../ssh/shell-quote.js";
import { stdioTransport } from "./stdio-transport.js";
import { agentCommand, OutputTail, within, type AgentEndpoint, type AgentLauncher, type AgentProcess } from "./agent-process.js";

/**
 * Starts an agent on a node over SSH: connect, open a remote forward on the node's 127.0.0.1
 * (the node picks the port) that leads back to the local agent server, exec the agent without a
 * pty, and hand it the launch config on stdin. When the node's sshd refuses the forward
 * (`AllowTcpForwarding no`), the agent's messages travel as frames on the exec channel instead
 * (the `stdio` transport), without a token: the channel is ours.
 */
export function remoteAgentLauncher(target: NodeTarget): AgentLauncher {
  return async (config, endpoint, signal) => {
    const client = await connectSsh(target, signal);
    try {
      // As OpenSSH on a changed host key it was told to accept (StrictHostKeyChecking no): no forwarding.
      const remotePort = changedHostKeyOf(client) === undefined ? await forwardRemotePort(client, endpoint) : undefined;
      const { node, script } = agentCommand();
      const channel = await execCommand(client, target, `exec ${shellQuote(node)} ${shellQuote(script)}`);
      const launch =
        remotePort === undefined ? { ...config, token: "", transport: "stdio", port: 0 } : { ...config, transport: "websocket", port: remotePort };
      channel.write(`${JSON.stringify(launch)}\n`);
      return remoteAgentProcess(client, channel, remotePort === undefined);
    } catch (error) {
      client.end();
      throw error;
    }
  };
}

/**
 * Opens the remote forward and hands each connection through it to `endpoint`; `undefined` when
 * the node refuses it (then the agent uses stdio).
 */
function forwardRemotePort(client: SshClient, endpoint: AgentEndpoint): Promise<number | undefined> {
  return new Promise((resolve) => {
    client.forwardIn("127.0.0.1", 0, (error, remotePort) => {
      if (error) {
        resolve(undefined);
        return;
      }
      client.on("tcp connection", (info, accept, rejectConnection) => {
        if (info.destPort !== remotePort) return rejectConnection();
        // Agents connect from the node's loopback. With `GatewayPorts yes` the node's sshd listens
        // on every address whatever we ask for: nothing from beyond loopback gets through.
        if (!isLoopbackAddress(info.srcIP)) return rejectConnection();
        endpoint.acceptTunnel(accept());
      });
      resolve(remotePort);
    });
  });
}

function execCommand(client: SshClient, target: NodeTarget, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) {
        reject(new MalocherError("AGENT_START_FAILED", `${target.label} refused to run the agent: ${error.message}`, { cause: error }));
      } else {
        resolve(channel);
      }
    });
  });
}

function remoteAgentProcess(client: SshClient, channel: ClientChannel, overStdio: boolean): AgentProcess {
  const tail = new OutputTail();
  channel.stderr.on("data", (chunk: Buffer) => tail.push(chunk));
  // With stdio the transport reads the agent's stdout; otherwise it is unused, but drained.
  const stdio = overStdio ? stdioTransport(channel) : undefined;
  if (stdio === undefined) channel.on("data", () => {});
  let exit = "its SSH session closed";
  channel.on("exit", (code: number | null, signal?: string) => {
    exit = signal ? `it was killed by ${signal}` : `it exited with code ${code}`;
  });
  const ended = new Promise<string>((resolve) => {
    channel.once("close", () => resolve(exit));
    client.once("close", () => resolve("the SSH connection closed"));
  });
  let closing: Promise<void> | undefined;
  return {
    transport: overStdio ? "stdio" : "websocket",
    ...(stdio === undefined ? {} : { stdio }),
    ended,
    outputTail: () => tail.toString(),
    close: (stopWaitMs) =>
      (closing ??= (async () => {
        channel.end();
        await within(ended, stopWaitMs);
        client.end();
      })()),
  };
}

/** Whether `address` is a loopback address (127.0.0.0/8, ::1, or 127.x mapped into IPv6). */
export function isLoopbackAddress(address: string): boolean {
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4) || address === "::1";
}
