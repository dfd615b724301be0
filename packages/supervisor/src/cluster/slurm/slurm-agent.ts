import { within, type AgentLauncher, type AgentProcess } from "../agent-process.js";
import type { AgentConnection } from "../agent-connection.js";
import type { Allocation } from "./slurm-allocations.js";
import { agentOutputOf } from "./allocation-output.js";

/**
 * The agent of one task of a running allocation, as a node session sees it. Slurm started it
 * already (the batch script's `srun`), so launching is only waiting for its hello; it has ended
 * when its allocation has. Closing waits (bounded) for it to hang up after the session's `stop`;
 * the allocation itself is cancelled by {@link SlurmAllocations.close}.
 */
export function slurmAgentLauncher(allocation: Allocation): AgentLauncher {
  return async (config) => {
    let connected = false;
    let hungUp!: () => void;
    const disconnected = new Promise<void>((resolve) => (hungUp = resolve));
    const ended = allocation.ended.then(() => `its Slurm allocation ${allocation.id} ended`);
    void ended.then(() => hungUp());
    const process: AgentProcess = {
      transport: "websocket",
      ended,
      // Its own lines of the output all the allocation's agents share.
      outputTail: () => agentOutputOf(allocation.outputTail(), config.agentId),
      attachConnection: (connection: AgentConnection) => {
        connected = true;
        connection.once("close", () => hungUp());
      },
      close: async (stopWaitMs) => {
        // Bounded: its allocation is cancelled after this (Slurm's SIGTERM, then SIGKILL KillWait later).
        if (connected) await within(disconnected, stopWaitMs);
      },
    };
    return process;
  };
}
