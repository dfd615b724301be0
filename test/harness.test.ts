import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as util from "node:util";
import { after, before, describe, test } from "node:test";
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

/** Live (not zombie) processes whose command line contains `text`: pid and command line. */
async function liveProcesses(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = await fs.readFile(`/proc/${name}/stat`, "utf8");
      if (/^[ZX]$/.test(stat.charAt(stat.lastIndexOf(")") + 2))) continue;
      const cmdline = (await fs.readFile(`/proc/${name}/cmdline`, "utf8")).split("\0").join(" ").trim();
      if (cmdline.includes(text)) found.push(`${name} ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * `probe()` once it deep-equals `expected`, or after 2 s whatever it is then. For processes that
 * are on their way out (an sshd session that has just answered, say).
 */
async function settled<T>(probe: () => Promise<T>, expected: T): Promise<T> {
  const deadline = Date.now() + 2_000;
  for (;;) {
    const value = await probe();
    if (Date.now() > deadline || util.isDeepStrictEqual(value, expected)) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Pids of the processes in mount namespace `ns` (`mnt:[N]`). */
async function processesInNamespace(ns: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if ((await fs.readlink(`/proc/${name}/ns/mnt`)) === ns) found.push(Number(name));
    } catch {
      // gone meanwhile, or a zombie
    }
  }
  return found;
}

/** The error code of connecting to `host:port`, or "connected". */
function connectError(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.on("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** Runs `command` on node `index` and insists that it succeeds; its stdout. */
async function sshOk(nodes: SshNodes, index: number, command: string): Promise<string> {
  const run = await ssh(nodes, index, command);
  assert.equal(run.code, 0, `${command}\n${run.stderr}`);
  return run.stdout;
}

describe("sshfs mode", () => {
  let share: string;
  let nfs: SshNodes;
  let startupMs: number;
  /** Each node's mount namespace (`mnt:[N]`), as a session on it sees it. */
  const namespaceOf = async (index: number): Promise<string> =>
    (await sshOk(nfs, index, "readlink /proc/self/ns/mnt")).trim();
  /** The lines of /proc/self/mounts of a node that mount something on the share. */
  const nodeMounts = async (index: number): Promise<string[]> =>
    (await sshOk(nfs, index, "cat /proc/self/mounts")).split("\n").filter((l) => l.split(" ")[1] === share);

  before(async () => {
    share = await fs.mkdtemp(path.join(os.tmpdir(), "malocher-share-"));
    const started = Date.now();
    nfs = await startSshNodes(2, { sshfsShare: share });
    startupMs = Date.now() - started;
  });
  after(async () => {
    await nfs?.close();
    if (share) await fs.rm(share, { recursive: true, force: true });
  });

  test("nodes see the share as a fuse.sshfs mount at the same path; this process sees the real directory", async (t) => {
    // Measured: ~0.3 s (the file server, then the nodes, each mounting, in parallel).
    t.diagnostic(`2 nodes and the file server up in ${startupMs} ms`);
    assert.equal(nfs.sshfs, true);
    assert.equal(cluster.sshfs, false);
    for (const node of nfs.nodes) {
      assert.deepEqual(
        (await nodeMounts(node.index)).map((l) => l.split(" ").slice(0, 3).join(" ")),
        [`${nfs.user}@127.0.0.250:${share} ${share} fuse.sshfs`],
      );
      // coreutils calls the FUSE magic "fuseblk".
      assert.equal(await sshOk(nfs, node.index, `stat -f -c %T ${share}`), "fuseblk\n");
    }
    const ours = (await fs.readFile("/proc/self/mounts", "utf8")).split("\n");
    assert.deepEqual(ours.filter((l) => l.split(" ")[1] === share), []);
    // Each node has its own namespace, and neither is ours.
    const namespaces = new Set([await namespaceOf(0), await namespaceOf(1), await fs.readlink("/proc/self/ns/mnt")]);
    assert.equal(namespaces.size, 3);

    await sshOk(nfs, 0, `echo from-node-0 > ${share}/created-by-node-0`);
    assert.equal(await fs.readFile(path.join(share, "created-by-node-0"), "utf8"), "from-node-0\n");
    assert.equal(await sshOk(nfs, 1, `cat ${share}/created-by-node-0`), "from-node-0\n");
  });

  test("what this process writes, a node sees right away, again and again (no directory or attribute cache)", async () => {
    const dir = path.join(share, "fresh");
    await fs.mkdir(dir);
    for (let i = 0; i < 8; i++) {
      // Each round changes what the node looked at the round before (within the 1 s the kernel
      // would cache it by default): a name appears, one goes, and a file it read gets other
      // content, of another size in even rounds and of the same size in odd ones.
      const value = String(i).repeat(1 + Math.floor(i / 2));
      await fs.writeFile(path.join(dir, `new-${i}`), "");
      await fs.rm(path.join(dir, `new-${i - 1}`), { force: true });
      await fs.writeFile(path.join(dir, "value"), value);
      const seen = await sshOk(nfs, 1, `cd ${dir} && ls && stat -c %s value && cat value`);
      assert.equal(seen, `new-${i}\nvalue\n${value.length}\n${value}`, `round ${i}`);
    }
  });

  test("rename replaces an existing target; link, O_EXCL and mkdir onto an existing name fail", async () => {
    const dir = path.join(share, "ops");
    await fs.mkdir(dir);
    // mv (renameat2 with RENAME_NOREPLACE gets EEXIST, then plain rename()) overwrites b,
    // atomically on the file server (OpenSSH's posix-rename@openssh.com).
    const mv = await sshOk(nfs, 0, `cd ${dir} && echo new > a && echo old > b && mv a b && ls && cat b`);
    assert.equal(mv, "b\nnew\n");
    assert.deepEqual(await fs.readdir(dir), ["b"]);
    assert.equal(await fs.readFile(path.join(dir, "b"), "utf8"), "new\n");
    assert.equal(await sshOk(nfs, 1, `cat ${dir}/b`), "new\n");

    await fs.writeFile(path.join(dir, "taken"), "first\n");
    const ln = await ssh(nfs, 1, `cd ${dir} && ln b taken`);
    assert.equal(ln.code, 1);
    assert.match(ln.stderr, /File exists/);
    assert.equal(await fs.readFile(path.join(dir, "taken"), "utf8"), "first\n");
    // A new name links (the node reports nlink 1 regardless: SFTP has no link counts).
    await sshOk(nfs, 1, `cd ${dir} && ln b b-link`);
    assert.equal((await fs.stat(path.join(dir, "b"))).nlink, 2);
    assert.equal((await fs.stat(path.join(dir, "b"))).ino, (await fs.stat(path.join(dir, "b-link"))).ino);

    const excl = await ssh(nfs, 0,
      `cd ${dir} && perl -MFcntl -e 'sysopen(F, "taken", O_WRONLY|O_CREAT|O_EXCL) or die "$!\\n"'`);
    assert.equal(excl.code, os.constants.errno.EEXIST); // perl's die exits with errno
    assert.equal(excl.stderr, "File exists\n");
    assert.equal(await fs.readFile(path.join(dir, "taken"), "utf8"), "first\n");
    const mkdir = await ssh(nfs, 0, `mkdir ${dir}`);
    assert.equal(mkdir.code, 1);
    assert.match(mkdir.stderr, /File exists/);
  });

  test("stopNode stops the node's sshfs and its namespace; startNode mounts again", async () => {
    const oldNamespace = await namespaceOf(1);
    assert.equal((await liveProcesses(`:${share} ${share}`)).length, 2);
    await nfs.stopNode(1);
    assert.equal((await ssh(nfs, 1, "echo ok")).code, 255);
    // One sshfs left (node 0's), and nothing at all in node 1's namespace: no mount left behind.
    assert.equal((await liveProcesses(`:${share} ${share}`)).length, 1);
    assert.deepEqual(await settled(() => processesInNamespace(oldNamespace), []), []);
    // Node 0 is unaffected.
    assert.equal(await sshOk(nfs, 0, `cat ${share}/created-by-node-0`), "from-node-0\n");

    await nfs.startNode(1);
    assert.equal((await nodeMounts(1)).length, 1);
    assert.equal(await sshOk(nfs, 1, `cat ${share}/created-by-node-0`), "from-node-0\n");
    assert.equal((await liveProcesses(`:${share} ${share}`)).length, 2);
  });

  test("a node that fails to start after mounting leaves no sshfs and no file server behind", async () => {
    const before = await liveProcesses(`:${share} ${share}`);
    // The top-level cluster holds 127.0.0.2 on its port; 127.0.0.250 is free there.
    await assert.rejects(startSshNodes(1, { port: cluster.nodes[0]!.port, sshfsShare: share }), (error: Error) => {
      assert.match(error.message, /127\.0\.0\.2:\d+ failed/);
      assert.match(error.message, /Address already in use|Cannot bind/);
      return true;
    });
    assert.deepEqual(await liveProcesses(`:${share} ${share}`), before);
    // Its file server, which did start, is gone again.
    assert.equal(await connectError("127.0.0.250", cluster.nodes[0]!.port), "ECONNREFUSED");
  });

  test("close leaves no sshfs, no ssh to the file server and no node namespace behind", async () => {
    const namespaces = [await namespaceOf(0), await namespaceOf(1)];
    await nfs.close();
    await nfs.close();
    assert.deepEqual(await liveProcesses(share), []);
    assert.deepEqual(await liveProcesses(nfs.dir), []);
    for (const ns of namespaces) assert.deepEqual(await settled(() => processesInNamespace(ns), []), []);
    assert.equal(existsSync(nfs.dir), false);
    // The share itself is untouched.
    assert.equal(await fs.readFile(path.join(share, "created-by-node-0"), "utf8"), "from-node-0\n");
  });
});
