/**
 * SSH the way OpenSSH does it (issue 7), against real sshd nodes from the harness: an OpenSSH
 * client config (aliases, patterns, Match, Include, IdentityFile tokens, ProxyJump,
 * StrictHostKeyChecking accept-new), a real ssh-agent and an encrypted key.
 *
 * Most tests open one SSH connection with the library's own resolution and connection code and
 * ask the server where it was reached (`$SSH_CONNECTION`); a few run jobs end to end.
 * Every config file, known_hosts file and key copy lives in the test's temp directory.
 */
import { strict as assert } from "node:assert";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect, promisify } from "node:util";
import { after, afterEach, before, beforeEach, test } from "node:test";
import type { Client as SshClient } from "ssh2";
import { Malocher, MalocherError, type JobResult } from "malocher";
// Internal, on purpose: these tests check which server one connection reached, which the public
// API does not expose.
import { connectSsh } from "../packages/supervisor/dist/ssh/connect-ssh.js";
import { resolveNodeTargets, type NodeTarget, type SshOptions } from "../packages/supervisor/dist/ssh/node-target.js";
import { startSshNodes, type SshNode, type SshNodes } from "./harness/sshd-nodes.js";
import { double } from "./fixtures/ssh/jobs.js";

const execFileAsync = promisify(execFile);
const TEST_TIMEOUT_MS = 30_000;

let cluster: SshNodes;
let n0: SshNode;
let n1: SshNode;
let n2: SshNode;
/** Node 1 of this cluster listens only where node 0 (the jump host) can reach it. */
let jumpCluster: SshNodes;
let jumpHost: SshNode;
let hidden: SshNode;

before(async () => {
  [cluster, jumpCluster] = await Promise.all([
    startSshNodes(3),
    startSshNodes(2, { behindJumpHost: { jumpHost: 0, nodes: [1] } }),
  ]);
  [n0, n1, n2] = cluster.nodes as [SshNode, SshNode, SshNode];
  [jumpHost, hidden] = jumpCluster.nodes as [SshNode, SshNode];
});

after(async () => {
  await Promise.allSettled([cluster?.close(), jumpCluster?.close()]);
});

let root: string;
const savedEnv = { ...process.env };

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "malocher-ssh-config-"));
  delete process.env["SSH_AUTH_SOCK"];
  delete process.env["MALOCHER_SSH_PASSPHRASE"];
});

afterEach(async () => {
  for (const name of ["SSH_AUTH_SOCK", "MALOCHER_SSH_PASSPHRASE", "HOME"]) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
  await rm(root, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// helpers

function hostKeyOf(node: SshNode): string {
  const [type, key] = readFileSync(`${node.hostKeyPath}.pub`, "utf8").trim().split(/\s+/);
  return `${type} ${key}`;
}

/** A known_hosts file under `root` with these nodes' current keys, named by address and port. */
async function knownHostsWith(nodes: SshNode[], name = "known_hosts"): Promise<string> {
  const file = join(root, name);
  await writeFile(file, nodes.map((n) => `[${n.address}]:${n.port} ${hostKeyOf(n)}\n`).join(""), { mode: 0o600 });
  return file;
}

async function writeConfig(text: string, name = "ssh_config"): Promise<string> {
  const file = join(root, name);
  await writeFile(file, text, { mode: 0o600 });
  return file;
}

function resolveOne(machine: string, options: Omit<SshOptions, "sshMachines">): NodeTarget {
  const [target] = resolveNodeTargets({ sshMachines: [machine], ...options });
  return target!;
}

/** Runs a command over a connection and returns its stdout. */
function exec(client: SshClient, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(error);
      let out = "";
      channel.on("data", (chunk: Buffer) => (out += chunk.toString()));
      channel.stderr.on("data", () => {});
      channel.on("close", () => resolve(out));
    });
  });
}

/** Connects as the library would and returns `address:port` of the server it reached. */
async function reached(target: NodeTarget): Promise<string> {
  const client = await connectSsh(target, undefined, 0);
  try {
    const [, , address, port] = (await exec(client, "echo $SSH_CONNECTION")).trim().split(" ");
    return `${address}:${port}`;
  } finally {
    client.end();
  }
}

