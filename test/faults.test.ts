/**
 * Fault tolerance against real sshd nodes (issue 5): whatever dies (an agent, a whole node, the
 * supervisor) or freezes (SIGSTOP), every job ends with exactly one result with the right value,
 * `attempts` says how many runs it took, and no process is left behind.
 *
 * The scenarios of the node loss and the SIGSTOP/SIGCONT partition run twice: on the local file
 * system, and with every node seeing the Malocher directory through its own sshfs mount (the
 * harness's `sshfsShare`), so that claims, renames and results go over a real network FS.
 *
 * Agents are found through their lease files (`<dir>/agents/<agentId>`: host, pid,
 * processGroups). "No orphans" is checked by counting the agents and workers that carry the
 * cluster's HOME in their environment (every sshd session of the harness gets it), plus any
 * process with the test's temp directory in its argv (job children, the supervisor script).
 */
import { strict as assert } from "node:assert";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Malocher, type JobResult, type ProcessAllOptions, type RunEvent } from "malocher";
import { directoryLayout } from "@malocher/protocol";
import { startSshNodes, type SshNodes } from "./harness/sshd-nodes.js";
import { double, doubleAfterGate, doubleAfterSpawnSync, doubleWithChild, processIdsAfterGate } from "./fixtures/faults/jobs.js";
import { census, waitForNoLeftovers, type Census } from "./support/census.js";
import { commandLine, holdsPid, isAlive, killPids, procIds, signal } from "./support/processes.js";
import { record, stopActiveRuns } from "./support/recording.js";
import { collect } from "./support/results.js";
import { harnessSshOptions } from "./support/ssh.js";
import { waitFor, waitUntil, within } from "./support/wait.js";
import type { AgentLease } from "@malocher/store";

