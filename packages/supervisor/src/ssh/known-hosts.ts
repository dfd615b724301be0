/**
 * Reading OpenSSH `known_hosts` files and checking a server's host key against them, with the
 * semantics of OpenSSH's `hostfile.c`, `match.c` and `sshconnect.c` (checked against OpenSSH 9.x).
 *
 * Everything here is pure except {@link readKnownHosts}. Keys are handled as raw SSH wire-format
 * public key blobs: the bytes that are base64-encoded in a known_hosts line, and what ssh2 passes
 * to `hostVerifier(key)` when `hostHash` is not set.
 */
import { createHash, createHmac, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { globMatch } from "./glob-match.js";

/** One element of a comma-separated host field, e.g. `*.example.com` or `!bad.example.com`. */
export interface HostPattern {
  /** The pattern with ASCII letters lowercased; `*` and `?` are wildcards, nothing is escaped. */
  pattern: string;
  /** Written with a leading `!`: a host it matches is excluded even if another pattern matches. */
  negated: boolean;
}

/** The host field of a known_hosts line: patterns, or one hashed name (`ssh-keygen -H`). */
export type KnownHostNames =
  | { kind: "patterns"; patterns: HostPattern[] }
  /** `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`; `text` is the field exactly as written. */
  | { kind: "hashed"; salt: Buffer; text: string };

/** One valid line of a known_hosts file. */
export interface KnownHostEntry {
  marker?: "@cert-authority" | "@revoked";
  hosts: KnownHostNames;
  /** The key type as written, e.g. `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`. */
  keyType: string;
  /** The SSH wire-format public key. */
  keyBlob: Buffer;
  /** 1-based line number in the file. */
  line: number;
}

/**
 * What the known_hosts entries say about a host key.
 *
 * - `match`: a plain entry for this host has exactly this key.
 * - `unknown`: no plain entry names this host (OpenSSH: "The authenticity of host … can't be
 *   established").
 * - `mismatch`: the host has plain entries, none with this key (OpenSSH: "REMOTE HOST
 *   IDENTIFICATION HAS CHANGED"). This includes a key of a type not yet known for the host: if
 *   `knownTypes` does not contain the offered key's type, the server offered a different key type,
 *   which OpenSSH rejects all the same (see {@link checkHostKey}). `lines` are the entries' lines.
 * - `revoked`: an `@revoked` entry for this host lists this key.
 */
export type HostKeyVerdict =
  | { kind: "match" }
  | { kind: "unknown" }
  | { kind: "mismatch"; knownTypes: string[]; lines: number[] }
  | { kind: "revoked"; line: number };

/**
 * Parses the text of a known_hosts file. Comments, blank lines and lines OpenSSH would reject
 * (bad marker, bad hashed name, missing or undecodable key, key blob whose type differs from the
 * written type) are skipped, as `ssh` skips them.
 *
 * @example
 * ```ts
 * const entries = parseKnownHosts("node1,node2 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI...\n");
 * ```
 */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const entry = parseLine(lines[i] ?? "", i + 1);
    if (entry !== undefined) entries.push(entry);
  }
  return entries;
}

/**
 * Reads and parses a known_hosts file. A missing file is an empty one, as for `ssh`; other read
 * errors (permissions, a directory) are thrown as they are.
 *
 * @example
 * ```ts
 * const entries = await readKnownHosts(join(homedir(), ".ssh", "known_hosts"));
 * ```
 */
export async function readKnownHosts(path: string): Promise<KnownHostEntry[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return parseKnownHosts(text);
}

/**
 * The name OpenSSH looks a host up by: `host` for port 22, `[host]:port` otherwise, ASCII letters
 * lowercased (ssh lowercases the host name it was given).
 *
 * @example
 * ```ts
 * knownHostsName("Node1", 2222); // "[node1]:2222"
 * ```
 */
