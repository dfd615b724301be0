/**
 * The machines the benchmark runs on: real OpenSSH servers on 127.0.0.2, 127.0.0.3, … started by
 * the test harness. Every workload uses the first few of them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ClusterOptions } from "malocher";
import { startSshNodes, type SshNodes } from "../test/harness/sshd-nodes.js";

/** How a workload reaches `count` of the nodes. */
export type SshClusterOptions = Required<Pick<ClusterOptions, "sshMachines" | "sshUsername" | "sshPrivateKey" | "knownHosts">>;

export interface BenchNodes {
  /** The harness's cluster (addresses, port, client key, known_hosts). */
  readonly sshd: SshNodes;
  /** Options that make `processAll` / `startCluster` use the first `count` nodes. */
  clusterOptions(count: number): SshClusterOptions;
  /** Pids of the node daemons: every agent, worker and sshd session of a node descends from one. */
  daemonPids(): number[];
  close(): Promise<void>;
}

/** Starts `count` sshd nodes. */
export async function startBenchNodes(count: number): Promise<BenchNodes> {
  const sshd = await startSshNodes(count);
  return {
    sshd,
    clusterOptions(used) {
      if (used > sshd.nodes.length) throw new Error(`asked for ${used} nodes, started ${sshd.nodes.length}`);
      return {
        sshMachines: sshd.nodes.slice(0, used).map((node) => node.machine),
        sshUsername: sshd.user,
        sshPrivateKey: sshd.privateKey,
        knownHosts: sshd.knownHosts,
      };
    },
    daemonPids() {
      // The harness keeps each daemon's pid file in its state directory (sshd_<index>.pid).
      return sshd.nodes.flatMap((node) => {
        try {
          return [Number.parseInt(readFileSync(join(sshd.dir, `sshd_${node.index}.pid`), "utf8"), 10)];
        } catch {
          return [];
        }
      });
    },
    close: () => sshd.close(),
  };
}
