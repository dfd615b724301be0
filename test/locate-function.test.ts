// locateFunction must give a reference that another process can import, under tsx and under plain node. Each
// case runs in a child process (fixtures in test/fixtures/locate/) that prints what locateFunction answered.
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const fixtures = join(root, "test/fixtures/locate");
const fixtureUrl = (name: string): string => pathToFileURL(join(fixtures, name)).href;
const tsx = import.meta.resolve("tsx");

interface Outcome {
  ref?: { module: string; export: string };
  identical?: boolean;
  error?: { name: string; code: string; message: string };
}
interface Report {
  outcomes: Record<string, Outcome>;
  timings: { firstMs: number; medianMs: number; maxMs: number; cachedMs: number };
}

/** The module under test: its TypeScript source for tsx, the built JavaScript for plain node. */
const moduleUnderTest = {
  tsUrl: pathToFileURL(join(root, "packages/locate/src/locate-function.ts")).href,
  jsUrl: pathToFileURL(join(root, "packages/locate/dist/locate-function.js")).href,
};

async function runNode(args: string[], moduleUrl: string): Promise<Report> {
  const env = { ...process.env, LOCATE_FUNCTION_URL: moduleUrl, REPORT_URL: fixtureUrl("report.mjs") };
  const { stdout } = await run(process.execPath, args, { cwd: fixtures, env });
  return JSON.parse(stdout) as Report;
}

function assertAccepted(outcome: Outcome | undefined, module: string, exportName: string): void {
  assert.ok(outcome !== undefined, "case missing from the report");
  assert.equal(outcome.error, undefined, outcome.error?.message);
  assert.deepEqual(outcome.ref, { module, export: exportName });
  assert.equal(outcome.identical, true, "importing the reference gives another value");
}

