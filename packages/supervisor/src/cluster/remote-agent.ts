import { connect as connectTcp } from "node:net";
import type { Client as SshClient, ClientChannel } from "ssh2";
import { MalocherError } from "@malocher/protocol";
import { connectSsh } from "../ssh/connect-ssh.js";
import type { NodeTarget } from "../ssh/node-target.js";
import { shellQuote } from "../ssh/shell-quote.js";
import { agentCommand, OutputTail, within, type AgentLauncher, type AgentProcess } from "./agent-process.js";

const STOP_GRACE_MS = 10000;

/**
 * Starts an agent on a node over SSH: connect, open a remote forward on the node's 127.0.0.1
 * (the node picks the port) that leads back to the local agent server, exec the agent without a
 * pty, and hand it the launch config on stdin.
 */
export function remoteAgentLauncher(target: NodeTarget): AgentLauncher {
  return async (config, localPort, signal) => {
    const client = await connectSsh(target, signal);
    try {
      const remotePort = await forwardRemotePort(client, target, localPort);
      const { node, script } = agentCommand();
      const channel = await execCommand(client, target, `exec ${shellQuote(node)} ${shellQuote(script)}`);
      channel.write(`${JSON.stringify({ ...config, port: remotePort })}\n`);
      return remoteAgentProcess(client, channel);
    } catch (error) {
      client.end();
      throw error;
    }
  };
}

function forwardRemotePort(client: SshClient, target: NodeTarget, localPort: number): Promise<number> {
  return new Promise((resolve, reject) => {
    client.forwardIn("127.0.0.1", 0, (error, remotePort) => {
      if (error) {
        reject(
          new MalocherError(
            "SSH_FAILED",
            `${target.label} refused to forward a port back to the supervisor (${error.message}). ` +
              `Its sshd needs "AllowTcpForwarding yes" (or "remote").`,
            { cause: error },
          ),
        );
        return;
      }
      client.on("tcp connection", (info, accept, rejectConnection) => {
        if (info.destPort !== remotePort) return rejectConnection();
        const stream = accept();
        const socket = connectTcp(localPort, "127.0.0.1");
        socket.setNoDelay(true);
        const teardown = () => {
          socket.destroy();
          stream.destroy();
        };
        socket.on("error", teardown).on("close", teardown);
        stream.on("error", teardown).on("close", teardown);
        stream.pipe(socket).pipe(stream);
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

function remoteAgentProcess(client: SshClient, channel: ClientChannel): AgentProcess {
  const tail = new OutputTail();
  channel.stderr.on("data", (chunk: Buffer) => tail.push(chunk));
  channel.on("data", () => {});
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
    ended,
    outputTail: () => tail.toString(),
    close: () =>
      (closing ??= (async () => {
        channel.end();
        await within(ended, STOP_GRACE_MS);
        client.end();
      })()),
  };
}
