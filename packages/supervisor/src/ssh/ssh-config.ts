/**
 * Reading OpenSSH client configuration files (`~/.ssh/config`, `/etc/ssh/ssh_config`, or a file
 * given like `ssh -F`). The npm package `ssh-config` parses them and computes a host's settings as
 * OpenSSH's `readconf.c` does: `Host` patterns with `!` negation; `Match` with `host` (the HostName
 * set so far), `originalhost`, `user`, `localuser`, `all`, and `final` (a second pass in which
 * `Host` lines match the HostName); the first value obtained wins, except `IdentityFile`, whose
 * values accumulate.
 *
 * This file adds what the library lacks:
 * - `Include`, with globs, paths relative to `~/.ssh` (`/etc/ssh` for the system file), nesting,
 *   and inside a `Host` or `Match` block, where what it includes applies only when the block does.
 * - Case: OpenSSH compares host names and `Host`/`Match host` patterns without regard to case and
 *   takes keywords in any case. The library compares patterns as written and feeds `Match host`
 *   and `Match user` only from lines spelled `HostName` and `User`, so those are normalized.
 * - `%h` in HostName (also for `Match host`), the tokens of IdentityFile and UserKnownHostsFile
 *   ({@link expandTokens}), an IdentityFile given twice counting once, checked and typed values.
 *
 * Deliberately not supported:
 * - `Match exec` never matches and its command is never run. The library would run it through
 *   `/bin/sh` wrapped in bash-only `function main { … }` syntax (where sh is dash the command runs
 *   but its block never applies), without `%` tokens, on every lookup; OpenSSH runs it through
 *   `$SHELL` with the tokens expanded. Other criteria (`canonical`, `localnetwork`, `tagged` …)
 *   never match either.
 * - `CanonicalizeHostname` is ignored (the library would run `nslookup` synchronously).
 * - `?` in a pattern also matches no character (the library's glob; in OpenSSH exactly one).
 * - Tokens other than those of {@link expandTokens}; environment variables `${VAR}`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, isAbsolute, join } from "node:path";
import { MalocherError } from "@malocher/protocol";
import SSHConfig, { LineType, type Directive, type Line, type Section } from "ssh-config";
import { globMatch } from "./glob-match.js";

/** What the configuration says about one host; every field absent when nothing set it. */
export interface SshConfigEntry {
  /** With `%h` expanded. */
  hostName?: string;
  user?: string;
  port?: number;
  /** In the order given, not yet expanded (`~`, `%h` …: see {@link expandTokens}). */
  identityFiles: string[];
  identitiesOnly?: boolean;
  /** `none` is kept as `"none"` (it switches off a ProxyJump of a later, broader block). */
  proxyJump?: string;
  strictHostKeyChecking?: "yes" | "accept-new" | "no" | "ask";
  /** Keys added to known_hosts are written with hashed host names. */
  hashKnownHosts?: boolean;
  /** Not yet expanded; `none` kept as is. */
  userKnownHostsFiles?: string[];
  connectTimeoutSeconds?: number;
  serverAliveIntervalSeconds?: number;
  serverAliveCountMax?: number;
}

/** The parsed configuration and its includes, ready to be asked about hosts. */
export interface SshConfig {
  /** Files read (for messages), the top one first. */
  files: string[];
  /**
   * The settings for `host` as written (an alias, say). `user` is the user already chosen (from
   * `user@host` or an option), as `ssh -l` gives it: `Match user` then matches it.
   */
  lookup(host: string, user?: string): SshConfigEntry;
}

/** OpenSSH's limit on nested Includes (READCONF_MAX_DEPTH). */
const MAX_INCLUDE_DEPTH = 16;

/** See the file comment for why exec is off; keys come back lowercased. */
const COMPUTE_OPTIONS = { ignoreCase: true, matchExec: false };

/** An Include inside a block, and the lines it includes (their own top-level Includes spliced in). */
type BlockIncludes = Map<Directive, Line[]>;

