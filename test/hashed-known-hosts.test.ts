// StrictHostKeyChecking accept-new with HashKnownHosts yes, against a real sshd node: the new key
// is appended with a hashed host name (|1|salt|HMAC-SHA1 of [host]:port), which the next run
// accepts under StrictHostKeyChecking yes, and which OpenSSH's own ssh-keygen -F and ssh find.
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { test } from "node:test";
import { square } from "./fixtures/jobs/jobs.js";
import { collect } from "./support/results.js";
import { useSshNodes } from "./support/ssh.js";
import { freshMalocher, removeDir, tempDir } from "./support/temp.js";

const execFileAsync = promisify(execFile);

const sshd = useSshNodes(1);

test("accept-new under HashKnownHosts yes appends one hashed line that the next run, ssh-keygen -F and ssh accept", { timeout: 60_000 }, async (t) => {
  const node = sshd.cluster.nodes[0]!;
  const home = tempDir("hashed");
  t.after(() => removeDir(home));
  const knownHosts = join(home, "known_hosts");
  const config = join(home, "ssh_config");
  const login = `  HostName ${node.address}\n  Port ${node.port}\n  User ${sshd.cluster.user}\n  IdentityFile ${sshd.cluster.privateKey}\n  UserKnownHostsFile ${knownHosts}\n`;
  writeFileSync(config, `Host fresh\n${login}  StrictHostKeyChecking accept-new\n  HashKnownHosts yes\n`);

  const malocher = freshMalocher(t, "hashed-run");
  malocher.submit(square, 3);
  const first = await collect(malocher.processAll({ sshMachines: ["fresh"], sshConfig: config, slots: 1 }));
  assert.deepEqual([...first.values()].map((result) => result.ok), [true]);

  const [hostKeyType, hostKey] = readFileSync(`${node.hostKeyPath}.pub`, "utf8").trim().split(/\s+/);
  const lines = readFileSync(knownHosts, "utf8").split("\n").filter(Boolean);
  assert.equal(lines.length, 1, lines.join("\n"));
  const match = /^\|1\|([A-Za-z0-9+/]{27}=)\|([A-Za-z0-9+/]{27}=) (\S+) (\S+)$/.exec(lines[0]!);
  assert.ok(match, `a hashed line: ${lines[0]}`);
  assert.ok(!lines[0]!.includes(node.address), "the address is not written in clear");
  const [, salt, hmac, type, key] = match;
  assert.equal(Buffer.from(salt!, "base64").length, 20);
  assert.equal(createHmac("sha1", Buffer.from(salt!, "base64")).update(`[${node.address}]:${node.port}`).digest("base64"), hmac);
  assert.deepEqual([type, key], [hostKeyType, hostKey]);

  // OpenSSH finds it, by the name it looks hosts up by.
  const found = await execFileAsync("ssh-keygen", ["-F", `[${node.address}]:${node.port}`, "-f", knownHosts]);
  assert.match(found.stdout, new RegExp(`Host \\[${node.address.replace(/\./g, "\\.")}\\]:${node.port} found: line 1`));
  await assert.rejects(execFileAsync("ssh-keygen", ["-F", `[${node.address}]:${node.port + 1}`, "-f", knownHosts]), "no other port matches");
  const ssh = await execFileAsync("ssh", ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${knownHosts}`,
    "-o", "IdentitiesOnly=yes", "-i", sshd.cluster.privateKey, "-p", String(node.port), `${sshd.cluster.user}@${node.address}`, "echo reached"]);
  assert.equal(ssh.stdout, "reached\n");

  // The next run checks the key strictly against the hashed line, and adds nothing.
  malocher.submit(square, 4);
  const second = await collect(malocher.processAll({ sshMachines: ["fresh"], sshConfig: config, sshStrictHostKeyChecking: "yes", slots: 1 }));
  assert.deepEqual([...second.values()].map((result) => result.ok), [true]);
  assert.deepEqual(readFileSync(knownHosts, "utf8").split("\n").filter(Boolean), lines);

  // Without HashKnownHosts the line stays in clear, as before.
  const plainKnownHosts = join(home, "known_hosts_plain");
  writeFileSync(config, `Host fresh\n${login.replace(knownHosts, plainKnownHosts)}  StrictHostKeyChecking accept-new\n  HashKnownHosts no\n`);
  malocher.submit(square, 5);
  await collect(malocher.processAll({ sshMachines: ["fresh"], sshConfig: config, slots: 1 }));
  assert.equal(readFileSync(plainKnownHosts, "utf8"), `[${node.address}]:${node.port} ${hostKeyType} ${hostKey}\n`);
});