async function connectError(target: NodeTarget): Promise<MalocherError> {
  try {
    const client = await connectSsh(target, undefined, 0);
    client.end();
  } catch (error) {
    assert.ok(error instanceof MalocherError, `a MalocherError, got ${String(error)}`);
    return error;
  }
  assert.fail("the connection succeeded");
}

async function collect(iterable: AsyncIterable<[string, JobResult]>): Promise<Map<string, JobResult>> {
  const results = new Map<string, JobResult>();
  for await (const [jobId, result] of iterable) results.set(jobId, result);
  return results;
}

/** The lines of a config block that log in as the harness's user with its key. */
function loginLines(c: SshNodes, knownHosts: string): string {
  return `  User ${c.user}\n  IdentityFile ${c.privateKey}\n  UserKnownHostsFile ${knownHosts}\n`;
}

// ---------------------------------------------------------------------------------------------
// aliases and patterns

test("aliases: HostName, User, Port, IdentityFile with %-tokens; host keys are looked up by HostName:port; results carry the alias", { timeout: TEST_TIMEOUT_MS }, async () => {
  const knownHosts = await knownHostsWith([n0, n1], `known_hosts_${n0.port}`);
  // IdentityFile with %h and %r; UserKnownHostsFile with %p (and ~ would expand too).
  for (const node of [n0, n1]) await copyFile(cluster.privateKey, join(root, `key_${node.address}_${cluster.user}`));
  const config = await writeConfig(
    `# aliases for the test cluster\n` +
      `Host alpha\n  HostName ${n0.address}\n` +
      `Host beta\n  HostName=${n1.address}\n` +
      `Host alpha beta\n  Port ${n0.port}\n  User ${cluster.user}\n  IdentityFile ${root}/key_%h_%r\n` +
      `  UserKnownHostsFile ${join(root, "known_hosts_%p")}\n  IdentitiesOnly yes\n`,
  );
  const alpha = resolveOne("alpha", { sshConfig: config });
  assert.equal(alpha.label, "alpha");
  assert.equal(alpha.host, n0.address);
  assert.equal(alpha.port, n0.port);
  assert.equal(alpha.username, cluster.user);
  assert.deepEqual(alpha.identityFiles, [join(root, `key_${n0.address}_${cluster.user}`)]);
  assert.equal(alpha.knownHostsFile, knownHosts);
  assert.equal(await reached(alpha), n0.machine);

  // Precedence: the machine entry, then explicit options, then the config.
  assert.equal(resolveOne("someone@alpha:2022", { sshConfig: config }).username, "someone");
  assert.equal(resolveOne("someone@alpha:2022", { sshConfig: config }).port, 2022);
  assert.equal(resolveOne("alpha", { sshConfig: config, sshUsername: "other", sshPort: 2200 }).username, "other");
  assert.equal(resolveOne("alpha", { sshConfig: config, sshPort: 2200 }).port, 2200);
  assert.equal(resolveOne("alpha", { sshConfig: config, knownHosts: "/x/kh" }).knownHostsFile, "/x/kh");

  // End to end: jobs run on both aliases, each result names the machine as written.
  const malocher = new Malocher({ dir: join(root, "malocher") });
  const inputs = new Map<string, number>();
  for (let x = 0; x < 8; x++) inputs.set(malocher.submit(double, x), x);
  const results = await collect(malocher.processAll({ sshMachines: ["alpha", "beta"], sshConfig: config, slots: 2 }));
  assert.equal(results.size, 8);
  for (const [jobId, result] of results) {
    assert.ok(result.ok, result.ok ? "" : result.error.message);
    assert.equal(result.value, 2 * inputs.get(jobId)!);
    assert.ok(["alpha", "beta"].includes(result.host), `ran on ${result.host}`);
  }
});

