import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { lookup } from "node:dns/promises";
import ssh2 from "ssh2";
import type { AnyAuthMethod, Client as SshClient, ClientChannel, ConnectConfig, ServerHostKeyAlgorithm } from "ssh2";
import { MalocherError } from "@malocher/protocol";
import { checkHostKey, fingerprintSha256, hashedHostName, knownHostsName, knownKeyTypes, readKnownHosts, type HostKeyVerdict } from "./known-hosts.js";
import type { NodeTarget } from "./node-target.js";
import { translateSshError } from "./translate-ssh-error.js";
import { decryptKeyAtPrompt } from "./prompt-key-passphrase.js";

const { Client, utils } = ssh2;

/** How long to keep trying a machine that cannot be reached, before giving up on it. */
const UNREACHABLE_RETRY_MS = 5000;

/** Host key algorithms ssh2 supports, in its default order. */
const HOST_KEY_ALGORITHMS: ServerHostKeyAlgorithm[] = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

/**
 * Opens an SSH connection to one machine: host key verified against known_hosts, keys offered
 * in OpenSSH's order, TCP no-delay on. Errors come out as {@link MalocherError}s that say what
 * to do; only an unreachable machine is retried (for a few seconds), key and auth errors are final.
 */
/** Connections whose host key did not match known_hosts and was taken anyway (StrictHostKeyChecking no), with the key. */
const acceptedChangedKeys = new WeakMap<SshClient, string>();

/**
 * The host key a connection was made with although it differs from the one in known_hosts
 * (accepted only under StrictHostKeyChecking no), or undefined for a checked key. Like OpenSSH,
 * Malocher then opens no port forward over it: its agent talks over the SSH session (stdio).
 */
export function changedHostKeyOf(client: SshClient): string | undefined {
  return acceptedChangedKeys.get(client);
}

export async function connectSsh(target: NodeTarget, signal?: AbortSignal, retryMs: number = UNREACHABLE_RETRY_MS): Promise<SshClient> {
  const knownHosts = await readKnownHosts(target.knownHostsFile);
  // The name first: a typo is "unknown host", not a complaint about keys (reached through a jump host, the hop resolves it).
  if (target.via === undefined) await resolveHostName(target);
  const auth = await authMethods(target);
  // ProxyJump: the hop is connected (through its own hops) first; this machine is then reached
  // over a direct-tcpip channel of the hop's connection, which ends when this one closes.
  const jump = target.via === undefined ? undefined : await connectSsh(target.via, signal, retryMs);
  const deadline = Date.now() + retryMs;
  try {
    for (let delay = 200; ; delay = Math.min(delay * 2, 1000)) {
      signal?.throwIfAborted();
      try {
        const sock = jump === undefined ? undefined : await forwardThrough(jump, target);
        const client = await connectOnce(target, knownHosts, auth, sock);
        if (signal?.aborted) {
          client.end();
          signal.throwIfAborted();
        }
        if (jump !== undefined) client.once("close", () => jump.end());
        return client;
      } catch (error) {
        const retryable = error instanceof MalocherError && error.code === "SSH_UNREACHABLE";
        if (!retryable || Date.now() + delay > deadline) throw error;
        await abortableDelay(delay, signal);
      }
    }
  } catch (error) {
    jump?.end();
    throw error;
  }
}

