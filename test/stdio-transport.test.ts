// Nodes whose sshd refuses port forwarding (`AllowTcpForwarding no`): the agent's messages travel
// as length-prefixed frames on its SSH exec channel instead of the forwarded WebSocket. Runs,
// node events, a mixed run, cancelling and stopping, `checkNodes`, and the frame decoder.
import { strict as assert } from "node:assert";
import { readFileSync, writeFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { Malocher, checkNodes, type JobResult, type RunEvent } from "malocher";
import { FrameDecoder, MAX_FRAME_BYTES, MalocherError, decodeAgentMessage, encodeFrame, encodeMessage } from "@malocher/protocol";
import { startSshNodes, type SshNodes } from "./harness/sshd-nodes.js";
import { sleepThenPid, slowDouble, square } from "./fixtures/jobs/jobs.js";
import { census, waitForNoLeftovers } from "./support/census.js";
import { collect } from "./support/results.js";
import { harnessSshOptions } from "./support/ssh.js";
import { removeDir, tempDir } from "./support/temp.js";
import { waitUntil } from "./support/wait.js";

const TIMEOUT = { timeout: 60_000 };

let noForwarding: SshNodes;
let forwarding: SshNodes;
before(async () => {
  [noForwarding, forwarding] = await Promise.all([startSshNodes(2, { allowTcpForwarding: false }), startSshNodes(1)]);
});
after(async () => {
  await Promise.all([noForwarding?.close(), forwarding?.close()]);
});

function freshDir(t: { after(fn: () => void): void }, prefix: string): string {
  const dir = tempDir(prefix);
  t.after(() => removeDir(dir));
  return dir;
}

function valueOf(result: JobResult | undefined): unknown {
  if (result === undefined) return "NO RESULT";
  return result.ok ? result.value : `FAILED ${result.error.code}: ${result.error.message}`;
}

/** The transport each host's `ready` node events reported. */
function readyTransports(events: RunEvent[]): Map<string, string | undefined> {
  const found = new Map<string, string | undefined>();
  for (const event of events) if (event.type === "node" && event.state === "ready") found.set(event.host, event.transport);
  return found;
}

test("processAll over nodes that refuse port forwarding runs every job over stdio", TIMEOUT, async (t) => {
  const malocher = new Malocher({ dir: freshDir(t, "stdio") });
  const ids = Array.from({ length: 20 }, (_, i) => malocher.submit(square, i));
  const events: RunEvent[] = [];
  const results = await collect(malocher.processAll({ ...harnessSshOptions(noForwarding), onEvent: (event) => events.push(event) }));
  assert.deepEqual(ids.map((id) => valueOf(results.get(id))), Array.from({ length: 20 }, (_, i) => i * i));
  const machines = noForwarding.nodes.map((node) => node.machine);
  for (const result of results.values()) assert.ok(machines.includes(result.host), `ran on ${result.host}`);
  const transports = readyTransports(events);
  assert.deepEqual([...transports.keys()].sort(), [...machines].sort(), "every node got ready");
  for (const [host, transport] of transports) assert.equal(transport, "stdio", `${host}'s transport`);
});

test("a run over one node with forwarding and one without completes, each on its own transport", TIMEOUT, async (t) => {
  const malocher = new Malocher({ dir: freshDir(t, "stdio-mixed") });
  const ids = Array.from({ length: 20 }, (_, i) => malocher.submit(slowDouble, i, 150));
  const events: RunEvent[] = [];
  // Each harness has its own client key and host keys: an ssh config names both nodes.
  const withForward = "with-forwarding";
  const without = "without-forwarding";
  const dir = freshDir(t, "stdio-config");
  const knownHosts = `${dir}/known_hosts`;
  writeFileSync(knownHosts, readFileSync(forwarding.knownHosts, "utf8") + readFileSync(noForwarding.knownHosts, "utf8"));
  const host = (alias: string, cluster: SshNodes) =>
    `Host ${alias}\n  HostName ${cluster.nodes[0]!.address}\n  Port ${cluster.nodes[0]!.port}\n  User ${cluster.user}\n  IdentityFile ${cluster.privateKey}\n`;
  const sshConfig = `${dir}/config`;
  writeFileSync(sshConfig, host(withForward, forwarding) + host(without, noForwarding));
  const results = await collect(
    malocher.processAll({ sshMachines: [withForward, without], sshConfig, knownHosts, slots: 2, onEvent: (event) => events.push(event) }),
  );
  assert.deepEqual(ids.map((id) => valueOf(results.get(id))), Array.from({ length: 20 }, (_, i) => 2 * i));
  const transports = readyTransports(events);
  assert.equal(transports.get(withForward), "websocket");
  assert.equal(transports.get(without), "stdio");
  const hosts = new Set([...results.values()].map((result) => result.host));
  assert.deepEqual([...hosts].sort(), [withForward, without].sort(), "both nodes ran jobs");
});

test("cancelling a job and stopping a run work over stdio, and no agent remains", TIMEOUT, async (t) => {
  const dir = freshDir(t, "stdio-stop");
  const envTags = [`HOME=${noForwarding.home}`];
  const baseline = census(envTags, dir);
  const malocher = new Malocher({ dir });
  const ids = Array.from({ length: 4 }, () => malocher.submit(sleepThenPid, 30_000));
  const started = new Set<string>();
  const finished = new Set<string>();
  const controller = new AbortController();
  const run = collect(
    malocher.processAll({
      ...harnessSshOptions(noForwarding),
      slots: 2,
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === "jobStarted") started.add(event.jobId);
        if (event.type === "jobFinished") finished.add(event.jobId);
      },
    }),
  );
  run.catch(() => {});
  await waitUntil(() => started.size >= 2, 30_000, "two jobs to start");
  const victim = [...started][0]!;
  await malocher.cancel(victim);
  await waitUntil(() => finished.has(victim), 20_000, "the cancelled job to finish (reported over stdio)");
  assert.ok(census(envTags, dir).agents.length > baseline.agents.length, "agents run");
  controller.abort();
  await assert.rejects(run);
  await waitForNoLeftovers(envTags, dir, baseline, 20_000);
  const results = await collect(malocher.results());
  const cancelled = results.get(victim);
  assert.ok(cancelled !== undefined && !cancelled.ok && cancelled.error.code === "JOB_CANCELLED", JSON.stringify(cancelled));
  assert.equal(results.size, 1, "only the cancelled job has a result; the stopped ones went back to the queue");
  const status = await malocher.status();
  assert.equal(status.counts.queued, ids.length - 1);
});