test("Host patterns: *, ? and ! negation, first value wins; Include with a glob; ~/.ssh/config by default", { timeout: TEST_TIMEOUT_MS }, async () => {
  const knownHosts = await knownHostsWith([n0, n1, n2]);
  await mkdir(join(root, "conf.d"));
  await writeFile(join(root, "conf.d", "10-node-b.conf"), `Host node-b\n  HostName ${n1.address}\n`);
  await writeFile(join(root, "conf.d", "20-node-c.conf"), `Host node-c\n  HostName ${n2.address}\n`);
  const config = await writeConfig(
    `Include ${root}/conf.d/*.conf\n` +
      `Host node-a\n  HostName ${n0.address}\n` +
      `Host node-? !node-c\n  Port ${n0.port}\n` +
      `Host *\n  Port 1\n` +
      loginLines(cluster, knownHosts),
  );
  const a = resolveOne("node-a", { sshConfig: config });
  const b = resolveOne("node-b", { sshConfig: config });
  const c = resolveOne("node-c", { sshConfig: config });
  assert.equal(a.port, n0.port, "the first Port that applies wins");
  assert.equal(c.port, 1, "!node-c excludes node-c from node-?");
  assert.equal(c.host, n2.address, "from the second included file");
  assert.equal(await reached(a), n0.machine);
  assert.equal(await reached(b), n1.machine);
  assert.equal(resolveOne("other-host", { sshConfig: config }).host, "other-host", "no HostName: the name as written");

  // Without sshConfig: ~/.ssh/config, whose relative Include is relative to ~/.ssh.
  const home = join(root, "home");
  await mkdir(join(home, ".ssh", "more"), { recursive: true });
  await writeFile(join(home, ".ssh", "config"), `Include more/*\n`);
  await writeFile(join(home, ".ssh", "more", "x"), `Host from-home\n  HostName ${n2.address}\n  Port ${n2.port}\n` + loginLines(cluster, knownHosts));
  process.env["HOME"] = home;
  const fromHome = resolveOne("from-home", {});
  assert.equal(await reached(fromHome), n2.machine);
  assert.equal(resolveOne("from-home", { sshConfig: "none" }).host, "from-home", `sshConfig "none" reads no config`);
});