/**
 * Reads the configuration `ssh` would read: `file` alone when given (like `ssh -F file`; `"none"`
 * reads nothing), otherwise `~/.ssh/config` and then `/etc/ssh/ssh_config`. Missing default files
 * are empty; a missing explicit file is an `INVALID_OPTIONS` error.
 *
 * @example
 * ```ts
 * const entry = readSshConfig().lookup("gpu1"); // { hostName: "10.0.0.7", user: "alice", ... }
 * ```
 */
export function readSshConfig(file?: string): SshConfig {
  const userDir = join(homedir(), ".ssh");
  const sources: Array<{ path: string; includeDir: string; required: boolean }> =
    file === undefined
      ? [
          { path: join(userDir, "config"), includeDir: userDir, required: false },
          { path: "/etc/ssh/ssh_config", includeDir: "/etc/ssh", required: false },
        ]
      : file === "none"
        ? []
        : [{ path: expandHome(file), includeDir: userDir, required: true }];
  const files: string[] = [];
  const lines: Line[] = [];
  const blockIncludes: BlockIncludes = new Map();
  for (const source of sources) {
    const text = readConfigFile(source.path, source.required);
    if (text === undefined) continue;
    files.push(source.path);
    lines.push(...parseFile(text, source.path, source.includeDir, 0, blockIncludes));
  }
  return { files, lookup: (host, user) => lookup(lines, blockIncludes, host, user, files) };
}

function readConfigFile(path: string, required: boolean): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new MalocherError("INVALID_OPTIONS", `Cannot read the SSH config ${path}: ${(error as Error).message}.`, { cause: error });
  }
}

/**
 * A file's lines, normalized (see the file comment), with its top-level Includes replaced by what
 * they include. An Include inside a block stays in place; what it includes goes to `blockIncludes`,
 * for {@link lookup} to splice in when the block applies.
 */
function parseFile(text: string, path: string, includeDir: string, depth: number, blockIncludes: BlockIncludes): Line[] {
  let parsed: SSHConfig;
  try {
    parsed = SSHConfig.parse(text);
  } catch (error) {
    throw new MalocherError("INVALID_OPTIONS", `Cannot read the SSH config ${path}: ${(error as Error).message}.`, { cause: error });
  }
  const include = (line: Directive) => {
    if (depth >= MAX_INCLUDE_DEPTH) throw new MalocherError("INVALID_OPTIONS", `${path}: Includes nested too deeply (a loop?).`);
    const lines: Line[] = [];
    for (const pattern of values(line).map(expandHome)) {
      for (const file of globFiles(isAbsolute(pattern) ? pattern : join(includeDir, pattern))) {
        const included = readConfigFile(file, false);
        if (included !== undefined) lines.push(...parseFile(included, file, includeDir, depth + 1, blockIncludes));
      }
    }
    return lines;
  };
  const out: Line[] = [];
  for (const line of parsed) {
    if (line.type !== LineType.DIRECTIVE || isIgnored(line)) continue;
    if (isInclude(line)) {
      out.push(...include(line));
      continue;
    }
    normalize(line);
    if ("config" in line) {
      const children = line.config.filter((child): child is Directive => child.type === LineType.DIRECTIVE && !isIgnored(child));
      for (const child of children) {
        normalize(child);
        if (isInclude(child)) blockIncludes.set(child, include(child));
      }
      line.config = configOf(children);
    }
    out.push(line);
  }
  return out;
}

const isInclude = (line: Directive) => line.param.toLowerCase() === "include";
const isIgnored = (line: Directive) => line.param.toLowerCase() === "canonicalizehostname";

function normalize(line: Directive): void {
  const keyword = line.param.toLowerCase();
  if (keyword === "hostname") line.param = "HostName";
  else if (keyword === "user") line.param = "User";
  else if (keyword === "host") line.value = typeof line.value === "string" ? line.value.toLowerCase() : line.value.map((v) => ({ ...v, val: v.val.toLowerCase() }));
  else if (keyword === "match" && "criteria" in line) {
    const criteria = line.criteria as Record<string, string | Array<{ val: string; separator: string }>>;
    for (const [name, value] of Object.entries(criteria)) {
      if (typeof value === "string" && /^(original)?host$/i.test(name)) criteria[name] = value.toLowerCase();
    }
  }
}

