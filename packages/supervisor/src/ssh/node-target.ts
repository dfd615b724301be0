import { MalocherError, isLabel, shownValue } from "@malocher/protocol";
import { opensshDefaults } from "./openssh-defaults.js";
import type { KeysGivenUp } from "./prompt-key-passphrase.js";
import { expandHome, expandTokens, readSshConfig, type SshConfig, type TokenValues } from "./ssh-config.js";

/** SSH settings of `processAll` and `malocher run`; each may be one value or one per machine. */
export interface SshOptions {
  /**
   * Machines as `host`, `user@host` or `user@host:port` (`[v6addr]:port` for IPv6). `host` may be
   * an alias of the SSH config (`Host` in `~/.ssh/config`).
   */
  sshMachines?: readonly string[];
  /** Port(s); default the SSH config's `Port`, else 22. */
  sshPort?: number | readonly number[];
  /** User name(s); default the SSH config's `User`, else the current user. */
  sshUsername?: string | readonly string[];
  /**
   * Private key file(s); default the SSH config's `IdentityFile`s, then OpenSSH's default identity
   * files, with the keys of a running ssh-agent (`SSH_AUTH_SOCK`) offered first. A key named here
   * is the only one offered (like `ssh -i key -o IdentitiesOnly=yes`).
   */
  sshPrivateKey?: string | readonly string[];
  /** An OpenSSH known_hosts file; default the SSH config's `UserKnownHostsFile`, else `~/.ssh/known_hosts`. */
  knownHosts?: string;
  /**
   * An OpenSSH client config file read instead of `~/.ssh/config` and `/etc/ssh/ssh_config` (like
   * `ssh -F file`); `"none"` reads none.
   *
   * @example
   * ```ts
   * await processAll({ sshMachines: ["gpu1", "gpu2"], sshConfig: "./cluster-ssh-config" });
   * ```
   */
  sshConfig?: string;
  /**
   * Passphrase of encrypted private keys; default `$MALOCHER_SSH_PASSPHRASE`, else asked for on
   * the terminal when there is one (echo off, once per key). Never logged. (Keys loaded into
   * ssh-agent need none.)
   */
  sshPassphrase?: string;
  /**
   * Overrides the SSH config's `StrictHostKeyChecking`: `"yes"` (the default) refuses unknown host
   * keys, `"accept-new"` adds an unknown key to known_hosts and goes on (a changed key is still
   * refused), `"no"` accepts any key (adding unknown ones, as ssh does) and warns loudly on every run.
   * A key marked `@revoked` is refused in every case.
   */
  sshStrictHostKeyChecking?: "yes" | "accept-new" | "no";
}

/** Everything needed to reach one machine, after every source of settings was applied. */
export interface NodeTarget {
  /** The machine exactly as the user wrote it; results carry it as `host`. */
  label: string;
  /** The host to connect to and to look up in known_hosts: the config's HostName, else what was written. */
  host: string;
  port: number;
  username: string;
  /** Key files to offer, in order. */
  identityFiles: string[];
  /**
   * Who named the keys: the options (a missing file is then an error), the SSH config (a missing
   * file is skipped, as by `ssh`), or nobody (OpenSSH's defaults, skipped when missing or encrypted).
   */
  identitySource: "option" | "config" | "default";
  /** Whether to offer the keys of a running ssh-agent first. */
  useAgent: boolean;
  knownHostsFile: string;
  /** `no` only when the user asked for it (config or option); `ask` of the config counts as `yes`. */
  strictHostKeyChecking: "yes" | "accept-new" | "no";
  /** The SSH config's `HashKnownHosts`: a key added to known_hosts gets a hashed host name. */
  hashKnownHosts: boolean;
  /** Handshake deadline (ConnectTimeout, else 15 s). */
  readyTimeoutMs: number;
  /** SSH keepalive interval (ServerAliveInterval, else 5 s); 0 is off. */
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  /** The last ProxyJump hop: this machine is reached through a connection to it. */
  via?: NodeTarget;
  /** The passphrase for encrypted keys; a function so that it never shows when a target is printed. */
  passphrase: () => string | undefined;
  /**
   * The keys whose passphrase prompt the user gave up on (Ctrl-C, or three wrong tries) during this
   * run, by file: one map for all the machines of one `resolveNodeTargets`, which then fail at once
   * with the same error instead of asking again. A later run asks again.
   */
  keysGivenUp: KeysGivenUp;
  /** Jobs at once on this machine (`8/host`), overriding the run's `slots`. */
  slots?: number;
  /** The machine's labels (`8/host gpu fast`); jobs may ask for one (`submit.with({ on: "gpu" })`). */
  labels: string[];
}

