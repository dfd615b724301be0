/**
 * An OpenSSH client config (`ssh -F file`) for the benchmark's nodes, with or without connection
 * sharing (ControlMaster), for GNU parallel's `--ssh`. Masters are started before a measurement
 * (so the peer does not pay for its connections, as our started clusters do not) and stopped
 * with `ssh -O exit`.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { SshNodes } from "../test/harness/sshd-nodes.js";

const execFileAsync = promisify(execFile);

export interface SshClientConfig {
  /** The config file to pass as `ssh -F`. */
  readonly file: string;
  readonly controlMaster: boolean;
  /** `user@address` of every node, in order. */
  readonly logins: string[];
  /** Opens the shared connections to the first `count` nodes (no-op without ControlMaster). */
  startMasters(count: number): Promise<void>;
  /** Closes every shared connection that is open. Idempotent. */
  stopMasters(): Promise<void>;
}

/** Writes `ssh_config_<with|without>_controlmaster` into `dir` (keep it short: socket paths). */
export function writeSshClientConfig(dir: string, sshd: SshNodes, controlMaster: boolean): SshClientConfig {
  const file = join(dir, `ssh_config_${controlMaster ? "with" : "without"}_controlmaster`);
  const port = sshd.nodes[0]!.port;
  const lines = [
    "Host *",
    `  Port ${port}`,
    `  IdentityFile ${sshd.privateKey}`,
    "  IdentitiesOnly yes",
    `  UserKnownHostsFile ${sshd.knownHosts}`,
    "  GlobalKnownHostsFile /dev/null",
    "  StrictHostKeyChecking yes",
    "  BatchMode yes",
    "  LogLevel ERROR",
    ...(controlMaster
      ? ["  ControlMaster auto", `  ControlPath ${join(dir, "cm-%C")}`, "  ControlPersist 600"]
      : ["  ControlMaster no", "  ControlPath none"]),
  ];
  writeFileSync(file, lines.join("\n") + "\n", { mode: 0o600 });
  const logins = sshd.nodes.map((node) => `${sshd.user}@${node.address}`);
  const opened = new Set<string>();
  return {
    file,
    controlMaster,
    logins,
    async startMasters(count) {
      if (!controlMaster) return;
      await Promise.all(
        logins.slice(0, count).map(async (login) => {
          await execFileAsync("ssh", ["-F", file, login, "true"]);
          opened.add(login);
        }),
      );
    },
    async stopMasters() {
      const open = [...opened];
      opened.clear();
      await Promise.all(open.map((login) => execFileAsync("ssh", ["-F", file, "-O", "exit", login]).catch(() => {})));
    },
  };
}
