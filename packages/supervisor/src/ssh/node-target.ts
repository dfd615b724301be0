import { MalocherError } from "@malocher/protocol";
import { opensshDefaults } from "./openssh-defaults.js";

/** SSH settings of `processAll` and `malocher run`; each may be one value or one per machine. */
export interface SshOptions {
  /** Machines as `host`, `user@host` or `user@host:port` (`[v6addr]:port` for IPv6). */
  sshMachines?: readonly string[];
  /** Port(s); default 22. */
  sshPort?: number | readonly number[];
  /** User name(s); default the current user. */
  sshUsername?: string | readonly string[];
  /** Private key file(s); default OpenSSH's identity files (and ssh-agent if running). */
  sshPrivateKey?: string | readonly string[];
  /** An OpenSSH known_hosts file; default `~/.ssh/known_hosts`. */
  knownHosts?: string;
}

/** Everything needed to reach one machine, after every source of settings was applied. */
export interface NodeTarget {
  /** The machine exactly as the user wrote it; results carry it as `host`. */
  label: string;
  host: string;
  port: number;
  username: string;
  /** Key files to offer, in order. */
  identityFiles: string[];
  /** Whether the user named the key (a missing file is then an error, not a skipped default). */
  explicitIdentity: boolean;
  /** Whether to offer the keys of a running ssh-agent first. */
  useAgent: boolean;
  knownHostsFile: string;
}

interface ParsedMachine {
  label: string;
  host: string;
  port: number | undefined;
  username: string | undefined;
}

/** Parses `[user@]host[:port]`; IPv6 addresses go in brackets: `user@[::1]:22`. */
export function parseMachine(entry: string): ParsedMachine {
  const match = /^(?:([^@\s]+)@)?(\[[^\]\s]+\]|[^:@\s[\]]+)(?::(\d+))?$/.exec(entry.trim());
  if (match === null) {
    throw new MalocherError(
      "INVALID_OPTIONS",
      `Cannot read the machine ${JSON.stringify(entry)}: write host, user@host or user@host:port.`,
    );
  }
  const [, username, rawHost, rawPort] = match;
  const host = (rawHost as string).replace(/^\[(.*)\]$/, "$1");
  return { label: entry.trim(), host, port: rawPort === undefined ? undefined : parsePort(rawPort, entry), username };
}

function parsePort(text: string, where: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new MalocherError("INVALID_OPTIONS", `The port in ${JSON.stringify(where)} is not a TCP port (1-65535).`);
  }
  return port;
}

function perMachine<T>(value: T | readonly T[] | undefined, index: number, count: number, name: string): T | undefined {
  if (!Array.isArray(value)) return value as T | undefined;
  if (value.length !== count) {
    throw new MalocherError(
      "INVALID_OPTIONS",
      `${name} has ${value.length} entries for ${count} machines: give one value, or one per machine.`,
    );
  }
  return value[index] as T;
}

/**
 * Resolves each machine's settings. Precedence: what the entry itself says (`user@host:port`),
 * then the options, then OpenSSH's defaults. (An ssh_config layer belongs between the last two.)
 */
export function resolveNodeTargets(options: SshOptions): NodeTarget[] {
  const machines = options.sshMachines ?? [];
  const defaults = opensshDefaults();
  return machines.map((entry, index) => {
    const machine = parseMachine(entry);
    const port = machine.port ?? perMachine(options.sshPort, index, machines.length, "sshPort") ?? defaults.port;
    const key = perMachine(options.sshPrivateKey, index, machines.length, "sshPrivateKey");
    return {
      label: machine.label,
      host: machine.host,
      port: typeof port === "number" ? port : parsePort(String(port), entry),
      username: machine.username ?? perMachine(options.sshUsername, index, machines.length, "sshUsername") ?? defaults.username,
      identityFiles: key === undefined ? defaults.identityFiles : [defaults.expandHome(key)],
      explicitIdentity: key !== undefined,
      useAgent: key === undefined && defaults.agentSocket !== undefined,
      knownHostsFile: defaults.expandHome(options.knownHosts ?? defaults.knownHostsFile),
    };
  });
}
