// Command jobs from the command line, the GNU parallel way (issue 7), on real sshd nodes:
// `malocher submit -- cmd {} ::: a b` (groups, {n}, stdin lines) then `malocher run`, and
// `malocher run -- cmd ::: a b`, which submits, runs only those jobs and prints their output.
import { strict as assert } from "node:assert";
import { test } from "node:test";
import type { CommandOutput } from "malocher";
import { describeRun, runCli, type Run } from "./fixtures/jobs/support.js";
import { useSshNodes } from "./support/ssh.js";
import { collect } from "./support/results.js";
import { freshMalocher } from "./support/temp.js";

const TIMEOUT = { timeout: 40_000 };

const sshd = useSshNodes(2);

/** `malocher run` over the harness nodes on `dir`, with `more` (options, then maybe `-- command`). */
function run(dir: string, more: string[] = []): Promise<Run> {
  const hosts = sshd.cluster.nodes.map((node) => node.machine).join(",");
  return runCli(["run", "--hosts", hosts, "--identity", sshd.cluster.privateKey, "--known-hosts", sshd.cluster.knownHosts, "--dir", dir, ...more], { timeoutMs: 30_000 });
}

function parseLines<T>(ran: Run): T[] {
  return ran.stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as T);
}

test("submit expands ::: groups (every combination, {n}, {} in a word) and stdin lines; run runs them", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "cli-command");
  const grid = await runCli(["submit", "--dir", malocher.dir, "--json", "--", "sh", "-c", "echo $0-$1", "{1}", "{2}", ":::", "a", "b", ":::", "1", "2"]);
  assert.equal(grid.code, 0, describeRun(grid));
  const gridJobs = parseLines<{ jobId: string; argv: string[] }>(grid);
  assert.deepEqual(
    gridJobs.map((job) => job.argv.slice(3)),
    [["a", "1"], ["a", "2"], ["b", "1"], ["b", "2"]],
    "the first group varies slowest, as in parallel",
  );
  const inWord = await runCli(["submit", "--dir", malocher.dir, "--json", "--", "echo", "--seed={}", "x", ":::", "7"]);
  assert.deepEqual(parseLines<{ argv: string[] }>(inWord).map((job) => job.argv), [["echo", "--seed=7", "x"]], describeRun(inWord));
  const fromStdin = await runCli(["submit", "--dir", malocher.dir, "--json", "--", "echo", "line:"], { input: "first line\nsecond\n" });
  assert.equal(fromStdin.code, 0, describeRun(fromStdin));
  const stdinJobs = parseLines<{ jobId: string; argv: string[] }>(fromStdin);
  assert.deepEqual(stdinJobs.map((job) => job.argv), [["echo", "line:", "first line"], ["echo", "line:", "second"]], "without {} the argument is appended");
  const plain = await runCli(["submit", "--dir", malocher.dir, "--timeout", "20s", "--env", "WHO=world", "--", "sh", "-c", 'echo "$0 $WHO"', ":::", "hello"]);
  assert.equal(plain.code, 0, describeRun(plain));
  assert.match(plain.stdout, /^\S+\n$/, "without --json: the job id");
  const helloJob = plain.stdout.trim();

  for (const bad of [["echo", ":::"], ["echo", "{3}", ":::", "a", ":::", "b"], [":::", "a"], ["echo", "::::", "file"]]) {
    const refused = await runCli(["submit", "--dir", malocher.dir, "--", ...bad]);
    assert.equal(refused.code, 2, describeRun(refused));
    assert.match(refused.stderr, /\[INVALID_COMMAND\]/, describeRun(refused));
  }

  const ran = await run(malocher.dir, ["--quiet"]);
  assert.equal(ran.code, 0, describeRun(ran));
  const results = await collect(malocher.results());
  assert.equal(results.size, 8);
  const stdoutOf = (jobId: string) => {
    const result = results.get(jobId);
    assert.ok(result !== undefined, `job ${jobId} has a result`);
    assert.ok(result.ok, JSON.stringify(result));
    return (result.value as CommandOutput).stdout;
  };
  assert.deepEqual(gridJobs.map((job) => stdoutOf(job.jobId)), ["a-1\n", "a-2\n", "b-1\n", "b-2\n"]);
  assert.deepEqual(stdinJobs.map((job) => stdoutOf(job.jobId)), ["line: first line\n", "line: second\n"]);
  assert.equal(stdoutOf(helloJob), "hello world\n", "--env reaches the job");

  const listed = await runCli(["results", "--json", "--dir", malocher.dir]);
  const hello = parseLines<{ jobId: string; value: CommandOutput }>(listed).find((line) => line.jobId === helloJob);
  assert.deepEqual(hello?.value, { exitCode: 0, signal: null, stdout: "hello world\n", stderr: "" }, describeRun(listed));
});

test("run -- cmd ::: a b submits and runs only those jobs, printing each one's output; a failing command makes it exit 1", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "cli-command");
  const waiting = malocher.submitCommand(["true"]);
  const ran = await run(malocher.dir, ["--", "sh", "-c", "echo hi-$0; echo note-$0 >&2", ":::", "a", "b"]);
  assert.equal(ran.code, 0, describeRun(ran));
  assert.deepEqual(ran.stdout.split("\n").filter((line) => line !== "").sort(), ["hi-a", "hi-b"], describeRun(ran));
  assert.match(ran.stderr, /^note-a$/m, describeRun(ran));
  assert.match(ran.stderr, /^note-b$/m, describeRun(ran));
  assert.equal(await malocher.state(waiting), "queued", "a job queued before is not part of this run");

  const failing = await run(malocher.dir, ["--", "sh", "-c", "echo oops-$0 >&2; exit $0", ":::", "0", "3"]);
  assert.equal(failing.code, 1, describeRun(failing));
  assert.match(failing.stderr, /failed on \S+: \[COMMAND_FAILED\] The command sh -c 'echo oops-\$0 >&2; exit \$0' 3 exited with code 3; its stderr ends with:\noops-3/, describeRun(failing));
  assert.equal(await malocher.state(waiting), "queued");
});

test("submit --name and --tag name and tag the jobs, as jobs --name and --tag find them", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "cli-submit-name");
  const submitted = await runCli(["submit", "--name", "sweep", "--tag", "lr=0.1", "--tag", "try-2", "--dir", malocher.dir, "--", "echo", ":::", "a", "b"]);
  assert.equal(submitted.code, 0, describeRun(submitted));
  const ids = submitted.stdout.trim().split("\n");
  assert.equal(ids.length, 2);
  const found = await runCli(["jobs", "--name", "sweep", "--tag", "try-2", "--json", "--dir", malocher.dir]);
  const jobs = found.stdout.trim().split("\n").map((line) => JSON.parse(line) as { jobId: string; name?: string; tags?: string[] });
  assert.deepEqual(jobs.map((job) => [job.jobId, job.name, job.tags]).sort(), ids.map((id) => [id, "sweep", ["lr=0.1", "try-2"]]).sort());
  const twice = await runCli(["submit", "--name", "a", "--name", "b", "--dir", malocher.dir, "--", "true", ":::", "x"]);
  assert.equal(twice.code, 2, describeRun(twice));
  assert.match(twice.stderr, /\[INVALID_OPTIONS\] --name is given once/);
});
