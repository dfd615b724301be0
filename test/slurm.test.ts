// Agents started through Slurm, on a real Slurm cluster of two nodes on this machine
// (test/harness/slurm-cluster.ts): jobs spread over both nodes, time limits that requeue without
// counting an attempt, an allocation cancelled from outside, nothing left behind, and the errors.
import { strict as assert } from "node:assert";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MalocherError, type JobResult, type ProcessAllOptions, type RunEvent } from "malocher";
import { envOf, longFirstTime, nap, napUntil } from "./fixtures/slurm/jobs.js";
import { waitForNoLeftovers } from "./support/census.js";
import { collect } from "./support/results.js";
import { freshMalocher } from "./support/temp.js";
import { fixtures, runCli, tsx } from "./fixtures/jobs/support.js";
import { waitUntil } from "./support/wait.js";
import { slurmInstalled, startSlurmCluster, type SlurmCluster } from "./harness/slurm-cluster.js";
import { startSshNodes } from "./harness/sshd-nodes.js";


let slurm: SlurmCluster;
before(async () => {
  // 4 CPUs a node: the time-limit test holds one of each node's while the others run beside it.
  slurm = await startSlurmCluster(2, { cpus: 4 });
  process.env["SLURM_CONF"] = slurm.conf; // for sbatch, squeue and scancel, and inherited by the agents
});
after(async () => {
  await slurm?.close();
});

/** Slurm options for the test cluster: the agents dial the supervisor on loopback. */
function slurmOptions(time: string, extra: Partial<NonNullable<ProcessAllOptions["slurm"]>> = {}): ProcessAllOptions["slurm"] {
  return { nodes: 2, time, supervisorHost: "127.0.0.1", ...extra };
}

/** The `[label, Slurm job id]` of every start the jobs of `longFirstTime` logged. */
function startsIn(log: string): string[][] {
  try {
    return readFileSync(log, "utf8").trim().split("\n").filter((line) => line !== "").map((line) => line.split(" "));
  } catch {
    return [];
  }
}

/** The ids of the allocations a run reported. */
function allocationIds(events: readonly RunEvent[]): string[] {
  return [...new Set(events.flatMap((event) => (event.type === "allocation" ? [event.id] : [])))];
}

/**
 * Waits until squeue lists none of the run's allocations (other tests' allocations may run beside
 * this one's: the time-limit test runs alongside the others).
 */
async function noAllocationLeft(events: readonly RunEvent[], ms = 15_000): Promise<void> {
  const ids = allocationIds(events);
  assert.ok(ids.length > 0, "the run reported its allocations");
  await waitUntil(async () => (await slurm.jobIds()).every((id) => !ids.includes(id)), ms, `squeue to list none of the allocations ${ids.join(", ")}`);
}

