import { rm } from "node:fs/promises";
import { createFile } from "@malocher/store";
import { resolve } from "node:path";
import type { Client as SshClient } from "ssh2";
import { MalocherError, directoryLayout, randomHex, type TransportKind } from "@malocher/protocol";
import { openSharedDirectory, type ClusterOptions } from "./cluster-options.js";
import { agentCommand } from "./cluster/agent-process.js";
import { changedHostKeyOf, connectSsh } from "./ssh/connect-ssh.js";
import { resolveNodeTargets, type NodeTarget } from "./ssh/node-target.js";
import { shellQuote } from "./ssh/shell-quote.js";
import { checkSlurm } from "./cluster/slurm/check-slurm.js";
import { checkSlurmOptions } from "./cluster/slurm/slurm-options.js";

/** The checks {@link checkNodes} runs on every node, in this order. */
export type NodeCheckName = "ssh" | "node" | "agent" | "shared-dir" | "writable" | "slurm";

/** The outcome of one check on one node. */
export interface NodeCheckItem {
  name: NodeCheckName;
  ok: boolean;
  /** What was found, e.g. the Node version, or what is wrong. */
  detail: string;
  /** What to do about it, when `ok` is false and there is something to say. */
  fix?: string;
}

/** Everything {@link checkNodes} found out about one node. */
export interface NodeCheck {
  /** The machine as given in `sshMachines`. */
  host: string;
  /** Whether every check passed. */
  ok: boolean;
  /** The checks run; only `ssh` when the node could not be logged in to. */
  checks: NodeCheckItem[];
  /**
   * How an agent there will talk to the supervisor: `websocket` through a forwarded port, or
   * `stdio` (its SSH session's stdin/stdout) because the node refuses port forwarding. Also said
   * in the `ssh` check's detail; absent when the node could not be logged in to.
   */
  transport?: TransportKind;
}

/** Minimum Node.js version of an agent. */
const MIN_NODE: [number, number] = [20, 19];
/** How long connecting to one node may take (handshake and retries of an unreachable one). */
const CONNECT_TIMEOUT_MS = 20_000;
/** How long the checks on a node may take once connected. */
const EXEC_TIMEOUT_MS = 15_000;
/** How long a node that cannot be reached is retried before the check gives up on it. */
const UNREACHABLE_RETRY_MS = 2_000;

/**
 * With `slurm`, asks Slurm instead whether it would accept the run's allocation (`sbatch
 * --test-only`): one entry, whose only check is `slurm`.
 *
 * Checks that every machine of `sshMachines` can run Malocher's agent, the first thing to run on
 * a new cluster: logging in over SSH (host key, user, key), this Node executable and the agent
 * script at the same paths, the shared directory being the same directory there (a file written
 * here is read back there), and writable from there. All nodes are checked in parallel, each
 * within a time limit; nothing is left running.
 *
 * @example
 * ```ts
 * for (const node of await checkNodes({ sshMachines: ["node1", "node2"], dir: "/shared/alice/jobs" })) {
 *   for (const check of node.checks) if (!check.ok) console.log(node.host, check.name, check.detail, check.fix);
 * }
 * ```
 */
export async function checkNodes(options: ClusterOptions & { dir?: string }): Promise<NodeCheck[]> {
  // The default of `Malocher` (not imported from there: malocher.ts imports this module).
  const dir = resolve(options.dir ?? (process.env["MALOCHER_DIR"] || ".malocher"));
  if (options.slurm !== undefined) {
    // With Slurm the nodes are not known before the allocation: ask Slurm whether it would give one.
    const check = await checkSlurm(dir, checkSlurmOptions(options.slurm), options.slots ?? 0, options);
    const item: NodeCheckItem = { name: "slurm", ok: check.ok, detail: check.detail, ...(check.fix === undefined ? {} : { fix: check.fix }) };
    return [{ host: `slurm (${check.where})`, ok: check.ok, checks: [item] }];
  }
  const targets = resolveNodeTargets(options);
  if (targets.length === 0) {
    throw new MalocherError("INVALID_OPTIONS", "Name the machines to check (sshMachines, --hosts).");
  }
  openSharedDirectory(dir, options);
  // One file written here that every node must read with the same content.
  const nonce = randomHex(16);
  const nonceFile = `${directoryLayout.tmpDir(dir)}/nodes-check-${randomHex(8)}`;
  await createFile(nonceFile, nonce);
  try {
    const command = agentCommand();
    return await Promise.all(targets.map((target) => checkNode(target, { dir, nonce, nonceFile, ...command })));
  } finally {
    await rm(nonceFile, { force: true });
  }
}

interface Expected {
  dir: string;
  nonce: string;
  nonceFile: string;
  node: string;
  script: string;
}

