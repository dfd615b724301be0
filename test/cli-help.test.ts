// Every `malocher` command's --help ends with an example, and commander's own usage errors carry
// the INVALID_OPTIONS code and exit 2 like every other error a user can act on.
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { describeRun, runCli } from "./fixtures/jobs/support.js";

test("every command's --help shows an example", { timeout: 60_000 }, async () => {
  const top = await runCli(["--help"]);
  assert.equal(top.code, 0, describeRun(top));
  const section = top.stdout.slice(top.stdout.indexOf("Commands:"), top.stdout.indexOf("\n\n", top.stdout.indexOf("Commands:")));
  const commands = [...section.matchAll(/^ {2}(\w+) /gm)].map((match) => match[1]!).filter((name) => name !== "help");
  assert.deepEqual(commands, ["submit", "run", "nodes", "status", "jobs", "results", "cancel", "retry", "clean", "logs", "dashboard", "init"]);
  for (const command of commands) {
    const help = await runCli([command, "--help"]);
    assert.equal(help.code, 0, describeRun(help));
    assert.match(help.stdout, new RegExp(`\\nExamples?:\\n {2}malocher ${command} `), `${command} --help:\n${help.stdout}`);
  }
});

test("usage errors say [INVALID_OPTIONS] and exit 2", { timeout: 30_000 }, async () => {
  for (const [args, message] of [
    [["clean", "--failed", "--succeeded"], "option '--failed' cannot be used with option '--succeeded'"],
    [["logs"], "missing required argument 'jobId'"],
    [["status", "--no-such-option"], "unknown option '--no-such-option'"],
  ] as const) {
    const run = await runCli([...args]);
    assert.equal(run.code, 2, describeRun(run));
    assert.ok(run.stderr.startsWith(`malocher: [INVALID_OPTIONS] ${message}`), describeRun(run));
  }
});
