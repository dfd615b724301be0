/**
 * Reading OpenSSH client configuration files (`~/.ssh/config`, `/etc/ssh/ssh_config`, or a file
 * given like `ssh -F`) with the semantics of OpenSSH's `readconf.c` for the keywords Malocher uses:
 * for each keyword the first value obtained wins, except `IdentityFile`, whose values accumulate.
 *
 * Deliberately not supported (each is ignored, as unknown keywords are):
 * - `Match` blocks: only `Match all` applies (it is `Host *`); any other `Match` block is treated
 *   as not matching, so its settings are never used. Evaluating `exec`, `localuser`,
 *   `canonical`, `final` … would need a second pass like OpenSSH's and running commands.
 * - `CanonicalizeHostname`, `HashKnownHosts` (keys that accept-new adds are written unhashed),
 *   tokens other than those listed at {@link expandTokens}, environment variables `${VAR}`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, isAbsolute, join } from "node:path";
import { MalocherError } from "@malocher/protocol";
import { globMatch } from "./glob-match.js";

/** What the configuration says about one host; every field absent when nothing set it. */
export interface SshConfigEntry {
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

/** The parsed lines of a configuration and its includes, ready to be asked about hosts. */
export interface SshConfig {
  /** Files read (for messages), the top one first. */
  files: string[];
  lookup(host: string): SshConfigEntry;
}

/** OpenSSH's limit on nested Includes (READCONF_MAX_DEPTH). */
const MAX_INCLUDE_DEPTH = 16;

interface Line {
  keyword: string;
  args: string[];
  where: string;
}

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
  const home = homedir();
  const userDir = join(home, ".ssh");
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
  for (const source of sources) {
    const text = readConfigFile(source.path, source.required);
    if (text === undefined) continue;
    files.push(source.path);
    lines.push(...flatten(text, source.path, source.includeDir, 0));
  }
  return { files, lookup: (host) => lookup(lines, host) };
}

/**
 * Parses configuration text (without reading Includes) and looks `host` up in it; for tests and
 * for callers that have the text already.
 *
 * @example
 * ```ts
 * parseSshConfig("Host gpu*\n  User alice\n").lookup("gpu1").user; // "alice"
 * ```
 */
export function parseSshConfig(text: string, includeDir: string = join(homedir(), ".ssh")): SshConfig {
  const lines = flatten(text, "(text)", includeDir, 0);
  return { files: [], lookup: (host) => lookup(lines, host) };
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
 * The lines of a file with its Includes spliced in. An Include inside a Host block is wrapped so
 * that it applies only when that block matches, and the block's state is restored after it:
 * `Host` lines in the included file start their own blocks.
 */
function flatten(text: string, path: string, includeDir: string, depth: number): Line[] {
  const out: Line[] = [];
  let lineNumber = 0;
  for (const raw of text.split(/\r?\n/)) {
    lineNumber++;
    const line = splitLine(raw, `${path}:${lineNumber}`);
    if (line === undefined) continue;
    if (line.keyword !== "include") {
      out.push(line);
      continue;
    }
    if (depth >= MAX_INCLUDE_DEPTH) {
      throw new MalocherError("INVALID_OPTIONS", `${line.where}: Includes nested too deeply (a loop?).`);
    }
    const included: Line[] = [];
    for (const arg of line.args) {
      const pattern = expandHome(arg);
      for (const file of globFiles(isAbsolute(pattern) ? pattern : join(includeDir, pattern))) {
        const includedText = readConfigFile(file, false);
        if (includedText !== undefined) included.push(...flatten(includedText, file, includeDir, depth + 1));
      }
    }
    // Markers around the included lines: "enter" keeps the current block's state as the
    // condition for everything inside; "leave" restores it.
    out.push({ keyword: "\0enter", args: [], where: line.where }, ...included, { keyword: "\0leave", args: [], where: line.where });
  }
  return out;
}

/** Keyword and arguments of one line: `Keyword arg "quoted arg"` or `Keyword=arg`. */
function splitLine(raw: string, where: string): Line | undefined {
  const text = raw.trim();
  if (text === "" || text.startsWith("#")) return undefined;
  const match = /^([^\s=]+)\s*(?:=\s*|\s+|$)(.*)$/.exec(text);
  if (match === null) return undefined;
  const args: string[] = [];
  const argPattern = /"([^"]*)"|(\S+)/g;
  for (let m = argPattern.exec(match[2] ?? ""); m !== null; m = argPattern.exec(match[2] ?? "")) {
    const arg = m[1] ?? m[2] ?? "";
    if (m[2]?.startsWith("#")) break; // a trailing comment
    args.push(arg);
  }
  return { keyword: (match[1] ?? "").toLowerCase(), args, where };
}

