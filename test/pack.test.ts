// `npm run pack`'s tarball used as a new user would: installed into a fresh project outside the
// repository (made with `npm init -y`, so CommonJS at first), set up by `npx malocher init`, its
// experiment.ts run twice with tsx (the second run reuses every keyed job), its types checked by tsc,
// and the CLI run there.
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { MALOCHER_VERSION } from "@malocher/protocol";
import { root } from "./fixtures/jobs/support.js";
import { removeDir, tempDir } from "./support/temp.js";

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(command: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<Ran> {
  return new Promise((resolve) =>
    execFile(command, args, { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, MALOCHER_DIR: "" } }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr }),
    ),
  );
}

const described = (ran: Ran) => `exit ${ran.code}\n--- stdout\n${ran.stdout}\n--- stderr\n${ran.stderr}`;

test("npm run pack's tarball installs into a fresh project; malocher init sets it up; a script and the CLI run there", { timeout: 400_000 }, async (t) => {
  const packed = await sh("npm", ["run", "pack", "--silent"], root, 240_000);
  assert.equal(packed.code, 0, described(packed));
  const tarball = join(root, `malocher-${MALOCHER_VERSION}.tgz`);
  assert.equal(packed.stdout.trim().split("\n").pop(), tarball);
  assert.ok(existsSync(tarball));

  const project = tempDir("own-project");
  t.after(() => removeDir(project));
  assert.ok(!project.startsWith(root), "outside the repository");
  assert.equal((await sh("npm", ["init", "-y"], project)).code, 0);
  // From npm's cache where it can (the workspace's own install filled it); no install scripts, so no native builds.
  const installed = await sh("npm", ["install", tarball, "tsx", "@types/node@20", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund"], project, 240_000);
  assert.equal(installed.code, 0, described(installed));
  for (const name of ["protocol", "store", "locate", "agent"]) {
    assert.ok(existsSync(join(project, "node_modules/malocher/node_modules/@malocher", name, "package.json")), `@malocher/${name} comes inside the tarball`);
  }
  // The agent's bundles come with the licenses of what they hold, and tsx's hooks once.
  const agent = join(project, "node_modules/malocher/node_modules/@malocher/agent/dist");
  const notices = readFileSync(join(agent, "THIRD-PARTY-NOTICES.md"), "utf8");
  const sections = new Map(notices.split(/^## /m).slice(1).map((section) => [section.split(" ", 1)[0]!, section]));
  assert.deepEqual([...sections.keys()], ["chokidar", "es-module-lexer", "msgpackr", "readdirp", "tsx", "ws"]);
  for (const [name, section] of sections) assert.match(section, /^\S+ [\d.]+ \(MIT\)\n[^]*Permission is hereby granted/, name);
  assert.ok(existsSync(join(agent, "worker/tsx-hooks.js")) && !existsSync(join(agent, "bundle/tsx-hooks.js")));

  const init = await sh("npx", ["malocher", "init"], project);
  assert.equal(init.code, 0, described(init));
  assert.match(init.stdout, /^updated package\.json: "type": "module"/m, described(init));
  assert.match(init.stdout, /^created experiment\.ts$/m);
  assert.match(init.stdout, /^created hosts\.txt$/m);
  const manifest = JSON.parse(readFileSync(join(project, "package.json"), "utf8")) as { type: string; dependencies: Record<string, string> };
  assert.equal(manifest.type, "module");
  assert.ok(manifest.dependencies["malocher"]?.endsWith(`malocher-${MALOCHER_VERSION}.tgz`), JSON.stringify(manifest.dependencies));
  const again = await sh("npx", ["malocher", "init"], project);
  assert.match(again.stdout, /^kept    experiment\.ts: it exists$/m, "nothing is overwritten");

  const first = await sh("npx", ["tsx", "experiment.ts"], project);
  assert.equal(first.code, 0, described(first));
  const rows = (ran: Ran) => ran.stdout.split("\n").filter((line) => /^│ +\d+ +│/.test(line));
  assert.equal(rows(first).length, 20, described(first));
  assert.ok(rows(first).every((row) => / false +│$/.test(row)), `the first run runs every job: ${first.stdout}`);
  const second = await sh("npx", ["tsx", "experiment.ts"], project);
  assert.equal(second.code, 0, described(second));
  assert.equal(rows(second).length, 20, `the rerun yields every job again: ${described(second)}`);
  assert.ok(rows(second).every((row) => / true +│$/.test(row)), `the rerun reuses every keyed job: ${second.stdout}`);

  const status = await sh("npx", ["malocher", "status", "--json"], project);
  assert.equal(status.code, 0, described(status));
  const counts = JSON.parse(status.stdout) as { total: number; counts: Record<string, number> };
  assert.equal(counts.total, 20);
  assert.equal(counts.counts["succeeded"], 20);
  const jobs = await sh("npx", ["malocher", "jobs", "--state", "succeeded"], project);
  assert.equal(jobs.stdout.trim().split("\n").length, 20, described(jobs));
  assert.match(jobs.stdout, /train\(3, 0\.1\) key=lr=0\.1 seed=3$/m);

  // Its types check in a strict project that also checks the libraries' declarations (tsc's default):
  // they name ssh2's and ws's types, which come with the package.
  writeFileSync(join(project, "types-check.ts"), 'import { Malocher, processAll } from "malocher";\nconst malocher: Malocher = new Malocher({ dir: "jobs" });\nvoid malocher;\nvoid processAll;\n');
  writeFileSync(join(project, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, module: "nodenext", target: "es2022", noEmit: true }, files: ["types-check.ts"] }));
  const typed = await sh(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "."], project);
  assert.equal(typed.code, 0, described(typed));
});
