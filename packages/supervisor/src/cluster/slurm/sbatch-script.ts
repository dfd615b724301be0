import { shellQuote } from "../../ssh/shell-quote.js";
import type { SlurmSettings } from "./slurm-options.js";

/** The files of one allocation in the shared directory's `slurm/` (0700). */
export interface AllocationFiles {
  /** `<prefix>.<task>`: each agent's launch config (0600), removed by the agent as it starts. */
  launchPrefix: string;
  /** Created by the batch script when Slurm warns that the allocation ends soon. */
  warningFile: string;
  /** The batch script's and the agents' output (`--output`). */
  outputFile: string;
}

/**
 * `sbatch`'s arguments for one allocation: `nodes` nodes with one task each, the time limit, the
 * warning signal to the batch shell only (`B:`: Slurm would send a plain `USR1` to every process
 * of the step, the jobs' own included, and most programs die of it), `--parsable` to read the id,
 * `--no-requeue` (an allocation Slurm requeued after a node failure would start much later, for
 * a run that asked for another meanwhile and removed its launch files), then the user's
 * partition, account and extra arguments (last, so that they win).
 */
export function sbatchArguments(settings: SlurmSettings, slots: number, files: AllocationFiles): string[] {
  return [
    "--parsable",
    "--job-name=malocher",
    `--nodes=${settings.nodes}`,
    "--ntasks-per-node=1",
    "--no-requeue",
    `--time=${settings.time}`,
    `--signal=B:USR1@${Math.round(settings.warningLeadMs / 1000)}`,
    `--output=${files.outputFile}`,
    ...(slots > 0 ? [`--cpus-per-task=${slots}`] : []),
    ...(settings.partition === undefined ? [] : [`--partition=${settings.partition}`]),
    ...(settings.account === undefined ? [] : [`--account=${settings.account}`]),
    ...settings.sbatchArgs,
  ];
}

/**
 * The batch script (given to `sbatch` on stdin): `srun` starts the agent, one task per node, with
 * the path prefix of the launch files (no secret: the token is in the files). On Slurm's warning
 * the shell creates the warning file, which every agent looks for, and goes on waiting for srun.
 */
export function batchScript(settings: SlurmSettings, slots: number, files: AllocationFiles, node: string, agentScript: string): string {
  const srun = [
    "srun",
    `--nodes=${settings.nodes}`,
    `--ntasks=${settings.nodes}`,
    "--ntasks-per-node=1",
    ...(slots > 0 ? [`--cpus-per-task=${slots}`] : []),
    "--kill-on-bad-exit=0",
    node,
    agentScript,
    "--slurm",
    files.launchPrefix,
  ];
  return [
    "#!/bin/sh",
    "# Malocher: one agent per node of this allocation; they pull jobs from the shared directory.",
    `trap ${shellQuote(`: > ${shellQuote(files.warningFile)}`)} USR1`,
    `${srun.map(shellQuote).join(" ")} &`,
    "pid=$!",
    // `wait` returns early when the trap runs: wait again until srun itself has ended.
    'while :; do wait "$pid"; status=$?; kill -0 "$pid" 2>/dev/null || exit "$status"; done',
    "",
  ].join("\n");
}
