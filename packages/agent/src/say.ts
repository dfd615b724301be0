import { agentLine } from "@malocher/protocol";

/** This agent's id, once its launch config was read (see `knowAgentId`). */
let agentId: string | undefined;

/** From now on, this process's lines name the agent `id` (see `say`). */
export function knowAgentId(id: string): void {
  agentId = id;
}

/**
 * A line of this agent on its stderr: the node's own output (an SSH session's, or a Slurm
 * allocation's file, which all its agents share: each line says whose it is once the id is known).
 */
export function say(text: string): void {
  process.stderr.write(agentLine(agentId, text));
}