/** Resolves the target's host name as the connection will, refusing a name no resolver knows with "unknown host". */
async function resolveHostName(target: NodeTarget): Promise<void> {
  try {
    await lookup(target.host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOTFOUND" && code !== "EAI_NONAME" && code !== "EAI_FAIL") return; // the connection says what else is wrong
    const alias = target.label === target.host || target.label.startsWith(`${target.host}:`) || target.label.includes(`@${target.host}`) ? "" : ` (${target.label})`;
    throw new MalocherError(
      "SSH_UNREACHABLE",
      `Unknown host ${target.host}${alias}: the name does not resolve (getaddrinfo ${code}). Check its spelling, the HostName of your SSH config, /etc/hosts or DNS.`,
      { cause: error },
    );
  }
}

/** A channel from the jump host to the target's sshd, to run the target's SSH connection over. */
function forwardThrough(jump: SshClient, target: NodeTarget): Promise<ClientChannel> {
  const via = target.via as NodeTarget;
  return new Promise((resolve, reject) => {
    jump.forwardOut("127.0.0.1", 0, target.host, target.port, (error, channel) => {
      if (error) {
        reject(
          new MalocherError(
            "SSH_UNREACHABLE",
            `Cannot reach ${target.label} (${target.username}@${target.host}:${target.port}) through the jump host ${via.label}: ` +
              `${error.message}. Check that ${target.host}:${target.port} is reachable from ${via.host}, and that its sshd allows TCP forwarding.`,
            { cause: error },
          ),
        );
      } else {
        resolve(channel);
      }
    });
  });
}

function abortableDelay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

function connectOnce(
  target: NodeTarget,
  knownHosts: Awaited<ReturnType<typeof readKnownHosts>>,
  auth: AnyAuthMethod[],
  sock: ClientChannel | undefined,
): Promise<SshClient> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let verdict: HostKeyVerdict | undefined;
    let offeredKey: Buffer | undefined;
    let hostKeyWriteError: Error | undefined;
    let keyAccepted = false;
    let changedKey: string | undefined;
    const preferred = knownKeyTypes(knownHosts, target.host, target.port);
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.username,
      ...(sock === undefined ? {} : { sock }),
      readyTimeout: target.readyTimeoutMs,
      keepaliveInterval: target.keepaliveIntervalMs,
      keepaliveCountMax: target.keepaliveCountMax,
      authHandler: auth,
      algorithms: {
        // Like OpenSSH: ask first for the key types known_hosts has for this host.
        serverHostKey: [
          ...HOST_KEY_ALGORITHMS.filter((algo) => preferred.includes(keyTypeOf(algo))),
          ...HOST_KEY_ALGORITHMS.filter((algo) => !preferred.includes(keyTypeOf(algo))),
        ],
      },
      hostVerifier: (key: Buffer, accept: (ok: boolean) => void) => {
        offeredKey = key;
        verdict = checkHostKey(knownHosts, target.host, target.port, key);
        const policy = target.strictHostKeyChecking;
        if (verdict.kind === "match") return accept(true);
        // A revoked key is refused whatever the policy, as by OpenSSH.
        if (verdict.kind === "revoked" || policy === "yes") return accept(false);
        if (verdict.kind === "mismatch" && policy !== "no") return accept(false);
        keyAccepted = true;
        if (verdict.kind === "mismatch") {
          // "no": warned about at the start of the run; and, as OpenSSH does, no forwarding over it.
          changedKey = describeKey(key);
          return accept(true);
        }
        // An unknown key under accept-new (or no): added to known_hosts, as ssh does.
        addKnownHost(target, key).then(
          () => accept(true),
          (error: unknown) => {
            hostKeyWriteError = error as Error;
            accept(false);
          },
        );
      },
    };
    client.once("ready", () => {
      client.removeAllListeners("error");
      client.on("error", () => {}); // later errors surface as "close" to the session
      if (changedKey !== undefined) acceptedChangedKeys.set(client, changedKey);
      resolve(client);
    });
    client.once("error", (error: Error & { level?: string }) => {
      client.end();
      if (hostKeyWriteError !== undefined) {
        reject(
          new MalocherError(
            "SSH_FAILED",
            `Cannot add the host key of ${target.label} to ${target.knownHostsFile} (StrictHostKeyChecking accept-new): ${hostKeyWriteError.message}.`,
            { cause: hostKeyWriteError },
          ),
        );
        return;
      }
      // A key the policy accepted is not the error's cause.
      const blamed = keyAccepted ? { kind: "match" as const } : verdict;
      reject(translateSshError(error, target, blamed, offeredKey && describeKey(offeredKey)));
    });
    client.connect(config);
    if (sock === undefined) client.setNoDelay(true);
  });
}

/** Appends of accept-new, one at a time, so that concurrent connections never add a key twice. */
let knownHostsWrites: Promise<void> = Promise.resolve();

/**
 * Adds the host's key to its known_hosts file in OpenSSH's format (`host` or `[host]:port`,
 * hashed under `HashKnownHosts yes`; the key type; the base64 key), unless another connection added it since the file was read.
 */
