/**
 * Cleanup on Ctrl-C: the sshd daemons and ssh ControlMasters are detached and would outlive the
 * benchmark. What is registered here runs once on SIGINT or SIGTERM, then the process exits.
 */
const cleanups = new Set<() => Promise<void>>();
let installed = false;

/** Registers `cleanup` for an interrupt; returns the function that unregisters it. */
export function onInterrupt(cleanup: () => Promise<void>): () => void {
  install();
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

function install(): void {
  if (installed) return;
  installed = true;
  let interrupted = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      process.stderr.write(`\n${signal}: cleaning up\n`);
      void Promise.allSettled([...cleanups].reverse().map((cleanup) => cleanup())).then(() => process.exit(130));
    });
  }
}
