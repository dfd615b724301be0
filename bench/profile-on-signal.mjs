/**
 * Preloaded into every Node process of a profiled local run (`NODE_OPTIONS=--import=<this file>`,
 * with MALOCHER_BENCH_PROFILE_DIR set): starts V8's CPU profiler at once and, on SIGUSR2, writes
 * the profile so far to `$MALOCHER_BENCH_PROFILE_DIR/<pid>.cpuprofile`.
 *
 * Why not `node --cpu-prof`: it writes only when a process exits cleanly, and an agent ends its
 * warm workers with SIGKILL. Why JavaScript: it loads into the agent, which runs without a
 * TypeScript loader.
 */
import { Session } from "node:inspector";
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.env["MALOCHER_BENCH_PROFILE_DIR"];
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.start");
  process.on("SIGUSR2", () => {
    session.post("Profiler.stop", (error, result) => {
      if (error || !result) return;
      const file = join(dir, `${process.pid}.cpuprofile`);
      writeFileSync(`${file}.tmp`, JSON.stringify(result.profile));
      renameSync(`${file}.tmp`, file); // appears whole: the benchmark waits for it
    });
  });
}