export function knownHostsName(host: string, port: number): string {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer from 0 to 65535, got ${String(port)}`);
  }
  const name = asciiLowercase(host);
  // Like OpenSSH's put_host_port, port 0 means "no port".
  return port === 0 || port === DEFAULT_PORT ? name : `[${name}]:${port}`;
}

/**
 * A host field in OpenSSH's hashed form (`HashKnownHosts yes`, `ssh-keygen -H`):
 * `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, with a fresh random 20-byte salt unless one is
 * given. `name` is a {@link knownHostsName} (`host`, or `[host]:port` for a port other than 22).
 *
 * @example
 * ```ts
 * hashedHostName(knownHostsName("node1", 2222)); // "|1|kDn1…=|rB3x…="
 * ```
 */
export function hashedHostName(name: string, salt: Buffer = randomBytes(SHA1_BYTES)): string {
  const hmac = createHmac("sha1", salt).update(name, "utf8").digest("base64");
  return `${HASH_MAGIC}${salt.toString("base64")}|${hmac}`;
}

/**
 * All entries, with or without marker, whose host field matches the host — what
 * `ssh-keygen -F knownHostsName(host, port)` lists.
 *
 * @example
 * ```ts
 * for (const e of entriesForHost(entries, "node1", 22)) console.log(e.line, e.keyType);
 * ```
 */
export function entriesForHost(entries: KnownHostEntry[], host: string, port: number): KnownHostEntry[] {
  const name = knownHostsName(host, port);
  return entries.filter((entry) => namesMatch(entry.hosts, name));
}

/**
 * Checks a server's host key as `ssh` does:
 *
 * 1. Look at the entries whose host field matches `host` (port 22) or `[host]:port`.
 * 2. If an `@revoked` entry among them has this key: `revoked`, whatever else is known.
 * 3. If a plain entry has this key: `match`.
 * 4. If there are plain entries but none has this key: `mismatch` — also when they are all of
 *    other key types. OpenSSH compares the offered key with every plain key of the host, whatever
 *    the type, and reports any difference as a changed host key; otherwise an attacker could
 *    offer a key of a type the client has not recorded yet. (`show_other_keys`, the "keys of
 *    different type are already known" message, is effectively unreachable for that reason.)
 *    OpenSSH avoids this case by asking for known key types first; see {@link knownKeyTypes}.
 * 5. Otherwise `unknown`. For a port other than 22, OpenSSH then also accepts the key if it is
 *    listed for the bare `host` (it retries "without port identifier"), so that is a `match`.
 *    A key that is `@revoked` for the bare host is reported `revoked` here; OpenSSH would say
 *    "unknown" in that case, which with `accept-new` would let the key in.
 *
 * `@cert-authority` entries play no part: only plain keys are checked.
 *
 * @example
 * ```ts
 * const verdict = checkHostKey(await readKnownHosts(path), "node1", 22, key);
 * if (verdict.kind !== "match") throw new Error(`host key ${fingerprintSha256(key)}: ${verdict.kind}`);
 * ```
 */
export function checkHostKey(entries: KnownHostEntry[], host: string, port: number, keyBlob: Buffer): HostKeyVerdict {
  const verdict = verdictForName(entries, knownHostsName(host, port), keyBlob);
  if (verdict.kind === "unknown" && port !== 0 && port !== DEFAULT_PORT) {
    const bare = verdictForName(entries, knownHostsName(host, DEFAULT_PORT), keyBlob);
    if (bare.kind === "match" || bare.kind === "revoked") return bare;
  }
  return verdict;
}

/**
 * The key types of the plain entries for this host, each once, in file order. OpenSSH moves the
 * host key algorithms of these types to the front of its proposal, so that a server with several
 * host keys presents one the client can verify; do the same with ssh2's `algorithms.serverHostKey`.
 * Type `ssh-rsa` stands for the algorithms `rsa-sha2-512`, `rsa-sha2-256` and `ssh-rsa`; the other
 * types are their own algorithm names. Like OpenSSH this looks only at `[host]:port` for a port
 * other than 22, not at the bare host.
 *
 * @example
 * ```ts
 * knownKeyTypes(entries, "node1", 22); // ["ssh-ed25519", "ssh-rsa"]
 * ```
 */
export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const types: string[] = [];
  for (const entry of entriesForHost(entries, host, port)) {
    if (entry.marker === undefined && !types.includes(entry.keyType)) types.push(entry.keyType);
  }
  return types;
}

/**
 * The SHA-256 fingerprint of a public key blob as `ssh-keygen -l` and `ssh` print it.
 *
 * @example
 * ```ts
 * fingerprintSha256(key); // "SHA256:D7TtqA55rIwFhyQzC4kWZNWSKxKNdDD7PXKvsTSA9Q0"
 * ```
 */
