/**
 * Issue 16, point 11: under StrictHostKeyChecking no, `nodes` does not hide a changed host key,
 * and, as OpenSSH does on a mismatch, no port is forwarded over such a connection.
 */
import { strict as assert } from "node:assert";
import { after, before, test } from "node:test";
import { Malocher } from "malocher";
import { startSshNodes, type SshNodes } from "./harness/sshd-nodes.js";
import { harnessSshOptions } from "./support/ssh.js";
import { removeDir, tempDir } from "./support/temp.js";

let cluster: SshNodes;
before(async () => {
  cluster = await startSshNodes(1);
});
after(async () => {
  await cluster?.close();
});

test("nodes reports a changed host key accepted under StrictHostKeyChecking no, and forwards nothing over it", { timeout: 60_000 }, async (t) => {
  const dir = tempDir("changed-key");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir });
  const options = { ...harnessSshOptions(cluster), sshStrictHostKeyChecking: "no" as const };
  const [before] = await malocher.checkNodes(options);
  assert.equal(before?.checks[0]?.ok, true, JSON.stringify(before));
  assert.equal(before?.transport, "websocket");
  await cluster.changeHostKey(0);
  const [after] = await malocher.checkNodes(options);
  const ssh = after?.checks[0];
  assert.equal(ssh?.name, "ssh");
  assert.equal(ssh?.ok, false, JSON.stringify(after));
  assert.match(ssh?.detail ?? "", /HOST KEY HAS CHANGED/);
  assert.equal(after?.ok, false);
  assert.equal(after?.transport, "stdio", "no port forward over an unchecked key");
});
