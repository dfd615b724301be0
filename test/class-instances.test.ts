// Objects keep their class across the wire (issue 8): instances of exported classes go to jobs
// on real sshd nodes and come back as instances of the same classes, with methods, nesting, Maps,
// shared references and cycles; custom encodings; errors with their classes and cause chains;
// what cannot cross is refused at submit with the path and the reason; a process that cannot
// load a class still shows the value; a main module awaiting its results is never imported.
import { strict as assert } from "node:assert";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, test } from "node:test";
import { inspect } from "node:util";
import { Socket } from "node:net";
import { EventEmitter } from "node:events";
import { MalocherError, unloadedClassOf, type JobResult } from "malocher";
import { DataError, Layer, Model, Seeded, Vault, failWith, inspectAndTrain, makeHidden, returnsHidden, returnsVault } from "./fixtures/classes/model.js";
import { describeRun, lastJsonLine, runCli, runNode, tsx } from "./fixtures/jobs/support.js";
import { collect } from "./support/results.js";
import { harnessSshOptions, useSshNodes } from "./support/ssh.js";
import { freshMalocher, removeDir, tempDir } from "./support/temp.js";

const TIMEOUT = { timeout: 60_000 };

const sshd = useSshNodes(2);

function value(result: JobResult | undefined): unknown {
  assert.ok(result !== undefined, "no result");
  if (!result.ok) assert.fail(`expected success, got ${inspect(result.error)}`);
  return result.value;
}

function error(result: JobResult | undefined): Extract<JobResult, { ok: false }>["error"] {
  assert.ok(result !== undefined, "no result");
  if (result.ok) assert.fail(`expected a failure, got ${inspect(result.value)}`);
  return result.error;
}

function refusal(fn: () => unknown): MalocherError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof MalocherError, `expected a MalocherError, got ${inspect(e)}`);
    return e;
  }
  assert.fail("expected submit to refuse");
}

describe("over SSH", () => {
  test("instances of the user's classes arrive with methods, nesting, Maps, shared references and cycles, both ways", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "classes");
    const layer = new Layer(2);
    const jobId = malocher.submit(inspectAndTrain, new Model([2, 3]), { a: layer, b: layer }, new Seeded(7));
    const results = await collect(malocher.processAll(harnessSshOptions(sshd.cluster)));
    const back = value(results.get(jobId)) as { report: Record<string, unknown>; model: Model; seeded: Seeded };
    assert.deepEqual(back.report, {
      isModel: true,
      layersAreLayers: true,
      selfIsSame: true,
      mapHoldsSameLayer: true,
      sharedIsShared: true,
      parameters: 3 + 6,
      seededIsSeeded: true,
      next: new Seeded(7).next(),
    });
    assert.ok(back.model instanceof Model, inspect(back.model));
    assert.equal(back.model.trainedOn, "node");
    assert.ok(back.model.layers.every((l) => l instanceof Layer));
    assert.equal(back.model.parameters(), 3 + 6 + 100);
    assert.equal(back.model.self, back.model, "the cycle comes back as a cycle");
    assert.equal(back.model.byName.get("l1"), back.model.layers[1], "the Map holds the same instance as the array");
    assert.ok(back.seeded instanceof Seeded, "custom-encoded instance comes back through fromMalocher");
    assert.equal(back.seeded.seed, 8);
  });

  test("a class from a package in node_modules crosses by its module URL", TIMEOUT, async (t) => {
    const project = tempDir("classes-package");
    t.after(() => removeDir(project));
    const pkg = join(project, "node_modules", "geometry-kit");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "geometry-kit", type: "module", exports: "./index.js" }));
    writeFileSync(
      join(pkg, "index.js"),
      "export class Vector {\n  constructor(x, y) { this.x = x; this.y = y; }\n  length() { return Math.hypot(this.x, this.y); }\n}\n",
    );
    writeFileSync(
      join(project, "jobs.mjs"),
      'import { Vector } from "geometry-kit";\nexport function scale(v, k) {\n' +
        '  if (!(v instanceof Vector)) throw new TypeError("not a Vector on the node");\n  return new Vector(v.x * k, v.y * k);\n}\n',
    );
    const { scale } = (await import(pathToFileURL(join(project, "jobs.mjs")).href)) as { scale: (v: unknown, k: number) => unknown };
    const { Vector } = (await import(pathToFileURL(join(pkg, "index.js")).href)) as {
      Vector: new (x: number, y: number) => { x: number; y: number; length(): number };
    };
    const malocher = freshMalocher(t, "classes-package-dir");
    const jobId = malocher.submit(scale, new Vector(3, 4), 2);
    const results = await collect(malocher.processAll(harnessSshOptions(sshd.cluster)));
    const scaled = value(results.get(jobId)) as InstanceType<typeof Vector>;
    assert.ok(scaled instanceof Vector, inspect(scaled));
    assert.equal(scaled.length(), 10);
  });

  test("errors thrown by jobs keep their class, fields and cause chain, and still have name, message, stack and code", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "classes-errors");
    const jobId = malocher.submit(failWith, [4, 5]);
    const results = await collect(malocher.processAll(harnessSshOptions(sshd.cluster)));
    const thrown = error(results.get(jobId));
    assert.ok(thrown instanceof DataError, inspect(thrown));
    assert.equal(thrown.name, "DataError");
    assert.equal(thrown.message, "bad rows: 4,5");
    assert.deepEqual(thrown.rows, [4, 5]);
    assert.equal((thrown as DataError & { code?: string }).code, "JOB_THREW");
    assert.match(thrown.stack ?? "", /failWith/);
    const middle = thrown.cause;
    assert.ok(middle instanceof TypeError, inspect(middle));
    assert.equal(middle.message, "cannot parse row");
    assert.ok(middle.cause instanceof DataError);
    assert.deepEqual(middle.cause.rows, [0]);
    assert.match(inspect(thrown), /DataError: bad rows: 4,5/, "printed like an error");
  });

  test("a result whose class is not exported, or has #private fields, fails with RESULT_NOT_SERIALIZABLE saying why", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "classes-bad-results");
    const hidden = malocher.submit(returnsHidden);
    const vault = malocher.submit(returnsVault);
    const results = await collect(malocher.processAll(harnessSshOptions(sshd.cluster)));
    const hiddenError = error(results.get(hidden));
    assert.equal(hiddenError.code, "RESULT_NOT_SERIALIZABLE");
    assert.match(hiddenError.message, /at result\.hidden: an instance of class Hidden.*does not export it/);
    const vaultError = error(results.get(vault));
    assert.equal(vaultError.code, "RESULT_NOT_SERIALIZABLE");
    assert.match(vaultError.message, /private members \(#key\).*toMalocher\(\).*fromMalocher/);
  });

  test("the CLI, which imports no user code, shows instances as their fields plus the class name", TIMEOUT, async (t) => {
    const dir = tempDir("classes-cli");
    t.after(() => removeDir(dir));
    const { Malocher } = await import("malocher");
    const malocher = new Malocher({ dir });
    const jobId = malocher.submit(inspectAndTrain, new Model([1]), { a: new Layer(1), b: new Layer(1) }, new Seeded(1));
    await collect(malocher.processAll(harnessSshOptions(sshd.cluster)));
    const run = await runCli(["results", "--dir", dir, "--json"]);
    assert.equal(run.code, 0, describeRun(run));
    const line = lastJsonLine<{ jobId: string; value: { model: { $class: string; trainedOn: string; layers: { $class: string }[] } } }>(run);
    assert.equal(line.jobId, jobId);
    assert.equal(line.value.model.$class, "Model");
    assert.equal(line.value.model.trainedOn, "node");
    assert.equal(line.value.model.layers[0]?.$class, "Layer");
    // The library without class loading: placeholders that say which class they stand for.
    for await (const [, result] of malocher.results({ loadClasses: false })) {
      const model = (value(result) as { model: object }).model;
      assert.ok(!(model instanceof Model));
      assert.equal(model.constructor.name, "Model");
      assert.equal(unloadedClassOf(model)?.export, "Model");
      assert.equal(unloadedClassOf(model)?.module, pathToFileURL(fileURLToPath(new URL("./fixtures/classes/model.ts", import.meta.url))).href);
    }
  });
});

