import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import type { Client as SshClient } from "ssh2";
import { MalocherError } from "@malocher/protocol";
import { connectSsh } from "../../ssh/connect-ssh.js";
import { resolveNodeTargets, type SshOptions } from "../../ssh/node-target.js";
import { shellQuote } from "../../ssh/shell-quote.js";

/** Slurm's commands that Malocher runs. */
export type SlurmCommand = "sbatch" | "squeue" | "scancel" | "sinfo";

/** What a Slurm command printed, and how it ended. */
export interface SlurmOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs Slurm's commands on this machine or on a login host. */
export interface SlurmCommands {
  /** Where they run, for messages: `"this machine"` or the login host. */
  readonly where: string;
  /** Runs `command args…` (no shell on this machine; shell-quoted on the login host), with `stdin` if given. */
  run(command: SlurmCommand, args: readonly string[], stdin?: string): Promise<SlurmOutput>;
  /** Closes the SSH connection, if any. Idempotent. */
  close(): void;
}

const COMMAND_TIMEOUT_MS = 60_000;

/**
 * Slurm's commands on this machine when `sbatch` is on `PATH`, or on `loginHost` over SSH; refuses
 * with `SLURM_NOT_AVAILABLE` when they are not there.
 */
export async function slurmCommands(loginHost: string | undefined, ssh: SshOptions): Promise<SlurmCommands> {
  if (loginHost === undefined) {
    if (findOnPath("sbatch") === undefined || findOnPath("squeue") === undefined) {
      throw new MalocherError(
        "SLURM_NOT_AVAILABLE",
        "Slurm's commands (sbatch, squeue, scancel) are not on this machine's PATH. Run on a login node of the cluster, or name one with slurm.loginHost (--slurm-login).",
      );
    }
    return localSlurmCommands();
  }
  const [target] = resolveNodeTargets({ ...ssh, sshMachines: [loginHost] });
  const client = await connectSsh(target!);
  const commands = sshSlurmCommands(client, loginHost);
  const probe = await commands.run("sbatch", ["--version"]).catch((error: Error) => ({ code: 127, stdout: "", stderr: error.message }));
  if (probe.code !== 0) {
    commands.close();
    throw new MalocherError("SLURM_NOT_AVAILABLE", `Slurm's sbatch does not run on ${loginHost} (${probe.stderr.trim() || `exit ${probe.code}`}). Is it a login node of the cluster?`);
  }
  return commands;
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    if (dir === "") continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {}
  }
  return undefined;
}

function localSlurmCommands(): SlurmCommands {
  return {
    where: "this machine",
    run: (command, args, stdin) =>
      new Promise((resolve, reject) => {
        const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], timeout: COMMAND_TIMEOUT_MS });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.once("error", (error) => reject(new MalocherError("SLURM_NOT_AVAILABLE", `Could not run ${command}: ${error.message}`, { cause: error })));
        child.once("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
        child.stdin.on("error", () => {});
        child.stdin.end(stdin ?? "");
      }),
    close: () => {},
  };
}

function sshSlurmCommands(client: SshClient, host: string): SlurmCommands {
  let closed = false;
  return {
    where: host,
    run: (command, args, stdin) =>
      new Promise((resolve, reject) => {
        client.exec([command, ...args].map(shellQuote).join(" "), (error, channel) => {
          if (error) {
            reject(new MalocherError("SLURM_NOT_AVAILABLE", `${host} refused to run ${command}: ${error.message}`, { cause: error }));
            return;
          }
          let stdout = "";
          let stderr = "";
          let code = 255;
          channel.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
          channel.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
          channel.on("exit", (exitCode: number | null) => (code = exitCode ?? 255));
          channel.once("close", () => resolve({ code, stdout, stderr }));
          channel.end(stdin ?? "");
        });
      }),
    close: () => {
      if (closed) return;
      closed = true;
      client.end();
    },
  };
}
