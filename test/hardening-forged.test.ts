/**
 * Issue 16, point 6: state in the shared directory that is not signed must not be believed: a
 * planted `agents/<id>.lost` cannot make an agent kill process groups that are not its dead
 * predecessors' workers, and a planted `keys/…` file cannot make `submit` return an id of the
 * attacker's choosing.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Malocher } from "malocher";
import { directoryLayout, isJobId } from "@malocher/protocol";
import type { AgentLease } from "@malocher/store";
import { add, afterGate } from "./fixtures/hardening/jobs.js";
import { isAlive } from "./support/processes.js";
import { collect } from "./support/results.js";
import { removeDir, tempDir } from "./support/temp.js";
import { waitUntil } from "./support/wait.js";

test("a planted .lost lease naming another directory's live worker does not get it killed", { timeout: 90_000 }, async (t) => {
  const root = tempDir("forged-lease");
  // Directory B: a job holds its worker busy until the gate opens.
  const other = new Malocher({ dir: join(root, "b") });
  const gate = join(root, "gate");
  const busy = other.submit(afterGate, 7, gate);
  const cluster = await other.startCluster({ slots: 1 });
  t.after(async () => {
    writeFileSync(gate, "");
    await cluster.close();
    removeDir(root);
  });
  const running = collect(cluster.processAll({ jobs: [busy] }));
  const leases = directoryLayout.agentsDir(join(root, "b"));
  let victim: AgentLease | undefined;
  await waitUntil(() => {
    const name = readdirSync(leases)[0];
    if (name === undefined) return false;
    victim = JSON.parse(readFileSync(join(leases, name), "utf8")) as AgentLease;
    return victim.processGroups.length > 0 && readdirSync(directoryLayout.agentRunningDir(join(root, "b"), victim.agentId)).length > 0;
  }, 30_000, "B's job to run");
  const group = victim!.processGroups[0]!;
  // Directory A: an agent that died (a pid that is gone) and, it says, left B's worker behind.
  const dir = join(root, "a");
  const malocher = new Malocher({ dir });
  const jobId = malocher.submit(add, 1, 2);
  const deadPid = spawnSync("true").pid!;
  const forged: AgentLease = { agentId: "forged", host: "x", hostname: hostname(), pid: deadPid, startedAt: 0, seq: 1, processGroups: [group] };
  writeFileSync(directoryLayout.lostLeaseFile(dir, "forged"), JSON.stringify(forged));
  const results = await collect(malocher.processAll({ slots: 1 }));
  assert.equal(results.get(jobId)?.ok, true);
  assert.ok(isAlive(group), "B's worker is alive");
  writeFileSync(gate, "");
  const done = (await running).get(busy);
  assert.ok(done?.ok && done.value === 7, `B's job: ${JSON.stringify(done)}`);
});

test("a planted key file does not make a keyed submit return an id of another's choosing", (t) => {
  const dir = tempDir("forged-key");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir });
  const mine = malocher.submit.with({ key: "daily" })(add, 1, 2);
  assert.equal(malocher.submit.with({ key: "daily" })(add, 1, 2), mine, "the same key gives the same job");
  const other = malocher.submit(add, 5, 5);
  const keys = join(dir, "keys");
  const keyFile = readdirSync(keys)
    .flatMap((shard) => readdirSync(join(keys, shard)).map((name) => join(keys, shard, name)))[0]!;
  for (const planted of [other, "not-a-job-id/../../x"]) {
    writeFileSync(keyFile, planted);
    const got = malocher.submit.with({ key: "daily" })(add, 1, 2);
    assert.ok(isJobId(got), `a job id, not ${JSON.stringify(got)}`);
    assert.notEqual(got, planted);
    assert.equal(malocher.submit.with({ key: "daily" })(add, 1, 2), got, "the key now names the new job");
  }
});