function lookup(lines: Line[], rawHost: string): SshConfigEntry {
  const host = rawHost.toLowerCase();
  const entry: SshConfigEntry = { identityFiles: [] };
  let active = true; // lines before the first Host apply to every host
  const saved: boolean[] = [];
  for (const line of lines) {
    switch (line.keyword) {
      case "\0enter":
        saved.push(active);
        break;
      case "\0leave":
        active = saved.pop() ?? true;
        break;
      case "host":
        active = (saved.length === 0 || saved.every(Boolean)) && hostMatches(host, line.args);
        break;
      case "match":
        // See the file comment: only `Match all` is evaluated.
        active = (saved.length === 0 || saved.every(Boolean)) && line.args.length === 1 && line.args[0]?.toLowerCase() === "all";
        break;
      default:
        if (active) apply(entry, line);
    }
  }
  return entry;
}

/** A Host line matches when one of its patterns does and none of its `!` patterns does. */
function hostMatches(host: string, patterns: string[]): boolean {
  let positive = false;
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (globMatch(host, pattern)) {
      if (negated) return false;
      positive = true;
    }
  }
  return positive;
}

function apply(entry: SshConfigEntry, line: Line): void {
  const [first] = line.args;
  if (first === undefined) return;
  switch (line.keyword) {
    case "hostname":
      entry.hostName ??= first;
      break;
    case "user":
      entry.user ??= first;
      break;
    case "port":
      entry.port ??= integer(first, line, 1, 65535);
      break;
    case "identityfile":
      entry.identityFiles.push(first);
      break;
    case "identitiesonly":
      entry.identitiesOnly ??= yesNo(first, line);
      break;
    case "proxyjump":
      entry.proxyJump ??= first;
      break;
    case "stricthostkeychecking": {
      const value = first.toLowerCase();
      const mapped = ({ yes: "yes", true: "yes", "accept-new": "accept-new", no: "no", off: "no", false: "no", ask: "ask" } as const)[
        value as "yes"
      ];
      if (mapped === undefined) throw invalid(line, "yes, accept-new, no or ask");
      entry.strictHostKeyChecking ??= mapped;
      break;
    }
    case "hashknownhosts":
      entry.hashKnownHosts ??= yesNo(first, line);
      break;
    case "userknownhostsfile":
      entry.userKnownHostsFiles ??= line.args;
      break;
    case "connecttimeout":
      entry.connectTimeoutSeconds ??= integer(first, line, 0, 1e6);
      break;
    case "serveraliveinterval":
      entry.serverAliveIntervalSeconds ??= integer(first, line, 0, 1e6);
      break;
    case "serveralivecountmax":
      entry.serverAliveCountMax ??= integer(first, line, 0, 1e6);
      break;
  }
}

function integer(text: string, line: Line, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw invalid(line, `a whole number from ${min} to ${max}`);
  return value;
}

function yesNo(text: string, line: Line): boolean {
  const value = text.toLowerCase();
  if (value === "yes" || value === "true") return true;
  if (value === "no" || value === "false") return false;
  throw invalid(line, "yes or no");
}

function invalid(line: Line, expected: string): MalocherError {
  return new MalocherError("INVALID_OPTIONS", `${line.where}: ${line.keyword} ${line.args.join(" ")}: expected ${expected}.`);
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
