// GNU parallel's replacement strings and input sources in `malocher submit` / `malocher run`:
// {.} {/} {//} {/.} {#}, the {n…} forms, `::::` argument files, `:::+` linked sources, and a
// refusal for a {…} that looks like a replacement string but is not one Malocher knows.
import { strict as assert } from "node:assert";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { commandLines, expandCommandLines, usesJobSlot } from "../packages/supervisor/src/cli/command-lines.js";
import { describeRun, runCli } from "./fixtures/jobs/support.js";
import { freshMalocher, removeDir, tempDir } from "./support/temp.js";

const noStdin = () => assert.fail("stdin is not read when there are sources");
const expand = (...words: string[]) => expandCommandLines(words, noStdin);

test("{.} {/} {//} {/.} {#} {%} as GNU parallel replaces them", () => {
  assert.deepEqual(expand("echo", "{.}", "{/}", "{#}", ":::", "dir/a.txt"), [["echo", "dir/a", "a.txt", "1"]], "the issue's example");
  assert.deepEqual(expand("echo", "{//}", "{/.}", ":::", "/data/x.tar.gz", "b.csv", "/c"), [
    ["echo", "/data", "x.tar"],
    ["echo", ".", "b"],
    ["echo", "/", "c"],
  ]);
  assert.deepEqual(expand("echo", "{.}", ":::", "dir.v2/file", ".bashrc"), [["echo", "dir.v2/file"], ["echo", ".bashrc"]], "no extension: unchanged");
  assert.deepEqual(expand("convert", "{}", "out/{/.}.png", "--n={#}", ":::", "in/a.jpg", "in/b.jpg"), [
    ["convert", "in/a.jpg", "out/a.png", "--n=1"],
    ["convert", "in/b.jpg", "out/b.png", "--n=2"],
  ]);
  assert.deepEqual(expand("echo", "{#}", ":::", "a", "b"), [["echo", "1"], ["echo", "2"]], "any replacement string stops the arguments being appended");
  assert.deepEqual(expand("train", "--gpu={%}", "{}", ":::", "a"), [["train", "--gpu={%}", "a"]], "{%} stays for the node to replace");
  assert.equal(usesJobSlot(["train", "--gpu={%}", ":::", "a"]), true);
  assert.equal(usesJobSlot(["train", ":::", "{%}"]), false, "only the command's own words count");
});

test("{n} {n.} {n/} {n//} {n/.} pick the n-th source's argument", () => {
  assert.deepEqual(expand("cp", "{1}", "{2//}/{1/.}.bak", "{2.}", "{2/}", ":::", "x/a.txt", ":::", "y/b.dat"), [["cp", "x/a.txt", "y/a.bak", "y/b", "b.dat"]]);
  assert.deepEqual(expand("echo", "{.}", ":::", "a.1", ":::", "b.2"), [["echo", "a", "b"]], "a whole-word {.} of two sources: one word each");
  assert.throws(() => expand("echo", "{3.}", ":::", "a", ":::", "b"), /\{3\.\} names input source 3, but there are 2/);
});

