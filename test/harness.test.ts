import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { startSshNodes, type SshNodes } from "./harness/sshd-nodes.js";

interface SshRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the system ssh client against node `index` the way a strict, non-interactive user would. */
function ssh(cluster: SshNodes, index: number, command: string, key = cluster.privateKey): Promise<SshRun> {
  const node = cluster.nodes[index]!;
  const args = [
    "-F", "/dev/null",
    "-i", key,
    "-p", String(node.port),
    "-o", `UserKnownHostsFile=${cluster.knownHosts}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "StrictHostKeyChecking=yes",
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    "-o", "ConnectTimeout=5",
    `${cluster.user}@${node.address}`,
    command,
  ];
  return new Promise((resolve) => {
    execFile("ssh", args, { timeout: 15_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let cluster: SshNodes;
before(async () => {
  cluster = await startSshNodes(2);
});
after(async () => {
  await cluster?.close();
});

test("every node runs a command for the authorized key, with the empty HOME", async () => {
  assert.deepEqual(
    cluster.nodes.map((n) => n.machine),
    [`127.0.0.2:${cluster.nodes[0]!.port}`, `127.0.0.3:${cluster.nodes[0]!.port}`],
  );
  for (const node of cluster.nodes) {
    const run = await ssh(cluster, node.index, "echo ok");
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "ok\n");
  }
  const home = await ssh(cluster, 0, 'echo "$HOME"');
  assert.equal(home.stdout, `${cluster.home}\n`);
});

test("the wrong key is refused", async () => {
  const run = await ssh(cluster, 0, "echo ok", cluster.wrongKey);
  assert.equal(run.code, 255);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /Permission denied \(publickey\)/);
});

test("stopNode makes the node refuse connections and startNode brings it back", async () => {
  await cluster.stopNode(1);
  const down = await ssh(cluster, 1, "echo ok");
  assert.equal(down.code, 255);
  assert.match(down.stderr, /Connection refused/);
  // The other node is unaffected.
  assert.equal((await ssh(cluster, 0, "echo ok")).stdout, "ok\n");

  await cluster.startNode(1);
  const up = await ssh(cluster, 1, "echo ok");
  assert.equal(up.code, 0, up.stderr);
  assert.equal(up.stdout, "ok\n");
});

test("changeHostKey makes strict ssh fail with a host key error", async () => {
  await cluster.changeHostKey(0);
  const run = await ssh(cluster, 0, "echo ok");
  assert.equal(run.code, 255);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED/);
  assert.match(run.stderr, /Host key verification failed/);
  // The node itself is up and still trusts the client key.
  assert.equal((await ssh(cluster, 1, "echo ok")).stdout, "ok\n");
});

test("a port that is taken fails with the end of sshd's log", async () => {
  await assert.rejects(startSshNodes(1, { port: cluster.nodes[0]!.port }), (error: Error) => {
    assert.match(error.message, /127\.0\.0\.2:\d+ failed/);
    assert.match(error.message, /Address already in use|Cannot bind/);
    return true;
  });
});

test("close stops every node, removes the state dir and can be called twice", async () => {
  const other = await startSshNodes(1, { allowTcpForwarding: false });
  assert.notEqual(other.nodes[0]!.port, 0);
  assert.equal((await ssh(other, 0, "echo ok")).stdout, "ok\n");
  await other.close();
  await other.close();
  assert.equal(existsSync(other.dir), false);
  const run = await ssh(other, 0, "echo ok");
  assert.match(run.stderr, /Connection refused/);
});