test("checkNodes says which transport each node will use", TIMEOUT, async (t) => {
  const dir = freshDir(t, "stdio-nodes");
  new Malocher({ dir }); // creates the directory
  const [withForward] = await checkNodes({ ...harnessSshOptions(forwarding), dir });
  const [without] = await checkNodes({ ...harnessSshOptions(noForwarding), sshMachines: [noForwarding.nodes[0]!.machine], dir });
  assert.equal(withForward?.transport, "websocket", JSON.stringify(withForward));
  assert.equal(without?.transport, "stdio", JSON.stringify(without));
  assert.ok(without?.ok, JSON.stringify(without));
  assert.match(without?.checks.find((check) => check.name === "ssh")?.detail ?? "", /stdio.*refuses port forwarding/);
});

test("the frame decoder reassembles split frames and rejects garbage with PROTOCOL_ERROR", () => {
  const one = encodeFrame(encodeMessage({ type: "heartbeat", running: 1, load: 0.5 }));
  const two = encodeFrame(encodeMessage({ type: "bye", reason: "done" }));
  const both = Buffer.concat([one, two]);
  const decoder = new FrameDecoder();
  const frames = [...both].flatMap((byte) => decoder.push(Uint8Array.of(byte)));
  assert.deepEqual(frames.map((frame) => decodeAgentMessage(frame).type), ["heartbeat", "bye"]);
  assert.equal(decoder.pendingBytes, 0);

  const isProtocolError = (error: unknown) => error instanceof MalocherError && error.code === "PROTOCOL_ERROR";
  // A stray log line where a frame should be: its first bytes read as a huge length.
  const garbage = new FrameDecoder();
  assert.throws(() => garbage.push(Buffer.from("malocher agent: hello\n")), isProtocolError);
  assert.throws(() => garbage.push(one), isProtocolError, "stays failed");
  assert.throws(() => new FrameDecoder().push(Buffer.alloc(8)), isProtocolError, "a zero-length frame");
  const tooLong = Buffer.alloc(4);
  tooLong.writeUInt32BE(MAX_FRAME_BYTES + 1);
  assert.throws(() => new FrameDecoder().push(tooLong), isProtocolError, "a frame above the limit");
  // A well-framed payload that is not a message is rejected by the codec.
  const [junk] = new FrameDecoder().push(encodeFrame(Buffer.from("not msgpack at all")));
  assert.throws(() => decodeAgentMessage(junk!), isProtocolError);
});
