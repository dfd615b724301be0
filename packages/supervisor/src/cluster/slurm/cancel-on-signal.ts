/**
 * Cancels the Slurm allocations of this process's runs when a signal is about to end it (Ctrl-C,
 * `kill`, a closed terminal or SSH session): by default Node exits at once, no `finally` runs, and
 * an allocation still pending would wait in Slurm's queue and run for nothing. While a run has
 * allocations, one listener per signal waits (bounded) for their `scancel`, then raises the signal
 * again, which ends the process as it would have. A process that handles the signal itself (the
 * CLI drains on Ctrl-C) has its own listener: then this one does nothing, and the run's `close()`
 * cancels them.
 */

/** The signals whose default is to end the process. */
const ENDING_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** How long the `scancel`s may take before the signal ends the process anyway. */
const CANCEL_WAIT_MS = 5000;

/** What a run gives to be cancelled: `scancel` of its allocations still there. */
export type CancelAllocations = () => Promise<void>;

const runs = new Set<CancelAllocations>();
let cancelling = false;

function onEndingSignal(signal: NodeJS.Signals): void {
  if (cancelling) return;
  if (process.listenerCount(signal) > 1) return; // the process handles it: its runs close themselves
  cancelling = true;
  const cancelled = Promise.allSettled([...runs].map((cancel) => cancel()));
  const timeUp = new Promise((resolve) => setTimeout(resolve, CANCEL_WAIT_MS).unref());
  void Promise.race([cancelled, timeUp]).then(() => {
    for (const name of ENDING_SIGNALS) process.off(name, onEndingSignal);
    process.kill(process.pid, signal); // the default action now: the process ends
  });
}

/** Cancels `run`'s allocations should an ending signal come; returns the function that stops that. */
export function cancelOnSignal(run: CancelAllocations): () => void {
  if (runs.size === 0) for (const name of ENDING_SIGNALS) process.on(name, onEndingSignal);
  runs.add(run);
  return () => {
    runs.delete(run);
    if (runs.size === 0 && !cancelling) for (const name of ENDING_SIGNALS) process.off(name, onEndingSignal);
  };
}