const SUPERVISE = fileURLToPath(new URL("./fixtures/faults/supervise.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");

const HEARTBEAT_TIMEOUT_MS = 2000;
const LEASE_TIMEOUT_MS = 4000;
const TEST_TIMEOUT_MS = 45_000;
/** Upper bound for a run to finish once its gate is open. */
const RUN_DEADLINE_MS = 20_000;
/** How long agents, workers and job children get to go away after a test. */
const LEFTOVER_DEADLINE_MS = 15_000;
/** Lost (at once for a dead process, after the heartbeat timeout for a frozen one), backoff, SSH, start. */
const NODE_BACK_MS = 15_000;

/** What an agent's lease file says. */
type Lease = AgentLease;

/** One test's world: the cluster, the test's temp directory, and its Malocher directory. */
interface World {
  cluster: SshNodes;
  root: string;
  malocher: Malocher;
  gate: string;
  starts: string;
  envTags: string[];
  baseline: Census;
}

// ---------------------------------------------------------------------------------------------
// helpers

/** The harness nodes with this file's heartbeat and lease timeouts, and `more`. */
function sshOptions(world: World, more: Omit<ProcessAllOptions, "dir"> = {}): Omit<ProcessAllOptions, "dir"> {
  return {
    ...harnessSshOptions(world.cluster),
    heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
    leaseTimeoutMs: LEASE_TIMEOUT_MS,
    ...more,
  };
}

/** Jobs that started on `host` (by jobStarted events), with the attempt they started as. */
function startedOn(events: RunEvent[], host: string): Array<{ jobId: string; attempt: number }> {
  return events.flatMap((event) => (event.type === "jobStarted" && event.host === host ? [{ jobId: event.jobId, attempt: event.attempt }] : []));
}

function nodeStates(events: RunEvent[], host: string): string[] {
  return events.flatMap((event) => (event.type === "node" && event.host === host ? [event.state] : []));
}

/** The states from the node's first `lost` up to the `ready` after it. */
function statesAfterLoss(events: RunEvent[], host: string): string[] {
  const states = nodeStates(events, host);
  const lost = states.indexOf("lost");
  if (lost < 0) return [];
  const ready = states.indexOf("ready", lost);
  return states.slice(lost, ready < 0 ? undefined : ready + 1);
}

/** The live leases in `agents/` (not the `.lost` marks of agents given up on). */
function leases(dir: string): Lease[] {
  const agents = directoryLayout.agentsDir(dir);
  return readdirSync(agents).filter((name) => !name.endsWith(".lost")).flatMap((name) => {
    try {
      return [JSON.parse(readFileSync(join(agents, name), "utf8")) as Lease];
    } catch {
      return []; // being replaced right now
    }
  });
}

/** The lease of `host`'s agent, waiting for it to appear. */
async function leaseOf(dir: string, host: string, except: string[] = []): Promise<Lease> {
  let found: Lease | undefined;
  await waitUntil(
    () => {
      found = leases(dir).find((lease) => lease.host === host && !except.includes(lease.agentId));
      return found !== undefined;
    },
    10_000,
    `the lease of ${host}'s agent`,
  );
  return found!;
}

function attemptsRecorded(world: World): string[] {
  if (!existsSync(world.starts)) return [];
  return readdirSync(world.starts).map((file) => file.slice(0, file.indexOf(".")));
}

/** Asserts exactly one result per job of `inputs` (jobId → x), each 2x, with the given attempts (default 1). */
function assertDoubled(results: Map<string, JobResult>, inputs: Map<string, number>, attempts: Map<string, number> = new Map()): void {
  assert.deepEqual([...results.keys()].sort(), [...inputs.keys()].sort(), "exactly one result per submitted job");
  for (const [jobId, result] of results) {
    assert.ok(result.ok, `job ${jobId} failed on ${result.host}: ${result.ok ? "" : `[${result.error.code}] ${result.error.message}`}`);
    assert.equal(result.value, 2 * inputs.get(jobId)!, `job ${jobId}'s value`);
    assert.equal(result.attempts, attempts.get(jobId) ?? 1, `job ${jobId}'s attempts (ran on ${result.host})`);
  }
}

async function storedResults(m: Malocher): Promise<Map<string, JobResult>> {
  return collect(m.results());
}

// ---------------------------------------------------------------------------------------------
// the scenarios, run on the local file system and over sshfs

/**
 * kill -9 of one node's agent while it runs two jobs: the node is lost at once, its two jobs are
 * requeued as attempt 2, the agent comes back (lost → restarting → connecting → ready), and every
 * job ends with exactly one correct result.
 */
async function agentKilled(world: World): Promise<void> {
  const { malocher, cluster, gate, starts } = world;
  const victim = cluster.nodes[0]!.machine;
  const inputs = new Map<string, number>();
  for (let x = 0; x < 9; x++) inputs.set(malocher.submit(doubleAfterGate, x, gate, starts), x);
  const run = record(malocher, sshOptions(world, { slots: 2 }));
  await waitUntil(() => startedOn(run.events, victim).length === 2 || run.finished, 20_000, `two jobs running on ${victim}`);
  assert.equal(run.error, undefined, String(run.error));
  const onVictim = startedOn(run.events, victim).map(({ jobId }) => jobId);
  // jobStarted comes before the function runs: wait until both really run.
  await waitUntil(() => onVictim.every((jobId) => attemptsRecorded(world).includes(String(inputs.get(jobId)))), 10_000, "the victim's jobs to run");
  const lease = await leaseOf(malocher.dir, victim);
  assert.match(commandLine(lease.pid), /agent\/dist\/bundle\/main\.js/, "the lease names the agent's pid");
  signal(lease.pid, "SIGKILL");

  await waitUntil(() => statesAfterLoss(run.events, victim).includes("ready") || run.finished, NODE_BACK_MS, `${victim} to come back`);
  const recovered = run.events.filter((event) => event.type === "jobsRecovered");
  assert.deepEqual(recovered, [{ type: "jobsRecovered", host: victim, requeued: 2, failed: 0 }], "the lost node's two jobs were requeued");
  writeFileSync(gate, "");
  await within(run.done, RUN_DEADLINE_MS, "the run");
  assert.equal(run.error, undefined, String(run.error));
  assert.deepEqual(run.duplicates, []);
  assertDoubled(run.results, inputs, new Map(onVictim.map((jobId) => [jobId, 2])));
  assert.equal((await storedResults(malocher)).size, inputs.size, "one stored result per job");
  assert.equal(attemptsRecorded(world).length, inputs.size + 2, "the two interrupted jobs ran twice, the others once");
  for (const node of cluster.nodes.slice(1)) assert.ok(!nodeStates(run.events, node.machine).includes("lost"), `${node.machine} was not lost`);
  assert.deepEqual(
    statesAfterLoss(run.events, victim).filter((state) => state !== "starting"),
    ["lost", "restarting", "connecting", "ready"],
    `node events of ${victim}: ${nodeStates(run.events, victim).join(" → ")}`,
  );
}

/**
 * Submits three jobs that wait for the gate, runs them with one slot per node and waits until all
 * three started: the job on `victim` and that node's agent lease are the ones a scenario freezes.
 */
async function runGatedJobsUntilStarted(world: World, victim: string) {
  const { malocher, gate, starts } = world;
  const inputs = new Map<string, number>();
  for (let x = 1; x <= 3; x++) inputs.set(malocher.submit(doubleAfterGate, x, gate, starts), x);
  const run = record(malocher, sshOptions(world, { slots: 1 }));
  await waitUntil(() => run.events.filter((event) => event.type === "jobStarted").length === 3 || run.finished, 20_000, "all three jobs to run");
  assert.equal(run.error, undefined, String(run.error));
  const [frozenJob] = startedOn(run.events, victim).map(({ jobId }) => jobId);
  assert.ok(frozenJob !== undefined);
  const lease = await leaseOf(malocher.dir, victim);
  return { inputs, run, frozenJob, lease };
}

/**
 * SIGSTOP of one node's agent while it runs a job: the supervisor declares the node lost after
 * heartbeatTimeoutMs, the job is rerun (attempt 2) by the node's new agent and published. The
 * frozen agent's worker meanwhile finished the job too; after SIGCONT the old agent must not
 * publish over the rerun's result, and it stops by itself.
 */
async function frozenAgentFinishesLate(world: World): Promise<void> {
  const { malocher, cluster, gate } = world;
  const victim = cluster.nodes[0]!.machine;
  const { inputs, run, frozenJob, lease } = await runGatedJobsUntilStarted(world, victim);
  const oldWorkers = lease.processGroups;
  signal(lease.pid, "SIGSTOP");
  try {
    const stoppedAt = Date.now();
    await waitUntil(() => nodeStates(run.events, victim).includes("lost"), HEARTBEAT_TIMEOUT_MS + 5000, `${victim} to be declared lost`);
    // The last heartbeat came at most 1 s (the heartbeat interval) before the SIGSTOP.
    const lostAfter = Date.now() - stoppedAt;
    assert.ok(lostAfter >= HEARTBEAT_TIMEOUT_MS - 1000, `declared lost ${lostAfter} ms after the SIGSTOP, before heartbeatTimeoutMs ran out`);
    await waitUntil(
      () => startedOn(run.events, victim).some(({ jobId, attempt }) => jobId === frozenJob && attempt === 2),
      NODE_BACK_MS,
      "the frozen agent's job to be rerun as attempt 2",
    );
    // Open the gate: the rerun and the frozen agent's worker both finish the job.
    writeFileSync(gate, "");
    const resultFile = directoryLayout.resultFile(malocher.dir, frozenJob);
    await waitUntil(() => run.results.has(frozenJob), RUN_DEADLINE_MS, "the rerun's result");
    assert.equal(run.results.get(frozenJob)!.attempts, 2, "the result is the rerun's");
    const published = readFileSync(resultFile);

    signal(lease.pid, "SIGCONT");
    await waitUntil(() => !isAlive(lease.pid), 15_000, "the old agent to stop by itself after SIGCONT");
    await waitUntil(() => oldWorkers.every((pid) => !isAlive(pid)), 5_000, "the old agent's workers to be gone");
    assert.deepEqual(readFileSync(resultFile), published, "the late agent did not publish over the rerun's result");
  } finally {
    signal(lease.pid, "SIGCONT");
  }
  await within(run.done, RUN_DEADLINE_MS, "the run");
  assert.equal(run.error, undefined, String(run.error));
  assert.deepEqual(run.duplicates, []);
  assertDoubled(run.results, inputs, new Map([[frozenJob, 2]]));
  const stored = await storedResults(malocher);
  assert.equal(stored.size, 3, "one stored result per job");
  assert.equal(stored.get(frozenJob)!.attempts, 2);
}

/**
 * SIGSTOP, rerun under way, then SIGCONT while the frozen agent's job still runs: the late agent
 * notices that its lease is gone, kills its job and publishes nothing; the rerun's result stands.
 */
async function frozenAgentWakesDuringRerun(world: World): Promise<void> {
  const { malocher, cluster, gate } = world;
  const victim = cluster.nodes[1]!.machine;
  const { inputs, run, frozenJob, lease } = await runGatedJobsUntilStarted(world, victim);
  signal(lease.pid, "SIGSTOP");
  try {
    await waitUntil(
      () => startedOn(run.events, victim).some(({ jobId, attempt }) => jobId === frozenJob && attempt === 2),
      HEARTBEAT_TIMEOUT_MS + NODE_BACK_MS,
      "the frozen agent's job to be rerun as attempt 2",
    );
    signal(lease.pid, "SIGCONT");
    await waitUntil(() => !isAlive(lease.pid), 15_000, "the old agent to stop by itself after SIGCONT");
    await waitUntil(() => lease.processGroups.every((pid) => !isAlive(pid)), 5_000, "the old agent's workers to be gone");
    assert.ok(!existsSync(directoryLayout.resultFile(malocher.dir, frozenJob)), "the late agent published nothing");
  } finally {
    signal(lease.pid, "SIGCONT");
  }
  writeFileSync(gate, "");
  await within(run.done, RUN_DEADLINE_MS, "the run");
  assert.equal(run.error, undefined, String(run.error));
  assert.deepEqual(run.duplicates, []);
  assertDoubled(run.results, inputs, new Map([[frozenJob, 2]]));
  assert.equal((await storedResults(malocher)).size, 3, "one stored result per job");
}

// ---------------------------------------------------------------------------------------------
// the two file systems

/** Sets up the cluster for a describe block and a fresh world per test. */
function worlds(start: () => Promise<{ cluster: SshNodes; parent: string; cleanup: () => Promise<void> }>): () => World {
  let cluster: SshNodes;
  let parent: string;
  let cleanup: () => Promise<void> = async () => {};
  let world: World | undefined;
  before(async () => {
    ({ cluster, parent, cleanup } = await start());
  });
  after(async () => {
    await cleanup();
  });
  beforeEach(async () => {
    const root = await mkdtemp(join(parent, "faults-"));
    const envTags = [`HOME=${cluster.home}`];
    world = {
      cluster,
      root,
      malocher: new Malocher({ dir: join(root, "malocher") }),
      gate: join(root, "gate"),
      starts: join(root, "starts"),
      envTags,
      baseline: census(envTags, root),
    };
  });
  afterEach(async () => {
    const current = world!;
    await stopActiveRuns();
    // Every test must leave nothing behind; then clean up after a failed one.
    let leftover: unknown;
    try {
      await waitForNoLeftovers(current.envTags, current.root, current.baseline, LEFTOVER_DEADLINE_MS);
    } catch (error) {
      leftover = error;
      const now = census(current.envTags, current.root);
      killPids([
        ...now.agents.filter((pid) => !current.baseline.agents.includes(pid)),
        ...now.workers.filter((pid) => !current.baseline.workers.includes(pid)),
        ...now.marked,
      ]);
    }
    await rm(current.root, { recursive: true, force: true });
    if (leftover !== undefined) throw leftover;
  });
  return () => world!;
}

describe("faults on the local file system", () => {
  const world = worlds(async () => {
    const cluster = await startSshNodes(3);
    return { cluster, parent: tmpdir(), cleanup: () => cluster.close() };
  });

  test("an agent killed with SIGKILL: its jobs are rerun as attempt 2, every job has one correct result, the node comes back", { timeout: TEST_TIMEOUT_MS }, async () => {
    await agentKilled(world());
  });

  test("a node lost with its retries used up gives NODE_LOST with attempts; a job with retries left is rerun on the restarted agent", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { malocher, cluster, gate, starts } = world();
    const node = cluster.nodes[0]!.machine;
    const noRetries = malocher.submit(doubleAfterGate, 1, gate, starts); // processAll says retries: 0
    const oneRetry = malocher.submit.with({ retries: 1 })(doubleAfterGate, 2, gate, starts);
    const run = record(malocher, sshOptions(world(), { sshMachines: [node], slots: 2, retries: 0 }));
    await waitUntil(() => attemptsRecorded(world()).length === 2 || run.finished, 20_000, "both jobs to run");
    const lease = await leaseOf(malocher.dir, node);
    signal(lease.pid, "SIGKILL");
    await waitUntil(() => run.results.has(noRetries) || run.finished, 10_000, "the NODE_LOST result");
    const lost = run.results.get(noRetries);
    assert.ok(lost !== undefined && !lost.ok, `NODE_LOST, got ${JSON.stringify(lost)}`);
    assert.equal(lost.error.code, "NODE_LOST", lost.error.message);
    assert.equal(lost.attempts, 1);
    assert.equal(lost.host, node, "names the machine it was lost on");
    assert.match(lost.error.message, /retries/, "says that the retries are used up");
    assert.ok(!run.results.has(oneRetry), "the job with a retry left waits for its rerun");
    await waitUntil(() => statesAfterLoss(run.events, node).includes("ready"), NODE_BACK_MS, `${node} to come back`);
    writeFileSync(gate, "");
    await within(run.done, RUN_DEADLINE_MS, "the run");
    assert.equal(run.error, undefined, String(run.error));
    assert.deepEqual(run.duplicates, []);
    assert.equal(run.results.size, 2);
    const rerun = run.results.get(oneRetry)!;
    assert.ok(rerun.ok, JSON.stringify(rerun));
    assert.equal(rerun.value, 4);
    assert.equal(rerun.attempts, 2);
    assert.deepEqual(attemptsRecorded(world()).sort(), ["1", "2", "2"], "the NODE_LOST job ran once, the other twice");
  });

  test("over SSH: timeoutMs and cancel kill the job's process group on the node; abort requeues running jobs, which a later run does as attempt 1", { timeout: TEST_TIMEOUT_MS }, async () => {
    const w = world();
    const { malocher, gate, root } = w;
    const pid = (name: string) => join(root, `${name}.pid`);
    const timedOut = malocher.submit.with({ timeoutMs: 1000 })(doubleWithChild, 1, pid("timed-out"), root);
    const cancelled = malocher.submit(doubleWithChild, 2, pid("cancelled"), root);
    const finishes = malocher.submit(doubleAfterGate, 3, gate);
    const run = record(malocher, sshOptions(w, { slots: 1 }));
    await waitUntil(() => existsSync(pid("cancelled")) || run.finished, 20_000, "the job to cancel to run");
    assert.deepEqual(await malocher.cancel(cancelled), { [cancelled]: "requested" });
    await waitUntil(() => run.results.has(cancelled) && run.results.has(timedOut), 10_000, "the cancelled and the timed-out job's results");
    writeFileSync(gate, "");
    await within(run.done, RUN_DEADLINE_MS, "the run");
    assert.equal(run.error, undefined, String(run.error));
    assert.deepEqual(run.duplicates, []);
    assert.equal(run.results.size, 3);
    for (const [jobId, code] of [[timedOut, "JOB_TIMED_OUT"], [cancelled, "JOB_CANCELLED"]] as const) {
      const result = run.results.get(jobId)!;
      assert.ok(!result.ok && result.error.code === code, `${code}: ${JSON.stringify(result)}`);
      assert.equal(result.attempts, 1);
    }
    assert.ok(!isAlive(Number(readFileSync(pid("timed-out"), "utf8"))), "the timed-out job's child was killed");
    assert.ok(!isAlive(Number(readFileSync(pid("cancelled"), "utf8"))), "the cancelled job's child was killed");
    const finished = run.results.get(finishes)!;
    assert.ok(finished.ok && finished.value === 6);

    // Abort a run while three jobs (with children) run on the three nodes.
    rmSync(gate);
    const inputs = new Map<string, number>();
    for (let x = 11; x <= 13; x++) inputs.set(malocher.submit(doubleWithChild, x, pid(`abort-${x}`), root, gate), x);
    const stop = new AbortController();
    const reason = new Error("stop now");
    const aborted = malocher.processAll(sshOptions(w, { slots: 1, signal: stop.signal }));
    const iteration = collect(aborted);
    iteration.catch(() => {});
    await waitUntil(() => [11, 12, 13].every((x) => existsSync(pid(`abort-${x}`))), 20_000, "three jobs to run");
    stop.abort(reason);
    await assert.rejects(within(iteration, 15_000, "the aborted run"), (error) => error === reason);
    for (const x of [11, 12, 13]) assert.ok(!isAlive(Number(readFileSync(pid(`abort-${x}`), "utf8"))), `job ${x}'s child was killed`);
    const status = await malocher.status();
    assert.equal(status.counts.queued, 3, `the running jobs went back to the queue: ${JSON.stringify(status.counts)}`);
    writeFileSync(gate, "");
    const results = await within(collect(malocher.processAll(sshOptions(w, { slots: 1 }))), RUN_DEADLINE_MS, "the run after the abort");
    assertDoubled(results, inputs);
  });

  test("a frozen agent (SIGSTOP) is declared lost after heartbeatTimeoutMs; after SIGCONT it does not publish over the rerun's result and stops", { timeout: TEST_TIMEOUT_MS }, async () => {
    await frozenAgentFinishesLate(world());
  });

  test("a frozen agent woken while its job is rerun elsewhere kills its job, publishes nothing, and stops", { timeout: TEST_TIMEOUT_MS }, async () => {
    await frozenAgentWakesDuringRerun(world());
  });

  test("the lease records the workers' process groups; the next agent on the node kills a worker its dead predecessor left behind", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { malocher, cluster, gate, root } = world();
    const node = cluster.nodes[0]!.machine;
    const childPidFile = join(root, "sync-child.pid");
    const idsFile = join(root, "ids.json");
    // Blocks its worker's event loop for a minute, so the worker cannot notice its agent died.
    const blocked = malocher.submit.with({ retries: 0 })(doubleAfterSpawnSync, 1, childPidFile, root, 60_000);
    const gated = malocher.submit(processIdsAfterGate, idsFile, gate);
    const run = record(malocher, sshOptions(world(), { sshMachines: [node], slots: 2 }));
    await waitUntil(() => holdsPid(childPidFile) && existsSync(idsFile), 20_000, "both jobs to run");
    const child = Number(readFileSync(childPidFile, "utf8"));
    const blockedWorker = procIds(child).ppid;
    const gatedIds = JSON.parse(readFileSync(idsFile, "utf8")) as { pid: number; pgid: number };
    assert.equal(gatedIds.pgid, gatedIds.pid, "a worker leads its own process group");
    assert.equal(procIds(blockedWorker).pgrp, blockedWorker, "a worker leads its own process group");
    assert.equal(procIds(child).pgrp, blockedWorker, "the job's child is in its worker's group");
    assert.match(commandLine(blockedWorker), /worker-main\.js/);
    // The lease is renewed every 2 s; within a renewal or two it lists both workers' groups.
    let lease = await leaseOf(malocher.dir, node);
    await waitUntil(
      async () => {
        lease = await leaseOf(malocher.dir, node);
        return [blockedWorker, gatedIds.pid].every((group) => lease.processGroups.includes(group));
      },
      5000,
      `the lease to list the workers' process groups ${blockedWorker} and ${gatedIds.pid}`,
    );
    assert.equal(lease.host, node);
    assert.equal(lease.hostname, hostname());
    assert.match(commandLine(lease.pid), /agent\/dist\/bundle\/main\.js/, "lease.pid is the agent");

    signal(lease.pid, "SIGKILL");
    await waitUntil(() => statesAfterLoss(run.events, node).includes("ready"), NODE_BACK_MS, `${node} to come back`);
    const newLease = await leaseOf(malocher.dir, node, [lease.agentId]);
    assert.notEqual(newLease.pid, lease.pid);
    // The new agent is up; the leftover group (worker and its child, with a minute to go) must be gone.
    const leftBehindKilled = await waitFor(() => !isAlive(blockedWorker) && !isAlive(child), 5000, 50);
    killPids([blockedWorker, child]);

    rmSync(idsFile);
    writeFileSync(gate, "");
    await within(run.done, RUN_DEADLINE_MS, "the run");
    assert.equal(run.error, undefined, String(run.error));
    assert.equal(run.results.size, 2);
    const lost = run.results.get(blocked)!;
    assert.ok(!lost.ok && lost.error.code === "NODE_LOST", JSON.stringify(lost));
    assert.equal(lost.attempts, 1);
    const rerun = run.results.get(gated)!;
    assert.ok(rerun.ok, JSON.stringify(rerun));
    assert.equal(rerun.attempts, 2);
    const rerunIds = rerun.value as { pid: number; pgid: number };
    assert.equal(rerunIds.pgid, rerunIds.pid);
    assert.ok(
      leftBehindKilled,
      `the worker ${blockedWorker} (blocked in spawnSync) and its child ${child}, left behind by the SIGKILLed agent, ` +
        `were still alive 5 s after the node's next agent was ready, although the dead agent's lease listed their group`,
    );
  });

  test("an agent killed right after its jobs started (before its first lease renewal) leaves no worker behind either", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { malocher, cluster, gate, root } = world();
    const node = cluster.nodes[0]!.machine;
    const childPidFile = join(root, "sync-child.pid");
    malocher.submit.with({ retries: 0 })(doubleAfterSpawnSync, 1, childPidFile, root, 60_000);
    const gated = malocher.submit(doubleAfterGate, 2, gate, world().starts);
    const run = record(malocher, sshOptions(world(), { sshMachines: [node], slots: 2 }));
    await waitUntil(() => holdsPid(childPidFile) && attemptsRecorded(world()).length === 1, 20_000, "both jobs to run");
    const child = Number(readFileSync(childPidFile, "utf8"));
    const blockedWorker = procIds(child).ppid;
    const lease = await leaseOf(malocher.dir, node);
    signal(lease.pid, "SIGKILL");
    const listed = lease.processGroups.includes(blockedWorker);
    await waitUntil(() => statesAfterLoss(run.events, node).includes("ready"), NODE_BACK_MS, `${node} to come back`);
    const leftBehindKilled = await waitFor(() => !isAlive(blockedWorker) && !isAlive(child), 5000, 50);
    killPids([blockedWorker, child]);
    writeFileSync(gate, "");
    await within(run.done, RUN_DEADLINE_MS, "the run");
    assert.equal(run.error, undefined, String(run.error));
    assert.equal(run.results.size, 2);
    assert.equal(run.results.get(gated)!.attempts, 2);
    assert.ok(
      leftBehindKilled,
      `the worker ${blockedWorker} (blocked in spawnSync) and its child ${child} outlived their SIGKILLed agent and its successor; ` +
        `the lease at the time of the kill (seq ${lease.seq}) listed process groups [${lease.processGroups.join(", ")}]` +
        (listed ? "" : ", without this worker: the lease does not name workers until its next renewal"),
    );
  });

  test("a child process a job started does not outlive the job's SIGKILLed agent; the job is rerun as attempt 2", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { malocher, cluster, gate, root } = world();
    const node = cluster.nodes[0]!.machine;
    const pidFile = join(root, "child.pid");
    const job = malocher.submit(doubleWithChild, 5, pidFile, root, gate);
    const run = record(malocher, sshOptions(world(), { sshMachines: [node], slots: 1 }));
    await waitUntil(() => holdsPid(pidFile), 20_000, "the job and its child to run");
    const firstChild = Number(readFileSync(pidFile, "utf8"));
    const firstWorker = procIds(firstChild).ppid;
    rmSync(pidFile);
    const lease = await leaseOf(malocher.dir, node);
    signal(lease.pid, "SIGKILL");
    await waitUntil(() => holdsPid(pidFile), NODE_BACK_MS, "the rerun's child to run");
    // The rerun runs on the node's next agent: by now nothing of the first attempt may be left.
    const workerGone = await waitFor(() => !isAlive(firstWorker), 5000, 50);
    const childGone = await waitFor(() => !isAlive(firstChild), 5000, 50);
    killPids([firstWorker, firstChild]);
    writeFileSync(gate, "");
    await within(run.done, RUN_DEADLINE_MS, "the run");
    assert.equal(run.error, undefined, String(run.error));
    const result = run.results.get(job)!;
    assert.ok(result.ok && result.value === 10, JSON.stringify(result));
    assert.equal(result.attempts, 2);
    assert.ok(workerGone, `the first attempt's worker ${firstWorker} outlived its SIGKILLed agent`);
    assert.ok(
      childGone,
      `the first attempt's child ${firstChild} (in worker ${firstWorker}'s process group) outlived its SIGKILLed agent and the node's next agent`,
    );
  });

  test("a run that ends right after its node was lost leaves no worker of the dead agent behind", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { malocher, cluster, root } = world();
    const node = cluster.nodes[0]!.machine;
    const childPidFile = join(root, "sync-child.pid");
    const blocked = malocher.submit.with({ retries: 0 })(doubleAfterSpawnSync, 1, childPidFile, root, 60_000);
    const run = record(malocher, sshOptions(world(), { sshMachines: [node], slots: 1 }));
    await waitUntil(() => holdsPid(childPidFile), 20_000, "the job to run");
    const child = Number(readFileSync(childPidFile, "utf8"));
    const blockedWorker = procIds(child).ppid;
    const lease = await leaseOf(malocher.dir, node);
    signal(lease.pid, "SIGKILL");
    await within(run.done, RUN_DEADLINE_MS, "the run");
    const lost = run.results.get(blocked);
    assert.ok(lost !== undefined && !lost.ok && lost.error.code === "NODE_LOST", JSON.stringify(lost));
    // Nothing of this run may stay on the node: also not the dead agent's worker, which cannot
    // notice by itself while its job blocks the event loop.
    const gone = await waitFor(() => !isAlive(blockedWorker) && !isAlive(child), 8000, 50);
    killPids([blockedWorker, child]);
    assert.ok(gone, `the worker ${blockedWorker} and its child ${child} of the SIGKILLed agent were still alive 8 s after the run ended`);
  });

  test("a supervisor killed with SIGKILL: the agents exit by themselves, finished results are kept, a new run finishes the rest", { timeout: TEST_TIMEOUT_MS }, async () => {
    const w = world();
    const { malocher, gate, starts } = w;
    const quick = new Map<string, number>();
    for (let x = 1; x <= 3; x++) quick.set(malocher.submit(double, x), x);
    const gated = new Map<string, number>();
    for (let x = 11; x <= 13; x++) gated.set(malocher.submit(doubleAfterGate, x, gate, starts), x);
    const supervisor = startSupervisor(w, sshOptions(w, { slots: 2 }));
    try {
      await waitUntil(
        () => supervisor.lines.filter((line) => line.kind === "result").length === 3 && attemptsRecorded(w).length === 3,
        60_000,
        "the quick jobs to finish and the gated ones to run",
      );
      assert.ok(census(w.envTags, w.root).agents.length > w.baseline.agents.length, "agents run");
      const finishedBefore = new Map([...quick.keys()].map((jobId) => [jobId, readFileSync(directoryLayout.resultFile(malocher.dir, jobId))]));
      supervisor.process.kill("SIGKILL");
      await waitUntil(() => supervisor.exited, 5000, "the supervisor to die");

      // Nobody tells the agents: their SSH sessions end, and they stop by themselves.
      await waitUntil(() => {
        const now = census(w.envTags, w.root);
        return now.agents.length === w.baseline.agents.length && now.workers.length === w.baseline.workers.length;
      }, LEFTOVER_DEADLINE_MS, "the orphaned agents and their workers to exit by themselves");
      for (const [jobId, bytes] of finishedBefore) {
        assert.deepEqual(readFileSync(directoryLayout.resultFile(malocher.dir, jobId)), bytes, "a finished result is kept as it was");
      }
      assert.equal((await malocher.unfinishedJobs()).length, 3, "the interrupted jobs have no result");
      const status = await malocher.status();
      const afterExit = { queued: status.counts.queued, running: status.counts.running };

      writeFileSync(gate, "");
      const results = await within(collect(malocher.processAll(sshOptions(w, { slots: 2 }))), RUN_DEADLINE_MS, "the new run");
      const stored = await storedResults(malocher);
      assert.equal(stored.size, 6, "one stored result per job");
      for (const [jobId, x] of quick) assert.equal((stored.get(jobId) as { value?: unknown }).value, 2 * x);
      // This process submitted all six: the new run yields each, the finished ones from their kept results.
      for (const [jobId, bytes] of finishedBefore) {
        assert.deepEqual(readFileSync(directoryLayout.resultFile(malocher.dir, jobId)), bytes, "a finished job did not run again");
      }
      assert.deepEqual(
        afterExit,
        { queued: 3, running: 0 },
        "the agents put their claims back in the queue before they exited (else the next run waits leaseTimeoutMs and counts an extra attempt)",
      );
      assertDoubled(results, new Map([...quick, ...gated]));
    } finally {
      supervisor.process.kill("SIGKILL");
    }
  });

  test("supervisor and agents killed (a crash): a new run requeues the dead agents' jobs after leaseTimeoutMs, as attempt 2, and finishes everything", { timeout: TEST_TIMEOUT_MS }, async () => {
    const w = world();
    const { malocher, gate, starts } = w;
    const inputs = new Map<string, number>();
    for (let x = 1; x <= 3; x++) inputs.set(malocher.submit(doubleAfterGate, x, gate, starts), x);
    const supervisor = startSupervisor(w, sshOptions(w, { slots: 1 }));
    let dead: Lease[] = [];
    try {
      await waitUntil(() => attemptsRecorded(w).length === 3, 20_000, "the three jobs to run");
      await waitUntil(() => leases(malocher.dir).length === 3, 10_000, "three leases");
      dead = leases(malocher.dir);
      // Freeze the supervisor first, so that it cannot recover anything, then kill everything.
      supervisor.process.kill("SIGSTOP");
      for (const lease of dead) signal(lease.pid, "SIGKILL");
      supervisor.process.kill("SIGKILL");
      await waitUntil(() => supervisor.exited && dead.every((lease) => !isAlive(lease.pid)), 5000, "the supervisor and the agents to die");
    } finally {
      supervisor.process.kill("SIGKILL");
    }
    const claims = readdirSync(directoryLayout.runningDir(malocher.dir)).flatMap((agentId) =>
      readdirSync(directoryLayout.agentRunningDir(malocher.dir, agentId)),
    );
    assert.deepEqual(claims.sort(), [...inputs.keys()].sort(), "the dead agents' claims are still there");

    writeFileSync(gate, "");
    const run = record(malocher, sshOptions(w, { slots: 1 }));
    await within(run.done, LEASE_TIMEOUT_MS + RUN_DEADLINE_MS, "the new run");
    assert.equal(run.error, undefined, String(run.error));
    assert.deepEqual(run.duplicates, []);
    assertDoubled(run.results, inputs, new Map([...inputs.keys()].map((jobId) => [jobId, 2])));
    const startTimes = run.events.flatMap((event, i) => (event.type === "jobStarted" ? [run.times[i]! - run.startedAt] : []));
    assert.equal(startTimes.length, 3, "each job ran once more");
    assert.ok(
      Math.min(...startTimes) >= LEASE_TIMEOUT_MS,
      `the jobs were requeued only after their agents' leases had been unchanged for leaseTimeoutMs (started after ${startTimes.join(", ")} ms)`,
    );
    assert.equal(attemptsRecorded(w).length, 6);
    assert.ok(leases(malocher.dir).every((lease) => !dead.some((d) => d.agentId === lease.agentId)), "the dead agents' leases are no longer live");
  });
});

