// `malocher run` on a real pseudo-terminal (python3's pty module, see test/support/pty.ts) over
// sshd nodes: the live bar and node lines redrawn in place, cut to the terminal's width, with the
// cursor hidden and shown again; plain lines when stderr is not a terminal; only failures with
// --quiet; JSON Lines with --json. And an encrypted key's passphrase asked for on the terminal.
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { test, type TestContext } from "node:test";
import { directoryLayout } from "@malocher/protocol";
import { slowDouble, train } from "./fixtures/jobs/jobs.js";
import { cliMain, describeRun, root, runCli } from "./fixtures/jobs/support.js";
import { runInPty, withoutEscapes, type PtyRun } from "./support/pty.js";
import { useSshNodes } from "./support/ssh.js";
import { freshMalocher, removeDir, tempDir } from "./support/temp.js";

const execFileAsync = promisify(execFile);
const TIMEOUT = { timeout: 90_000 };
const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";
const CURSOR_UP = /\x1b\[(\d+)F/g;

const sshd = useSshNodes(2);

function sshArgs(identity = sshd.cluster.privateKey): string[] {
  return ["--hosts", sshd.cluster.nodes.map((node) => node.machine).join(","), "--identity", identity, "--known-hosts", sshd.cluster.knownHosts];
}

/** A copy of the nodes' key, encrypted with `passphrase`, removed after the test. */
async function encryptedKeyCopy(t: TestContext, passphrase: string): Promise<string> {
  const keys = tempDir("tty-key");
  t.after(() => removeDir(keys));
  const key = join(keys, "encrypted_key");
  copyFileSync(sshd.cluster.privateKey, key);
  await execFileAsync("ssh-keygen", ["-q", "-p", "-f", key, "-P", "", "-N", passphrase]);
  return key;
}

/** The environment of a user without ssh-agent or passphrase variable. */
function plainEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: "xterm-256color" };
  delete env["SSH_AUTH_SOCK"];
  delete env["MALOCHER_SSH_PASSPHRASE"];
  return env;
}

function describePty(run: PtyRun): string {
  return `exit ${run.code}${run.timedOut ? ", TIMED OUT" : ""}\n--- terminal\n${JSON.stringify(run.output)}`;
}

/** The frames drawn: the text between two moves of the cursor back up to the block's start. */
function frames(output: string): string[][] {
  const start = output.indexOf(HIDE_CURSOR);
  const end = output.lastIndexOf(SHOW_CURSOR);
  assert.ok(start >= 0 && end > start, "the cursor is hidden while drawing and shown again at the end");
  return output
    .slice(start + HIDE_CURSOR.length, end)
    .split(CURSOR_UP)
    .filter((_, i) => i % 2 === 0) // split keeps the captured line counts at odd indexes
    .map((frame) => withoutEscapes(frame).split("\r\n").filter((line) => line !== ""));
}

