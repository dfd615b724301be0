/**
 * SSH and tunnel errors end to end, against real sshd nodes from the harness (issue 4): every
 * node problem a user can meet comes out as a `MalocherError` with its code and a message that
 * says what to do, the other nodes run every job, and a run with no usable node rejects instead
 * of hanging.
 *
 * Every test writes its own known_hosts from the nodes' current host keys, so no test depends on
 * another's leftovers (the harness's `knownHosts` goes stale once `changeHostKey` ran).
 */
import { strict as assert } from "node:assert";
import { execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { appendFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { WebSocket } from "ws";
import { Malocher, MalocherError, type JobResult, type ProcessAllOptions, type RunEvent } from "malocher";
import {
  agentAuthorization,
  MALOCHER_VERSION,
  PROTOCOL_VERSION,
  decodeSupervisorMessage,
  encodeMessage,
  type HelloMessage,
} from "@malocher/protocol";
// Internal, allowed for the tunnel-token test only: the token check has no other handle.
import { AgentServer } from "../packages/supervisor/dist/cluster/agent-server.js";
import { startSshNodes, type SshNode, type SshNodes } from "./harness/sshd-nodes.js";
import { double } from "./fixtures/ssh/jobs.js";
import { collect } from "./support/results.js";
import { harnessSshOptions } from "./support/ssh.js";
import { removeDir, tempDir } from "./support/temp.js";
import { within } from "./support/wait.js";

const execFileAsync = promisify(execFile);

const JOBS_MODULE = pathToFileURL(fileURLToPath(new URL("./fixtures/ssh/jobs.ts", import.meta.url))).href;
const DOUBLE_AFTER_GATE = { module: JOBS_MODULE, export: "doubleAfterGate" };
const AGENT_MAIN = fileURLToPath(new URL("../packages/agent/dist/bundle/main.js", import.meta.url));

/** Key and auth errors are final at once; this is generous for "at once". */
const FINAL_AT_ONCE_MS = 3_000;
/** Unreachable nodes are retried "a few seconds" (5 s in the library) before they count as failed. */
const RETRIED_AT_LEAST_MS = 2_000;
/** Upper bound for one run in these tests. */
const RUN_DEADLINE_MS = 25_000;
const TEST_TIMEOUT_MS = 40_000;

let cluster: SshNodes;
let n0: SshNode;
let n1: SshNode;
let n2: SshNode;

before(async () => {
  cluster = await startSshNodes(3);
  [n0, n1, n2] = cluster.nodes as [SshNode, SshNode, SshNode];
});

after(async () => {
  await cluster?.close();
});

/** This test's temp directory: the Malocher directory, its known_hosts, its gate file. */
let root: string;
let malocher: Malocher;

beforeEach(async () => {
  root = tempDir("ssh-errors");
  malocher = new Malocher({ dir: join(root, "malocher") });
});

afterEach(async () => {
  removeDir(root);
});

// ---------------------------------------------------------------------------------------------
// helpers

/** `[addr]:port type key` for the node's current host key. */
function knownHostsLine(node: SshNode): string {
  const [type, key] = readFileSync(`${node.hostKeyPath}.pub`, "utf8").trim().split(/\s+/);
  return `[${node.address}]:${node.port} ${type} ${key}\n`;
}

/** Writes `root/known_hosts` with exactly these nodes' current host keys. */
async function knownHostsWith(nodes: SshNode[]): Promise<string> {
  const file = join(root, "known_hosts");
  await writeFile(file, nodes.map(knownHostsLine).join(""), { mode: 0o600 });
  return file;
}

/** The fingerprint `ssh-keygen -l` shows for the node's current host key. */
function fingerprint(node: SshNode): string {
  const [, key] = readFileSync(`${node.hostKeyPath}.pub`, "utf8").trim().split(/\s+/);
  const digest = createHash("sha256").update(Buffer.from(key!, "base64")).digest("base64");
  return `SHA256:${digest.replace(/=+$/, "")}`;
}

/** processAll options for these machines with the harness's user and key. */
function sshOptions(sshMachines: string[], knownHosts: string, more: Omit<ProcessAllOptions, "dir"> = {}): Omit<ProcessAllOptions, "dir"> {
  return { ...harnessSshOptions(cluster), sshMachines, knownHosts, slots: 2, ...more };
}

/** Asserts that exactly the jobs `inputs` (jobId → x) finished, each ok with 2x, on one of `hosts`. */
function assertAllDoubled(results: Map<string, JobResult>, inputs: Map<string, number>, hosts: string[]): void {
  assert.deepEqual([...results.keys()].sort(), [...inputs.keys()].sort(), "every submitted job yields exactly one result");
  for (const [jobId, result] of results) {
    assert.ok(result.ok, `job ${jobId} failed on ${result.host}: ${result.ok ? "" : result.error.message}`);
    assert.equal(result.value, 2 * inputs.get(jobId)!, `job ${jobId}'s value`);
    assert.equal(result.jobId, jobId);
    assert.ok(hosts.includes(result.host), `job ${jobId} ran on ${JSON.stringify(result.host)}, expected one of ${JSON.stringify(hosts)}`);
    assert.ok(result.attempts >= 1, `job ${jobId} has attempts ${result.attempts}`);
    assert.equal(typeof result.durationMs, "number");
  }
}

interface NodeFailure {
  /** What the `failed` event carried (checked after the run: a throw in onEvent would hit the library). */
  error: MalocherError;
  /** Milliseconds from the start of the iteration to the node's `failed` event. */
  afterMs: number;
}

/**
 * Runs `count` jobs that each wait for a gate file, on `machines`. The gate opens once every
 * machine in `expectFailed` has failed (or once any other machine fails, so that the run ends and
 * the test reports it), so the good nodes demonstrably go on after the bad ones were refused.
 */
async function runPastFailures(
  machines: string[],
  expectFailed: string[],
  options: Omit<ProcessAllOptions, "dir">,
  count = 12,
): Promise<{ results: Map<string, JobResult>; inputs: Map<string, number>; failures: Map<string, NodeFailure> }> {
  const gate = join(root, "gate");
  const inputs = new Map<string, number>();
  for (let x = 0; x < count; x++) inputs.set(malocher.submit(DOUBLE_AFTER_GATE, x, gate), x);
  const failures = new Map<string, NodeFailure>();
  const startedAt = Date.now();
  const onEvent = (event: RunEvent) => {
    if (event.type !== "node" || event.state !== "failed") return;
    failures.set(event.host, { error: event.error!, afterMs: Date.now() - startedAt });
    const unexpected = !expectFailed.includes(event.host);
    if (unexpected || expectFailed.every((host) => failures.has(host))) writeFileSync(gate, "");
  };
  const results = await within(
    collect(malocher.processAll({ ...options, sshMachines: machines, onEvent })),
    RUN_DEADLINE_MS,
    "the run",
  );
  assert.deepEqual(
    [...failures.keys()].sort(),
    [...expectFailed].sort(),
    `failed nodes: ${[...failures].map(([host, f]) => `${host}: [${f.error?.code}] ${f.error?.message}`).join("; ")}`,
  );
  for (const [host, failure] of failures) {
    assert.ok(failure.error instanceof MalocherError, `the failed event of ${host} carries a MalocherError`);
  }
  return { results, inputs, failures };
}

/** The first `next()` of a run, which should reject. */
function firstNext(options: Omit<ProcessAllOptions, "dir">): Promise<IteratorResult<[string, JobResult]>> {
  return malocher.processAll(options)[Symbol.asyncIterator]().next();
}

// ---------------------------------------------------------------------------------------------
// the happy path

test("3 nodes run 30 jobs; each result names its machine exactly as given", { timeout: TEST_TIMEOUT_MS }, async () => {
  const knownHosts = await knownHostsWith([n0, n1, n2]);
  // One machine written as user@host:port: `host` must still be the entry exactly as written.
  const machines = [n0.machine, `${cluster.user}@${n1.machine}`, n2.machine];
  const inputs = new Map<string, number>();
  for (let x = 0; x < 30; x++) inputs.set(malocher.submit(double, x), x);
  const failed: string[] = [];
  const results = await within(
    collect(
      malocher.processAll(
        sshOptions(machines, knownHosts, {
          onEvent: (event) => {
            if (event.type === "node" && event.state === "failed") failed.push(`${event.host}: ${event.error?.message}`);
          },
        }),
      ),
    ),
    RUN_DEADLINE_MS,
    "the run",
  );
  assertAllDoubled(results, inputs, machines);
  assert.deepEqual(failed, [], "no node failed");
});

// ---------------------------------------------------------------------------------------------
// host keys

test("a node whose host key is not in known_hosts is refused with SSH_HOST_KEY_UNKNOWN; the others run every job", { timeout: TEST_TIMEOUT_MS }, async () => {
  const knownHosts = await knownHostsWith([n1, n2]);
  const machines = [n0.machine, n1.machine, n2.machine];
  const { results, inputs, failures } = await runPastFailures(machines, [n0.machine], sshOptions(machines, knownHosts));
  const failure = failures.get(n0.machine)!;
  assert.equal(failure.error.code, "SSH_HOST_KEY_UNKNOWN", failure.error.message);
  assert.ok(failure.error.message.includes(knownHosts), `names the known_hosts file: ${failure.error.message}`);
  assert.ok(failure.error.message.includes(fingerprint(n0)), `shows the offered key's fingerprint: ${failure.error.message}`);
  assert.match(failure.error.message, /ssh-keyscan|ssh /, "says how to add the key");
  assert.ok(failure.afterMs < FINAL_AT_ONCE_MS, `a host key error is final at once, not retried (took ${failure.afterMs} ms)`);
  assertAllDoubled(results, inputs, [n1.machine, n2.machine]);
});

test("when the only node has an unknown host key, the first next() rejects with NO_USABLE_NODES", { timeout: TEST_TIMEOUT_MS }, async () => {
  const knownHosts = await knownHostsWith([n1, n2]);
  malocher.submit(double, 1);
  await assert.rejects(within(firstNext(sshOptions([n0.machine], knownHosts)), RUN_DEADLINE_MS, "the first next()"), (error: unknown) => {
    assert.ok(error instanceof MalocherError, `a MalocherError, got ${String(error)}`);
    assert.equal(error.code, "NO_USABLE_NODES", error.message);
    assert.equal(error.errors.length, 1, "one error per node");
    assert.equal(error.errors[0]!.code, "SSH_HOST_KEY_UNKNOWN", error.errors[0]!.message);
    assert.ok(error.message.includes(n0.machine), `names the node: ${error.message}`);
    assert.match(error.message, /known_hosts/, "says how to fix it");
    assert.match(error.message, /ssh-keyscan/, "says how to fix it");
    return true;
  });
  // Nothing ran, nothing was marked failed: the job is still waiting for a usable node.
  assert.equal((await collect(malocher.results())).size, 0);
});

test("hashed known_hosts names (ssh-keygen -H) and several keys per host are accepted", { timeout: TEST_TIMEOUT_MS }, async () => {
  // n0: a stale ECDSA key first, then its real ed25519 key. n1: only an ed25519 key that is not its own.
  const stale = join(root, "stale_ecdsa");
  await execFileAsync("ssh-keygen", ["-q", "-t", "ecdsa", "-N", "", "-f", stale]);
  const [staleType, staleKey] = readFileSync(`${stale}.pub`, "utf8").trim().split(/\s+/);
  const knownHosts = join(root, "known_hosts");
  await writeFile(
    knownHosts,
    `[${n0.address}]:${n0.port} ${staleType} ${staleKey}\n` + knownHostsLine(n0) + knownHostsLine(n2).replace(n2.address, n1.address),
  );
  await execFileAsync("ssh-keygen", ["-H", "-f", knownHosts], { timeout: 10_000 });
  assert.ok(!readFileSync(knownHosts, "utf8").includes(n0.address), "the names are hashed");

  const machines = [n0.machine, n1.machine];
  const { results, inputs, failures } = await runPastFailures(machines, [n1.machine], sshOptions(machines, knownHosts), 4);
  assert.equal(failures.get(n1.machine)!.error.code, "SSH_HOST_KEY_MISMATCH", "a hashed entry with another key is still a mismatch");
  assertAllDoubled(results, inputs, [n0.machine]);
});

// ---------------------------------------------------------------------------------------------
// client keys

test("a wrong key or user gives SSH_AUTH_FAILED and a missing key file SSH_KEY_UNREADABLE; the good node runs every job", { timeout: TEST_TIMEOUT_MS }, async () => {
  const knownHosts = await knownHostsWith([n0, n1, n2]);
  // A fourth entry for n1's address, with a user that does not exist there.
  const wrongUser = `no-such-user@${n1.machine}`;
  const machines = [n0.machine, n1.machine, n2.machine, wrongUser];
  const missingKey = join(root, "no-such-key");
  const { results, inputs, failures } = await runPastFailures(
    machines,
    [n1.machine, n2.machine, wrongUser],
    sshOptions(machines, knownHosts, { sshPrivateKey: [cluster.privateKey, cluster.wrongKey, missingKey, cluster.privateKey] }),
  );

  const auth = failures.get(n1.machine)!;
  assert.equal(auth.error.code, "SSH_AUTH_FAILED", auth.error.message);
  assert.ok(auth.error.message.includes(cluster.user), `names the user: ${auth.error.message}`);
  assert.ok(auth.error.message.includes(cluster.wrongKey), `names the key file: ${auth.error.message}`);
  assert.match(auth.error.message, /authorized_keys/, "says where the public key must be");
  assert.ok(auth.afterMs < FINAL_AT_ONCE_MS, `an auth error is final at once (took ${auth.afterMs} ms)`);

  const user = failures.get(wrongUser)!;
  assert.equal(user.error.code, "SSH_AUTH_FAILED", user.error.message);
  assert.ok(user.error.message.includes("no-such-user"), `names the user: ${user.error.message}`);
  assert.ok(user.afterMs < FINAL_AT_ONCE_MS, `an auth error is final at once (took ${user.afterMs} ms)`);

  const unreadable = failures.get(n2.machine)!;
  assert.equal(unreadable.error.code, "SSH_KEY_UNREADABLE", unreadable.error.message);
  assert.ok(unreadable.error.message.includes(missingKey), `names the missing file: ${unreadable.error.message}`);
  assert.ok(unreadable.afterMs < FINAL_AT_ONCE_MS, `a missing key is final at once (took ${unreadable.afterMs} ms)`);

  assertAllDoubled(results, inputs, [n0.machine]);
});

// ---------------------------------------------------------------------------------------------
// unreachable nodes

test("a stopped node next to a good one fails with SSH_UNREACHABLE after retrying; the good node runs every job", { timeout: TEST_TIMEOUT_MS }, async () => {
  const knownHosts = await knownHostsWith([n0, n1]);
  const machines = [n0.machine, n1.machine];
  await cluster.stopNode(1);
  try {
    const { results, inputs, failures } = await runPastFailures(machines, [n1.machine], sshOptions(machines, knownHosts));
    const failure = failures.get(n1.machine)!;
    assert.equal(failure.error.code, "SSH_UNREACHABLE", failure.error.message);
    assert.ok(failure.error.message.includes(n1.machine), `names the node: ${failure.error.message}`);
    assert.match(failure.error.message, /sshd/, "says to check that sshd runs there");
    assert.ok(failure.afterMs >= RETRIED_AT_LEAST_MS, `retried for a few seconds first (failed after ${failure.afterMs} ms)`);
    assertAllDoubled(results, inputs, [n0.machine]);
  } finally {
    await cluster.startNode(1);
  }
});

test("when no node can be used, the run rejects with NO_USABLE_NODES holding one error per node", { timeout: TEST_TIMEOUT_MS }, async () => {
  // n0: host key unknown; n1: wrong key; 127.0.0.9: nothing listens there.
  const knownHosts = await knownHostsWith([n1]);
  const nowhere = `127.0.0.9:${n0.port}`;
  const machines = [n0.machine, n1.machine, nowhere];
  for (let x = 0; x < 3; x++) malocher.submit(double, x);
  const startedAt = Date.now();
  await assert.rejects(
    within(firstNext(sshOptions(machines, knownHosts, { sshPrivateKey: [cluster.privateKey, cluster.wrongKey, cluster.privateKey] })), RUN_DEADLINE_MS, "the first next()"),
    (error: unknown) => {
      assert.ok(error instanceof MalocherError, `a MalocherError, got ${String(error)}`);
      assert.equal(error.code, "NO_USABLE_NODES", error.message);
      assert.deepEqual(
        error.errors.map((e) => e.code),
        ["SSH_HOST_KEY_UNKNOWN", "SSH_AUTH_FAILED", "SSH_UNREACHABLE"],
        error.message,
      );
      for (const [i, machine] of machines.entries()) {
        assert.ok(error.errors[i]!.message.includes(machine), `error ${i} names ${machine}: ${error.errors[i]!.message}`);
        assert.ok(error.message.includes(machine), `the summary names ${machine}: ${error.message}`);
      }
      return true;
    },
  );
  assert.ok(Date.now() - startedAt < RUN_DEADLINE_MS);
  assert.equal((await collect(malocher.results())).size, 0, "no job was run or marked failed");
});

test("an empty machine list rejects with NO_USABLE_NODES instead of hanging", { timeout: TEST_TIMEOUT_MS }, async () => {
  // A child process: if the run hangs, its agent server would keep this test process alive.
  const script = fileURLToPath(new URL("./fixtures/ssh/no-machines.ts", import.meta.url));
  const { stdout, stderr, killed } = await new Promise<{ stdout: string; stderr: string; killed: boolean }>((resolve) => {
    execFile(process.execPath, ["--import", "tsx", script, malocher.dir], { timeout: 10_000, killSignal: "SIGKILL" }, (error, stdout, stderr) =>
      resolve({ stdout, stderr, killed: error?.signal === "SIGKILL" }),
    );
  });
  assert.ok(!killed, "processAll({ sshMachines: [] }) hung: the script was killed after 10 s");
  assert.notEqual(stdout.trim(), "", `the script printed how its run ended; stderr: ${stderr}`);
  const outcome = JSON.parse(stdout.trim()) as { ended: string; code?: string; message?: string };
  assert.equal(outcome.ended, "rejected", JSON.stringify(outcome));
  assert.equal(outcome.code, "NO_USABLE_NODES", JSON.stringify(outcome));
  assert.match(outcome.message ?? "", /[Nn]o machines/);
});

// ---------------------------------------------------------------------------------------------
// the tunnel

/** The HTTP status of a WebSocket upgrade with these headers, or "open" if it was accepted. */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number | "open"> {
  return within(
    new Promise((resolve) => {
      const socket = new WebSocket(url, { headers });
      socket.on("error", () => {}); // terminate() during the handshake reports one
      socket.on("unexpected-response", (_request, response) => {
        resolve(response.statusCode ?? 0);
        socket.terminate();
      });
      socket.on("open", () => {
        resolve("open");
        socket.terminate();
      });
    }),
    5_000,
    "the upgrade",
  );
}

/** An open WebSocket presenting a proof of `token` (the agent's way: the token itself never travels). */
async function openSocket(url: string, token: string): Promise<WebSocket> {
  const socket = new WebSocket(url, { headers: { authorization: agentAuthorization(token, randomBytes(18).toString("base64url")) } });
  await within(once(socket, "open"), 5_000, "the WebSocket handshake");
  return socket;
}

function hello(agentId: string, version = MALOCHER_VERSION): HelloMessage {
  return {
    type: "hello",
    agentId,
    host: "test-node",
    hostname: "test-node",
    pid: process.pid,
    slots: 1,
    version,
    protocolVersion: PROTOCOL_VERSION,
  };
}

test("the agent server refuses a wrong or missing token with 401 and closes on an agent it did not launch", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const server = await AgentServer.start();
  t.after(() => server.close());
  const url = `ws://127.0.0.1:${server.port}/`;
  const sockets: WebSocket[] = [];
  t.after(() => sockets.forEach((s) => s.terminate()));

  assert.equal(await upgradeStatus(url, { authorization: "Bearer wrong" }), 401, "wrong token");
  assert.equal(await upgradeStatus(url, {}), 401, "no authorization header");
  assert.equal(await upgradeStatus(url, { authorization: server.token }), 401, "token without the Bearer scheme");
  assert.equal(await upgradeStatus(url, { authorization: `Bearer ${server.token}x` }), 401, "token with a suffix");
  assert.equal(await upgradeStatus(url, { authorization: `Bearer ${server.token}` }), 401, "the token itself: only a proof of it is taken");

  // The right token, but a hello from an agent this server never launched: closed.
  const stranger = await openSocket(url, server.token);
  sockets.push(stranger);
  const strangerClosed = once(stranger, "close");
  stranger.send(encodeMessage(hello("never-launched")));
  const [code] = (await within(strangerClosed, 5_000, "closing the stranger")) as [number, Buffer];
  assert.equal(code, 1008, "closed as a policy violation");

  // Control: the right token and a launched agent's hello are admitted.
  const admitted = server.expect("agent-1");
  const agent = await openSocket(url, server.token);
  sockets.push(agent);
  agent.send(encodeMessage(hello("agent-1")));
  const connection = await within(admitted, 5_000, "admitting agent-1");
  assert.equal(connection.hello.agentId, "agent-1");
});

test("an agent of another version is refused with AGENT_VERSION_MISMATCH, and told why", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const server = await AgentServer.start();
  t.after(() => server.close());
  const url = `ws://127.0.0.1:${server.port}/`;
  const refused = server.expect("old-agent");
  refused.catch(() => {});
  const old = await openSocket(url, server.token);
  t.after(() => old.terminate());
  const frames: Buffer[] = [];
  old.on("message", (data: Buffer) => frames.push(data));
  const closed = once(old, "close");
  old.send(encodeMessage(hello("old-agent", "0.0.1-old")));

  await assert.rejects(within(refused, 5_000, "refusing the old agent"), (error: unknown) => {
    assert.ok(error instanceof MalocherError, `a MalocherError, got ${String(error)}`);
    assert.equal(error.code, "AGENT_VERSION_MISMATCH", error.message);
    assert.ok(error.message.includes("0.0.1-old") && error.message.includes(MALOCHER_VERSION), `names both versions: ${error.message}`);
    assert.match(error.message, /same version/, "says what to do");
    return true;
  });
  await within(closed, 5_000, "closing the old agent's connection");
  assert.ok(frames.length >= 1, "the agent is told before the connection closes");
  const stop = decodeSupervisorMessage(frames[0]!);
  assert.equal(stop.type, "stop");
  assert.match(stop.type === "stop" ? stop.reason : "", /0\.0\.1-old/);
});

