import { join } from "node:path";
import { MalocherError } from "@malocher/protocol";
import type { SshOptions } from "../../ssh/node-target.js";
import { agentCommand } from "../agent-process.js";
import { batchScript, sbatchArguments } from "./sbatch-script.js";
import { slurmCommands } from "./slurm-commands.js";
import type { SlurmSettings } from "./slurm-options.js";

/** What {@link checkSlurm} found: Slurm's commands, and whether Slurm would accept the allocation. */
export interface SlurmCheck {
  /** Where Slurm's commands run: `this machine` or the login host. */
  where: string;
  ok: boolean;
  /** Slurm's own answer (`Job 12 to start at … on nodes n[1-2]`), or what is wrong. */
  detail: string;
  fix?: string;
}

/**
 * Asks Slurm whether it would accept this run's allocation, without submitting it
 * (`sbatch --test-only` with the very arguments and script a run uses): the commands are there,
 * the partition, account, time and node count are valid, and when it would start.
 */
export async function checkSlurm(dir: string, settings: SlurmSettings, slots: number, ssh: SshOptions): Promise<SlurmCheck> {
  const where = settings.loginHost ?? "this machine";
  let commands;
  try {
    commands = await slurmCommands(settings.loginHost, ssh);
  } catch (error) {
    const fix = error instanceof MalocherError && error.code === "SLURM_NOT_AVAILABLE" ? "run on a login node of the cluster, or name one with --slurm-login" : undefined;
    return { where, ok: false, detail: (error as Error).message, ...(fix ? { fix } : {}) };
  }
  try {
    const slurmDir = join(dir, "slurm");
    const files = { launchPrefix: join(slurmDir, "check.launch"), warningFile: join(slurmDir, "check.warned"), outputFile: join(slurmDir, "check.out") };
    const { node, script } = agentCommand();
    const output = await commands.run("sbatch", ["--test-only", ...sbatchArguments(settings, slots, files)], batchScript(settings, slots, files, node, script));
    const answer = `${output.stderr}\n${output.stdout}`.replace(/^sbatch: (error: )?/gm, "").trim();
    if (output.code === 0) return { where, ok: true, detail: answer };
    return { where, ok: false, detail: answer || `sbatch --test-only exited with ${output.code}`, fix: "check --slurm-partition, --slurm-account, --slurm-time and --slurm-nodes against `sinfo`" };
  } finally {
    commands.close();
  }
}