test("on a terminal, run draws a bar, the counts and one line per node in place, cut to the width, and leaves the final state", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "tty");
  await malocher.submitMany(slowDouble, Array.from({ length: 40 }, (_, i): [number, number] => [i, 150]));
  const run = await runInPty([process.execPath, cliMain, "run", ...sshArgs(), "--slots", "2", "--dir", malocher.dir], { columns: 80, env: plainEnv() });
  assert.equal(run.code, 0, describePty(run));

  const drawn = frames(run.output);
  assert.ok(drawn.length >= 3, `redrawn in place (cursor moved up) several times: ${drawn.length} frames`);
  const ups = [...run.output.matchAll(CURSOR_UP)].map((match) => Number(match[1]));
  assert.deepEqual(ups, drawn.slice(0, -1).map((frame) => frame.length), "each redraw moves up over the whole block drawn before");
  assert.ok(!/\x1b\[2J|\x1bc/.test(run.output), "never clears the whole screen");
  for (const line of drawn.flat()) assert.ok(line.length <= 79, `no line wider than the terminal: ${JSON.stringify(line)}`);

  const bar = /^\[([#-]{10,40})\] +(\d+)% · [\d.]+ jobs\/s( · ETA \d+ (s|min))?$/; // minutes on a loaded machine
  const counts = /^done (\d+)\/40 · failed 0 · running (\d+) · queued (\d+)$/;
  for (const frame of drawn) {
    assert.match(frame[0]!, bar);
    assert.match(frame[1]!, counts);
  }
  const middle = drawn.find((frame) => {
    const percent = Number(bar.exec(frame[0]!)?.[2]);
    return percent > 0 && percent < 100 && Number(counts.exec(frame[1]!)?.[2]) > 0;
  });
  assert.ok(middle, `a frame in the middle of the run, with jobs running: ${JSON.stringify(drawn)}`);
  assert.match(middle[0]!, /#-/);
  assert.match(middle[0]!, /· ETA \d+ (s|min)$/);
  assert.ok(middle.slice(2).some((line) => /^ {2}\S+ +ready +slots [12]\/2 +\d+ finished$/.test(line)), `node lines with slots in use: ${middle.join("\n")}`);
  const states = new Set(drawn.flatMap((frame) => frame.slice(2).map((line) => line.trim().split(/\s+/)[1])));
  assert.ok(states.has("ready") && (states.has("starting") || states.has("connecting")), [...states].join(","));

  const last = drawn.at(-1)!;
  assert.match(last[0]!, /^\[#+\] 100% · /, "the final state stays on the screen, with a full bar");
  assert.equal(last[1], "done 40/40 · failed 0 · running 0 · queued 0");
  for (const node of sshd.cluster.nodes) assert.ok(last.some((line) => line.startsWith(`  ${node.machine} `)), `a line for ${node.machine}: ${last.join("\n")}`);
  assert.ok(run.output.lastIndexOf(SHOW_CURSOR) > run.output.lastIndexOf("\x1b[?2026l"), "the cursor is shown after the last frame");

  // A narrow terminal: every line is cut to its width.
  await malocher.submitMany(slowDouble, [[1, 10], [2, 10]]);
  const narrow = await runInPty([process.execPath, cliMain, "run", ...sshArgs(), "--dir", malocher.dir], { columns: 30, env: plainEnv() });
  assert.equal(narrow.code, 0, describePty(narrow));
  const narrowLines = frames(narrow.output).flat();
  for (const line of narrowLines) assert.ok(line.length <= 29, `cut to 29 columns: ${JSON.stringify(line)}`);
  assert.ok(narrowLines.some((line) => line.endsWith("…")), "a cut line ends with an ellipsis");
  // A terminal made narrower in the middle of a run: the frames after it fit the new width.
  await malocher.submitMany(slowDouble, Array.from({ length: 8 }, (_, i): [number, number] => [i, 400]));
  const resized = await runInPty([process.execPath, cliMain, "run", ...sshArgs(), "--slots", "1", "--dir", malocher.dir], {
    columns: 100,
    env: plainEnv(),
    answers: [{ after: /running 2/, act: (terminal) => terminal.resize(36, 30) }],
  });
  assert.equal(resized.code, 0, describePty(resized));
  const widths = frames(resized.output).map((frame) => Math.max(...frame.map((line) => line.length)));
  const narrowed = widths.findIndex((width) => width <= 35);
  assert.ok(narrowed > 0 && widths[0]! > 35, `wide frames, then narrow ones: ${widths.join(",")}`);
  assert.ok(widths.slice(narrowed).every((width) => width <= 35), `every frame after the resize fits: ${widths.join(",")}`);

  // Killed with SIGTERM in the middle of a run: it stops (jobs back to the queue), shows the cursor
  // again, says why, and exits as SIGTERM would have.
  await malocher.submitMany(slowDouble, Array.from({ length: 20 }, (_, i): [number, number] => [i, 1000]));
  const killed = await runInPty([process.execPath, cliMain, "run", ...sshArgs(), "--dir", malocher.dir], {
    env: plainEnv(),
    answers: [{ after: /running [1-9]/, act: (terminal) => terminal.signal("SIGTERM") }],
  });
  assert.equal(killed.unanswered, 0, describePty(killed));
  assert.equal(killed.code, 128 + 15, describePty(killed));
  // Shown when the signal came (a last frame may follow, which does not hide it again).
  assert.ok(killed.output.lastIndexOf(SHOW_CURSOR) > killed.output.lastIndexOf(HIDE_CURSOR), `the cursor is shown again after it was last hidden: ${describePty(killed)}`);
  assert.ok(killed.output.endsWith("malocher: [RUN_STOPPED] stopped by SIGTERM; running jobs were put back in the queue\r\n"), describePty(killed));
});

test("on a terminal, a node whose agent dies shows as lost, then restarting, then ready again, and the run ends", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "tty-lost");
  await malocher.submitMany(slowDouble, Array.from({ length: 6 }, (_, i): [number, number] => [i, 1500]));
  const victim = sshd.cluster.nodes[0]!;
  const agents = directoryLayout.agentsDir(malocher.dir);
  const killAgent = () => {
    const leases = readdirSync(agents).filter((name) => name.startsWith(victim.machine.replace(/[^A-Za-z0-9._-]/g, "_")));
    for (const name of leases) process.kill((JSON.parse(readFileSync(join(agents, name), "utf8")) as { pid: number }).pid, "SIGKILL");
  };
  const run = await runInPty([process.execPath, cliMain, "run", ...sshArgs(), "--slots", "1", "--dir", malocher.dir], {
    env: plainEnv(),
    answers: [{ after: /running 2/, act: killAgent }],
  });
  assert.equal(run.code, 0, describePty(run));
  const drawn = frames(run.output);
  const stateOf = (frame: string[]) => frame.find((line) => line.startsWith(`  ${victim.machine} `))?.trim().split(/\s+/)[1];
  const states = drawn.map(stateOf).filter((state, i, all) => state !== undefined && state !== all[i - 1]);
  const lost = states.indexOf("lost");
  assert.ok(lost >= 0 && states.indexOf("restarting", lost) > lost && states.lastIndexOf("ready") > lost, `${victim.machine}: ${states.join(" → ")}`);
  assert.match(withoutEscapes(run.output), new RegExp(`^${victim.machine}: lost: `, "m"), "the loss is also printed as a line above the block");
  const last = drawn.at(-1)!;
  assert.equal(last.find((line) => line.startsWith("done ")), "done 6/6 · failed 0 · running 0 · queued 0");
});

test("on a terminal, submit without ::: queues the command once, as the README's `submit --after ID -- cmd`", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "tty-submit-once");
  const first = await runCli(["submit", "--dir", malocher.dir, "--", "echo", "data", ":::", "a"]);
  assert.equal(first.code, 0, describeRun(first));
  const after = first.stdout.trim();
  const once = await runInPty([process.execPath, cliMain, "submit", "--json", "--dir", malocher.dir, "--after", after, "--", "echo", "report"], { env: plainEnv() });
  assert.equal(once.code, 0, describePty(once));
  const lines = once.output.split("\r\n").filter((line) => line !== "");
  assert.equal(lines.length, 1, describePty(once));
  assert.deepEqual((JSON.parse(lines[0]!) as { argv: string[] }).argv, ["echo", "report"]);
  const asking = await runInPty([process.execPath, cliMain, "submit", "--dir", malocher.dir, "--", "echo", "{}"], { env: plainEnv() });
  assert.equal(asking.code, 2, describePty(asking));
  assert.match(withoutEscapes(asking.output), /\[INVALID_COMMAND\] No arguments for "\{\}": give them after :::/);
});

test("with stderr not a terminal, run prints plain lines; --quiet only failures; --json only JSON lines", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "tty-plain");
  await malocher.submitMany(slowDouble, Array.from({ length: 6 }, (_, i): [number, number] => [i, 50]));
  const logDir = tempDir("tty-stderr");
  t.after(() => removeDir(logDir));
  const stderrFile = join(logDir, "stderr");
  // stdin and stdout on the terminal, stderr into a file.
  const redirected = await runInPty(["sh", "-c", `exec "$0" "$@" 2>${stderrFile}`, process.execPath, cliMain, "run", ...sshArgs(), "--dir", malocher.dir], { env: plainEnv() });
  assert.equal(redirected.code, 0, describePty(redirected));
  const plain = readFileSync(stderrFile, "utf8");
  assert.ok(!plain.includes("\x1b"), `no escape sequences: ${JSON.stringify(plain)}`);
  for (const node of sshd.cluster.nodes) assert.match(plain, new RegExp(`^${node.machine}: ready$`, "m"));
  assert.match(plain, /^done 6\/6 · failed 0 · running 0 · queued 0 · [\d.]+ jobs\/s$/m);
  const piped = await runCli(["run", ...sshArgs(), "--dir", malocher.dir]);
  assert.ok(!piped.stderr.includes("\x1b") && /done 0\/0/.test(piped.stderr), describeRun(piped));

  const failing = malocher.submit(train, 13); // throws
  malocher.submit(train, 10);
  const quiet = await runInPty([process.execPath, cliMain, "run", ...sshArgs(), "--dir", malocher.dir, "--quiet"], { env: plainEnv() });
  assert.equal(quiet.code, 1, describePty(quiet));
  const quietLines = quiet.output.split("\r\n").filter((line) => line !== "");
  assert.equal(quietLines.length, 1, describePty(quiet));
  assert.match(quietLines[0]!, new RegExp(`^job ${failing} \\(train\\(13\\)\\) failed on \\S+: \\[JOB_THREW\\] `));

  await execFileAsync(process.execPath, [cliMain, "retry", "--failed", "--dir", malocher.dir]);
  const json = await runInPty([process.execPath, cliMain, "run", ...sshArgs(), "--dir", malocher.dir, "--json"], { env: plainEnv() });
  assert.equal(json.code, 1, describePty(json));
  assert.ok(!json.output.includes("\x1b"), describePty(json));
  const events = json.output.split("\r\n").filter((line) => line !== "").map((line) => JSON.parse(line) as { type: string; jobId?: string });
  assert.ok(events.some((event) => event.type === "node"), "node events");
  assert.deepEqual(events.filter((event) => event.type === "result").map((event) => event.jobId), [failing]);
});

