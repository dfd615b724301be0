import { Command } from "commander";
import { MalocherError } from "@malocher/protocol";
import { Malocher } from "../../malocher.js";
import { jsonLine } from "../json-line.js";
import { slurmOptionsOf, sshOptionsOf, SLURM_FLAGS, SSH_FLAGS, withOptions, type CliValues } from "../cli-options.js";

const OPTIONS = [...SSH_FLAGS, ...SLURM_FLAGS, "slots", "allowSharedDirWriters", "dir", "json"] as const;

/** `malocher nodes --hosts …`: checks that every machine can run jobs of the directory. */
export function nodesCommand(): Command {
  const command = new Command("nodes").description(
    "check that every machine can run jobs: SSH, host key, Node.js, the shared directory; exits 1 if any has a problem",
  );
  return withOptions(command, OPTIONS, { slots: "with --slurm-…: the slots per node the run will ask for (--cpus-per-task), checked too" })
    .addHelpText(
      "after",
      "\nExamples:\n  malocher nodes --hosts node1,alice@node2:2222 --dir /shared/alice/jobs\n" +
        "  malocher nodes --slurm-nodes 4 --slurm-time 02:00:00 --slurm-partition short   (sbatch --test-only)",
    )
    .action(async (options: CliValues<(typeof OPTIONS)[number]>) => {
      const slurm = slurmOptionsOf(options);
      if (options.hosts === undefined && slurm === undefined) {
        throw new MalocherError("INVALID_OPTIONS", "name the machines to check with --hosts, or Slurm's settings with --slurm-nodes and --slurm-time");
      }
      const malocher = new Malocher({ dir: options.dir, allowSharedWriters: options.allowSharedDirWriters === true });
      if (options.slots !== undefined && slurm === undefined) throw new MalocherError("INVALID_OPTIONS", "--slots is checked with Slurm's settings (--slurm-nodes, --slurm-time): a machine of --hosts is checked as it is.");
      const slots = options.slots === undefined ? {} : { slots: options.slots };
      const nodes = await malocher.checkNodes(slurm === undefined ? { sshMachines: [], ...sshOptionsOf(options) } : { ...sshOptionsOf(options), slurm, ...slots });
      if (options.json) {
        for (const node of nodes) process.stdout.write(jsonLine(node));
      } else {
        const width = Math.max(...nodes.map((node) => node.host.length));
        for (const node of nodes) {
          // A machine's Node.js version, or what Slurm said of the allocation (when it would start, on which nodes).
          const version = node.checks.find((check) => check.name === "node" || check.name === "slurm");
          const transport = node.transport === undefined ? "" : `, transport ${node.transport}`;
          const summary = node.ok
            ? `ok   ${version?.detail ?? ""}${transport}`.trimEnd()
            : `FAIL ${node.checks.filter((check) => !check.ok).map((check) => check.name).join(", ")}`;
          console.log(`${node.host.padEnd(width)}  ${summary}`);
          for (const check of node.checks) {
            if (check.ok) continue;
            // A detail of several lines (Slurm's message) stays in its column.
            console.log(`  ${check.name.padEnd(10)} ${check.detail.replaceAll("\n", `\n  ${"".padEnd(10)} `)}`);
            if (check.fix !== undefined) console.log(`  ${"".padEnd(10)} fix: ${check.fix}`);
          }
        }
      }
      process.exitCode = nodes.every((node) => node.ok) ? 0 : 1;
    });
}