describe("in the submitting process", () => {
  test("submit refuses what cannot cross, naming the path and the reason", (t) => {
    const malocher = freshMalocher(t, "classes-refusals");
    const cases: [string, unknown, RegExp][] = [
      ["a class no module exports", { model: makeHidden() }, /args\[0\]\.model to the job: an instance of class Hidden.*does not export it/],
      ["#private fields without custom encoding", [new Vault()], /args\[0\]\[0\] to the job: an instance of class Vault with private members \(#key\)/],
      ["a closure", { layer: new Layer(1), fn: () => 1 }, /args\[0\]\.fn to the job: a function/],
      ["a socket", { conn: new Socket() }, /args\[0\]\.conn to the job: a stream/],
      // Advice that fits: no module of the user's exports a class of Node.js.
      ["an instance of a class of Node.js", { events: new EventEmitter() }, /args\[0\]\.events to the job: an instance of class EventEmitter, a class of Node\.js itself or a native one, which the other side cannot rebuild: send what it holds instead/],
    ];
    for (const [what, arg, message] of cases) {
      const e = refusal(() => malocher.submit(inspectAndTrain, arg as Model, { a: new Layer(1), b: new Layer(1) }, new Seeded(1)));
      assert.equal(e.code, "ARG_NOT_SERIALIZABLE", what);
      assert.match(e.message, message, `${what}: ${e.message}`);
    }
  });

  test("a main module that awaits its results at top level gets its own classes back without being imported", TIMEOUT, async (t) => {
    const dir = tempDir("classes-main");
    t.after(() => removeDir(dir));
    const script = fileURLToPath(new URL("./fixtures/classes/main-module.ts", import.meta.url));
    const run = await runNode(["--import", tsx, script, dir], { timeoutMs: 45_000 });
    assert.equal(run.code, 0, describeRun(run));
    const seen = lastJsonLine<Record<string, unknown>[]>(run);
    assert.deepEqual(seen.filter((s) => s["ok"]).map((s) => s["isVerdict"]), [true, true]);
    assert.ok(seen.some((s) => s["text"] === "verdict 3"));
    assert.deepEqual(seen.filter((s) => !s["ok"]), [{ ok: false, isMainError: true, n: 2, code: "JOB_THREW" }]);
  });
});
