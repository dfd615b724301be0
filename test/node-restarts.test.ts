import { strict as assert } from "node:assert";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { directoryLayout } from "@malocher/protocol";
import { Malocher, type JobResult, type RunEvent } from "malocher";
import { startSshNodes, type SshNodes } from "./harness/sshd-nodes.js";
import { harnessSshOptions } from "./support/ssh.js";
import { removeDir, tempDir } from "./support/temp.js";
import { waitUntil } from "./support/wait.js";
import { afterGate } from "./fixtures/core/jobs.js";

let nodes: SshNodes;
before(async () => {
  nodes = await startSshNodes(2);
});
after(async () => {
  await nodes?.close();
});

test("a node that keeps failing after it was lost is set aside with a clear message; the run goes on", { timeout: 120_000 }, async () => {
  const root = tempDir("restarts");
  try {
    const malocher = new Malocher({ dir: join(root, "jobs") });
    const gate = join(root, "gate");
    const ids = [1, 2, 3, 4].map((x) => malocher.submit(afterGate, x, gate));
    const events: RunEvent[] = [];
    const lost = nodes.nodes[0]!;
    const results = new Map<string, JobResult>();
    const run = (async () => {
      for await (const [jobId, result] of malocher.processAll({
        ...harnessSshOptions(nodes),
        slots: 1,
        heartbeatTimeoutMs: 2000,
        maxNodeRestarts: 1,
        onEvent: (event) => events.push(event),
      })) {
        results.set(jobId, result);
      }
    })();
    const ready = (host: string) => events.some((e) => e.type === "node" && e.host === host && e.state === "ready");
    await waitUntil(() => ready(lost.machine) && ready(nodes.nodes[1]!.machine), 30_000, "both nodes to be ready");
    // The node goes away for good: no sshd to restart the agent with, and the agent is killed.
    await nodes.stopNode(0);
    const leases = readdirSync(directoryLayout.agentsDir(malocher.dir)).filter((name) => name.startsWith(lost.machine.replace(/[^A-Za-z0-9._-]/g, "_")));
    for (const name of leases) process.kill(JSON.parse(readFileSync(join(directoryLayout.agentsDir(malocher.dir), name), "utf8")).pid, "SIGKILL");
    const setAside = () =>
      events.find((e) => e.type === "node" && e.host === lost.machine && e.state === "failed" && /set aside/.test(e.error?.message ?? ""));
    await waitUntil(() => setAside() !== undefined, 60_000, "the lost node to be set aside");
    writeFileSync(gate, "");
    await run;
    const states = events.filter((e) => e.type === "node" && e.host === lost.machine).map((e) => (e.type === "node" ? e.state : ""));
    assert.deepEqual(states.slice(states.indexOf("lost")), ["lost", "restarting", "connecting", "failed", "failed"], states.join(" → "));
    const found = setAside();
    const message = found?.type === "node" ? (found.error?.message ?? "") : "";
    assert.match(message, /set aside after 1 failed restarts; the run goes on without it/);
    assert.match(message, /SSH_UNREACHABLE|Cannot reach/);
    assert.equal(results.size, 4);
    for (const [index, jobId] of ids.entries()) {
      const result = results.get(jobId);
      assert.ok(result?.ok, JSON.stringify(result));
      assert.equal(result.value, index + 1);
      assert.equal(result.host, nodes.nodes[1]!.machine);
    }
  } finally {
    await nodes.startNode(0);
    removeDir(root);
  }
});