function lookup(lines: readonly Line[], blockIncludes: BlockIncludes, rawHost: string, user: string | undefined, files: readonly string[]): SshConfigEntry {
  const host = rawHost.toLowerCase();
  const options = { Host: host, ...(user === undefined ? {} : { User: user }) };
  let tree = forHost(lines, rawHost);
  // Includes inside blocks, first to last. Whether a block applies is what the library computes,
  // so ask it: a marker stands in for the Include; the block applied if the marker was set. Then
  // the included lines go after the block, followed by a copy of the block for its lines after
  // the Include (as OpenSSH, whose included Host lines start their own blocks, then returns to the
  // including block). A block that applies only in the final pass includes for both passes.
  for (let at = findBlockInclude(tree); at !== undefined; at = findBlockInclude(tree)) {
    const { index, section, child } = at;
    const before = section.config.slice(0, child);
    const after = section.config.slice(child + 1);
    const include = section.config[child] as Directive;
    const withBlock = (...block: Line[]) => [...tree.slice(0, index), ...block, ...tree.slice(index + 1)];
    const probe = withBlock({ ...section, config: configOf([...before, MARKER, ...after]) });
    if (configOf(probe).compute(options, COMPUTE_OPTIONS)[MARKER.param] === undefined) {
      tree = withBlock({ ...section, config: configOf([...before, ...after]) });
    } else {
      const rest = after.length > 0 ? [{ ...section, config: configOf(after) }] : [];
      tree = withBlock({ ...section, config: configOf(before) }, ...forHost(blockIncludes.get(include) ?? [], rawHost), ...rest);
    }
  }
  return toEntry(configOf(tree).compute(options, COMPUTE_OPTIONS), rawHost, files);
}

const MARKER: Directive = { type: LineType.DIRECTIVE, param: "malocher-include-applies", separator: " ", value: "yes", before: "", after: "" };

function findBlockInclude(tree: readonly Line[]): { index: number; section: Section; child: number } | undefined {
  for (const [index, line] of tree.entries()) {
    if (!("config" in line)) continue;
    const child = line.config.findIndex((c) => c.type === LineType.DIRECTIVE && isInclude(c));
    if (child >= 0) return { index, section: line, child };
  }
  return undefined;
}

/** The lines with `%h` (the host as written) and `%%` expanded in HostName, as OpenSSH does. */
function forHost(lines: readonly Line[], host: string): Line[] {
  const expand = (line: Line): Line =>
    line.type === LineType.DIRECTIVE && line.param === "HostName" && typeof line.value === "string"
      ? { ...line, value: line.value.replace(/%([%h])/g, (_, t: string) => (t === "h" ? host : "%")) }
      : line;
  return lines.map((line) => ("config" in line ? { ...line, config: configOf(line.config.map(expand)) } : expand(line)));
}

function configOf(lines: readonly Line[]): SSHConfig {
  const config = new SSHConfig();
  config.push(...lines);
  return config;
}

function values(line: Directive): string[] {
  return typeof line.value === "string" ? [line.value] : line.value.map((v) => v.val);
}

