/** A second Unix account for the security tests: another user of the shared file system. */
import { execFileSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

/** The second Unix account the tests use (created on demand, kept for later runs). */
export const OTHER_USER = "malocher-other";
/** uid and gid of an account, or undefined if there is none. */
export function lookupUser(name: string): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
    const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/**
 * Creates the second account once; other test files use the same one, possibly at the same time.
 * Concurrent `useradd`s of one name all succeed here and the last one wins with a new uid, so
 * creators serialize on a lock file (flock), and the uid is read until it stays the same.
 */
export async function ensureOtherUser(): Promise<{ uid: number; gid: number } | undefined> {
  const create = `id -u ${OTHER_USER} >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin ${OTHER_USER}`;
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      execFileSync("flock", ["-w", "30", "/tmp/malocher-useradd.lock", "sh", "-c", create], { stdio: "ignore" });
    } catch {
      try {
        execFileSync("sh", ["-c", create], { stdio: "ignore" }); // no flock(1)
      } catch {
        // Created meanwhile by a test that does not lock, or /etc/passwd was busy: look again.
      }
    }
    const first = lookupUser(OTHER_USER);
    await sleep(200);
    const second = lookupUser(OTHER_USER);
    if (first !== undefined && first.uid === second?.uid && first.gid === second.gid) return second;
  }
  return undefined;
}

