/**
 * tsx as the warm worker's module loader, so that `.ts` job modules import like `.js` ones.
 *
 * tsx's own `register()` (from `tsx/esm/api`) loads tsx, and esbuild with it, into the calling
 * thread as well as into the loader's hooks thread: about 130 of a worker's 490 CPU-ms to start
 * here, paid again by every worker of every node. The hooks thread is all that loading needs, so
 * this registers tsx's hooks module there directly, with the same data `register()` hands it (the
 * port it listens on to be deactivated, which a worker never does) and source maps on, as
 * `register()` turns them on. That data is tsx's own business, hence the agent's exact-minor
 * range for tsx: a tsx that changed it fails every `.ts` job's import in the tests.
 */
import { register } from "node:module";
import { MessageChannel } from "node:worker_threads";

/** Starts tsx's hooks thread for every later `import()` of this process. */
export function registerTypeScriptLoader(): void {
  const { port1, port2 } = new MessageChannel();
  register(import.meta.resolve("tsx/esm"), { parentURL: import.meta.url, data: { port: port2 }, transferList: [port2] });
  port1.unref();
  process.setSourceMapsEnabled(true);
}