interface ParsedMachine {
  label: string;
  host: string;
  port: number | undefined;
  username: string | undefined;
  slots: number | undefined;
  labels: string[];
}

/**
 * Parses `[slots/][user@]host[:port] [label…]`, like GNU parallel's `8/host`; IPv6 addresses go
 * in brackets: `user@[::1]:22`. The label (a result's `host`) is the machine without the slots
 * and labels.
 */
export function parseMachine(entry: string): ParsedMachine {
  const [machineText = "", ...labels] = entry.trim().split(/\s+/);
  const badLabel = labels.find((label) => !isLabel(label));
  if (badLabel !== undefined) {
    throw new MalocherError(
      "INVALID_OPTIONS",
      `Cannot read the machine ${JSON.stringify(entry)}: ${JSON.stringify(badLabel)} is not a label (letters, digits, ".", "_", "-").`,
    );
  }
  const match = /^(?:(\d+)\/)?((?:([^@\s/]+)@)?(\[[^\]\s]+\]|[^:@\s[\]/]+)(?::(\d+))?)$/.exec(machineText);
  if (match === null) {
    throw new MalocherError(
      "INVALID_OPTIONS",
      `Cannot read the machine ${JSON.stringify(entry)}: write host, user@host, user@host:port, or 8/user@host:port gpu ` +
        "for 8 slots and the label gpu.",
    );
  }
  const [, rawSlots, label, username, rawHost, rawPort] = match;
  const host = (rawHost as string).replace(/^\[(.*)\]$/, "$1");
  const slots = rawSlots === undefined ? undefined : Number(rawSlots);
  if (slots === 0) throw new MalocherError("INVALID_OPTIONS", `${JSON.stringify(entry)} gives the machine 0 slots.`);
  return { label: label as string, host, port: rawPort === undefined ? undefined : parsePort(rawPort, entry), username, slots, labels };
}

/** Whether `port` is a TCP port, a whole number from 1 to 65535 (the one check of machines' ports, `--port` and `sshPort`). */
export function isTcpPort(port: unknown): port is number {
  return typeof port === "number" && Number.isInteger(port) && port >= 1 && port <= 65535;
}

function parsePort(text: string, where: string): number {
  const port = Number(text);
  if (!isTcpPort(port)) {
    throw new MalocherError("INVALID_OPTIONS", `The port in ${JSON.stringify(where)} is not a TCP port (1-65535).`);
  }
  return port;
}