function addKnownHost(target: NodeTarget, key: Buffer): Promise<void> {
  const write = knownHostsWrites.then(async () => {
    const current = await readKnownHosts(target.knownHostsFile);
    if (checkHostKey(current, target.host, target.port, key).kind === "match") return;
    const typeLength = key.readUInt32BE(0);
    const name = knownHostsName(target.host, target.port);
    const line = `${target.hashKnownHosts ? hashedHostName(name) : name} ${key.subarray(4, 4 + typeLength).toString()} ${key.toString("base64")}\n`;
    let text = "";
    try {
      text = await readFile(target.knownHostsFile, "utf8");
    } catch {
      await mkdir(dirname(target.knownHostsFile), { recursive: true, mode: 0o700 });
    }
    await appendFile(target.knownHostsFile, text === "" || text.endsWith("\n") ? line : `\n${line}`, { mode: 0o600 });
  });
  knownHostsWrites = write.catch(() => {});
  return write;
}

/** ssh2 names RSA signature algorithms by hash; known_hosts names the key type. */
function keyTypeOf(algorithm: string): string {
  return algorithm.startsWith("rsa-sha2-") ? "ssh-rsa" : algorithm;
}

function describeKey(blob: Buffer): string {
  const typeLength = blob.readUInt32BE(0);
  return `${blob.subarray(4, 4 + typeLength).toString()} key ${fingerprintSha256(blob)}`;
}

async function authMethods(target: NodeTarget): Promise<AnyAuthMethod[]> {
  const methods: AnyAuthMethod[] = [];
  const agent = process.env["SSH_AUTH_SOCK"];
  if (target.useAgent && agent) methods.push({ type: "agent", username: target.username, agent });
  const passphrase = target.passphrase();
  for (const file of target.identityFiles) {
    let key: Buffer;
    try {
      key = await readFile(file);
    } catch (error) {
      if (target.identitySource !== "option") continue; // like ssh, which skips missing identity files
      throw new MalocherError(
        "SSH_KEY_UNREADABLE",
        `Cannot read the private key ${file} for ${target.label}: ${(error as Error).message}.`,
        { cause: error },
      );
    }
    let parsed = utils.parseKey(key);
    const encrypted = parsed instanceof Error && /encrypted|passphrase/i.test(parsed.message);
    if (encrypted && passphrase !== undefined) {
      parsed = utils.parseKey(key, passphrase);
      if (parsed instanceof Error) {
        throw new MalocherError(
          "SSH_KEY_UNREADABLE",
          `The passphrase given (MALOCHER_SSH_PASSPHRASE or sshPassphrase) does not decrypt the private key ${file} for ${target.label}: ` +
            `check it, or load the key into ssh-agent (ssh-add ${file}) and unset the passphrase.`,
        );
      }
    }
    if (encrypted && passphrase === undefined && !(target.useAgent && agent)) {
      // As ssh: asked for on the terminal, when there is one (an agent may hold the key instead).
      parsed = (await decryptKeyAtPrompt(file, key, target.keysGivenUp)) ?? parsed;
    }
    if (parsed instanceof Error) {
      // OpenSSH's default keys are only tried when usable; an agent may hold an encrypted key.
      if (target.identitySource === "default" || (encrypted && target.useAgent && agent)) continue;
      throw new MalocherError(
        "SSH_KEY_UNREADABLE",
        encrypted
          ? `The private key ${file} for ${target.label} is encrypted: set MALOCHER_SSH_PASSPHRASE (or the sshPassphrase option), ` +
              `load it into ssh-agent (ssh-add ${file}), or run from a terminal to be asked for it.`
          : `${file} is not a private key ssh2 can read (${parsed.message}).`,
      );
    }
    // The parsed key, so that an encrypted key is decrypted once (bcrypt_pbkdf takes ~0.1 s per round set).
    methods.push({ type: "publickey", username: target.username, key: parsed });
  }
  if (methods.length === 0) {
    throw new MalocherError(
      "SSH_AUTH_FAILED",
      `No key to log in to ${target.label}: none of ${target.identityFiles.join(", ")} exists and no ssh-agent is running. ` +
        `Pass sshPrivateKey (--identity), set IdentityFile in the SSH config, or start ssh-agent.`,
    );
  }
  return methods;
}
