/**
 * An allocation's output: the batch script's and every agent's of the allocation, in one file
 * (`<key>.out`). What of it each node's error shows.
 */
import { agentOfLine } from "@malocher/protocol";
import { readRegularFileTailSync } from "@malocher/store";

/** How much of an allocation's output is read for its nodes' errors: each keeps its own agent's lines. */
export const OUTPUT_TAIL_BYTES = 16_000;
/** How much of an output an error shows. */
export const SHOWN_OUTPUT_CHARS = 2000;

/** The last `count` characters of `text`, from a line's start. */
export function lastChars(text: string, count: number): string {
  if (text.length <= count) return text;
  const cut = text.slice(-count);
  const lineStart = cut.indexOf("\n");
  return lineStart >= 0 ? cut.slice(lineStart + 1) : cut;
}

/**
 * What of an allocation's output concerns the agent `agentId`: its own lines (`malocher agent
 * <agentId>: …`) and those of no agent (srun's, Slurm's, a crash's), not the other agents' (every
 * task of the allocation writes to one file); the last {@link SHOWN_OUTPUT_CHARS} of it.
 */
export function agentOutputOf(output: string, agentId: string): string {
  const own = output.split("\n").filter((line) => {
    const agent = agentOfLine(line);
    return typeof agent !== "string" || agent === agentId;
  });
  return lastChars(own.join("\n"), SHOWN_OUTPUT_CHARS);
}

/**
 * The end of an allocation's output file, which all its agents write to (its last
 * {@link OUTPUT_TAIL_BYTES} or so; "" while there is none): each node's error keeps its own
 * agent's lines of it (see `agentOutputOf`).
 */
export function readOutputTail(file: string): string {
  try {
    // The cut may fall inside a character: its remains decode to U+FFFD, dropped.
    return readRegularFileTailSync(file, OUTPUT_TAIL_BYTES).toString("utf8").replace(/^\uFFFD+/, "").trim();
  } catch {
    return "";
  }
}
