/**
 * `submit.with({ key })` again with other arguments (or another command): the job of the key
 * stands for the submission, as it was submitted, and a process warning says so (a changed
 * argument under an old key was silently ignored).
 */
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { square } from "./fixtures/jobs/jobs.js";
import { freshMalocher } from "./support/temp.js";

test("a key submitted again with other arguments or another command warns MALOCHER_KEY_REUSED, naming what differs; the same arguments do not", async (t) => {
  const m = freshMalocher(t, "keys");
  const warnings: Error[] = [];
  const listener = (warning: Error) => warnings.push(warning);
  process.on("warning", listener);
  t.after(() => process.off("warning", listener));

  const first = m.submit.with({ key: "prep" })(square, 2);
  assert.equal(m.submit.with({ key: "prep" })(square, 2), first);
  await nextTurn();
  assert.equal(warnings.length, 0, "the same job again: nothing to say");

  assert.equal(m.submit.with({ key: "prep" })(square, 3), first, "the key's job stands for the submission");
  const command = m.submitCommand(["echo", "a"], { key: "report" });
  assert.equal(m.submitCommand(["echo", "b"], { key: "report" }), command);
  await nextTurn();
  assert.deepEqual(
    warnings.map((warning) => (warning as Error & { code?: string }).code),
    ["MALOCHER_KEY_REUSED", "MALOCHER_KEY_REUSED"],
  );
  assert.match(warnings[0]!.message, new RegExp(`^submit with key "prep": job ${first} of that key was submitted with other arguments, and it stands for this submission as it was \\(it is still to finish\\)\\. A key names one job: for a new one, use a key that says what differs, or \`malocher clean\` the old job first\\.`));
  assert.match(warnings[1]!.message, /^submit with key "report": job \S+ of that key was submitted with another command, and it stands for this submission as it was \(it is still to finish\)/);
});
