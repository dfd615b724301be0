/**
 * Cancels the Slurm allocations of this process's runs when a signal is about to end it (Ctrl-C,
 * `kill`, a closed terminal or SSH session): by default Node exits at once, no `finally` runs, and
 * an allocation still pending would wait in Slurm's queue and run for nothing. While a run has
 * allocations, one listener per signal waits (bounded) for their `scancel`, then raises the signal
 * again, which ends the process as it would have. A process that handles the signal itself (the
 * CLI drains on Ctrl-C) has a listener of its own, now or when the first run began (a `once`
 * listener is gone by the time this one is called): then this one does nothing, and the run's
 * `close()` cancels them.
 */

/** The signals whose default is to end the process. */
const ENDING_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
type EndingSignal = (typeof ENDING_SIGNALS)[number];

/** How long the `scancel`s may take before the signal ends the process anyway. */
const CANCEL_WAIT_MS = 5000;

/** What a run gives to be cancelled: `scancel` of its allocations still there. */
export type CancelAllocations = () => Promise<void>;

const runs = new Set<CancelAllocations>();
/** The signals the process handled itself when this started listening. */
let handledByProcess = new Set<EndingSignal>();
let cancelling = false;

function onEndingSignal(signal: EndingSignal): void {
  if (cancelling || handledByProcess.has(signal) || process.listenerCount(signal) > 1) return;
  cancelling = true;
  const cancelled = Promise.allSettled([...runs].map((cancel) => cancel()));
  const timeUp = new Promise((resolve) => setTimeout(resolve, CANCEL_WAIT_MS).unref());
  void Promise.race([cancelled, timeUp]).then(() => {
    stopListening();
    cancelling = false;
    process.kill(process.pid, signal); // the default action now: the process ends
  });
}

function startListening(): void {
  handledByProcess = new Set(ENDING_SIGNALS.filter((signal) => process.listenerCount(signal) > 0));
  for (const signal of ENDING_SIGNALS) process.on(signal, onEndingSignal);
}

function stopListening(): void {
  for (const signal of ENDING_SIGNALS) process.off(signal, onEndingSignal);
}

/** Cancels `run`'s allocations should an ending signal come; returns the function that stops that. */
export function cancelOnSignal(run: CancelAllocations): () => void {
  if (runs.size === 0) startListening();
  runs.add(run);
  return () => {
    runs.delete(run);
    if (runs.size === 0) stopListening();
  };
}