async function checkNode(target: NodeTarget, expected: Expected): Promise<NodeCheck> {
  let client: SshClient;
  try {
    client = await connectSsh(target, AbortSignal.timeout(CONNECT_TIMEOUT_MS), UNREACHABLE_RETRY_MS);
  } catch (error) {
    return finish(target, [sshFailure(error, target)]);
  }
  try {
    const changedKey = changedHostKeyOf(client);
    const transport = changedKey === undefined ? await probeTransport(client) : "stdio";
    const how =
      changedKey !== undefined
        ? "agent transport: stdio (port forwarding is disabled over a changed host key, as OpenSSH does)"
        : transport === "websocket"
          ? "agent transport: websocket (port forwarding works)"
          : "agent transport: stdio (the node refuses port forwarding, so agents talk over their SSH session's stdin/stdout)";
    const ssh: NodeCheckItem =
      changedKey === undefined
        ? { name: "ssh", ok: true, detail: `logged in as ${target.username} at ${target.host}:${target.port}; ${how}` }
        : {
            name: "ssh",
            ok: false,
            detail:
              `logged in as ${target.username} at ${target.host}:${target.port}, but its HOST KEY HAS CHANGED (now ${changedKey}) and was ` +
              `accepted only because of StrictHostKeyChecking no: whoever is on the network path may be reading and changing this session; ${how}`,
            fix: `check the new key with the node's administrator, then ssh-keygen -R ${target.port === 22 ? target.host : `'[${target.host}]:${target.port}'`} -f ${target.knownHostsFile} and connect once to record it`,
          };
    let output: Map<string, Step>;
    try {
      output = await runChecks(client, expected);
    } catch (error) {
      return { ...finish(target, [ssh, ...unchecked((error as Error).message)]), transport };
    }
    return { ...finish(target, [ssh, ...interpret(output, expected)]), transport };
  } finally {
    client.end();
  }
}

/**
 * Which transport an agent on this node will use: tries the remote forward an agent's WebSocket
 * needs (and cancels it); a refusal (`AllowTcpForwarding no`) means `stdio`.
 */
function probeTransport(client: SshClient): Promise<TransportKind> {
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => resolvePromise("stdio"), EXEC_TIMEOUT_MS);
    client.forwardIn("127.0.0.1", 0, (error, port) => {
      clearTimeout(timer);
      if (error) return resolvePromise("stdio");
      client.unforwardIn("127.0.0.1", port, () => resolvePromise("websocket"));
    });
  });
}

function finish(target: NodeTarget, checks: NodeCheckItem[]): NodeCheck {
  return { host: target.label, ok: checks.every((check) => check.ok), checks };
}

function sshFailure(error: unknown, target: NodeTarget): NodeCheckItem {
  if (!(error instanceof MalocherError)) {
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    return {
      name: "ssh",
      ok: false,
      detail: timedOut ? `could not log in within ${CONNECT_TIMEOUT_MS / 1000} s` : String((error as Error)?.message ?? error),
      ...(timedOut ? { fix: "check the host name and port, and that sshd runs there" } : {}),
    };
  }
  const fixes: Partial<Record<string, string>> = {
    SSH_HOST_KEY_UNKNOWN: `after checking its fingerprint, add the node's host key to ${target.knownHostsFile} (connect once with ssh, or ssh-keyscan)`,
    SSH_HOST_KEY_MISMATCH: `find out why the node's host key changed; only if it was reinstalled, remove the old key with ssh-keygen -R`,
    SSH_AUTH_FAILED: `check the user name (--user or user@host) and that your public key is in that user's ~/.ssh/authorized_keys on the node`,
    SSH_UNREACHABLE: "check the host name and port, and that sshd runs there",
    SSH_KEY_UNREADABLE: "check the private key file (--identity) and its passphrase",
  };
  const fix = error.message.startsWith("Unknown host ")
    ? `check the spelling of ${target.host}, the HostName of your SSH config, /etc/hosts or DNS`
    : error.message.startsWith("No key to log in")
      ? "name your private key with --identity (or IdentityFile in your SSH config), or start ssh-agent with your key"
      : fixes[error.code];
  return { name: "ssh", ok: false, detail: `[${error.code}] ${error.message}`, ...(fix === undefined ? {} : { fix }) };
}

/** When the checks could not run after logging in: each one failed, saying why. */
function unchecked(why: string): NodeCheckItem[] {
  return (["node", "agent", "shared-dir", "writable"] as const).map((name) => ({ name, ok: false, detail: `not checked: ${why}` }));
}

/** What one step of the remote script printed, and its exit status. */
interface Step {
  status: number;
  output: string;
}

/**
 * Runs every check in one shell command on the node. Each step ends with a line
 * `<marker> <step> <status>` (the marker is random, so no output can fake it).
 */
