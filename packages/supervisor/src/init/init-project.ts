/**
 * `malocher init [dir]`: makes a directory a project that uses Malocher the way the README shows,
 * without overwriting anything: a package.json with `"type": "module"` (the scripts use top-level
 * `await`, which CommonJS refuses), an `experiment.ts` whose main code is under `isMain`, and a
 * `hosts.txt` to fill in.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";

/** What `initProject` did to each file. */
export interface InitStep {
  file: string;
  action: "created" | "updated" | "kept";
  detail?: string;
}

/** The experiment script `init` writes (`file`: its name, experiment.ts or experiment.mts). */
const experimentScript = (file: string) => `// ${file}, written by \`malocher init\`. Run it with: npx tsx ${file}
import { readFileSync } from "node:fs";
import { isMain, processAll, submit } from "malocher";

/** A job: an exported function. Its arguments and its return value travel as data. */
export function train(seed: number, lr: number) {
  let loss = 1;
  let random = seed + 1;
  for (let step = 0; step < 100_000; step++) {
    random = (random * 48271) % 2147483647;
    loss *= 1 - (lr * random) / 2147483647 / 1000;
  }
  return { seed, lr, loss };
}

// Every worker imports this module to find \`train\`: all main code goes under this guard.
if (isMain(import.meta)) {
  // The machines, one [slots/][user@]host[:port] a line; none: the jobs run on this machine.
  const hosts = readFileSync(new URL("./hosts.txt", import.meta.url), "utf8")
    .split("\\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter((line) => line !== "");
  // A key per job: run the script again and finished jobs are reused, failed ones run again.
  for (const lr of [0.1, 0.01]) for (let seed = 0; seed < 10; seed++) submit.with({ key: \`lr=\${lr} seed=\${seed}\` })(train, seed, lr);
  const rows: object[] = [];
  for await (const [jobId, result] of processAll(hosts.length > 0 ? { sshMachines: hosts } : {})) {
    if (result.ok) rows.push({ ...(result.value as object), reused: result.reused === true });
    else console.error(jobId, result.error.code, result.error.message);
  }
  console.table(rows);
}
`;

export const HOSTS_TXT = `# The machines experiment.ts runs on, one a line: [slots/][user@]host[:port] [labels]
# (hosts of your ~/.ssh/config work too). Check them with: npx malocher nodes --hosts hosts.txt
# With no machine here, the jobs run on this machine.
# node1
# 8/alice@gpu1:2222 gpu
`;

/** Writes what is missing of a Malocher project into `dir` (made if needed); returns what it did to each file. */
export function initProject(dir: string): InitStep[] {
  const root = resolve(dir);
  mkdirSync(root, { recursive: true });
  const { step, experiment } = packageJson(root);
  return [step, writeIfMissing(root, experiment, experimentScript(experiment)), writeIfMissing(root, "hosts.txt", HOSTS_TXT)];
}

/**
 * Whether the package in `root` has code of its own: the file its `main` names (`npm init -y`
 * names index.js without making it), or JavaScript or TypeScript files at its top or in `src/` or
 * `lib/` (an experiment of `init`'s aside).
 * Such a package keeps its `"type"` (its CommonJS files would break as ES modules); one just made
 * by `npm init -y` becomes `"type": "module"`.
 */
function hasCodeOfItsOwn(root: string, manifest: Record<string, unknown>): boolean {
  if (typeof manifest["main"] === "string" && existsSync(join(root, manifest["main"]))) return true;
  // TypeScript too: a CommonJS package's .ts files are CommonJS to tsx and to tsc's "module": "node16".
  const isScript = (name: string) => /\.(c?js|jsx|c?ts|tsx)$/.test(name) && !/^experiment\.m?ts$/.test(name) && !name.endsWith(".d.ts");
  const hasScripts = (dir: string) => statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true && readdirSync(dir).some(isScript);
  return [root, join(root, "src"), join(root, "lib")].some(hasScripts);
}

/** The package.json step, and the experiment's file name (`.mts` in a CommonJS package of its own: an ES module whatever the type). */
function packageJson(root: string): { step: InitStep; experiment: string } {
  const file = join(root, "package.json");
  if (!existsSync(file)) {
    const manifest = { name: basename(root).toLowerCase().replace(/[^a-z0-9._-]+/g, "-"), private: true, type: "module", scripts: { experiment: "tsx experiment.ts" } };
    writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
    return { step: { file, action: "created" }, experiment: "experiment.ts" };
  }
  const manifest = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  const notes: string[] = [];
  let changed = false;
  let experiment = "experiment.ts";
  if (manifest["type"] !== "module") {
    const was = manifest["type"] === undefined ? "unset, meaning CommonJS" : JSON.stringify(manifest["type"]);
    if (hasCodeOfItsOwn(root, manifest)) {
      // Its own files may use require(): the experiment is the one to be an ES module.
      experiment = "experiment.mts";
      notes.push(`"type" kept (${was}: this package has code of its own), so the experiment is experiment.mts, an ES module whatever the type`);
    } else {
      notes.push(`"type": "module" (was ${was}): scripts use top-level await`);
      manifest["type"] = "module";
      changed = true;
    }
  }
  const scripts = (manifest["scripts"] ?? {}) as Record<string, string>;
  if (scripts["experiment"] === undefined) {
    scripts["experiment"] = `tsx ${experiment}`;
    manifest["scripts"] = scripts;
    notes.push(`the script "experiment": "tsx ${experiment}"`);
    changed = true;
  }
  const detail = notes.length === 0 ? {} : { detail: notes.join("; ") };
  if (!changed) return { step: { file, action: "kept", ...detail }, experiment };
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
  return { step: { file, action: "updated", ...detail }, experiment };
}

function writeIfMissing(root: string, name: string, text: string): InitStep {
  const file = join(root, name);
  if (existsSync(file)) return { file, action: "kept", detail: "it exists" };
  writeFileSync(file, text);
  return { file, action: "created" };
}

/** Whether the project in `dir` has `malocher` installed (its node_modules, or a dependency that names it). */
export function hasMalocherInstalled(dir: string): boolean {
  return existsSync(join(resolve(dir), "node_modules", "malocher", "package.json"));
}
