import { strict as assert } from "node:assert";
import { after, before, test } from "node:test";
import { Malocher, MalocherError, type JobResult, type RunEvent } from "malocher";
import { parseMachine } from "../packages/supervisor/src/ssh/node-target.js";
import { startSshNodes, type SshNodes } from "./harness/sshd-nodes.js";
import { removeDir, tempDir } from "./support/temp.js";
import { triple } from "./fixtures/core/jobs.js";

let nodes: SshNodes;
before(async () => {
  nodes = await startSshNodes(2);
});
after(async () => {
  await nodes?.close();
});

test("a machine may carry its slot count like GNU parallel's 8/host, and labels after it", () => {
  assert.deepEqual(parseMachine("8/alice@gpu1:2222 gpu fast"), {
    label: "alice@gpu1:2222",
    host: "gpu1",
    port: 2222,
    username: "alice",
    slots: 8,
    labels: ["gpu", "fast"],
  });
  assert.deepEqual(parseMachine("node1"), { label: "node1", host: "node1", port: undefined, username: undefined, slots: undefined, labels: [] });
  assert.equal(parseMachine("2/[::1]:22").host, "::1");
  for (const bad of ["0/node1", "x/node1", "8/", "a/b c", "node1 gp!u"]) {
    assert.throws(() => parseMachine(bad), (error: unknown) => error instanceof MalocherError && error.code === "INVALID_OPTIONS", bad);
  }
});

test("each machine runs at most its own slots; results name it without the slot count", { timeout: 60_000 }, async () => {
  const root = tempDir("host-slots");
  try {
    const malocher = new Malocher({ dir: root });
    const ids = Array.from({ length: 12 }, (_, x) => malocher.submit(triple, x));
    const [one, three] = nodes.nodes;
    const events: RunEvent[] = [];
    const results = new Map<string, JobResult>();
    for await (const [jobId, result] of malocher.processAll({
      sshMachines: [`1/${one!.machine}`, `3/${three!.machine}`],
      sshPrivateKey: nodes.privateKey,
      knownHosts: nodes.knownHosts,
      slots: 2,
      onEvent: (event) => events.push(event),
    })) {
      results.set(jobId, result);
    }
    const slotsOf = (host: string) => {
      const ready = events.find((e) => e.type === "node" && e.host === host && e.state === "ready");
      return ready?.type === "node" ? ready.slots : undefined;
    };
    assert.equal(slotsOf(one!.machine), 1);
    assert.equal(slotsOf(three!.machine), 3);
    for (const [x, jobId] of ids.entries()) {
      const result = results.get(jobId);
      assert.ok(result?.ok);
      assert.equal(result.value, 3 * x);
      assert.ok([one!.machine, three!.machine].includes(result.host), result.host);
    }
  } finally {
    removeDir(root);
  }
});