test("an encrypted key's passphrase is asked for once on the terminal, with echo off, and never shown; without a terminal the error stays", TIMEOUT, async (t) => {
  const passphrase = "s3cret typed pass";
  const key = await encryptedKeyCopy(t, passphrase);
  const prompt = new RegExp(`Enter passphrase for key '${key}': `);

  const nodes = await runInPty([process.execPath, cliMain, "nodes", ...sshArgs(key)], {
    env: plainEnv(),
    answers: [{ after: prompt, act: (terminal) => terminal.type("not it\r") }, { after: /Bad passphrase, try again: /, act: (terminal) => terminal.type(`${passphrase}\r`) }],
  });
  assert.equal(nodes.code, 0, describePty(nodes));
  assert.equal(nodes.unanswered, 0);
  assert.equal(nodes.output.match(/Enter passphrase/g)?.length, 1, "asked once for both nodes");
  assert.ok(!nodes.output.includes(passphrase) && !nodes.output.includes("not it"), `nothing typed is echoed: ${describePty(nodes)}`);
  for (const node of sshd.cluster.nodes) assert.match(nodes.output, new RegExp(`${node.machine} +ok`));

  // run: the live view steps aside for the prompt and comes back below it.
  const malocher = freshMalocher(t, "tty-key-run");
  await malocher.submitMany(slowDouble, [[1, 10], [2, 10]]);
  const run = await runInPty([process.execPath, cliMain, "run", ...sshArgs(key), "--dir", malocher.dir], { env: plainEnv(), answers: [{ after: prompt, act: (terminal) => terminal.type(`${passphrase}\r`) }] });
  assert.equal(run.code, 0, describePty(run));
  assert.ok(!run.output.includes(passphrase), describePty(run));
  const afterPrompt = withoutEscapes(run.output.slice(run.output.search(prompt)));
  assert.match(afterPrompt, /\[#+\] 100% · [^\n]*\ndone 2\/2 · failed 0/, describePty(run));

  // Ctrl-C at the prompt gives up on the key, for every node of the run.
  malocher.submit(slowDouble, 3, 10);
  const interrupted = await runInPty([process.execPath, cliMain, "run", ...sshArgs(key), "--dir", malocher.dir], {
    env: plainEnv(),
    answers: [{ after: prompt, act: (terminal) => terminal.type("\x03") }],
    timeoutMs: 20_000,
  });
  assert.equal(interrupted.output.match(/Enter passphrase/g)?.length, 1, `the other node gives up too, whenever it gets to the key: ${describePty(interrupted)}`);
  assert.ok(!interrupted.timedOut, describePty(interrupted));
  assert.equal(interrupted.code, 2, describePty(interrupted));
  assert.match(withoutEscapes(interrupted.output), /\[NO_USABLE_NODES\][^]*\[SSH_KEY_UNREADABLE\] The passphrase prompt for the private key \S+ was interrupted/);

  // No terminal, no passphrase: the clear error, at once.
  const piped = await runCli(["run", ...sshArgs(key), "--dir", malocher.dir], { env: plainEnv() });
  assert.notEqual(piped.code, 0, describeRun(piped));
  assert.match(piped.stderr, /SSH_KEY_UNREADABLE.*is encrypted: set MALOCHER_SSH_PASSPHRASE/);

  // Giving up holds for its run: a later run of the same process (a second processAll) asks again.
  const twoRuns = [
    'import { Malocher } from "malocher";',
    "const { MACHINES, KEY, KNOWN_HOSTS, DIR } = process.env;",
    "const options = { sshMachines: MACHINES.split(','), sshPrivateKey: KEY, knownHosts: KNOWN_HOSTS };",
    "for (const run of [1, 2]) {",
    "  try { for await (const [, result] of new Malocher({ dir: DIR }).processAll(options)) console.log(`run ${run}: value ${result.value}`); }",
    "  catch (error) { console.log(`run ${run}: ${error.code}: ${error.message}`); }",
    "}",
  ].join("\n");
  const machines = sshd.cluster.nodes.map((node) => node.machine).join(",");
  const again = await runInPty([process.execPath, "--input-type=module", "-e", twoRuns], {
    cwd: root,
    env: { ...plainEnv(), MACHINES: machines, KEY: key, KNOWN_HOSTS: sshd.cluster.knownHosts, DIR: malocher.dir },
    answers: [{ after: prompt, act: (terminal) => terminal.type("\x03") }, { after: prompt, act: (terminal) => terminal.type(`${passphrase}\r`) }],
    timeoutMs: 30_000,
  });
  assert.equal(again.unanswered, 0, describePty(again));
  assert.equal(again.output.match(/Enter passphrase/g)?.length, 2, describePty(again));
  assert.match(withoutEscapes(again.output), /^run 1: NO_USABLE_NODES: [^]*SSH_KEY_UNREADABLE[^]*was interrupted/m, describePty(again));
  assert.match(withoutEscapes(again.output), /^run 2: value 6$/m, describePty(again));
  assert.ok(!again.output.includes(passphrase), describePty(again));
});

test("a key given up on at its prompt fails at once for the rest of its run, whenever a machine reaches it; another run asks again", TIMEOUT, async (t) => {
  const passphrase = "typed once more";
  const key = await encryptedKeyCopy(t, passphrase);
  // One after the other, as machines of a run that reach the key at different times.
  const script = [
    `import { decryptKeyAtPrompt } from ${JSON.stringify(new URL("../packages/supervisor/dist/ssh/prompt-key-passphrase.js", import.meta.url).href)};`,
    'import { readFileSync } from "node:fs";',
    "const key = readFileSync(process.env.KEY);",
    "const attempt = (label, run) => decryptKeyAtPrompt(process.env.KEY, key, run).then((parsed) => console.log(`${label}: decrypted ${parsed.type}`), (error) => console.log(`${label}: ${error.code}`));",
    "const first = new Map();",
    "await attempt('first machine', first);",
    "await attempt('second machine, same run', first);",
    "await attempt('next run', new Map());",
  ].join("\n");
  const run = await runInPty([process.execPath, "--input-type=module", "-e", script], {
    env: { ...plainEnv(), KEY: key },
    answers: [{ after: /Enter passphrase/, act: (terminal) => terminal.type("\x03") }, { after: /Enter passphrase/, act: (terminal) => terminal.type(`${passphrase}\r`) }],
    timeoutMs: 20_000,
  });
  const lines = withoutEscapes(run.output).split(/\r?\n/).filter((line) => / machine|next run/.test(line) && !line.includes("Enter passphrase"));
  assert.deepEqual(lines, ["first machine: SSH_KEY_UNREADABLE", "second machine, same run: SSH_KEY_UNREADABLE", "next run: decrypted ssh-ed25519"], describePty(run));
  assert.equal(run.output.match(/Enter passphrase/g)?.length, 2, describePty(run));
});
