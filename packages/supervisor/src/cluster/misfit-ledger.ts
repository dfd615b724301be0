import type { JobError } from "@malocher/protocol";

/**
 * Which nodes refused which jobs because they lack what a job asks for (a label, more slots).
 * A job that every node of the run refused can run nowhere: it fails with `NO_NODE_FITS`, and the
 * error says what each node lacks.
 */
export class MisfitLedger {
  private readonly refusals = new Map<string, Map<string, string>>();

  /** `slurm`: the nodes are a Slurm allocation's, whose slots and time the run asks for (no hosts file, no labels). */
  constructor(private readonly slurm = false) {}

  /** Node `host` refused job `jobId` for `reason`. */
  refused(jobId: string, host: string, reason: string): void {
    let byHost = this.refusals.get(jobId);
    if (byHost === undefined) {
      byHost = new Map();
      this.refusals.set(jobId, byHost);
    }
    byHost.set(host, reason);
  }

  /** The jobs that every one of `hosts` refused, each with the error to fail it with. */
  unplaceable(hosts: readonly string[]): Array<[string, JobError]> {
    if (hosts.length === 0) return [];
    const jobs: Array<[string, JobError]> = [];
    for (const [jobId, byHost] of this.refusals) {
      if (!hosts.every((host) => byHost.has(host))) continue;
      const reasons = hosts.map((host) => `${host}: ${byHost.get(host)}`).join("; ");
      jobs.push([
        jobId,
        {
          name: "MalocherError",
          code: "NO_NODE_FITS",
          message:
            `No node of this run can run job ${jobId} (${reasons}). ` +
            (this.slurm
              ? "Ask Slurm for more slots per node (slots, --slots: as many CPUs per task) or a longer time (slurm.time, --slurm-time), " +
                "or submit the job with fewer { slots }, a shorter timeoutMs, or without { on } (Slurm's nodes have no labels of Malocher's)."
              : "Give a machine the label in the hosts file (`8/user@host gpu`) or more slots (`16/user@host`), or submit the job without { on } or with fewer { slots }."),
        },
      ]);
    }
    return jobs;
  }

  forget(jobId: string): void {
    this.refusals.delete(jobId);
  }
}