// The time-limit test waits out a 1-minute allocation: the others run meanwhile, beside it.
describe("Slurm", { skip: !slurmInstalled() && "needs slurm-wlm and munge", concurrency: 2 }, () => {
  test("an allocation that reaches its time limit mid-job loses nothing and charges no attempt; a job is claimed only if its timeoutMs fits in the time left; a job's own kill grace is given in full before the end", { timeout: 150_000 }, async (t) => {
    const malocher = freshMalocher(t, "slurm");
    const log = join(malocher.dir, "starts.log");
    // Each job's first attempt runs longer than the 1-minute allocation; the second is quick.
    const ids = ["a", "b"].map((label) => malocher.submit(longFirstTime, log, label, 120_000));
    // A job with a kill grace of its own, longer than the run's: its first attempt traps SIGTERM and
    // needs 12 s to save its work. The agent stops it early enough for all of it (20 s + 1 s before
    // the end, not the allocation's 6 s): Slurm's own SIGTERM at the end, and SIGKILL 5 s later,
    // would cut it short.
    const saves = join(malocher.dir, "saves.log");
    const saving = [
      'if grep -q "^started " "$1" 2>/dev/null; then echo "started $SLURM_JOB_ID" >> "$1"; exit 0; fi',
      'echo "started $SLURM_JOB_ID" >> "$1"',
      `trap 'trap "" TERM; sleep 12; echo "saved $SLURM_JOB_ID $(date +%s)" >> "$1"; exit 143' TERM`,
      "sleep 120 & wait",
    ].join("\n");
    const graceful = malocher.submitCommand(["sh", "-c", saving, "sh", saves], { killGraceMs: 20_000 });
    const events: RunEvent[] = [];
    const results = new Map<string, JobResult>();
    const run = (async () => {
      // A generous heartbeat bound: on a loaded machine a late heartbeat would lose a node, and its job would rerun at once.
      const options = { slurm: slurmOptions("1:00"), slots: 2, heartbeatTimeoutMs: 30_000, keepAlive: true, onEvent: (event: RunEvent) => events.push(event), signal: t.signal };
      for await (const [jobId, result] of malocher.processAll(options)) {
        results.set(jobId, result);
        if (results.size === 4) break;
      }
    })();
    // Once less than 25 s are left in the first allocation, a job that needs up to 30 s is queued:
    // its agents have free slots, but must not start it there (a fresh allocation has 54 s).
    await waitUntil(() => events.some((event) => event.type === "allocation" && event.state === "running"), 40_000, "the allocation to run");
    const endsAt = events.flatMap((event) => (event.type === "allocation" && event.endsAt !== undefined ? [event.endsAt] : []))[0]!;
    await waitUntil(() => Date.now() > endsAt - 25_000, 60_000, "less than 25 s left in the allocation");
    const late = malocher.submit.with({ timeoutMs: 30_000 })(longFirstTime, log, "c", 100);
    await run;
    const starts = startsIn(log);
    const allocations = allocationIds(events);
    assert.ok(allocations.length >= 2, `a second allocation after the first reached its limit: ${JSON.stringify(starts)}`);
    const shown = JSON.stringify({ starts, allocations: events.filter((e) => e.type === "allocation" || e.type === "node") });
    for (const id of [...ids, late, graceful]) {
      const result = results.get(id)!;
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(result.attempts, 1, "the time limit charged no attempt");
    }
    const lateResult = results.get(late)!;
    assert.equal(lateResult.ok && (lateResult.value as { slurmJob: string }).slurmJob, allocations[1], `the second allocation ran the late job: ${shown}`);
    // Each ran again once it was put back: in the second allocation, or, when the agent that stopped
    // early for the graceful job's sake had run it, on the first allocation's other node.
    for (const label of ["a", "b"]) {
      const [first, again, ...more] = starts.filter(([l]) => l === label).map(([, job]) => job);
      assert.ok(first === allocations[0] && allocations.slice(0, 2).includes(again!) && more.length === 0, `${label} started in the first allocation, then once more: ${shown}`);
    }
    const [started, saved = "", ...more] = readFileSync(saves, "utf8").trim().split("\n");
    const [, savedIn, savedAt] = saved.split(" ");
    assert.deepEqual([started, savedIn], [`started ${allocations[0]}`, allocations[0]], "its work was saved in the first allocation");
    // (Where Slurm does not kill what a job step left behind, as on this test cluster, it would be saved late: after the end.)
    assert.ok(Number(savedAt) <= endsAt / 1000, `its work was saved before the allocation's end (${endsAt / 1000}): ${saved}`);
    assert.equal(more.length, 1, "it ran once more");
    assert.deepEqual(starts.filter(([l]) => l === "c").map(([, job]) => job), [allocations[1]], "the late job never started in the first allocation: it did not fit");
    // The run heard that a and b went back to the queue at the first allocation's end (from its agents as they stopped, or taken back by the supervisor).
    const recovered = events.filter((event) => event.type === "jobsRecovered");
    assert.equal(recovered.reduce((sum, event) => sum + event.requeued, 0), 3, `the run was told of the three jobs put back: ${JSON.stringify(recovered)}`);
    assert.ok(recovered.some((event) => /Slurm/.test(event.reason ?? "")), `the agents that put them back said why: ${JSON.stringify(recovered)}`);
    await noAllocationLeft(events);
  });

  describe("runs and errors", () => {
  test("one allocation of 2 nodes, one agent each: jobs spread over both, results name the Slurm node, nothing left", { timeout: 90_000 }, async (t) => {
    const malocher = freshMalocher(t, "slurm");
    const ids = Array.from({ length: 8 }, () => malocher.submit(nap, 400));
    const events: RunEvent[] = [];
    /** What Slurm and the directory say of the allocation while it runs. */
    let seen: { requeue: string | undefined; outputModes: string[] } | undefined;
    const onEvent = (event: RunEvent) => {
      events.push(event);
      if (seen !== undefined || event.type !== "allocation" || event.state !== "running") return;
      const job = execFileSync("scontrol", ["show", "job", event.id], { encoding: "utf8" });
      const slurmDir = join(malocher.dir, "slurm");
      const outputs = readdirSync(slurmDir).filter((name) => name.endsWith(".out"));
      seen = { requeue: /\bRequeue=(\d)/.exec(job)?.[1], outputModes: outputs.map((name) => (statSync(join(slurmDir, name)).mode & 0o777).toString(8)) };
    };
    const results = await collect(malocher.processAll({ slurm: slurmOptions("2:00"), slots: 2, onEvent, signal: t.signal }));
    // Not requeued by Slurm after a node failure (a late start for a run that asked for another); its output 0600 like every file of the directory.
    assert.deepEqual(seen, { requeue: "0", outputModes: ["600"] });
    assert.equal(results.size, ids.length);
    for (const result of results.values()) assert.ok(result.ok, JSON.stringify(result));
    const hosts = new Set([...results.values()].map((result) => result.host));
    assert.deepEqual([...hosts].sort(), ["n1", "n2"], "every job ran on a Slurm node, on both");
    for (const result of results.values()) {
      const value = (result.ok ? result.value : {}) as { node?: string };
      assert.equal(value.node, result.host, "the result's host is the node the job ran on (SLURMD_NODENAME)");
      assert.equal(result.attempts, 1);
    }
    const allocations = new Set(events.flatMap((event) => (event.type === "allocation" ? [event.id] : [])));
    assert.equal(allocations.size, 1, "one allocation for all the jobs");
    assert.ok(events.some((event) => event.type === "allocation" && event.state === "running" && event.endsAt !== undefined), "its end time was reported");
    await noAllocationLeft(events);
    // This run's agents carry its directory on their command line (the launch files' prefix); a
    // worker leaves with its agent. (Other tests' agents run beside this one's: no global count.)
    await waitForNoLeftovers([], malocher.dir, { agents: [], workers: [], marked: [] }, 15_000);
  });

  test("an allocation cancelled from outside (scancel): its jobs go back to the queue and a new allocation finishes them", { timeout: 90_000 }, async (t) => {
    const malocher = freshMalocher(t, "slurm");
    const log = join(malocher.dir, "starts.log");
    const ids = ["a", "b", "c"].map((label) => malocher.submit(longFirstTime, log, label, 120_000));
    // A command that traps SIGTERM, says so and exits 3 the first time; the second time it ends at once.
    const marker = join(malocher.dir, "command-ran");
    const script = `if [ -e "$1" ]; then echo again; exit 0; fi; : > "$1"; echo "command $SLURM_JOB_ID" >> "$2"; trap 'echo saving; exit 3' TERM; sleep 120 & wait`;
    const command = malocher.submitCommand(["sh", "-c", script, "sh", marker, log]);
    const events: RunEvent[] = [];
    let cancelled: string | undefined;
    const onEvent = (event: RunEvent) => {
      events.push(event);
      // Once all four run their first attempt (2 nodes × 2 slots), the allocation is cancelled from outside.
      if (event.type === "jobStarted" && events.filter((e) => e.type === "jobStarted").length === 4 && cancelled === undefined) {
        cancelled = events.find((e): e is Extract<RunEvent, { type: "allocation" }> => e.type === "allocation")!.id;
        void waitUntil(() => startsIn(log).length === 4, 20_000, "the four jobs to start").then(() => slurm.run("scancel", [cancelled!]));
      }
    };
    const results = await collect(malocher.processAll({ slurm: slurmOptions("2:00"), slots: 2, heartbeatTimeoutMs: 30_000, onEvent, signal: t.signal }));
    assert.ok(cancelled !== undefined);
    assert.equal(results.size, 4);
    for (const id of ids) {
      const result = results.get(id)!;
      assert.ok(result.ok, JSON.stringify(result));
      assert.notEqual((result.value as { slurmJob: string }).slurmJob, cancelled, "a new allocation ran it");
      assert.equal(result.attempts, 1, "Slurm's kill of the allocation is not the job's failure");
    }
    // The command exited 3 on Slurm's SIGTERM: no failure of its own either; what it said then is in its log.
    const commandResult = results.get(command)!;
    assert.ok(commandResult.ok, JSON.stringify(commandResult));
    assert.equal(commandResult.attempts, 1);
    assert.match((await malocher.logs(command)).stdout, /saving\n[^]*again\n/);
    await noAllocationLeft(events);
  });

  test("maxAllocations: while jobs stay queued, more allocations run at once, never more than allowed; two on one node count as two", { timeout: 90_000 }, async (t) => {
    const malocher = freshMalocher(t, "slurm");
    // The jobs wait until two run at once: the queue stays full until the second allocation's agent is up.
    const marker = join(malocher.dir, "both-up");
    Array.from({ length: 4 }, () => malocher.submit(napUntil, marker, 60_000));
    const events: RunEvent[] = [];
    const active = new Set<string>();
    let mostAtOnce = 0;
    const onEvent = (event: RunEvent) => {
      events.push(event);
      // Two jobs running at once, one slot each: one in each allocation. Then all may finish.
      if (event.type === "jobStarted" && events.filter((e) => e.type === "jobStarted").length === 2) writeFileSync(marker, "");
      if (event.type !== "allocation") return;
      if (event.state === "ended") active.delete(event.id);
      else active.add(event.id);
      mostAtOnce = Math.max(mostAtOnce, active.size);
    };
    // Both on node n1 (Slurm may place small allocations so): the run tells their agents apart.
    const slurmSettings = slurmOptions("2:00", { nodes: 1, maxAllocations: 2, sbatchArgs: ["--nodelist=n1"] });
    const results = await collect(malocher.processAll({ slurm: slurmSettings, slots: 1, onEvent, signal: t.signal }));
    assert.equal([...results.values()].filter((result) => result.ok).length, 4);
    const ranIn = new Set([...results.values()].map((result) => (result.ok ? (result.value as { slurmJob: string }).slurmJob : "")));
    assert.equal(ranIn.size, 2, `two 1-node allocations ran the jobs: ${[...ranIn].join(", ")}`);
    assert.equal(mostAtOnce, 2, "at most maxAllocations at once");
    const readyNodes = [...new Set(events.flatMap((event) => (event.type === "node" && event.state === "ready" ? [event.host] : [])))].sort();
    assert.equal(readyNodes.length, 2, `two nodes of the run: ${readyNodes.join(", ")}`);
    assert.equal(readyNodes[0], "n1");
    assert.match(readyNodes[1]!, /^n1 \(slurm job \d+\)$/);
    const startedOn = new Set(events.flatMap((event) => (event.type === "jobStarted" ? [event.host] : [])));
    assert.deepEqual([...startedOn].sort(), readyNodes, "each job's start names the agent that ran it");
    await noAllocationLeft(events);
  });

  test("a job whose timeoutMs fits in no allocation fails with NO_NODE_FITS; the others run", { timeout: 60_000 }, async (t) => {
    const malocher = freshMalocher(t, "slurm");
    const fits = malocher.submit(nap, 100);
    const tooLong = malocher.submit.with({ timeoutMs: 10 * 60_000 })(nap, 100);
    const events: RunEvent[] = [];
    const results = await collect(malocher.processAll({ slurm: slurmOptions("1:00"), slots: 1, onEvent: (event) => events.push(event), signal: t.signal }));
    assert.ok(results.get(fits)?.ok);
    const failed = results.get(tooLong)!;
    assert.equal(failed.ok, false);
    assert.equal(!failed.ok && failed.error.code, "NO_NODE_FITS", JSON.stringify(failed));
    assert.match(!failed.ok ? failed.error.message : "", /Slurm allocation/);
    assert.match(!failed.ok ? failed.error.message : "", /Ask Slurm for more slots per node .* or a longer time \(slurm\.time, --slurm-time\)/, "advice for Slurm, not for a hosts file");
    assert.doesNotMatch(!failed.ok ? failed.error.message : "", /hosts file/);
    await noAllocationLeft(events);
  });

  test("an allocation that stays pending says why (Slurm's reason) and runs once the nodes are free", { timeout: 60_000 }, async (t) => {
    const malocher = freshMalocher(t, "slurm");
    const blocker = (await slurm.run("sbatch", ["--parsable", "-N", "2", "--exclusive", "--time=1", "--wrap", "sleep 300"])).trim();
    t.after(() => slurm.run("scancel", [blocker]).catch(() => ""));
    const id = malocher.submit(nap, 100);
    const events: RunEvent[] = [];
    const onEvent = (event: RunEvent) => {
      events.push(event);
      if (event.type === "allocation" && event.state === "pending" && event.reason !== undefined) void slurm.run("scancel", [blocker]);
    };
    const results = await collect(malocher.processAll({ slurm: slurmOptions("1:00"), onEvent, signal: t.signal }));
    assert.ok(results.get(id)?.ok);
    const pending = events.find((event) => event.type === "allocation" && event.state === "pending" && event.reason !== undefined);
    assert.ok(pending, `a pending allocation with a reason: ${JSON.stringify(events.filter((event) => event.type === "allocation"))}`);
    assert.match((pending as { reason: string }).reason, /Resources|Priority|Nodes/);
    await noAllocationLeft(events);
  });

  test("startCluster({ slurm }): ready once the allocation's agents are, serves runs, and close() cancels the allocation at once", { timeout: 60_000 }, async (t) => {
    const malocher = freshMalocher(t, "slurm");
    const events: RunEvent[] = [];
    const cluster = await malocher.startCluster({ slurm: slurmOptions("2:00"), slots: 1, onEvent: (event) => events.push(event) });
    try {
      await cluster.ready();
      const [allocation, ...more] = allocationIds(events);
      assert.deepEqual(more, [], "one allocation");
      assert.ok((await slurm.jobIds()).includes(allocation!), "it runs");
      await waitUntil(async () => (await malocher.status()).allocations.some((record) => record.id === allocation && record.state === "running"), 10_000, "status() to show the allocation running");
      const ids = [1, 2, 3].map(() => malocher.submit(nap, 50));
      const results = await collect(cluster.processAll({ jobs: ids }));
      assert.equal([...results.values()].filter((result) => result.ok).length, 3);
    } finally {
      const closing = Date.now();
      await cluster.close();
      assert.ok(Date.now() - closing < 15_000, `close took ${Date.now() - closing} ms`);
    }
    await noAllocationLeft(events, 10_000);
    assert.deepEqual((await malocher.status()).allocations, [], "status() shows no allocation once it ended");
  });

  test("after the supervisor is killed, its agents notice and the allocation ends within idleTimeoutMs", { timeout: 90_000 }, async (t) => {
    const malocher = freshMalocher(t, "slurm");
    malocher.submit(nap, 60_000);
    const idleTimeoutMs = 5000;
    const options = { dir: malocher.dir, slurm: slurmOptions("2:00", { idleTimeoutMs }), slots: 1 };
    const child = spawn(process.execPath, ["--import", tsx, join(fixtures, "../faults/supervise.ts"), JSON.stringify(options)], { stdio: ["ignore", "pipe", "inherit"] });
    t.after(() => child.kill("SIGKILL"));
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    await waitUntil(() => output.includes(`"type":"jobStarted"`), 40_000, "the job to start");
    const events = output
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as RunEvent);
    assert.ok(allocationIds(events).length >= 1);
    child.kill("SIGKILL");
    const killedAt = Date.now();
    await noAllocationLeft(events, idleTimeoutMs + 15_000);
    assert.ok(Date.now() - killedAt < idleTimeoutMs + 15_000);
    // The job went back to the queue: the next run finishes it.
    assert.equal((await malocher.status()).counts.queued, 1, "the job is queued again");
  });

  test("a script ended by a signal (SIGTERM, Ctrl-C) cancels its allocations, also one still pending, before it ends; the jobs stay queued", { timeout: 60_000 }, async (t) => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const malocher = freshMalocher(t, "slurm");
      malocher.submit(nap, 100);
      // Pending for an hour (Slurm's reason: BeginTime), without holding the nodes other tests use.
      const options = { dir: malocher.dir, slurm: slurmOptions("2:00", { sbatchArgs: ["--begin=now+3600"] }), slots: 1 };
      const child = spawn(process.execPath, ["--import", tsx, join(fixtures, "../faults/supervise.ts"), JSON.stringify(options)], { stdio: ["ignore", "pipe", "inherit"] });
      t.after(() => child.kill("SIGKILL"));
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, how) => resolve(how)));
      let output = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
      await waitUntil(() => /"type":"allocation","id":"\d+","state":"pending"/.test(output), 30_000, "the allocation to be pending");
      const events = output
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as RunEvent);
      const [allocation] = allocationIds(events);
      assert.ok((await slurm.jobIds()).includes(allocation!), "it waits in Slurm's queue");
      child.kill(signal);
      assert.equal(await exited, signal, "the signal ends the script, as it would without Malocher");
      assert.ok(!(await slurm.jobIds()).includes(allocation!), `${signal}: the allocation was cancelled before the script ended`);
      assert.equal((await malocher.status()).counts.queued, 1, "the job stays queued");
      // Nothing of it is left in slurm/ (its launch files carried the run's token; its record would say "pending" for 30 s).
      assert.deepEqual(readdirSync(join(malocher.dir, "slurm")), [], `${signal}: the allocation's files went with it`);
    }
  });


  test("a script ended by a signal while its sbatch is still under way leaves no launch file (they carry the run's token)", { timeout: 60_000 }, async (t) => {
    // A slow slurmctld: sbatch takes 4 s, and queues the allocation after the script is gone,
    // beyond any scancel. Its launch files go with the script: its agents, should it start, find none.
    const malocher = freshMalocher(t, "slurm");
    malocher.submit(nap, 100);
    const bin = join(malocher.dir, "..", "slow-sbatch");
    mkdirSync(bin, { recursive: true });
    const real = execFileSync("sh", ["-c", "command -v sbatch"], { encoding: "utf8" }).trim();
    const ids = join(bin, "ids");
    writeFileSync(join(bin, "sbatch"), `#!/bin/sh\nsleep 4\nid=$("${real}" "$@")\necho "$id" >> "${ids}"\necho "$id"\n`, { mode: 0o755 });
    t.after(async () => {
      // Whatever the slow sbatch queued after the script was gone (pending for an hour) is cancelled here.
      await waitUntil(() => readFileSync(ids, { encoding: "utf8", flag: "a+" }).trim() !== "", 20_000, "the slow sbatch to end");
      execFileSync("scancel", readFileSync(ids, "utf8").trim().split(/\s+/));
    });
    const options = { dir: malocher.dir, slurm: slurmOptions("2:00", { sbatchArgs: ["--begin=now+3600"] }), slots: 1 };
    const child = spawn(process.execPath, ["--import", tsx, join(fixtures, "../faults/supervise.ts"), JSON.stringify(options)], {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, PATH: `${bin}:${process.env["PATH"]}` },
    });
    t.after(() => child.kill("SIGKILL"));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, how) => resolve(how)));
    const launchFiles = () => (existsSync(join(malocher.dir, "slurm")) ? readdirSync(join(malocher.dir, "slurm")) : []).filter((name) => name.includes(".launch."));
    await waitUntil(() => launchFiles().length > 0, 30_000, "the allocation's launch files, written before sbatch");
    child.kill("SIGTERM");
    assert.equal(await exited, "SIGTERM");
    assert.deepEqual(launchFiles(), [], "no launch file is left for the allocation the slow sbatch queues");
  });

  test("slurm.loginHost: sbatch, squeue and scancel run on the login host over SSH", { timeout: 60_000 }, async (t) => {
    const login = await startSshNodes(1, { setEnv: { SLURM_CONF: slurm.conf } });
    t.after(() => login.close());
    const malocher = freshMalocher(t, "slurm");
    const ids = [1, 2].map(() => malocher.submit(envOf, "HOME"));
    const events: RunEvent[] = [];
    const results = await collect(
      malocher.processAll({
        slurm: slurmOptions("1:00", { loginHost: login.nodes[0]!.machine }),
        sshUsername: login.user,
        sshPrivateKey: login.privateKey,
        knownHosts: login.knownHosts,
        onEvent: (event) => events.push(event),
        signal: t.signal,
      }),
    );
    for (const id of ids) {
      const result = results.get(id)!;
      assert.ok(result.ok, JSON.stringify(result));
      // sbatch ran in the login host's SSH session: the agents have its environment (HOME set by its sshd).
      assert.equal(result.value, login.home, "the allocation was submitted from the login host");
    }
    await noAllocationLeft(events);
  });

  test("no Slurm commands: SLURM_NOT_AVAILABLE (malocher run --slurm-…); queued jobs stay queued", { timeout: 30_000 }, async (t) => {
    const malocher = freshMalocher(t, "slurm");
    const id = malocher.submit(nap, 10);
    const run = await runCli(["run", "--slurm-nodes", "2", "--slurm-time", "1:00", "--dir", malocher.dir], { env: { ...process.env, PATH: "/nonexistent" } });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /\[SLURM_NOT_AVAILABLE\].*PATH/);
    assert.equal(await malocher.state(id), "queued");
  });

  test("Slurm refuses the allocation: SLURM_SUBMIT_FAILED with Slurm's own message, no retrying forever, jobs stay queued", { timeout: 20_000 }, async (t) => {
    const malocher = freshMalocher(t, "slurm");
    const id = malocher.submit(nap, 10);
    await assert.rejects(
      collect(malocher.processAll({ slurm: slurmOptions("1:00", { partition: "nosuch" }) })),
      (error: unknown) => error instanceof MalocherError && error.code === "SLURM_SUBMIT_FAILED" && /partition/i.test(error.message),
    );
    assert.equal(await malocher.state(id), "queued");
  });

  test("an allocation Slurm will never start as asked (more nodes than the partition has) stops the run with SLURM_SUBMIT_FAILED saying what to change; nothing is left in squeue", { timeout: 30_000 }, async (t) => {
    const malocher = freshMalocher(t, "slurm");
    const id = malocher.submit(nap, 10);
    const events: RunEvent[] = [];
    await assert.rejects(collect(malocher.processAll({ slurm: slurmOptions("1:00", { nodes: 3 }), onEvent: (event) => events.push(event) })), (error: unknown) => {
      assert.ok(error instanceof MalocherError, String(error));
      assert.equal(error.code, "SLURM_SUBMIT_FAILED");
      // Slurm gives either reason for it (PartitionConfig while other jobs hold nodes).
      assert.match(error.message, /Slurm will not start allocation \d+ as asked \((PartitionNodeLimit|PartitionConfig)\): the partition has fewer nodes.* than asked for .*ask for fewer nodes \(slurm\.nodes, --slurm-nodes\).*\. It was cancelled; queued jobs stay queued\./);
      return true;
    });
    await noAllocationLeft(events, 10_000);
    assert.equal(await malocher.state(id), "queued");
  });

  test("allocations whose agents never start, three in a row, stop the run with the error instead of asking forever; jobs stay queued", { timeout: 60_000 }, async (t) => {
    const malocher = freshMalocher(t, "slurm");
    const id = malocher.submit(nap, 10);
    const events: RunEvent[] = [];
    // Slurm accepts these allocations, but their batch script cannot start (its output file cannot be opened).
    const options = { slurm: slurmOptions("1:00", { sbatchArgs: ["--output=/nonexistent/malocher/%j.out"] }), onEvent: (event: RunEvent) => events.push(event), signal: t.signal };
    await assert.rejects(collect(malocher.processAll(options)), (error: unknown) => error instanceof MalocherError && error.code === "AGENT_START_FAILED" && /3 failures in a row/.test(error.message));
    assert.equal(allocationIds(events).length, 3, "three allocations, then no more");
    assert.equal(await malocher.state(id), "queued");
    await noAllocationLeft(events);
  });

  test("malocher nodes --slurm-… asks Slurm with sbatch --test-only, and says what is wrong", { timeout: 30_000 }, async (t) => {
    const malocher = freshMalocher(t, "slurm");
    const good = await runCli(["nodes", "--slurm-nodes", "2", "--slurm-time", "10:00", "--dir", malocher.dir, "--json"]);
    assert.equal(good.code, 0, good.stderr + good.stdout);
    const check = JSON.parse(good.stdout.trim()) as { ok: boolean; checks: Array<{ name: string; detail: string }> };
    assert.equal(check.ok, true);
    assert.match(check.checks[0]!.detail, /n\[1-2\]|to start/);
    const text = await runCli(["nodes", "--slurm-nodes", "2", "--slurm-time", "10:00", "--dir", malocher.dir]);
    assert.match(text.stdout, /^slurm \(this machine\) +ok +\S.*(n\[1-2\]|to start)/m, "the text says what Slurm said, as --json does");
    const bad = await runCli(["nodes", "--slurm-nodes", "3", "--slurm-time", "10:00", "--dir", malocher.dir]);
    assert.equal(bad.code, 1, bad.stdout);
    assert.match(bad.stdout, /FAIL slurm/);
    // The test cluster's nodes have 4 CPUs: a run with --slots 8 would ask for more per node.
    const slots = await runCli(["nodes", "--slurm-nodes", "2", "--slurm-time", "10:00", "--slots", "8", "--dir", malocher.dir]);
    assert.equal(slots.code, 1, slots.stdout + slots.stderr);
    assert.match(slots.stdout, /FAIL slurm/);
  });
  });
});

