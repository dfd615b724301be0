/** Waiting with a deadline: for a promise to settle, or for a condition to hold. */

/** Rejects if `promise` does not settle within `ms`, naming `what`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every `pollMs` until it holds; false if it did not hold within `ms`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, ms: number, pollMs = 20): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Polls `condition` every 25 ms until it holds; throws naming `what` after `ms`. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  if (!(await waitFor(condition, ms, 25))) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}
