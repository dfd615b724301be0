// `malocher nodes` as a user runs it on a new cluster: against real sshd nodes, it finds an unknown
// host key, a wrong user, a node without Node.js and a node without the shared directory, says
// how to fix each, and exits 1; on a healthy cluster every check passes and it exits 0.
import { strict as assert } from "node:assert";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startSshNodes, type SshNodes } from "./harness/sshd-nodes.js";
import { describeRun, runCli } from "./fixtures/jobs/support.js";
import { removeDir, tempDir } from "./support/temp.js";
import type { NodeCheck } from "malocher";

const TIMEOUT = { timeout: 30_000 };

let cluster: SshNodes;
/** Parent of the Malocher directory; node 4 does not have it. */
let share: string;
let dir: string;
before(async () => {
  share = tempDir("nodes");
  dir = join(share, "jobs");
  mkdirSync(dir);
  // Nodes 0-2 are healthy; node 3 has no Node.js, node 4 not the shared directory.
  cluster = await startSshNodes(5, { hidePaths: { 3: [process.execPath], 4: [share] } });
});
after(async () => {
  await cluster?.close();
  removeDir(share);
});

function nodes(machines: string[], more: string[] = []) {
  const args = ["nodes", "--json", "--hosts", machines.join(","), "--identity", cluster.privateKey, "--dir", dir];
  return runCli([...args, "--known-hosts", cluster.knownHosts, ...more], { timeoutMs: 25_000 });
}

function parse(stdout: string): NodeCheck[] {
  return stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as NodeCheck);
}

function check(node: NodeCheck | undefined, name: string) {
  const found = node?.checks.find((c) => c.name === name);
  assert.ok(found, `no ${name} check in ${JSON.stringify(node)}`);
  return found;
}

test("every check passes on healthy nodes: exit 0, one JSON line per node, nothing left behind", TIMEOUT, async () => {
  const machines = cluster.nodes.slice(0, 3).map((node) => node.machine);
  const ran = await nodes(machines);
  assert.equal(ran.code, 0, describeRun(ran));
  const found = parse(ran.stdout);
  assert.deepEqual(found.map((node) => node.host), machines);
  for (const node of found) {
    assert.ok(node.ok, JSON.stringify(node));
    assert.deepEqual(node.checks.map((c) => [c.name, c.ok]), [["ssh", true], ["node", true], ["agent", true], ["shared-dir", true], ["writable", true]]);
    assert.match(check(node, "node").detail, new RegExp(process.version.replace(/\./g, "\\.")));
  }
  assert.deepEqual(readdirSync(join(dir, "tmp")), [], "the check's files are removed");

  const table = await runCli(["nodes", "--hosts", machines.join(","), "--identity", cluster.privateKey, "--known-hosts", cluster.knownHosts, "--dir", dir]);
  assert.equal(table.code, 0, describeRun(table));
  assert.equal(table.stdout.trim().split("\n").length, 3, describeRun(table));
  for (const machine of machines) assert.match(table.stdout, new RegExp(`^${machine}\\s+ok\\s`, "m"));
});

test("an unknown host key, a wrong user, Node.js missing and the shared directory not mounted are each found, with a fix", TIMEOUT, async () => {
  const [n0, n1, n2, n3, n4] = cluster.nodes;
  assert.ok(n0 && n1 && n2 && n3 && n4);
  // A known_hosts without node 0's key.
  const partial = join(cluster.dir, "partial_known_hosts");
  writeFileSync(partial, readFileSync(cluster.knownHosts, "utf8").split("\n").filter((line) => !line.startsWith(`[${n0.address}]`)).join("\n"));
  const wrongUser = `nobody-here@${n1.machine}`;
  const machines = [n0.machine, wrongUser, n2.machine, n3.machine, n4.machine];
  const ran = await nodes(machines, ["--known-hosts", partial]);
  assert.equal(ran.code, 1, describeRun(ran));
  const [unknownKey, badUser, good, noNode, noShare] = parse(ran.stdout);

  assert.equal(unknownKey?.ok, false);
  assert.equal(check(unknownKey, "ssh").ok, false);
  assert.match(check(unknownKey, "ssh").detail, /SSH_HOST_KEY_UNKNOWN.*known_hosts/s);
  assert.match(check(unknownKey, "ssh").fix ?? "", /known_hosts/);

  assert.equal(badUser?.host, wrongUser);
  assert.equal(check(badUser, "ssh").ok, false);
  assert.match(check(badUser, "ssh").detail, /SSH_AUTH_FAILED.*refused to log in user nobody-here/s);
  assert.match(check(badUser, "ssh").fix ?? "", /user name/);

  assert.equal(good?.ok, true, JSON.stringify(good));

  assert.equal(noNode?.ok, false);
  assert.deepEqual(noNode?.checks.filter((c) => !c.ok).map((c) => c.name), ["node"], JSON.stringify(noNode));
  assert.match(check(noNode, "node").detail, /missing/);
  assert.match(check(noNode, "node").fix ?? "", new RegExp(`install Node\\.js ≥ 20\\.19 at ${process.execPath}`));

  assert.equal(noShare?.ok, false);
  assert.equal(check(noShare, "node").ok, true);
  assert.equal(check(noShare, "shared-dir").ok, false);
  assert.match(check(noShare, "shared-dir").fix ?? "", new RegExp(`the shared directory is not mounted at ${dir} on this node`));
  assert.equal(check(noShare, "writable").ok, false);

  // The table: one line per node, one per failed check, with its fix.
  const table = await runCli(["nodes", "--hosts", machines.join(","), "--identity", cluster.privateKey, "--known-hosts", partial, "--dir", dir]);
  assert.equal(table.code, 1, describeRun(table));
  assert.match(table.stdout, new RegExp(`^${n2.machine}\\s+ok\\s`, "m"));
  assert.match(table.stdout, new RegExp(`^${n3.machine}\\s+FAIL node$`, "m"));
  assert.match(table.stdout, /^\s+node\s+\S+ is missing on the node\n\s+fix: install Node\.js/m);
  assert.match(table.stdout, /^\s+shared-dir .*\n\s+fix: the shared directory is not mounted/m);
});
