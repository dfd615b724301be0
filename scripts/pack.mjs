/**
 * `npm run pack`: writes malocher-<version>.tgz at the repository root, a package that installs
 * into any project with `npm install ./malocher-<version>.tgz`. It is the `malocher` package
 * (packages/supervisor: library and CLI) with the workspace packages it needs (@malocher/protocol,
 * store, locate, agent) bundled inside it (`bundleDependencies`), so it does not point back into
 * this checkout; their registry dependencies become the package's own, which npm installs.
 * It builds first, from a clean slate: `tsc -b` leaves the output of moved or deleted sources
 * behind, which must not ship.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const WORKSPACE = ["protocol", "store", "locate", "agent"];

const readJson = (path) => JSON.parse(readFileSync(path, "utf8"));
const supervisor = readJson(join(root, "packages/supervisor/package.json"));

for (const name of [...WORKSPACE, "supervisor"]) {
  rmSync(join(root, "packages", name, "dist"), { recursive: true, force: true });
  rmSync(join(root, "packages", name, "tsconfig.tsbuildinfo"), { force: true });
}
execFileSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });

const stage = mkdtempSync(join(tmpdir(), "malocher-pack-"));
try {
  const pkg = join(stage, "malocher");
  copyPackage(join(root, "packages/supervisor"), pkg, supervisor);
  cpSync(join(root, "README.md"), join(pkg, "README.md"));
  const dependencies = {};
  const bundled = [];
  for (const name of WORKSPACE) {
    const source = join(root, "packages", name);
    const manifest = readJson(join(source, "package.json"));
    copyPackage(source, join(pkg, "node_modules", manifest.name), manifest);
    bundled.push(manifest.name);
    Object.assign(dependencies, external(manifest.dependencies));
  }
  Object.assign(dependencies, external(supervisor.dependencies));
  for (const name of bundled) dependencies[name] = readJson(join(pkg, "node_modules", name, "package.json")).version;
  const manifest = { ...supervisor, dependencies: sortKeys(dependencies), bundleDependencies: bundled };
  writeFileSync(join(pkg, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  const out = execFileSync("npm", ["pack", "--pack-destination", root, "--silent"], { cwd: pkg, encoding: "utf8" }).trim().split("\n").pop();
  console.log(join(root, out));
} finally {
  rmSync(stage, { recursive: true, force: true });
}

/** Copies a package's manifest and the files its `files` list names (its build output). */
function copyPackage(from, to, manifest) {
  for (const entry of ["package.json", ...(manifest.files ?? [])]) {
    const path = join(from, entry);
    if (!existsSync(path)) throw new Error(`${path} is missing: run npm run build first`);
    cpSync(path, join(to, entry), { recursive: true, filter: (file) => !file.endsWith(".tsbuildinfo") });
  }
}

/** The registry dependencies of a workspace package's manifest (not the workspace's own). */
function external(dependencies = {}) {
  return Object.fromEntries(Object.entries(dependencies).filter(([name]) => !name.startsWith("@malocher/")));
}

function sortKeys(object) {
  return Object.fromEntries(Object.entries(object).sort(([a], [b]) => a.localeCompare(b)));
}
