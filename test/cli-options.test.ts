// The CLI's options come from one table (each key is the attribute commander gives the flags), its
// durations take units everywhere and refuse a bare number, --hosts refuses a file that names no
// machine and a file name that is no file, and output into a pipe that closes ends the command quietly.
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { Option } from "commander";
import { CLI_OPTIONS } from "../packages/supervisor/src/cli/cli-options.js";
import { echo } from "./fixtures/jobs/jobs.js";
import { cliMain, describeRun, runCli } from "./fixtures/jobs/support.js";
import { freshMalocher } from "./support/temp.js";
import { decodeJobSpec, directoryLayout } from "@malocher/protocol";
import { loadDirectoryKey } from "@malocher/store";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

test("every option of the table is keyed by the attribute name its flags give", () => {
  for (const [key, spec] of Object.entries(CLI_OPTIONS)) assert.equal(new Option(spec.flags).attributeName(), key, spec.flags);
});

test("durations take units (500ms, 10s, 5m, 1h, 2d); a bare number is refused with a message that shows them", { timeout: 30_000 }, async (t) => {
  const malocher = freshMalocher(t, "durations");
  for (const [text, ms] of [["500ms", 500], ["10s", 10_000], ["5m", 300_000], ["1h", 3_600_000], ["2d", 172_800_000], ["1.5s", 1500]] as const) {
    const submitted = await runCli(["submit", "--dir", malocher.dir, "--timeout", text, "--", "true", ":::", "x"]);
    assert.equal(submitted.code, 0, describeRun(submitted));
    const jobId = submitted.stdout.trim();
    const spec = decodeJobSpec(readFileSync(directoryLayout.specFile(malocher.dir, jobId)), jobId, loadDirectoryKey(malocher.dir, { create: false }));
    assert.equal(spec.options.timeoutMs, ms, `--timeout ${text}`);
  }
  for (const args of [
    ["submit", "--dir", malocher.dir, "--timeout", "60", "--", "true", ":::", "x"],
    ["run", "--dir", malocher.dir, "--timeout", "60"],
    ["clean", "--dir", malocher.dir, "--older-than", "7"],
  ]) {
    const refused = await runCli(args);
    assert.equal(refused.code, 2, describeRun(refused));
    assert.match(refused.stderr, /\[INVALID_OPTIONS\] --(timeout|older-than) takes a duration with a unit like 500ms, 10s, 5m, 1h or 2d, got "(60|7)" \(a bare number has no unit/);
  }
});

/** Runs `malocher <args> | head -c <bytes>` in bash; resolves with the CLI's exit status, its stderr and what head printed. */
function pipedIntoHead(args: string[], bytes: number): Promise<{ status: number; stderr: string; stdout: string }> {
  const quoted = [process.execPath, cliMain, ...args].map((word) => `'${word.replace(/'/g, "'\\''")}'`).join(" ");
  const child = spawn("bash", ["-c", `${quoted} 2>"$ERR" | head -c ${bytes}; echo " status=\${PIPESTATUS[0]}"; cat "$ERR" >&2`], {
    env: { ...process.env, ERR: `/tmp/malocher-epipe-${process.pid}-${Math.random()}` },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise((resolve) =>
    child.on("close", () => {
      const match = / status=(\d+)\n$/.exec(stdout);
      resolve({ status: Number(match?.[1]), stderr, stdout: stdout.slice(0, match?.index) });
    }),
  );
}

test("--hosts: a file of comments only, a file name that is no file, or a machine that cannot be read (named by its line) is refused before anything starts", { timeout: 30_000 }, async (t) => {
  const malocher = freshMalocher(t, "hosts-option");
  malocher.submit(echo, 1);
  const onlyComments = join(malocher.dir, "hosts.txt");
  writeFileSync(onlyComments, "# one machine a line: [slots/][user@]host[:port] [labels]\n\n#node1\n");
  const badLine = join(malocher.dir, "hosts-bad.txt");
  writeFileSync(badLine, "# the machines\nnode1\nx/node2:2222 gpu\n");
  for (const [hosts, message] of [
    [badLine, /\[INVALID_OPTIONS\] --hosts .*hosts-bad\.txt, line 3: Cannot read the machine "x\/node2:2222/],
    ["node1,,x/node2", /\[INVALID_OPTIONS\] --hosts node1,,x\/node2, entry 3: Cannot read the machine "x\/node2"/],
    [onlyComments, /\[INVALID_OPTIONS\] --hosts .*hosts\.txt: the file names no machine \(only comments or blank lines\)\. .*or leave out --hosts to run on this machine/],
    ["hosts-missing.txt", /\[INVALID_OPTIONS\] --hosts hosts-missing\.txt: no such file\. Give a hosts file, or the machines themselves/],
    ["./hosts", /\[INVALID_OPTIONS\] --hosts \.\/hosts: no such file/],
    ["conf/hosts", /\[INVALID_OPTIONS\] --hosts conf\/hosts: no such file/],
    ["", /\[INVALID_OPTIONS\] --hosts "" names no machine\. Give the machines .*or leave out --hosts to run on this machine\./],
    [" , ", /\[INVALID_OPTIONS\] --hosts " , " names no machine/],
  ] as const) {
    for (const command of ["run", "nodes"]) {
      const refused = await runCli([command, "--hosts", hosts, "--dir", malocher.dir]);
      assert.equal(refused.code, 2, describeRun(refused));
      assert.match(refused.stderr, message, describeRun(refused));
    }
  }
  // run -- cmd with a bad --hosts submits nothing: a corrected run would otherwise queue the jobs twice.
  const withCommand = await runCli(["run", "--hosts", "hosts-missing.txt", "--dir", malocher.dir, "--", "echo", ":::", "a", "b"]);
  assert.equal(withCommand.code, 2, describeRun(withCommand));
  assert.equal((await malocher.status()).counts.queued, 1, "only the first job is queued");
});

test("--port must be a TCP port, and SSH flags without --hosts are refused: a local run would ignore them", { timeout: 30_000 }, async (t) => {
  const malocher = freshMalocher(t, "ssh-flags");
  malocher.submit(echo, 1);
  for (const [args, message] of [
    [["--hosts", "node1", "--port", "99999"], /\[INVALID_OPTIONS\] --port takes a TCP port, a whole number from 1 to 65535, got "99999"\./],
    [["--hosts", "node1", "--port", "0"], /\[INVALID_OPTIONS\] --port takes a TCP port/],
    [["--port", "2222"], /\[INVALID_OPTIONS\] --port is for the --hosts machines \(or the --slurm-login host\); without --hosts the run is local and would ignore it\. The dashboard's port is --dashboard-port\./],
    [["--user", "bob", "--identity", "/nonexistent/key"], /\[INVALID_OPTIONS\] --user, --identity are for the --hosts machines/],
  ] as const) {
    const refused = await runCli(["run", ...args, "--dir", malocher.dir]);
    assert.equal(refused.code, 2, describeRun(refused));
    assert.match(refused.stderr, message, describeRun(refused));
  }
  assert.equal((await malocher.status()).counts.queued, 1, "the job stays queued");
});

test("nodes without any key to log in with says how to name one (no connection is tried)", { timeout: 30_000 }, async (t) => {
  const malocher = freshMalocher(t, "no-key");
  const home = join(malocher.dir, "home"); // no ~/.ssh, and no ssh-agent
  mkdirSync(home);
  const env = { ...process.env, HOME: home, SSH_AUTH_SOCK: "" };
  const checked = await runCli(["nodes", "--hosts", "127.0.0.9", "--dir", malocher.dir], { env });
  assert.equal(checked.code, 1, describeRun(checked));
  assert.match(checked.stdout, /\[SSH_AUTH_FAILED\] No key to log in to 127\.0\.0\.9: none of .* exists and no ssh-agent is running/, describeRun(checked));
  assert.match(checked.stdout, /fix: name your private key with --identity \(or IdentityFile in your SSH config\), or start ssh-agent with your key/, describeRun(checked));
  assert.doesNotMatch(checked.stdout, /authorized_keys/, "nothing about keys on the node: none was offered");
});

test("results | head and logs | head -c end quietly when the pipe closes", { timeout: 60_000 }, async (t) => {
  const malocher = freshMalocher(t, "epipe");
  const jobs = Array.from({ length: 4 }, (_, i) => malocher.submit(echo, `${i}`.repeat(400_000)));
  const printer = malocher.submitCommand(["sh", "-c", "head -c 2000000 /dev/zero | tr '\\0' y"]);
  for await (const [, result] of malocher.processAll({ slots: 2 })) assert.ok(result.ok);
  for (const args of [
    ["results", "--json", "--dir", malocher.dir],
    ["results", "--full", "--dir", malocher.dir],
    ["logs", printer, "--dir", malocher.dir],
  ]) {
    const piped = await pipedIntoHead(args, 300);
    assert.equal(piped.stderr, "", `malocher ${args.join(" ")} says nothing on stderr`);
    assert.equal(Buffer.byteLength(piped.stdout), 300, "head got its 300 bytes");
    assert.equal(piped.status, 141, "the status a SIGPIPE gives");
  }
  assert.equal(jobs.length, 4);

  // Long values are cut on a pipe as on a terminal, with a note; --full and --json keep them whole.
  const cut = await runCli(["results", "--dir", malocher.dir]);
  assert.equal(cut.code, 0, describeRun(cut));
  const lines = cut.stdout.trim().split("\n");
  assert.equal(lines.length, 5);
  for (const jobId of jobs) {
    const line = lines.find((text) => text.startsWith(`${jobId} `)) ?? assert.fail(`no line for ${jobId}`);
    assert.ok(line.length < 2300, `cut: ${line.length} characters`);
    assert.match(line, /\[\.\.\. 398002 bytes cut: --full or --json prints it whole \.\.\.\]$/);
  }
  const full = await runCli(["results", "--full", "--dir", malocher.dir]);
  assert.ok(full.stdout.length > 4 * 400_000, "--full prints them whole");
  const json = await runCli(["results", "--json", "--dir", malocher.dir]);
  assert.ok(json.stdout.length > 4 * 400_000, "--json prints them whole");
});