/** The supervisor script as a child process, with its output lines parsed. */
interface Supervisor {
  process: ChildProcess;
  lines: Array<{ kind: string } & Record<string, unknown>>;
  exited: boolean;
}

function startSupervisor(world: World, options: Omit<ProcessAllOptions, "dir">): Supervisor {
  const config = JSON.stringify({ dir: world.malocher.dir, ...options });
  const child = spawn(process.execPath, ["--import", TSX, SUPERVISE, config], { stdio: ["ignore", "pipe", "pipe"] });
  const supervisor: Supervisor = { process: child, lines: [], exited: false };
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      supervisor.lines.push(JSON.parse(line) as Supervisor["lines"][number]);
    } catch {}
  });
  child.stderr!.resume();
  child.once("exit", () => (supervisor.exited = true));
  return supervisor;
}

describe("faults over sshfs (every node mounts the directory over SFTP)", () => {
  const world = worlds(async () => {
    const share = await mkdtemp(join(tmpdir(), "malocher-faults-share-"));
    const cluster = await startSshNodes(3, { sshfsShare: share });
    return {
      cluster,
      parent: share,
      cleanup: async () => {
        await cluster.close();
        await rm(share, { recursive: true, force: true });
      },
    };
  });

  test("sshfs: an agent killed with SIGKILL: its jobs are rerun as attempt 2, every job has one correct result, the node comes back", { timeout: TEST_TIMEOUT_MS }, async () => {
    await agentKilled(world());
  });

  test("sshfs: a frozen agent (SIGSTOP) does not publish over the rerun's result after SIGCONT, and stops", { timeout: TEST_TIMEOUT_MS }, async () => {
    await frozenAgentFinishesLate(world());
  });

  test("sshfs: a frozen agent woken while its job is rerun elsewhere kills its job, publishes nothing, and stops", { timeout: TEST_TIMEOUT_MS }, async () => {
    await frozenAgentWakesDuringRerun(world());
  });
});
