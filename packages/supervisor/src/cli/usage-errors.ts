import { CommanderError, type Command } from "commander";

/**
 * Makes commander's own usage errors (unknown option, missing argument, options that conflict)
 * look like every other error of the CLI: `malocher: [INVALID_OPTIONS] …`, exit status 2, with
 * the command's usage after it. Applies to `program` and all its commands.
 */
export function reportUsageErrorsWithCode(program: Command): void {
  const visit = (command: Command) => {
    command.exitOverride().configureOutput({
      outputError: (text, write) => write(`malocher: [INVALID_OPTIONS] ${text.replace(/^error: /, "")}`),
    });
    command.commands.forEach(visit);
  };
  visit(program);
}

/** The exit status for an error `parseAsync` threw that commander already reported (help and --version are 0), or undefined for other errors. */
export function usageExitCode(error: unknown): number | undefined {
  if (!(error instanceof CommanderError)) return undefined;
  return error.exitCode === 0 ? 0 : 2;
}