test(":::+ links a source to the one before it; :::: reads arguments from files, :::::+ linked", (t) => {
  assert.deepEqual(expand("echo", "{1}", "{2}", ":::", "a", "b", "c", ":::+", "1", "2", "3"), [["echo", "a", "1"], ["echo", "b", "2"], ["echo", "c", "3"]]);
  assert.deepEqual(expand("echo", ":::", "a", "b", "c", ":::+", "1", "2"), [["echo", "a", "1"], ["echo", "b", "2"]], "the shortest linked source sets the length");
  assert.deepEqual(expand("echo", ":::", "x", "y", ":::", "a", "b", ":::+", "1", "2"), [
    ["echo", "x", "a", "1"],
    ["echo", "x", "b", "2"],
    ["echo", "y", "a", "1"],
    ["echo", "y", "b", "2"],
  ], "linked pairs combine with the other sources");
  const dir = tempDir("argfiles");
  t.after(() => removeDir(dir));
  writeFileSync(join(dir, "seeds"), "1\n2\n");
  writeFileSync(join(dir, "names"), "one\r\ntwo");
  writeFileSync(join(dir, "lrs"), "0.1\n");
  const seeds = join(dir, "seeds");
  const names = join(dir, "names");
  const lrs = join(dir, "lrs");
  assert.deepEqual(expand("train", "{1}", "{2}", "::::", seeds, lrs), [["train", "1", "0.1"], ["train", "2", "0.1"]], "each file after :::: is a source of its own");
  assert.deepEqual(expand("train", "::::", seeds, "::::+", names), [["train", "1", "one"], ["train", "2", "two"]]);
  assert.deepEqual(expand("train", ":::", "a", "::::", lrs), [["train", "a", "0.1"]]);
  assert.throws(() => expand("train", "::::", join(dir, "missing")), /\[?:::: .*missing: cannot read the argument file/);
  assert.throws(() => expand("echo", ":::+", "a"), /links its arguments to the source before it/);
});

test("a {…} that looks like a replacement string but is none Malocher knows is refused, naming it", () => {
  for (const unknown of ["{..}", "{1%}", "{=s/a/b/=}", "{1x}", "{+/}", "{1//.}"]) {
    if (unknown === "{1x}") {
      assert.deepEqual(expand("echo", unknown, ":::", "a"), [["echo", "{1x}", "a"]], "not parallel-like: passed through");
      continue;
    }
    assert.throws(() => expand("echo", `pre${unknown}`, ":::", "a"), (error: Error & { code?: string }) => {
      assert.equal(error.code, "INVALID_COMMAND");
      assert.ok(error.message.startsWith(`${unknown} in "pre${unknown}" looks like one of GNU parallel's replacement strings`), error.message);
      assert.match(error.message, /Known: \{\} \{\.\} \{\/\} \{\/\/\} \{\/\.\} \{#\} \{%\}/);
      return true;
    });
  }
  assert.deepEqual(expand("sh", "-c", "echo ${HOME} {print $1}", ":::", "a"), [["sh", "-c", "echo ${HOME} {print $1}", "a"]], "shell and awk braces pass through");
});

test("without ::: and with stdin a terminal (no lines), the command is one job as it is, unless it asks for arguments", () => {
  const onTerminal = (...words: string[]) => expandCommandLines(words, () => undefined);
  assert.deepEqual(onTerminal("python", "report.py"), [["python", "report.py"]]);
  assert.deepEqual(onTerminal("sh", "-c", "echo job {#} on slot {%}"), [["sh", "-c", "echo job 1 on slot {%}"]], "{#} is 1, {%} stays for the node");
  for (const asking of ["{}", "{1}", "out/{/.}.txt"]) {
    assert.throws(() => onTerminal("convert", asking), (error: Error & { code?: string }) => {
      assert.equal(error.code, "INVALID_COMMAND");
      assert.ok(error.message.startsWith(`No arguments for ${JSON.stringify(asking)}: give them after :::`), error.message);
      return true;
    });
  }
});

test("--once: the command once, as it is, without reading stdin; ::: arguments are refused", () => {
  assert.deepEqual(commandLines(["python", "report.py"], true), [["python", "report.py"]]);
  assert.throws(() => commandLines(["echo", ":::", "a"], true), /--once queues the command as it is: give it no ::: or :::: arguments/);
  assert.throws(() => commandLines(["echo", "{}"], true), /No arguments for "\{\}"/);
});

test("malocher submit: the replacement strings reach the jobs' argv; an empty stdin is refused, --once reads none", { timeout: 30_000 }, async (t) => {
  const malocher = freshMalocher(t, "replacements");
  const submitted = await runCli(["submit", "--json", "--dir", malocher.dir, "--", "echo", "{.}", "{/}", "{#}", ":::", "dir/a.txt", "b.md"]);
  assert.equal(submitted.code, 0, describeRun(submitted));
  const argvs = submitted.stdout.trim().split("\n").map((line) => (JSON.parse(line) as { argv: string[] }).argv);
  assert.deepEqual(argvs, [["echo", "dir/a", "a.txt", "1"], ["echo", "b", "b.md", "2"]]);
  const unknown = await runCli(["submit", "--dir", malocher.dir, "--", "echo", "{..}", ":::", "a"]);
  assert.equal(unknown.code, 2, describeRun(unknown));
  assert.match(unknown.stderr, /\[INVALID_COMMAND\] \{\.\.\} in "\{\.\.\}" looks like one of GNU parallel's replacement strings/);
  const empty = await runCli(["submit", "--dir", malocher.dir, "--", "echo"], { input: "" });
  assert.equal(empty.code, 2, describeRun(empty));
  assert.match(empty.stderr, /\[INVALID_COMMAND\] No arguments: stdin was empty, so there would be no job.*give --once/);
  const once = await runCli(["submit", "--once", "--json", "--dir", malocher.dir, "--", "echo", "report"], { input: "" });
  assert.equal(once.code, 0, describeRun(once));
  assert.deepEqual(once.stdout.trim().split("\n").map((line) => (JSON.parse(line) as { argv: string[] }).argv), [["echo", "report"]]);
});