export function fingerprintSha256(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

const DEFAULT_PORT = 22;
const HASH_MAGIC = "|1|";
const SHA1_BYTES = 20;
/** match_pattern_list copies each subpattern into a 1024-byte buffer and fails on longer ones. */
const MAX_SUBPATTERN_BYTES = 1023;

function verdictForName(entries: KnownHostEntry[], name: string, keyBlob: Buffer): HostKeyVerdict {
  const candidates = entries.filter((entry) => namesMatch(entry.hosts, name));
  const revoked = candidates.find((e) => e.marker === "@revoked" && e.keyBlob.equals(keyBlob));
  if (revoked !== undefined) return { kind: "revoked", line: revoked.line };
  const plain = candidates.filter((e) => e.marker === undefined);
  if (plain.some((e) => e.keyBlob.equals(keyBlob))) return { kind: "match" };
  if (plain.length === 0) return { kind: "unknown" };
  const knownTypes: string[] = [];
  for (const e of plain) if (!knownTypes.includes(e.keyType)) knownTypes.push(e.keyType);
  return { kind: "mismatch", knownTypes, lines: plain.map((e) => e.line) };
}

/** `name` is already lowercased (see knownHostsName). */
function namesMatch(hosts: KnownHostNames, name: string): boolean {
  // OpenSSH re-encodes salt and HMAC and compares the whole field as a string.
  if (hosts.kind === "hashed") return hashedHostName(name, hosts.salt) === hosts.text;
  // match_pattern_list: a negated pattern that matches wins; otherwise any positive one.
  const subject = bytesOf(name);
  let positive = false;
  for (const { pattern, negated } of hosts.patterns) {
    const bytes = bytesOf(pattern);
    if (bytes.length >= MAX_SUBPATTERN_BYTES) return false;
    if (globMatch(subject, bytes)) {
      if (negated) return false;
      positive = true;
    }
  }
  return positive;
}

/** OpenSSH matches bytes; a latin1 string of the UTF-8 bytes makes `?` match one byte as well. */
function bytesOf(text: string): string {
  return Buffer.from(text, "utf8").toString("latin1");
}

function parseLine(text: string, line: number): KnownHostEntry | undefined {
  let rest = skipBlanks(text);
  if (rest === "" || rest.startsWith("#")) return undefined;

  // check_markers. Quirk kept: the marker ends at the first space of the line, and only if there
  // is none at the first tab, so "@revoked<TAB>host key" with a space later is an invalid marker.
  let marker: KnownHostEntry["marker"];
  while (rest.startsWith("@")) {
    if (marker !== undefined) return undefined;
    let end = rest.indexOf(" ");
    if (end < 0) end = rest.indexOf("\t");
    if (end <= 1 || end >= 32) return undefined;
    const word = rest.slice(0, end);
    if (word === "@cert-authority" || word === "@revoked") marker = word;
    else return undefined;
    rest = skipBlanks(rest.slice(end));
  }

  const [hostField, afterHosts] = splitToken(rest);
  rest = skipBlanks(afterHosts);
  if (rest === "" || rest.startsWith("#")) return undefined;
  const hosts = parseHostField(hostField);
  if (hosts === undefined) return undefined;

  // sshkey_read: a type, blanks, a base64 blob; anything after it is a comment.
  const [keyType, afterType] = splitToken(rest);
  if (afterType === "") return undefined;
  const [blobText] = splitToken(skipBlanks(afterType));
  if (blobText === "") return undefined;
  const keyBlob = decodeBase64Strict(blobText);
  if (keyBlob === undefined || blobKeyType(keyBlob) !== keyType) return undefined;

  const entry: KnownHostEntry = { hosts, keyType, keyBlob, line };
  if (marker !== undefined) entry.marker = marker;
  return entry;
}

function parseHostField(field: string): KnownHostNames | undefined {
  if (field.startsWith("|")) {
    // extract_salt: "|1|", a base64 salt of SHA-1 size, "|". A bad one makes the line invalid;
    // the rest is only ever compared as text.
    if (!field.startsWith(HASH_MAGIC)) return undefined;
    const end = field.indexOf("|", HASH_MAGIC.length);
    if (end < 0) return undefined;
    const saltText = field.slice(HASH_MAGIC.length, end);
    if (saltText.length === 0 || saltText.length > 1024) return undefined;
    const salt = decodeBase64Strict(saltText);
    if (salt === undefined || salt.length !== SHA1_BYTES) return undefined;
    return { kind: "hashed", salt, text: field };
  }
  // match_pattern_list's split: "!" only directly after a comma; empty elements are kept (they
  // match only an empty name); one trailing comma ends the list.
  const patterns: HostPattern[] = [];
  let i = 0;
  while (i < field.length) {
    const negated = field[i] === "!";
    if (negated) i++;
    let end = field.indexOf(",", i);
    if (end < 0) end = field.length;
    patterns.push({ pattern: asciiLowercase(field.slice(i, end)), negated });
    i = end + 1;
  }
  return { kind: "patterns", patterns };
}

/**
 * The type name a wire-format key starts with, if the key is well formed. For the plain key types
 * this checks the fields sshkey_fromb checks (count, sizes, curve name, no bytes left over), but
 * not the numbers themselves (RSA modulus size, point on curve). Other types (certificates, types
 * newer than this code) only need a type name and something after it.
 */
function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const typeEnd = 4 + blob.readUInt32BE(0);
  if (typeEnd === 4 || typeEnd >= blob.length) return undefined;
  const type = blob.toString("latin1", 4, typeEnd);
  const shape = KEY_SHAPES[type];
  if (shape === undefined) return type;
  const fields = splitStrings(blob.subarray(typeEnd));
  return fields !== undefined && shape(fields) ? type : undefined;
}