test("Match: host (the HostName so far), originalhost, user, localuser, final, all; Include inside a block; keywords and host names in any case; exec never runs", { timeout: TEST_TIMEOUT_MS }, async () => {
  const knownHosts = await knownHostsWith([n0, n1]);
  for (const name of ["key_a", "key_b"]) await copyFile(cluster.privateKey, join(root, name));
  await writeFile(join(root, "in-block.conf"), `ServerAliveCountMax 11\nHost alias-*\n  HashKnownHosts no\n`);
  const execRan = join(root, "exec-ran");
  const config = await writeConfig(
    `HOST Alias-A\n  HostName ${n0.address}\n` +
      // Keywords in any case: a lowercase hostname still feeds "Match host".
      `host alias-b\n  hostname ${n1.address}\n` +
      `Host alias-c\n  HostName ${n0.address}\n  User carol\n` +
      // host matches the HostName set above, not the name as written.
      `Match host alias-b\n  Port 1\n` +
      `Match host ${n1.address}\n  IdentityFile ${join(root, "key_b")}\n` +
      `Match originalhost alias-a\n  IdentityFile ${join(root, "key_a")}\n` +
      // user: the user chosen so far (user@host, sshUsername, or a User line above).
      `Match user someone,carol\n  Port 2222\n` +
      `Match localuser ${cluster.user} originalhost alias-a\n  HashKnownHosts yes\n` +
      `Match localuser not-${cluster.user}\n  ConnectTimeout 1\n` +
      // Included only for the block's hosts; its Host lines start their own blocks.
      `Match originalhost alias-b\n  Include ${join(root, "in-block.conf")}\n` +
      // OpenSSH runs this through the shell; Malocher never does, and the block never applies.
      `Match exec "touch ${execRan}"\n  Port 3\n` +
      // Applies to alias-b only in the final pass, where Host lines match the HostName.
      `Host ${n1.address}\n  ServerAliveInterval 9\n` +
      `Match all\n  Port ${n0.port}\n` +
      loginLines(cluster, knownHosts),
  );
  const a = resolveOne("alias-a", { sshConfig: config });
  const b = resolveOne("alias-b", { sshConfig: config });
  assert.deepEqual([a.host, b.host], [n0.address, n1.address]);
  assert.deepEqual(a.identityFiles, [join(root, "key_a"), cluster.privateKey], "Match originalhost");
  assert.deepEqual(b.identityFiles, [join(root, "key_b"), cluster.privateKey], "Match host compares the HostName");
  assert.equal(b.port, n0.port, "Match host alias-b does not apply: alias-b is no HostName");
  assert.equal(resolveOne("someone@alias-a", { sshConfig: config }).port, 2222, "Match user: the user of user@host");
  assert.equal(resolveOne("alias-a", { sshConfig: config, sshUsername: "someone" }).port, 2222, "Match user: the sshUsername option");
  assert.equal(resolveOne("alias-c", { sshConfig: config }).port, 2222, "Match user: a User line above");
  assert.equal(a.port, n0.port);
  assert.deepEqual([a.hashKnownHosts, b.hashKnownHosts], [true, false], "Match localuser");
  assert.equal(a.readyTimeoutMs, 15_000, "Match localuser of another user does not apply");
  assert.deepEqual([a.keepaliveCountMax, b.keepaliveCountMax], [3, 11], "Include inside a Match block");
  assert.equal(existsSync(execRan), false, "the Match exec command was not run");
  assert.equal(b.keepaliveIntervalMs, 5000, "without Match final there is no final pass");

  // Match final asks for a second pass: Host lines then match the HostName.
  const final = await writeConfig(readFileSync(config, "utf8") + `Match final host ${n1.address}\n  ConnectTimeout 7\n`, "final_config");
  const bFinal = resolveOne("alias-b", { sshConfig: final });
  assert.equal(bFinal.keepaliveIntervalMs, 9000, "Host <HostName> applies in the final pass");
  assert.equal(bFinal.readyTimeoutMs, 7000, "Match final host applies in the final pass");
  assert.deepEqual(bFinal.identityFiles, b.identityFiles, "each IdentityFile once, though read in both passes");
  assert.equal(resolveOne("alias-a", { sshConfig: final }).readyTimeoutMs, 15_000);

  // The settings the Match blocks chose log in for real.
  assert.equal(await reached(a), n0.machine);
  assert.equal(await reached(bFinal), n1.machine);
});

// ---------------------------------------------------------------------------------------------
// ProxyJump

