/** SSH settings that reach the sshd nodes of the test harness. */
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ProcessAllOptions } from "malocher";
import { after, before } from "node:test";
import { startSshNodes, type SshNodes } from "../harness/sshd-nodes.js";
import { removeDir, tempDir } from "./temp.js";

/** The SSH options that reach every harness node: its machines, user, key and known_hosts. */
export function harnessSshOptions(cluster: SshNodes): Omit<ProcessAllOptions, "dir"> {
  return {
    sshMachines: cluster.nodes.map((node) => node.machine),
    sshUsername: cluster.user,
    sshPrivateKey: cluster.privateKey,
    knownHosts: cluster.knownHosts,
  };
}

/**
 * The environment for a script that reaches the harness nodes with OpenSSH's defaults alone (it
 * takes only `--hosts`): a fresh HOME, removed after the test, with the harness key as
 * `~/.ssh/id_ed25519` and its known_hosts as `~/.ssh/known_hosts`, and no ssh-agent.
 */
export function envWithHarnessHome(t: { after(fn: () => void): void }, cluster: SshNodes, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const home = tempDir("home");
  t.after(() => removeDir(home));
  mkdirSync(join(home, ".ssh"), { mode: 0o700 });
  copyFileSync(cluster.privateKey, join(home, ".ssh", "id_ed25519"));
  copyFileSync(cluster.knownHosts, join(home, ".ssh", "known_hosts"));
  const env: NodeJS.ProcessEnv = { ...base, HOME: home };
  delete env["SSH_AUTH_SOCK"];
  return env;
}

/**
 * Starts `count` sshd nodes before the tests of the calling file and stops them after; tests read
 * them as `sshd.cluster`.
 *
 * @example
 * ```ts
 * const sshd = useSshNodes(2);
 * test("…", async () => { malocher.processAll(harnessSshOptions(sshd.cluster)); });
 * ```
 */
export function useSshNodes(count: number): { readonly cluster: SshNodes } {
  let cluster: SshNodes | undefined;
  before(async () => {
    cluster = await startSshNodes(count);
  });
  after(async () => {
    await cluster?.close();
  });
  return {
    get cluster(): SshNodes {
      if (cluster === undefined) throw new Error("the sshd nodes have not started (use sshd.cluster inside a test)");
      return cluster;
    },
  };
}
