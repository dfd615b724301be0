import { lstat, readFile, unlink } from "node:fs/promises";
import { MalocherError, parseAgentLaunchConfig, type AgentLaunchConfig } from "@malocher/protocol";

/**
 * Reads (and removes) the launch config of an agent that Slurm started: the supervisor wrote one
 * file per task, `<prefix>.<SLURM_PROCID>`, mode 0600 in the shared directory's 0700 `slurm/`
 * directory, because a job step has no stdin from the supervisor and the token must be on no
 * command line and in no environment (Slurm keeps a job's environment, and a job's processes
 * inherit it). The file must be ours and readable by nobody else; it is removed at once, so the
 * token is on disk only until the agent starts. The node's name (`SLURMD_NODENAME`) becomes the
 * agent's host, and without a slot count the CPUs Slurm gave it on this node (`SLURM_CPUS_ON_NODE`).
 */
export async function readSlurmLaunchFile(prefix: string, env: NodeJS.ProcessEnv): Promise<AgentLaunchConfig> {
  const task = env["SLURM_PROCID"];
  if (prefix === "" || task === undefined || !/^\d+$/.test(task)) {
    throw new MalocherError("AGENT_START_FAILED", "--slurm needs the launch file prefix, and SLURM_PROCID from srun");
  }
  const file = `${prefix}.${task}`;
  const stat = await lstat(file).catch((error: Error) => {
    throw new MalocherError("AGENT_START_FAILED", `the launch file ${file} is missing: ${error.message}`);
  });
  if (!stat.isFile() || stat.uid !== process.getuid?.() || (stat.mode & 0o077) !== 0) {
    throw new MalocherError("AGENT_START_FAILED", `refusing the launch file ${file}: it must be a file of ours that nobody else can read or write (mode 0600)`);
  }
  const text = await readFile(file, "utf8");
  await unlink(file).catch(() => {});
  const config = parseAgentLaunchConfig(text.trim());
  const cpus = Number(env["SLURM_CPUS_ON_NODE"]);
  return {
    ...config,
    host: env["SLURMD_NODENAME"] || config.host,
    slots: config.slots > 0 ? config.slots : Number.isSafeInteger(cpus) && cpus > 0 ? cpus : 0,
  };
}