/** sshPort's value for the machine `entry`: a TCP port, or INVALID_OPTIONS before anything connects. */
function checkedPort(port: unknown, entry: string): number {
  if (isTcpPort(port)) return port;
  throw new MalocherError("INVALID_OPTIONS", `sshPort for ${entry} is a TCP port (1-65535), got ${shownValue(port, "number")}. Nothing was started.`);
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
 * then the options, then the SSH config (for the host as written, e.g. an alias), then OpenSSH's
 * defaults.
 */
export function resolveNodeTargets(options: SshOptions): NodeTarget[] {
  const machines = options.sshMachines ?? [];
  if (!Array.isArray(machines) || !machines.every((machine) => typeof machine === "string")) {
    throw new MalocherError("INVALID_OPTIONS", `sshMachines is a list of machines, e.g. ["node1", "alice@node2:2222"], got ${shownValue(machines)}. Nothing was started.`);
  }
  const config = readSshConfig(options.sshConfig);
  const passphrase = options.sshPassphrase;
  const shared: SharedSettings = {
    config,
    knownHosts: options.knownHosts,
    strict: options.sshStrictHostKeyChecking,
    passphrase: () => passphrase ?? (process.env["MALOCHER_SSH_PASSPHRASE"] || undefined),
    keysGivenUp: new Map(),
  };
  return machines.map((entry, index) => {
    const port = perMachine(options.sshPort, index, machines.length, "sshPort");
    return resolveTarget(entry, shared, {
      port: port === undefined ? port : checkedPort(port, entry),
      username: perMachine(options.sshUsername, index, machines.length, "sshUsername"),
      key: perMachine(options.sshPrivateKey, index, machines.length, "sshPrivateKey"),
    }, 0);
  });
}

/** What applies to every machine and every ProxyJump hop. */
interface SharedSettings {
  config: SshConfig;
  knownHosts: string | undefined;
  strict: SshOptions["sshStrictHostKeyChecking"];
  passphrase: () => string | undefined;
  keysGivenUp: KeysGivenUp;
}

/** A ProxyJump chain longer than this is a loop in the config. */
const MAX_JUMP_DEPTH = 8;

function resolveTarget(
  entry: string,
  shared: SharedSettings,
  explicit: { port: number | undefined; username: string | undefined; key: string | undefined },
  depth: number,
): NodeTarget {
  const defaults = opensshDefaults();
  const machine = parseMachine(entry);
  const chosenUser = machine.username ?? explicit.username;
  const found = shared.config.lookup(machine.host, chosenUser);
  const host = found.hostName ?? machine.host;
  const port = machine.port ?? explicit.port ?? found.port ?? defaults.port;
  const username = chosenUser ?? found.user ?? defaults.username;
  const tokens: TokenValues = { host, alias: machine.host, remoteUser: username, localUser: defaults.username, port };
  const identitySource = explicit.key !== undefined ? "option" : found.identityFiles.length > 0 ? "config" : "default";
  const identityFiles =
    explicit.key !== undefined
      ? [expandHome(explicit.key)]
      : found.identityFiles.length > 0
        ? found.identityFiles.filter((file) => file.toLowerCase() !== "none").map((file) => expandTokens(file, tokens))
        : defaults.identityFiles;
  // An explicit key is used alone, like `ssh -i key -o IdentitiesOnly=yes`.
  const identitiesOnly = explicit.key !== undefined || (found.identitiesOnly === true && identitySource === "config");
  const knownHostsFromConfig = found.userKnownHostsFiles?.[0];
  const knownHostsFile =
    shared.knownHosts !== undefined
      ? expandHome(shared.knownHosts)
      : knownHostsFromConfig === undefined
        ? defaults.knownHostsFile
        : knownHostsFromConfig.toLowerCase() === "none"
          ? "/dev/null"
          : expandTokens(knownHostsFromConfig, tokens);
  const strictFromConfig = found.strictHostKeyChecking === "ask" ? "yes" : found.strictHostKeyChecking;
  const target: NodeTarget = {
    label: machine.label,
    host,
    port,
    username,
    identityFiles,
    identitySource,
    useAgent: !identitiesOnly && defaults.agentSocket !== undefined,
    knownHostsFile,
    strictHostKeyChecking: shared.strict ?? strictFromConfig ?? "yes",
    hashKnownHosts: found.hashKnownHosts ?? false,
    readyTimeoutMs: found.connectTimeoutSeconds ? found.connectTimeoutSeconds * 1000 : DEFAULT_READY_TIMEOUT_MS,
    keepaliveIntervalMs: found.serverAliveIntervalSeconds === undefined ? DEFAULT_KEEPALIVE_MS : found.serverAliveIntervalSeconds * 1000,
    keepaliveCountMax: found.serverAliveCountMax ?? 3,
    passphrase: shared.passphrase,
    keysGivenUp: shared.keysGivenUp,
    ...(machine.slots === undefined ? {} : { slots: machine.slots }),
    labels: machine.labels,
  };
  const jumps = found.proxyJump === undefined || found.proxyJump.toLowerCase() === "none" ? [] : found.proxyJump.split(",");
  if (jumps.length > 0) {
    if (depth >= MAX_JUMP_DEPTH) {
      throw new MalocherError("INVALID_OPTIONS", `ProxyJump of ${machine.label} nests more than ${MAX_JUMP_DEPTH} deep: is there a loop in the SSH config?`);
    }
    // Like `ssh -J a,b target`: target is reached through b, b through a, and a as its own
    // config says (which may name a ProxyJump of its own). Hops get the SSH config's settings,
    // not the explicit user, port and key of the machines (OpenSSH's -l, -p, -i do not apply to
    // jump hosts either); the known_hosts option and the passphrase do apply.
    const none = { port: undefined, username: undefined, key: undefined };
    let via: NodeTarget | undefined;
    for (const [i, hop] of jumps.entries()) {
      const hopTarget = resolveTarget(hop.trim(), shared, none, depth + 1);
      if (i > 0) hopTarget.via = via;
      via = hopTarget;
    }
    target.via = via;
  }
  return target;
}

const DEFAULT_READY_TIMEOUT_MS = 15000;
const DEFAULT_KEEPALIVE_MS = 5000;
