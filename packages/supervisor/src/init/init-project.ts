/**
 * `malocher init [dir]`: makes a directory a project that uses Malocher the way the README shows,
 * without overwriting anything: a package.json with `"type": "module"` (the scripts use top-level
 * `await`, which CommonJS refuses), an `experiment.ts` whose main code is under `isMain`, and a
 * `hosts.txt` to fill in.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";

/** What `initProject` did to each file. */
export interface InitStep {
  file: string;
  action: "created" | "updated" | "kept";
  detail?: string;
}

export const EXPERIMENT_TS = `// experiment.ts, written by \`malocher init\`. Run it with: npx tsx experiment.ts
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
  return [packageJson(root), writeIfMissing(root, "experiment.ts", EXPERIMENT_TS), writeIfMissing(root, "hosts.txt", HOSTS_TXT)];
}

function packageJson(root: string): InitStep {
  const file = join(root, "package.json");
  if (!existsSync(file)) {
    const manifest = { name: basename(root).toLowerCase().replace(/[^a-z0-9._-]+/g, "-"), private: true, type: "module", scripts: { experiment: "tsx experiment.ts" } };
    writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
    return { file, action: "created" };
  }
  const manifest = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  const changes: string[] = [];
  if (manifest["type"] !== "module") {
    changes.push(`"type": "module" (was ${manifest["type"] === undefined ? "unset, meaning CommonJS" : JSON.stringify(manifest["type"])}): scripts use top-level await`);
    manifest["type"] = "module";
  }
  const scripts = (manifest["scripts"] ?? {}) as Record<string, string>;
  if (scripts["experiment"] === undefined) {
    scripts["experiment"] = "tsx experiment.ts";
    manifest["scripts"] = scripts;
    changes.push('the script "experiment": "tsx experiment.ts"');
  }
  if (changes.length === 0) return { file, action: "kept" };
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
  return { file, action: "updated", detail: changes.join("; ") };
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
