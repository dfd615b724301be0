/**
 * tsx as the warm worker's module loader, so that `.ts` job modules import like `.js` ones.
 *
 * Where tsx's own `register()` (from `tsx/esm/api`) has no in-thread module hooks to use (Node 20,
 * and the releases before those in `TSX_IN_THREAD_HOOKS_SINCE`), it loads tsx, and esbuild
 * with it, into the calling thread as well as into the loader's hooks thread: about 130 of a
 * worker's 490 CPU-ms to start here, paid again by every worker of every node. The hooks thread is
 * all that loading needs, so there this registers tsx's hooks module on it directly, with the data
 * `register()` hands it (less the port it would be deactivated through, which a worker never does,
 * and on which it reports each module loaded, which nobody here reads), and turns source maps on,
 * as `register()` does. Left out: its patch of CommonJS resolution for `require()` of files it
 * handed Node under other names, which `require()` of a `.ts` file from a job module does not
 * reach either way (it fails alike).
 *
 * That hooks module is `tsx-hooks.js` in dist/worker, found there from the bundled worker and
 * the unbundled one alike (`../worker/`). bundle.mjs makes it from `tsx/esm` in one
 * file that takes esbuild with `require()`, which cut the CPU to register tsx and import a first
 * `.ts` module by a quarter. The bundle holds the tsx of the build, and the data it is handed is
 * tsx's own business: hence the agent's exact version of tsx, so that the bundle, the esbuild it
 * finds beside the installed tsx, and `register()` elsewhere are one release.
 *
 * Where tsx's `register()` uses in-thread hooks, there is no hooks thread and no second load, and
 * `module.register` is deprecated: there the worker calls tsx's `register()`.
 */
import * as module from "node:module";

/**
 * The Node releases from which tsx's `register()` uses in-thread hooks (`module.registerHooks`),
 * per major: tsx's own list, which it reads as {@link tsxUsesInThreadHooksOn} does.
 */
const TSX_IN_THREAD_HOOKS_SINCE: ReadonlyArray<readonly [number, number, number]> = [
  [22, 22, 3],
  [24, 11, 1],
  [25, 1, 0],
  [26, 0, 0],
];

/**
 * Whether tsx's `register()` uses in-thread hooks on Node `version` (`major.minor.patch`): from the
 * release listed for its major, or for a major listed none, from the last one listed.
 */
export function tsxUsesInThreadHooksOn(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version.split(".").map(Number);
  const since = TSX_IN_THREAD_HOOKS_SINCE.find(([from]) => from === major) ?? TSX_IN_THREAD_HOOKS_SINCE.at(-1)!;
  return major !== since[0] ? major > since[0] : minor !== since[1] ? minor > since[1] : patch >= since[2];
}

/** Starts tsx's loader for every later `import()` of this process. */
export async function registerTypeScriptLoader(): Promise<void> {
  if (tsxUsesInThreadHooksOn(process.versions.node)) {
    const { register } = await import("tsx/esm/api");
    register();
    return;
  }
  module.register(new URL("../worker/tsx-hooks.js", import.meta.url).href, { parentURL: import.meta.url, data: {} });
  process.setSourceMapsEnabled(true);
}
