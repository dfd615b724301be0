/**
 * tsx as the warm worker's module loader, so that `.ts` job modules import like `.js` ones.
 *
 * On a Node without in-thread module hooks (`module.registerHooks`: Node 20, and 22 before
 * 22.22.3), tsx's own `register()` (from `tsx/esm/api`) loads tsx, and esbuild with it, into the
 * calling thread as well as into the loader's hooks thread: about 130 of a worker's 490 CPU-ms to
 * start here, paid again by every worker of every node. The hooks thread is all that loading
 * needs, so there this registers tsx's hooks module on it directly (`tsx-hooks.js` beside this
 * file: tsx's `tsx/esm` bundled into one file by bundle.mjs, which takes esbuild with `require()`:
 * a quarter less CPU to register tsx and import a first `.ts` module), with the data `register()`
 * hands it (less the port it would be deactivated through, which a worker never does, and on which
 * it reports each module loaded, which nobody here reads), and turns source maps on, as
 * `register()` does. Left out: its patch of CommonJS resolution for `require()` of files it
 * handed Node under other names, which `require()` of a `.ts` file from a job module does not
 * reach either way (it fails alike). That data is tsx's own business, hence the agent's exact-minor
 * range for tsx: a tsx that changed it fails every `.ts` job's import in the tests. Where Node has
 * in-thread hooks, tsx's `register()` uses them, with no hooks thread and no second load, and
 * `module.register` is deprecated: there the worker calls tsx's `register()`.
 */
import * as module from "node:module";

/** Starts tsx's loader for every later `import()` of this process. */
export async function registerTypeScriptLoader(): Promise<void> {
  if (typeof (module as { registerHooks?: unknown }).registerHooks === "function") {
    const { register } = await import("tsx/esm/api");
    register();
    return;
  }
  module.register(new URL("./tsx-hooks.js", import.meta.url).href, { parentURL: import.meta.url, data: {} });
  process.setSourceMapsEnabled(true);
}