type KeyShape = (fields: Buffer[]) => boolean;

const ecdsaShape =
  (curve: string, pointBytes: number, sk: boolean): KeyShape =>
  (f) =>
    f.length === (sk ? 3 : 2) &&
    f[0]?.toString("latin1") === curve &&
    f[1]?.length === pointBytes &&
    f[1][0] === 0x04; // OpenSSH takes uncompressed points only

const KEY_SHAPES: Record<string, KeyShape | undefined> = {
  "ssh-ed25519": (f) => f.length === 1 && f[0]?.length === 32,
  "sk-ssh-ed25519@openssh.com": (f) => f.length === 2 && f[0]?.length === 32,
  "ssh-rsa": (f) => f.length === 2,
  "ssh-dss": (f) => f.length === 4,
  "ecdsa-sha2-nistp256": ecdsaShape("nistp256", 65, false),
  "ecdsa-sha2-nistp384": ecdsaShape("nistp384", 97, false),
  "ecdsa-sha2-nistp521": ecdsaShape("nistp521", 133, false),
  "sk-ecdsa-sha2-nistp256@openssh.com": ecdsaShape("nistp256", 65, true),
};

/** The blob as a sequence of SSH strings, if it is exactly that. */
function splitStrings(blob: Buffer): Buffer[] | undefined {
  const fields: Buffer[] = [];
  let offset = 0;
  while (offset < blob.length) {
    if (offset + 4 > blob.length) return undefined;
    const end = offset + 4 + blob.readUInt32BE(offset);
    if (end > blob.length) return undefined;
    fields.push(blob.subarray(offset + 4, end));
    offset = end;
  }
  return fields;
}

/**
 * Base64 as OpenSSH's b64_pton reads it: whitespace ignored, padding required, and the unused
 * bits of the last character zero (Node's decoder would accept all of these).
 */
function decodeBase64Strict(text: string): Buffer | undefined {
  const compact = text.replace(/[ \t\n\v\f\r]/g, "");
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(compact)) return undefined;
  const bytes = Buffer.from(compact, "base64");
  return bytes.toString("base64") === compact ? bytes : undefined;
}

function skipBlanks(text: string): string {
  let i = 0;
  while (text[i] === " " || text[i] === "\t") i++;
  return text.slice(i);
}

/** Splits at the first space or tab: the token and everything from that blank on. */
function splitToken(text: string): [string, string] {
  const match = /[ \t]/.exec(text);
  return match === null ? [text, ""] : [text.slice(0, match.index), text.slice(match.index)];
}

function asciiLowercase(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}