/** The error names the function, says what is wrong with it (`reason`) and what to write instead (`suggested`). */
function assertRefused(outcome: Outcome | undefined, functionName: string | undefined, reason: RegExp, suggested = functionName ?? "myJob"): void {
  assert.ok(outcome !== undefined, "case missing from the report");
  assert.ok(outcome.error !== undefined, `accepted as ${JSON.stringify(outcome.ref)}`);
  const { name, code, message } = outcome.error;
  assert.equal(name, "MalocherError");
  assert.equal(code, "FUNCTION_NOT_IMPORTABLE");
  assert.match(message, new RegExp(`^Cannot submit ${functionName === undefined ? "an anonymous function" : `function \`${functionName}\``}: `));
  assert.match(message, reason);
  assert.ok(message.includes(`export function ${suggested}(...)`), message);
  assert.ok(message.includes(`{ module: import.meta.url, export: "${suggested}" }`), message);
}

/** Refusals that do not depend on how the module was loaded. */
function assertCommonRefusals(outcomes: Record<string, Outcome>, jobsFile: string): void {
  const file = join(fixtures, jobsFile).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  assertRefused(outcomes["closure"], undefined, new RegExp(`inside another function or block in ${file} \\(a closure\\)`));
  assertRefused(outcomes["localArrow"], "local", /no export of .* is this function .*arrow functions kept in local variables/);
  assertRefused(outcomes["classMethod"], "fit", /no export of .* is this function .*class and object methods/);
  assertRefused(outcomes["objectMethod"], "method", /no export of .* is this function .*class and object methods/);
  assertRefused(outcomes["bound"], "train", /bound function .*pass the bound values as arguments/);
  assertRefused(outcomes["notExported"], "notExported", new RegExp(`top-level function of ${file} \\(\`notExported\`\\), but that module does not export it`));
  assertRefused(outcomes["impostor"], "impostor", /does not export it; the module's export `impostor` is a different function/);
  assertRefused(outcomes["native"], "max", /built-in \(native\) function/, "myJob");
  assertRefused(outcomes["nodeBuiltin"], "readFileSync", /part of Node\.js itself \(node:fs\)/, "myJob");
  assertRefused(outcomes["evalFunction"], "evalJob", /does not come from a module file; such code comes from `node -e`, eval/);
  assertRefused(outcomes["newFunction"], "anonymous", /does not come from a module file/);
  assertRefused(outcomes["commonjs"], "cjsJob", /commonjs\.cjs, which is a CommonJS module or a classic script/);
}

describe("locateFunction", () => {
  it("locates exported functions of .ts modules run under tsx, and refuses the rest", async (t) => {
    const { outcomes, timings } = await runNode(["--import", tsx, "run.ts"], moduleUnderTest.tsUrl);
    t.diagnostic(`tsx: first lookup (with set-up) ${timings.firstMs.toFixed(1)} ms, median ${timings.medianMs.toFixed(2)} ms, cached ${(timings.cachedMs * 1000).toFixed(2)} µs`);
    const jobs = fixtureUrl("ts-jobs.ts");
    assertAccepted(outcomes["train"], jobs, "train");
    assertAccepted(outcomes["arrowJob"], jobs, "arrowJob");
    assertAccepted(outcomes["asyncJob"], jobs, "asyncJob");
    assertAccepted(outcomes["renamedJob"], jobs, "renamedJob");
    assertAccepted(outcomes["defaultJob"], jobs, "default");
    assertAccepted(outcomes["adder"], jobs, "adder");
    assertAccepted(outcomes["mainScriptJob"], fixtureUrl("run.ts"), "mainScriptJob");
    assertCommonRefusals(outcomes, "ts-jobs.ts");
  });

  it("locates exported functions of .mjs modules run by plain node, and refuses the rest", async (t) => {
    const { outcomes, timings } = await runNode(["run.mjs"], moduleUnderTest.jsUrl);
    t.diagnostic(`node: first lookup (with set-up) ${timings.firstMs.toFixed(1)} ms, median ${timings.medianMs.toFixed(2)} ms, cached ${(timings.cachedMs * 1000).toFixed(2)} µs`);
    const jobs = fixtureUrl("mjs-jobs.mjs");
    assertAccepted(outcomes["train"], jobs, "train");
    assertAccepted(outcomes["arrowJob"], jobs, "arrowJob");
    assertAccepted(outcomes["asyncJob"], jobs, "asyncJob");
    assertAccepted(outcomes["renamedJob"], jobs, "renamedJob");
    assertAccepted(outcomes["defaultJob"], jobs, "default");
    assertAccepted(outcomes["defaultArrow"], fixtureUrl("default-arrow.mjs"), "default");
    assertAccepted(outcomes["defaultIdentifier"], fixtureUrl("default-identifier.mjs"), "default");
    assertAccepted(outcomes["adder"], jobs, "adder");
    assertAccepted(outcomes["jsJob"], fixtureUrl("js-job.js"), "jsJob");
    assertAccepted(outcomes["mainScriptJob"], fixtureUrl("run.mjs"), "mainScriptJob");
    assertRefused(outcomes["defaultIdentifierHidden"], "fitModel", /has `export default fitModel`, whose value V8 keeps hidden.*`export \{ fitModel as default \}`/);
    assertCommonRefusals(outcomes, "mjs-jobs.mjs");
  });

  it("refuses functions of `node -e` code, whether CommonJS or an ES module", async () => {
    const cases = `{ evalJob: function evalJob() { return 1; } }`;
    const esm = `const { locateFunction } = await import(process.env.LOCATE_FUNCTION_URL);
      const { report } = await import(process.env.REPORT_URL);
      export function evalJob() { return 1; }
      await report(locateFunction, { evalJob });`;
    const cjs = `Promise.all([import(process.env.LOCATE_FUNCTION_URL), import(process.env.REPORT_URL)])
      .then(([{ locateFunction }, { report }]) => report(locateFunction, ${cases}));`;
    const fromEsm = await runNode(["--input-type=module", "-e", esm], moduleUnderTest.jsUrl);
    // An ES module from -e gets a made-up file URL (…/[eval1]) that no other process can import.
    assertRefused(fromEsm.outcomes["evalJob"], "evalJob", /does not come from a module file \(V8 calls its code "file:.*\[eval1\]"\); such code comes from `node -e`/);
    const fromCjs = await runNode(["-e", cjs], moduleUnderTest.jsUrl);
    assertRefused(fromCjs.outcomes["evalJob"], "evalJob", /does not come from a module file \(V8 calls its code "\[eval\]"\)/);
  });
});