function runChecks(client: SshClient, expected: Expected): Promise<Map<string, Step>> {
  const marker = `@@malocher-${randomHex(8)}`;
  const q = shellQuote;
  const tmp = directoryLayout.tmpDir(expected.dir);
  const probe = `${tmp}/nodes-write-${randomHex(8)}`;
  const end = (step: string) => `printf '\\n%s %s %s\\n' ${q(marker)} ${step} "$?"`;
  const script = [
    `${q(expected.node)} --version 2>&1; ${end("node")}`,
    `test -r ${q(expected.script)}; ${end("agent")}`,
    `test -d ${q(expected.dir)}; ${end("dir")}`,
    `cat ${q(expected.nonceFile)} 2>&1; ${end("nonce")}`,
    `test -d ${q(tmp)} && (: > ${q(probe)}) 2>&1 && rm -f ${q(probe)} 2>&1; ${end("write")}`,
  ].join("\n");
  return new Promise((resolvePromise, reject) => {
    let stdout = "";
    let settled = false;
    const timer = setTimeout(() => settle(new Error(`the checks did not finish within ${EXEC_TIMEOUT_MS / 1000} s`)), EXEC_TIMEOUT_MS);
    function settle(error?: Error) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolvePromise(parseSteps(stdout, marker));
    }
    // Through `sh -c`, whatever the login shell is.
    client.exec(`sh -c ${q(script)}`, (error, channel) => {
      if (error) return settle(new Error(`cannot run a command on the node: ${error.message}`));
      channel.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      channel.stderr.on("data", () => {});
      channel.on("close", () => settle());
      channel.on("error", (channelError: Error) => settle(channelError));
    });
  });
}

function parseSteps(stdout: string, marker: string): Map<string, Step> {
  const steps = new Map<string, Step>();
  let from = 0;
  const pattern = new RegExp(`\\n${marker} (\\w+) (\\d+)\\n`, "g");
  for (let match = pattern.exec(stdout); match !== null; match = pattern.exec(stdout)) {
    steps.set(match[1] as string, { status: Number(match[2]), output: stdout.slice(from, match.index).trim() });
    from = match.index + match[0].length;
  }
  return steps;
}

function interpret(steps: Map<string, Step>, expected: Expected): NodeCheckItem[] {
  const missing = (name: string): Step => steps.get(name) ?? { status: -1, output: "the check did not run" };
  const node = missing("node");
  const agent = missing("agent");
  const dir = missing("dir");
  const nonce = missing("nonce");
  const write = missing("write");
  const checks: NodeCheckItem[] = [];

  const version = /^v(\d+)\.(\d+)\.\d+/.exec(node.output);
  if (node.status !== 0 || version === null) {
    checks.push({
      name: "node",
      ok: false,
      detail: node.status === 127 || node.status === 126 ? `${expected.node} is missing on the node` : `${expected.node} --version failed: ${node.output}`,
      fix: `install Node.js ≥ ${MIN_NODE.join(".")} at ${expected.node} on the node (same path as here), or put it on the shared file system`,
    });
  } else {
    const [major, minor] = [Number(version[1]), Number(version[2])];
    const recent = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
    const here = version[0] === process.version ? "" : ` (here: ${process.version})`;
    checks.push({
      name: "node",
      ok: recent,
      detail: `${expected.node} is Node.js ${version[0]}${here}`,
      ...(recent ? {} : { fix: `install Node.js ≥ ${MIN_NODE.join(".")} at ${expected.node} on the node (same path as here)` }),
    });
  }

  checks.push(
    agent.status === 0
      ? { name: "agent", ok: true, detail: `${expected.script} is there` }
      : {
          name: "agent",
          ok: false,
          detail: `the agent script ${expected.script} is not readable on the node`,
          fix: "install Malocher on the shared file system, so that it is at the same path on every node",
        },
  );

  const notMounted = `the shared directory is not mounted at ${expected.dir} on this node`;
  if (dir.status !== 0) {
    checks.push({ name: "shared-dir", ok: false, detail: `${expected.dir} does not exist on the node`, fix: notMounted });
  } else if (nonce.status !== 0 || nonce.output !== expected.nonce) {
    checks.push({
      name: "shared-dir",
      ok: false,
      detail: `${expected.dir} on the node is another directory: it does not hold the file just written here (${expected.nonceFile})`,
      fix: `${notMounted}: mount the shared file system so that ${expected.dir} is the same directory on every node`,
    });
  } else {
    checks.push({ name: "shared-dir", ok: true, detail: `${expected.dir} is the same directory as here` });
  }

  if (write.status === 0) {
    checks.push({ name: "writable", ok: true, detail: `created and removed a file in ${directoryLayout.tmpDir(expected.dir)}` });
  } else if (dir.status !== 0) {
    checks.push({ name: "writable", ok: false, detail: `not checked: ${expected.dir} does not exist on the node` });
  } else {
    checks.push({
      name: "writable",
      ok: false,
      detail: `cannot create a file in ${directoryLayout.tmpDir(expected.dir)} on the node${write.output ? `: ${write.output}` : ""}`,
      fix: "let the SSH user write to the shared directory on the node (file permissions, or a read-only mount)",
    });
  }
  return checks;
}