test("a supervisorHost that is no address of this machine is refused before any allocation is asked for, naming this machine's addresses", { skip: !slurmInstalled() && "needs slurm-wlm" }, async (t) => {
  const malocher = freshMalocher(t, "slurm-supervisor-host");
  const job = malocher.submit(nap, 10);
  // 192.0.2.0/24 is for documentation: no machine has it (binding to it fails here; nothing is sent).
  await assert.rejects(collect(malocher.processAll({ slurm: { nodes: 1, time: "5:00", supervisorHost: "192.0.2.7" } })), (error: unknown) => {
    assert.ok(error instanceof MalocherError, String(error));
    assert.equal(error.code, "INVALID_OPTIONS");
    assert.match(error.message, /^slurm\.supervisorHost \(--slurm-supervisor-host\) 192\.0\.2\.7 is no address of this machine \(EADDRNOTAVAIL\).*\(.*127\.0\.0\.1.*\)/);
    return true;
  });
  const cli = await runCli(["run", "--slurm-nodes", "1", "--slurm-time", "5", "--slurm-supervisor-host", "192.0.2.7", "--dir", malocher.dir]);
  assert.equal(cli.code, 2, cli.stderr);
  assert.match(cli.stderr, /\[INVALID_OPTIONS\] slurm\.supervisorHost/);
  assert.equal(await malocher.state(job), "queued", "the job stays queued");
});

