/**
 * An agent's own lines on its stderr (`malocher agent <id>: …`, or `malocher agent: …` before its
 * launch config was read). The agents of one Slurm allocation share one output file, so a line
 * names its agent; the supervisor picks each agent's lines out of that file, and an agent's last
 * words out of a node's error, by this format alone.
 */

const PREFIX = "malocher agent";

/** The line the agent `agentId` (undefined: not known yet) writes to say `text`, with its newline. */
export function agentLine(agentId: string | undefined, text: string): string {
  return `${PREFIX}${agentId === undefined ? "" : ` ${agentId}`}: ${text}\n`;
}

/**
 * Whose line `line` is: the agent's id, `null` for an agent that did not know its id yet, or
 * `undefined` for a line no agent wrote as its own (srun's, Slurm's, a crash's stack).
 */
export function agentOfLine(line: string): string | null | undefined {
  if (!line.startsWith(PREFIX)) return undefined;
  const match = /^(?: (\S+))?: /.exec(line.slice(PREFIX.length));
  return match === null ? undefined : (match[1] ?? null);
}