/** The library's computed settings (lowercased keys, values as written) as checked, typed fields. */
function toEntry(computed: Record<string, string | string[]>, host: string, files: readonly string[]): SshConfigEntry {
  const first = (key: string) => {
    const value = computed[key];
    return Array.isArray(value) ? value[0] : value;
  };
  const invalid = (keyword: string, expected: string) =>
    new MalocherError("INVALID_OPTIONS", `The SSH config (${files.join(", ")}) sets ${keyword} ${first(keyword.toLowerCase())} for ${host}: expected ${expected}.`);
  const integer = (keyword: string, min: number, max: number) => {
    const text = first(keyword.toLowerCase());
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) throw invalid(keyword, `a whole number from ${min} to ${max}`);
    return value;
  };
  const yesNo = (keyword: string) => {
    const text = first(keyword.toLowerCase())?.toLowerCase();
    if (text === undefined) return undefined;
    if (text === "yes" || text === "true") return true;
    if (text === "no" || text === "false") return false;
    throw invalid(keyword, "yes or no");
  };
  const strictText = first("stricthostkeychecking")?.toLowerCase();
  const strict = strictText === undefined
    ? undefined
    : ({ yes: "yes", true: "yes", "accept-new": "accept-new", no: "no", off: "no", false: "no", ask: "ask" } as const)[strictText as "yes"];
  if (strictText !== undefined && strict === undefined) throw invalid("StrictHostKeyChecking", "yes, accept-new, no or ask");
  const knownHosts = computed["userknownhostsfile"];
  return {
    hostName: first("hostname"),
    user: first("user"),
    port: integer("Port", 1, 65535),
    // The final pass reads the same lines again; OpenSSH counts a file once.
    identityFiles: [...new Set([computed["identityfile"] ?? []].flat())],
    identitiesOnly: yesNo("IdentitiesOnly"),
    proxyJump: first("proxyjump"),
    strictHostKeyChecking: strict,
    hashKnownHosts: yesNo("HashKnownHosts"),
    userKnownHostsFiles: knownHosts === undefined ? undefined : [knownHosts].flat(),
    connectTimeoutSeconds: integer("ConnectTimeout", 0, 1e6),
    serverAliveIntervalSeconds: integer("ServerAliveInterval", 0, 1e6),
    serverAliveCountMax: integer("ServerAliveCountMax", 0, 1e6),
  };
}

/** Values for the `%` tokens of IdentityFile and UserKnownHostsFile. */
export interface TokenValues {
  /** `%h`: the remote host name (after HostName). */
  host: string;
  /** `%n`: the host as given (the alias). */
  alias: string;
  /** `%r`: the remote user. */
  remoteUser: string;
  /** `%u`: the local user. */
  localUser: string;
  /** `%p`: the port. */
  port: number;
}

/**
 * Expands `~` at the start and the tokens `%h %n %r %u %p %d %%` as OpenSSH does for IdentityFile
 * and UserKnownHostsFile; another token is an error, as in OpenSSH.
 *
 * @example
 * ```ts
 * expandTokens("~/.ssh/id_%h", { host: "gpu1", alias: "g", remoteUser: "alice", localUser: "bob", port: 22 });
 * ```
 */
export function expandTokens(path: string, values: TokenValues): string {
  const expanded = path.replace(/%(.?)/g, (token, letter: string) => {
    switch (letter) {
      case "%":
        return "%";
      case "h":
        return values.host;
      case "n":
        return values.alias;
      case "r":
        return values.remoteUser;
      case "u":
        return values.localUser;
      case "p":
        return String(values.port);
      case "d":
        return homedir();
      default:
        throw new MalocherError("INVALID_OPTIONS", `Unknown token ${token} in the SSH config path ${path} (known: %h %n %r %u %p %d %%).`);
    }
  });
  return expandHome(expanded);
}

export function expandHome(path: string): string {
  const home = homedir();
  return path === "~" ? home : path.startsWith("~/") ? join(home, path.slice(2)) : path;
}

/** The existing files a glob names, sorted; `*` and `?` in any path component. */
function globFiles(pattern: string): string[] {
  if (!/[*?[]/.test(pattern)) return [pattern];
  const parents = globFiles(dirname(pattern) === pattern ? pattern : dirname(pattern));
  const name = basename(pattern);
  const out: string[] = [];
  for (const parent of parents) {
    if (!/[*?]/.test(name)) {
      out.push(join(parent, name));
      continue;
    }
    let names: string[];
    try {
      names = readdirSync(parent);
    } catch {
      continue;
    }
    for (const entry of names.sort()) if (!entry.startsWith(".") && globMatch(entry, name)) out.push(join(parent, entry));
  }
  return out;
}
