/**
 * `--hosts`: which values are machines and which are files (the refusals of a file that is not
 * there run through the CLI in cli-options.test.ts).
 */
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readHosts } from "../packages/supervisor/src/cli/read-hosts.js";

test("readHosts: machines as written, a slot count's slash included; any other slash names a file", () => {
  assert.deepEqual(readHosts("node1"), ["node1"]);
  assert.deepEqual(readHosts("4/node1"), ["4/node1"]);
  assert.deepEqual(readHosts("2/alice@node1:2222, node2"), ["2/alice@node1:2222", "node2"]);
  for (const file of ["conf/hosts", "./hosts", "/nowhere/hosts", "~/no-such-hosts", "machines.txt"]) {
    assert.throws(() => readHosts(file), { code: "INVALID_OPTIONS", message: /no such file/ }, file);
  }
});

test("readHosts: a hosts file gives its machines, without comments and blank lines", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "malocher-read-hosts-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "hosts");
  writeFileSync(file, "# the lab\n4/node1 gpu\n\nalice@node2:2222  # the old one\n");
  assert.deepEqual(readHosts(file), ["4/node1 gpu", "alice@node2:2222"]);
});
