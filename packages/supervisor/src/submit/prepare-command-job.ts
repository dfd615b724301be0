import { MalocherError, type CommandJobSpec } from "@malocher/protocol";
import type { CommandJobOptions } from "./job-options.js";
import { prepareJobBase } from "./prepare-job-base.js";

/**
 * Turns `submitCommand`'s arguments into a command job spec, refusing an argv no node could run
 * (`INVALID_COMMAND`): not a list of strings, empty, or with a NUL byte.
 */
export function prepareCommandJob(argv: readonly string[], options: CommandJobOptions, directoryKey: Uint8Array): CommandJobSpec {
  if (!Array.isArray(argv) || argv.length === 0 || typeof argv[0] !== "string" || argv[0] === "") {
    throw new MalocherError(
      "INVALID_COMMAND",
      'submitCommand() takes the program and its arguments as a list of strings, e.g. ["python", "train.py", "--seed", "3"]; ' +
        'for a shell command line use ["sh", "-c", "…"].',
    );
  }
  argv.forEach((word, index) => {
    if (typeof word !== "string") throw new MalocherError("INVALID_COMMAND", `argv[${index}] of the command is ${typeof word}, not a string; use String(value).`);
    if (word.includes("\0")) throw new MalocherError("INVALID_COMMAND", `argv[${index}] of the command contains a NUL byte, which no program can receive.`);
  });
  const { replaceJobSlot, ...jobOptions } = options;
  return { kind: "command", ...prepareJobBase(jobOptions, directoryKey), argv: [...argv], ...(replaceJobSlot === true ? { replaceJobSlot: true } : {}) };
}
