/** processAll options for the sshd nodes of the test harness. */
import type { ProcessAllOptions } from "malocher";
import type { SshNodes } from "../harness/sshd-nodes.js";

/** The SSH options that reach every harness node: its machines, user, key and known_hosts. */
export function harnessSshOptions(cluster: SshNodes): Omit<ProcessAllOptions, "dir"> {
  return {
    sshMachines: cluster.nodes.map((node) => node.machine),
    sshUsername: cluster.user,
    sshPrivateKey: cluster.privateKey,
    knownHosts: cluster.knownHosts,
  };
}