test("ProxyJump: a node that only the jump host can reach runs jobs; hops are resolved through the config, in user@host:port form and chained", { timeout: TEST_TIMEOUT_MS }, async () => {
  const knownHosts = await knownHostsWith([jumpHost, hidden]);
  const c = jumpCluster;
  const config = await writeConfig(
    `Host jump\n  HostName ${jumpHost.address}\n  Port ${jumpHost.port}\n` +
      `Host hidden\n  HostName ${hidden.address}\n  Port ${hidden.port}\n  ProxyJump jump\n` +
      `Host hidden-literal\n  HostName ${hidden.address}\n  Port ${hidden.port}\n  ProxyJump ${c.user}@${jumpHost.address}:${jumpHost.port}\n` +
      // Two hops: to the jump host, from there to the hidden node, from there to itself.
      `Host hidden-chain\n  HostName ${hidden.address}\n  Port ${hidden.port}\n  ProxyJump jump,hidden\n` +
      `Host *\n` +
      loginLines(c, knownHosts),
  );
  // The hidden node really is unreachable directly.
  const direct = await new Promise<string>((resolve) => {
    const socket = net.connect(hidden.port, hidden.address);
    socket.once("connect", () => (socket.destroy(), resolve("connected")));
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
  assert.equal(direct, "ECONNREFUSED", "nothing listens on the hidden node's address outside the jump host's network");

  const target = resolveOne("hidden", { sshConfig: config });
  assert.equal(target.via?.label, "jump");
  assert.equal(target.via?.host, jumpHost.address);
  assert.equal(await reached(target), hidden.machine);
  assert.equal(await reached(resolveOne("hidden-literal", { sshConfig: config })), hidden.machine);
  const chain = resolveOne("hidden-chain", { sshConfig: config });
  assert.deepEqual([chain.via?.label, chain.via?.via?.label], ["hidden", "jump"]);
  assert.equal(await reached(chain), hidden.machine);

  // End to end: an agent started through the jump host (its tunnel back runs through it too) runs jobs.
  const malocher = new Malocher({ dir: join(root, "malocher") });
  for (let x = 0; x < 6; x++) malocher.submit(double, x);
  const results = await collect(malocher.processAll({ sshMachines: ["hidden"], sshConfig: config, slots: 2 }));
  assert.equal(results.size, 6);
  for (const result of results.values()) {
    assert.ok(result.ok, result.ok ? "" : result.error.message);
    assert.equal(result.host, "hidden");
  }

  // An unreachable hop target is SSH_UNREACHABLE, naming the jump host.
  const badConfig = await writeConfig(`Host bad\n  HostName 127.0.0.99\n  Port ${hidden.port}\n  ProxyJump jump\n` + readFileSync(config, "utf8"), "bad_config");
  const error = await connectError(resolveOne("bad", { sshConfig: badConfig }));
  assert.equal(error.code, "SSH_UNREACHABLE", error.message);
  assert.match(error.message, /jump host jump/);
});

// ---------------------------------------------------------------------------------------------
// keys

test("a real ssh-agent is used first; IdentitiesOnly with an explicit key leaves it out", { timeout: TEST_TIMEOUT_MS }, async () => {
  const knownHosts = await knownHostsWith([n0]);
  const socket = join(root, "agent.sock");
  const agent: ChildProcess = spawn("ssh-agent", ["-D", "-a", socket], { stdio: "ignore" });
  try {
    for (let i = 0; i < 200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 10));
    await execFileAsync("ssh-add", [cluster.privateKey], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
    process.env["SSH_AUTH_SOCK"] = socket;
    // No usable key file anywhere: only the agent can log in (the wrong key is offered after it).
    const config = await writeConfig(
      `Host agented\n  HostName ${n0.address}\n  Port ${n0.port}\n  User ${cluster.user}\n  IdentityFile ${cluster.wrongKey}\n  UserKnownHostsFile ${knownHosts}\n` +
        `Host only-file\n  IdentitiesOnly yes\n  HostName ${n0.address}\n  Port ${n0.port}\n  User ${cluster.user}\n  IdentityFile ${cluster.wrongKey}\n  UserKnownHostsFile ${knownHosts}\n`,
    );
    const target = resolveOne("agented", { sshConfig: config });
    assert.equal(target.useAgent, true);
    assert.equal(await reached(target), n0.machine);
    const only = resolveOne("only-file", { sshConfig: config });
    assert.equal(only.useAgent, false);
    assert.equal((await connectError(only)).code, "SSH_AUTH_FAILED");
  } finally {
    agent.kill("SIGTERM");
    if (agent.exitCode === null) await once(agent, "exit");
  }
});

test("an encrypted key: MALOCHER_SSH_PASSPHRASE or sshPassphrase decrypts it; a wrong or missing passphrase is SSH_KEY_UNREADABLE and never shown", { timeout: TEST_TIMEOUT_MS }, async () => {
  const knownHosts = await knownHostsWith([n0]);
  // The harness's authorized key, encrypted with a passphrase (ssh-keygen -p changes only that).
  const key = join(root, "encrypted_key");
  await copyFile(cluster.privateKey, key);
  await execFileAsync("ssh-keygen", ["-q", "-p", "-f", key, "-P", "", "-N", "s3cret pass"]);
  assert.match(await readFile(key, "utf8"), /OPENSSH PRIVATE KEY/);
  const config = await writeConfig(`Host enc\n  HostName ${n0.address}\n  Port ${n0.port}\n  User ${cluster.user}\n  IdentityFile ${key}\n  UserKnownHostsFile ${knownHosts}\n`);

  const missing = await connectError(resolveOne("enc", { sshConfig: config }));
  assert.equal(missing.code, "SSH_KEY_UNREADABLE", missing.message);
  assert.match(missing.message, /MALOCHER_SSH_PASSPHRASE/);

  process.env["MALOCHER_SSH_PASSPHRASE"] = "s3cret pass";
  const target = resolveOne("enc", { sshConfig: config });
  assert.ok(!inspect(target, { depth: 5 }).includes("s3cret"), "the passphrase does not show when a target is printed");
  assert.ok(!JSON.stringify(target).includes("s3cret"));
  assert.equal(await reached(target), n0.machine);

  process.env["MALOCHER_SSH_PASSPHRASE"] = "wr0ng-Pa55";
  const wrong = await connectError(resolveOne("enc", { sshConfig: config }));
  assert.equal(wrong.code, "SSH_KEY_UNREADABLE", wrong.message);
  assert.match(wrong.message, /passphrase .* does not decrypt/);
  assert.ok(!wrong.message.includes("wr0ng") && !missing.message.includes("s3cret"), "no passphrase in the messages");

  // The option beats the environment.
  assert.equal(await reached(resolveOne("enc", { sshConfig: config, sshPassphrase: "s3cret pass" })), n0.machine);
});

// ---------------------------------------------------------------------------------------------
// host keys (last: it changes n2's host key)

test("StrictHostKeyChecking accept-new adds exactly one line and connects; a changed key is still refused; no warns loudly", { timeout: TEST_TIMEOUT_MS }, async () => {
  const knownHosts = join(root, "fresh", "known_hosts"); // neither the file nor its directory exist
  const config = await writeConfig(
    `Host fresh\n  HostName ${n2.address}\n  Port ${n2.port}\n  StrictHostKeyChecking accept-new\n` + loginLines(cluster, knownHosts),
  );
  const target = resolveOne("fresh", { sshConfig: config });
  assert.equal(target.strictHostKeyChecking, "accept-new");
  assert.equal(await reached(target), n2.machine);
  assert.equal(await reached(target), n2.machine);
  assert.equal(await readFile(knownHosts, "utf8"), `[${n2.address}]:${n2.port} ${hostKeyOf(n2)}\n`, "exactly one line in OpenSSH's format");
  // ssh itself accepts the file.
  await execFileAsync("ssh-keygen", ["-F", `[${n2.address}]:${n2.port}`, "-f", knownHosts]);

  // Without accept-new an unknown key is still refused.
  const strict = await writeConfig(`Host strict\n  HostName ${n1.address}\n  Port ${n1.port}\n` + loginLines(cluster, knownHosts), "strict_config");
  assert.equal((await connectError(resolveOne("strict", { sshConfig: strict }))).code, "SSH_HOST_KEY_UNKNOWN");

  await cluster.changeHostKey(2);
  const changed = await connectError(resolveOne("fresh", { sshConfig: config }));
  assert.equal(changed.code, "SSH_HOST_KEY_MISMATCH", changed.message);
  assert.equal((await readFile(knownHosts, "utf8")).split("\n").filter(Boolean).length, 1, "nothing was added for the changed key");

  // "no" only when asked for, and then a warning on every run.
  const warnings: string[] = [];
  const malocher = new Malocher({ dir: join(root, "malocher") });
  malocher.submit(double, 21);
  const results = await collect(
    malocher.processAll({ sshMachines: ["fresh"], sshConfig: config, sshStrictHostKeyChecking: "no", onWarning: (w) => warnings.push(w), slots: 1 }),
  );
  assert.equal([...results.values()][0]?.ok, true);
  assert.ok(warnings.some((w) => /HOST KEYS ARE NOT CHECKED/.test(w) && w.includes("fresh")), `warned: ${warnings.join(" | ")}`);
});
