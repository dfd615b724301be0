#!/usr/bin/env node
/**
 * The `malocher` command. It only parses arguments and maps them onto the library API: each
 * command is a file of its own in `commands/`, every option is declared once in `cli-options.ts`.
 */
import { Command } from "commander";
import { MALOCHER_VERSION, MalocherError } from "@malocher/protocol";
import { reportUsageErrorsWithCode, usageExitCode } from "./usage-errors.js";
import { endQuietlyOnClosedPipes } from "./closed-pipes.js";
import { submitCommand } from "./commands/submit-command.js";
import { runCommand } from "./commands/run-command.js";
import { nodesCommand } from "./commands/nodes-command.js";
import { statusCommand } from "./commands/status-command.js";
import { jobsCommand } from "./commands/jobs-command.js";
import { resultsCommand } from "./commands/results-command.js";
import { cancelCommand } from "./commands/cancel-command.js";
import { retryCommand } from "./commands/retry-command.js";
import { cleanCommand } from "./commands/clean-command.js";
import { logsCommand } from "./commands/logs-command.js";
import { initCommand } from "./commands/init-command.js";
import { dashboardCommand } from "./commands/dashboard-command.js";

const program = new Command("malocher")
  .description("Run functions as jobs on SSH machines that share a file system.")
  .version(MALOCHER_VERSION)
  .enablePositionalOptions() // so that `submit` and `run` pass a command's own options through
  .showHelpAfterError()
  .addHelpText("after", "\nExample:\n  malocher run --hosts node1,node2 && malocher results --failed\n\n`malocher <command> --help` shows each command's options and examples.");

for (const command of [submitCommand, runCommand, nodesCommand, statusCommand, jobsCommand, resultsCommand, cancelCommand, retryCommand, cleanCommand, logsCommand, dashboardCommand, initCommand]) {
  program.addCommand(command());
}

endQuietlyOnClosedPipes();
reportUsageErrorsWithCode(program);
program.parseAsync().catch((error: unknown) => {
  const usageExit = usageExitCode(error);
  if (usageExit !== undefined) {
    process.exitCode = usageExit; // commander printed the error or the help
    return;
  }
  if (error instanceof MalocherError) {
    process.stderr.write(`malocher: [${error.code}] ${error.message}\n`);
  } else {
    process.stderr.write(`malocher: ${(error as Error).stack ?? String(error)}\n`);
  }
  process.exitCode = 2;
});