test("a real agent given the wrong token gives up at once and says so", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const server = await AgentServer.start();
  t.after(() => server.close());
  malocher.submit(double, 1); // creates the shared directory the agent checks
  const agent = spawn(process.execPath, [AGENT_MAIN], { stdio: ["pipe", "ignore", "pipe"] });
  t.after(() => agent.kill("SIGKILL"));
  let stderr = "";
  agent.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(agent, "close");
  agent.stdin.write(
    `${JSON.stringify({ agentId: "a1", dir: malocher.dir, port: server.port, token: "wrong", host: "local", slots: 1, disconnectGraceMs: 30_000 })}\n`,
  );
  // Well before its 30 s grace period: a refused token is final, not a connection to retry.
  await within(exited, 10_000, "the agent's exit");
  assert.match(stderr, /refused this agent's token/, stderr);
  assert.equal((await collect(malocher.results())).size, 0, "it ran no job");
  agent.stdin.end();
});

// ---------------------------------------------------------------------------------------------
// changed host key (changes n2's key for good; later tests write known_hosts from current keys)

test("a changed host key gives SSH_HOST_KEY_MISMATCH with the ssh-keygen -R fix, which works; the other node runs every job", { timeout: TEST_TIMEOUT_MS }, async () => {
  const knownHosts = await knownHostsWith([n0, n2]);
  await cluster.changeHostKey(2);
  const machines = [n0.machine, n2.machine];
  const { results, inputs, failures } = await runPastFailures(machines, [n2.machine], sshOptions(machines, knownHosts));
  const failure = failures.get(n2.machine)!;
  assert.equal(failure.error.code, "SSH_HOST_KEY_MISMATCH", failure.error.message);
  assert.ok(failure.error.message.includes(fingerprint(n2)), `shows the new key's fingerprint: ${failure.error.message}`);
  assert.ok(failure.error.message.includes(knownHosts), `names the known_hosts file: ${failure.error.message}`);
  assert.ok(failure.afterMs < FINAL_AT_ONCE_MS, `a host key error is final at once (took ${failure.afterMs} ms)`);
  assertAllDoubled(results, inputs, [n0.machine]);

  // Do what the message says: run its ssh-keygen -R command, then trust the new key.
  const command = /`(ssh-keygen -R [^`]+)`/.exec(failure.error.message)?.[1];
  assert.ok(command !== undefined, `the message gives an ssh-keygen -R command: ${failure.error.message}`);
  await execFileAsync("sh", ["-c", command], { timeout: 10_000 });
  await appendFile(knownHosts, knownHostsLine(n2));
  const again = new Map<string, number>([[malocher.submit(double, 21), 21]]);
  const results2 = await within(collect(malocher.processAll(sshOptions([n2.machine], knownHosts))), RUN_DEADLINE_MS, "the run after the fix");
  assertAllDoubled(results2, again, [n2.machine]);
});