test("an option of the wrong type is refused naming what it got: \"2\" (a string) where a number belongs", async (t) => {
  const malocher = freshMalocher(t, "slurm-option-types");
  malocher.submit(nap, 10);
  const refusal = async (options: ProcessAllOptions) => {
    let message = "";
    await assert.rejects(collect(malocher.processAll(options)), (error: unknown) => {
      assert.equal((error as MalocherError).code, "INVALID_OPTIONS", String(error));
      message = (error as Error).message;
      return true;
    });
    return message;
  };
  const slurm = (extra: Record<string, unknown>) => ({ slurm: { nodes: 1, time: "5:00", ...extra } as never });
  // Named as the library and the CLI name them.
  assert.match(await refusal(slurm({ nodes: "2" })), /^slurm\.nodes \(--slurm-nodes\) needs a whole number ≥ 1 \(nodes per allocation\), got "2" \(a string\)\.$/);
  assert.match(await refusal(slurm({ time: 5 })), /^slurm\.time \(--slurm-time\) needs each allocation's time limit .*, got 5 \(a number\)\.$/);
  assert.match(await refusal(slurm({ maxAllocations: 0 })), /^slurm\.maxAllocations \(--slurm-max-allocations\) needs a whole number ≥ 1, got 0\.$/);
  assert.match(await refusal(slurm({ partition: ["a"] })), /^slurm\.partition \(--slurm-partition\) needs one word, got \["a"\] \(an array\)\.$/);
  assert.match(await refusal({ slots: "4" as never }), /\{ slots \} needs a whole number ≥ 1, got "4" \(a string\)\.$/);
  assert.match(await refusal({ sshMachines: "node1" as never }), /sshMachines is a list of machines, .*, got "node1" \(a string\)\. Nothing was started\.$/);
  assert.match(await refusal({ sshMachines: ["node1"], sshPort: 0 }), /sshPort for node1 is a TCP port \(1-65535\), got 0\. Nothing was started\.$/);
  // SSH settings without machines: the run would be local and ignore them (the CLI refuses its flags alike).
  assert.match(await refusal({ sshPort: 2222 }), /^sshPort is for sshMachines \(or slurm\.loginHost\); without sshMachines the run is local and would ignore it\. Nothing was started\.$/);
  assert.match(await refusal({ sshUsername: "alice", knownHosts: "/tmp/kh" }), /^sshUsername, knownHosts are for sshMachines .* would ignore them\./);
});

test("a timeoutMs longer than a job can run in an allocation is refused before any is asked for, saying what fits", async (t) => {
  const malocher = freshMalocher(t, "slurm-timeout");
  malocher.submit(nap, 10);
  await assert.rejects(collect(malocher.processAll({ slurm: { nodes: 1, time: "5:00" }, timeoutMs: 600_000 })), (error: unknown) => {
    assert.ok(error instanceof MalocherError, String(error));
    assert.equal(error.code, "INVALID_OPTIONS");
    assert.match(error.message, /timeoutMs \(--timeout\) is 600000 ms, longer than a job can run in an allocation of time 5:00 \(285000 ms: .*\)\. Ask for a longer time \(slurm\.time, --slurm-time\) or a shorter timeout\./);
    return true;
  });
  const cli = await runCli(["run", "--slurm-nodes", "1", "--slurm-time", "5", "--timeout", "10m", "--dir", malocher.dir]);
  assert.equal(cli.code, 2, cli.stderr);
  assert.match(cli.stderr, /\[INVALID_OPTIONS\] timeoutMs \(--timeout\) is 600000 ms/);
  assert.doesNotMatch(cli.stderr, /done 0\/0/, "a run refused before it began prints no progress line");
  assert.equal((await malocher.status()).counts.queued, 1);
});

describe("unknown option names", () => {
  test("are refused with INVALID_OPTIONS naming the option and the closest known name, in every entry point", async (t) => {
    const malocher = freshMalocher(t, "options");
    const refused = (name: string, closest: string | undefined) => (error: unknown) =>
      error instanceof MalocherError &&
      error.code === "INVALID_OPTIONS" &&
      error.message.includes(`unknown option ${name}`) &&
      (closest === undefined || error.message.includes(`Did you mean ${closest}?`));
    const bad = { slrum: { nodes: 2, time: "1:00" } } as never;
    assert.throws(() => malocher.processAll(bad), refused("slrum", "slurm"));
    assert.throws(() => malocher.processAll({ sshMachine: ["node1"] } as never), refused("sshMachine", "sshMachines"));
    await assert.rejects(malocher.startCluster({ timeout: 5 } as never), refused("timeout", "timeoutMs"));
    assert.throws(() => malocher.submit.with({ retry: 2 } as never), refused("retry", "retries"));
    assert.throws(() => malocher.submitCommand(["true"], { tag: ["x"] } as never), refused("tag", "tags"));
    await assert.rejects(malocher.submitMany(nap, [[1]], { nmae: "x" } as never), refused("nmae", "name"));
    await assert.rejects(malocher.result("0mxbhat2b-7b89aba6bcfc", { timeout: 5 } as never), refused("timeout", "timeoutMs"));
    await assert.rejects(malocher.clean({ olderThan: 5 } as never), refused("olderThan", "olderThanMs"));
    assert.throws(() => new (malocher.constructor as new (options: object) => unknown)({ directory: "/tmp" }), refused("directory", undefined));
    await assert.rejects(collect(malocher.processAll({ slurm: { nodes: 1, time: "1:00", partiton: "x" } } as never)), (error: unknown) =>
      error instanceof MalocherError && error.code === "INVALID_OPTIONS" && /slurm\.partiton/.test(error.message) && /slurm\.partition\?/.test(error.message),
    );
    // The dashboard's options: a misspelt readOnly served a dashboard that could cancel and retry.
    await assert.rejects(collect(malocher.processAll({ dashboard: { readonly: true } } as never)), refused("dashboard.readonly", "dashboard.readOnly"));
    await assert.rejects(malocher.startCluster({ dashboard: { prot: 8499 } } as never), refused("dashboard.prot", "dashboard.port"));
    await assert.rejects(malocher.dashboard({ prot: 8499 } as never), refused("prot", "port"));
    await assert.rejects(collect(malocher.processAll({ dashboard: { readOnly: "yes" } } as never)), /processAll: dashboard\.readOnly is true or false, got "yes"/);
    // A filter of jobs() that admitted every job: an unknown field, a state that is none, a string for a list.
    await assert.rejects(malocher.jobs({ stat: ["failed"] } as never), refused("stat", "states"));
    await assert.rejects(malocher.jobs({ states: ["faild"] }), /jobs\(\{ states \}\) takes waiting, queued, .*unqueued; got "faild"/);
    await assert.rejects(malocher.jobs({ states: "failed" } as never), /jobs\(\{ states \}\) needs a list of strings, e\.g\. \{ states: \["failed"\] \}, got "failed"/);
  });
});

test("clean removes what a supervisor that was killed left in slurm/, and only that (no Slurm needed)", { timeout: 30_000 }, async (t) => {
  const malocher = freshMalocher(t, "slurm-leftovers");
  malocher.submit(nap, 1);
  const slurmDir = join(malocher.dir, "slurm");
  mkdirSync(slurmDir, { mode: 0o700 });
  const old = (Date.now() - 11 * 60_000) / 1000; // unchanged for 11 minutes: a dead supervisor's
  const record = (seenAt: number) => JSON.stringify({ id: "1", state: "running", nodes: 1, seenAt });
  // A dead supervisor's allocation (its record stale), and a live one's (a fresh record, its other files old: pending for long), and a new one's (no record yet).
  const files: Record<string, string> = {
    "slurm-dead0001-1.allocation": record(Date.now() - 11 * 60_000),
    "slurm-dead0001-1.out": "agent output",
    "slurm-dead0001-1.launch.0": "{}",
    ".slurm-dead0001-1.abcdef.tmp": "{}",
    "slurm-11ee0002-1.allocation": record(Date.now()),
    "slurm-11ee0002-1.out": "",
    "slurm-11ee0002-1.launch.1": "{}",
    "slurm-0e0e0003-1.launch.0": "{}",
  };
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(slurmDir, name), content, { mode: 0o600 });
    if (!name.startsWith("slurm-0e0e0003")) utimesSync(join(slurmDir, name), old, old);
  }
  await malocher.clean();
  assert.deepEqual(readdirSync(slurmDir).sort(), ["slurm-0e0e0003-1.launch.0", "slurm-11ee0002-1.allocation", "slurm-11ee0002-1.launch.1", "slurm-11ee0002-1.out"]);
});
