import { readFile } from "node:fs/promises";
import ssh2 from "ssh2";
import type { AnyAuthMethod, Client as SshClient, ConnectConfig, ServerHostKeyAlgorithm } from "ssh2";
import { MalocherError } from "@malocher/protocol";
import { checkHostKey, fingerprintSha256, knownKeyTypes, readKnownHosts, type HostKeyVerdict } from "./known-hosts.js";
import type { NodeTarget } from "./node-target.js";
import { translateSshError } from "./translate-ssh-error.js";

const { Client, utils } = ssh2;

/** How long to keep trying a machine that cannot be reached, before giving up on it. */
const UNREACHABLE_RETRY_MS = 5000;
const HANDSHAKE_TIMEOUT_MS = 15000;

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
export async function connectSsh(target: NodeTarget, signal?: AbortSignal, retryMs: number = UNREACHABLE_RETRY_MS): Promise<SshClient> {
  const knownHosts = await readKnownHosts(target.knownHostsFile);
  const auth = await authMethods(target);
  const deadline = Date.now() + retryMs;
  for (let delay = 200; ; delay = Math.min(delay * 2, 1000)) {
    signal?.throwIfAborted();
    try {
      const client = await connectOnce(target, knownHosts, auth);
      if (signal?.aborted) {
        client.end();
        signal.throwIfAborted();
      }
      return client;
    } catch (error) {
      const retryable = error instanceof MalocherError && error.code === "SSH_UNREACHABLE";
      if (!retryable || Date.now() + delay > deadline) throw error;
      await abortableDelay(delay, signal);
    }
  }
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
): Promise<SshClient> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let verdict: HostKeyVerdict | undefined;
    let offeredKey: Buffer | undefined;
    const preferred = knownKeyTypes(knownHosts, target.host, target.port);
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.username,
      readyTimeout: HANDSHAKE_TIMEOUT_MS,
      keepaliveInterval: 5000,
      authHandler: auth,
      algorithms: {
        // Like OpenSSH: ask first for the key types known_hosts has for this host.
        serverHostKey: [
          ...HOST_KEY_ALGORITHMS.filter((algo) => preferred.includes(keyTypeOf(algo))),
          ...HOST_KEY_ALGORITHMS.filter((algo) => !preferred.includes(keyTypeOf(algo))),
        ],
      },
      hostVerifier: (key: Buffer) => {
        offeredKey = key;
        verdict = checkHostKey(knownHosts, target.host, target.port, key);
        return verdict.kind === "match";
      },
    };
    client.once("ready", () => {
      client.removeAllListeners("error");
      client.on("error", () => {}); // later errors surface as "close" to the session
      resolve(client);
    });
    client.once("error", (error: Error & { level?: string }) => {
      client.end();
      reject(translateSshError(error, target, verdict, offeredKey && describeKey(offeredKey)));
    });
    client.connect(config);
    client.setNoDelay(true);
  });
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
  for (const file of target.identityFiles) {
    let key: Buffer;
    try {
      key = await readFile(file);
    } catch (error) {
      if (!target.explicitIdentity) continue;
      throw new MalocherError(
        "SSH_KEY_UNREADABLE",
        `Cannot read the private key ${file} for ${target.label}: ${(error as Error).message}.`,
        { cause: error },
      );
    }
    const parsed = utils.parseKey(key);
    if (parsed instanceof Error) {
      if (!target.explicitIdentity) continue;
      const encrypted = /encrypted|passphrase/i.test(parsed.message);
      throw new MalocherError(
        "SSH_KEY_UNREADABLE",
        encrypted
          ? `The private key ${file} is encrypted; load it into ssh-agent (ssh-add ${file}) and leave sshPrivateKey unset.`
          : `${file} is not a private key ssh2 can read (${parsed.message}).`,
      );
    }
    methods.push({ type: "publickey", username: target.username, key });
  }
  if (methods.length === 0) {
    throw new MalocherError(
      "SSH_AUTH_FAILED",
      `No key to log in to ${target.label}: none of ${target.identityFiles.join(", ")} exists and no ssh-agent is running. ` +
        `Pass sshPrivateKey (--identity) or start ssh-agent.`,
    );
  }
  return methods;
}
