import { spawn } from "node:child_process";
import { agentCommand, OutputTail, within, type AgentLauncher, type AgentProcess } from "./agent-process.js";

/** Local mode: the same agent as a child process of this one, connecting straight to the server. */
export const launchLocalAgent: AgentLauncher = async (config, endpoint) => {
  const { node, script } = agentCommand();
  const child = spawn(node, [script], { stdio: ["pipe", "ignore", "pipe"] });
  const tail = new OutputTail();
  child.stderr.on("data", (chunk: Buffer) => tail.push(chunk));
  child.stdin.on("error", () => {});
  const ended = new Promise<string>((resolve) => {
    child.once("error", (error) => resolve(`could not start: ${error.message}`));
    child.once("close", (code, signal) => resolve(signal ? `killed by ${signal}` : `exited with code ${code}`));
  });
  child.stdin.write(`${JSON.stringify({ ...config, transport: "websocket", port: endpoint.port })}\n`);
  let closing: Promise<void> | undefined;
  const process: AgentProcess = {
    transport: "websocket",
    ended,
    outputTail: () => tail.toString(),
    close: (stopWaitMs) =>
      (closing ??= (async () => {
        child.stdin.end();
        if ((await within(ended, stopWaitMs)) === undefined) child.kill("SIGKILL");
        await ended;
      })()),
  };
  return process;
};
