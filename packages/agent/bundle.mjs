/**
 * Bundles the two programs of this package, the agent and its warm worker, each into one file:
 * dist/bundle/main.js and dist/bundle/worker-main.js (run after `tsc`, from its output), with the
 * worker's warm-up modules beside them (loader-warm-up.js, and typescript-warm-up.ts as source)
 * and tsx's hooks in one file too (tsx-hooks.js, see below).
 * A node starts these rather than the ~80 modules they import: loading one file took a fifth of
 * the CPU here (about 20 against 100 CPU-ms per agent), and on a network file system it is one
 * file to fetch instead of a module graph. tsx stays outside the two (the worker registers its
 * hooks, bundled on their own, as a loader), as do the optional native add-ons that ws and
 * msgpackr try to load.
 */
import { copyFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** What every bundle here shares: one ES module file per entry point in dist/bundle, for Node 20. */
const ONE_FILE_FOR_NODE = {
  absWorkingDir: fileURLToPath(new URL(".", import.meta.url)),
  outdir: "dist/bundle",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "warning",
};

await build({
  ...ONE_FILE_FOR_NODE,
  entryPoints: { main: "dist/main.js", "worker-main": "dist/worker/worker-main.js" },
  external: ["tsx", "tsx/*", "bufferutil", "utf-8-validate", "msgpackr-extract"],
  // Bundled CommonJS modules (ws) call require() for Node's own modules.
  banner: { js: "import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url);" },
});

// The worker imports these at run time, next to itself, to start tsx's loader before the first job:
// the TypeScript one from its source, which imports the other. (The unbundled worker in dist/worker,
// which tests start, finds its source there.)
copyFileSync(new URL("dist/worker/loader-warm-up.js", import.meta.url), new URL("dist/bundle/loader-warm-up.js", import.meta.url));
for (const into of ["dist/bundle/", "dist/worker/"]) {
  copyFileSync(new URL("src/worker/typescript-warm-up.ts", import.meta.url), new URL(`${into}typescript-warm-up.ts`, import.meta.url));
}

// tsx's hooks module (`tsx/esm`), which a worker registers on its loader's hooks thread, as one file
// beside each worker (typescript-loader.ts: where tsx's register() has no in-thread hooks to use,
// as on Node 20; elsewhere the worker leaves it all to that register(), from tsx as installed). The
// file works on a hooks thread only: on a main thread, tsx's code in it would register itself by a
// path relative to where tsx's own files are. Loaded as tsx ships it, its import of esbuild, a
// CommonJS package, has Node's ES module loader scan esbuild's 97 kB for its exports, and that scan
// runs hot enough for V8 to optimize the scanner: a process that registered tsx and imported a first
// `.ts` module took 330 CPU-ms here, and takes 245 with the bundle. Bundled, the hooks take esbuild
// with require(), which needs no scan; esbuild itself stays outside (its API finds its binary from
// where it lives), and is the one tsx depends on, resolved from where tsx is installed.
await build({
  ...ONE_FILE_FOR_NODE,
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
copyFileSync(new URL("dist/bundle/tsx-hooks.js", import.meta.url), new URL("dist/worker/tsx-hooks.js", import.meta.url));
