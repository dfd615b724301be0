/**
 * Bundles the two programs of this package, the agent and its warm worker, each into one file:
 * dist/bundle/main.js and dist/bundle/worker-main.js (run after `tsc`, from its output); and tsx's
 * hooks into one file too, dist/worker/tsx-hooks.js (see below). The worker's warm-up modules
 * (loader-warm-up.js, as tsc wrote it, and typescript-warm-up.ts, as source) and the hooks file
 * live in dist/worker alone: both the bundled worker and the unbundled one, which tests start,
 * find them there (`../worker/` from either). dist/THIRD-PARTY-NOTICES.md gives the licenses of
 * the packages bundled into these files.
 * A node starts these rather than the ~80 modules they import: loading one file took a fifth of
 * the CPU here (about 20 against 100 CPU-ms per agent), and on a network file system it is one
 * file to fetch instead of a module graph. tsx stays outside the two (the worker registers its
 * hooks, bundled on their own, as a loader), as do the optional native add-ons that ws and
 * msgpackr try to load.
 */
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const PACKAGE_DIR = fileURLToPath(new URL(".", import.meta.url));
const REPOSITORY_DIR = fileURLToPath(new URL("../..", import.meta.url));

/** What every bundle here shares: one ES module file per entry point, for Node 20. */
const ONE_FILE_FOR_NODE = {
  absWorkingDir: PACKAGE_DIR,
  metafile: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "warning",
};

const programs = await build({
  ...ONE_FILE_FOR_NODE,
  outdir: "dist/bundle",
  entryPoints: { main: "dist/main.js", "worker-main": "dist/worker/worker-main.js" },
  external: ["tsx", "tsx/*", "bufferutil", "utf-8-validate", "msgpackr-extract"],
  // Bundled CommonJS modules (ws) call require() for Node's own modules.
  banner: { js: "import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url);" },
});

// The worker imports it at run time, from dist/worker, to start tsx's loader before the first job: the
// TypeScript warm-up module from its source, which imports the plain one beside it.
copyFileSync(new URL("src/worker/typescript-warm-up.ts", import.meta.url), new URL("dist/worker/typescript-warm-up.ts", import.meta.url));

// tsx's hooks module (`tsx/esm`), which a worker registers on its loader's hooks thread, as one file
// in dist/worker (typescript-loader.ts: where tsx's register() has no in-thread hooks to use,
// as on Node 20; elsewhere the worker leaves it all to that register(), from tsx as installed). The
// file works on a hooks thread only: on a main thread, tsx's code in it would register itself by a
// path relative to where tsx's own files are. Loaded as tsx ships it, its import of esbuild, a
// CommonJS package, has Node's ES module loader scan esbuild's 97 kB for its exports, and that scan
// runs hot enough for V8 to optimize the scanner: a process that registered tsx and imported a first
// `.ts` module took 330 CPU-ms here, and takes 245 with the bundle. Bundled, the hooks take esbuild
// with require(), which needs no scan; esbuild itself stays outside (its API finds its binary from
// where it lives), and is the one tsx depends on, resolved from where tsx is installed.
const hooks = await build({
  ...ONE_FILE_FOR_NODE,
  outdir: "dist/worker",
  entryPoints: { "tsx-hooks": createRequire(import.meta.url).resolve("tsx/esm") },
  plugins: [
    {
      name: "esbuild-by-require",
      setup(build) {
        build.onResolve({ filter: /^esbuild$/ }, () => ({ path: "esbuild", namespace: "esbuild-by-require" }));
        build.onLoad({ filter: /.*/, namespace: "esbuild-by-require" }, () => ({
          // Not import.meta.resolve: module hooks run without it (Node's documented caveat).
          contents:
            'import { createRequire } from "node:module"; const tsxManifest = createRequire(import.meta.url).resolve("tsx/package.json");' +
            ' export const { version, transform, transformSync } = createRequire(tsxManifest)("esbuild");',
          loader: "js",
        }));
      },
    },
  ],
});

writeFileSync(join(PACKAGE_DIR, "dist/THIRD-PARTY-NOTICES.md"), thirdPartyNotices([programs.metafile, hooks.metafile]));

/**
 * The notices of the installed packages whose code the bundles hold: each one's name, version and
 * license file as it ships it (their licenses ask that copies keep them). Our own workspace
 * packages are not installed packages (their paths hold no node_modules) and are left out.
 */
function thirdPartyNotices(metafiles) {
  const packages = new Map();
  for (const metafile of metafiles) {
    for (const [output, { inputs }] of Object.entries(metafile.outputs)) {
      for (const input of Object.keys(inputs)) {
        const root = packageRootOf(resolve(PACKAGE_DIR, input));
        if (root === undefined) continue;
        const files = packages.get(root) ?? new Set();
        files.add(output.replace(/^dist\//, ""));
        packages.set(root, files);
      }
    }
  }
  const sections = [...packages]
    .map(([root, files]) => ({ manifest: JSON.parse(readFileSync(join(root, "package.json"), "utf8")), root, files }))
    .sort((a, b) => a.manifest.name.localeCompare(b.manifest.name))
    .map(({ manifest, root, files }) => {
      const license = readdirSync(root).find((name) => /^(licen[cs]e|copying)(\.|$)/i.test(name));
      if (license === undefined) throw new Error(`${manifest.name} (${root}) ships no license file to put in the notices`);
      const text = readFileSync(join(root, license), "utf8").trim();
      const named = typeof manifest.license === "string" ? ` (${manifest.license})` : "";
      return `## ${manifest.name} ${manifest.version}${named}\n\nIn ${[...files].sort().join(", ")}.\n\n\`\`\`\`text\n${text}\n\`\`\`\`\n`;
    });
  return `# Third-party notices\n\nThe agent's bundles hold code of these packages, under these licenses.\n\n${sections.join("\n")}`;
}

/**
 * The root of the installed package that holds `file` (its last `node_modules/[@scope/]name`), or
 * undefined for a file of no installed package. Only the path below the repository counts: a
 * checkout that itself lies under a node_modules directory is no installed package.
 */
function packageRootOf(file) {
  const below = relative(REPOSITORY_DIR, file);
  const from = below.startsWith("..") ? file : `/${below}`;
  const root = /^(.*\/node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(from)?.[1];
  return root === undefined ? undefined : from === file ? root : join(REPOSITORY_DIR, root);
}
