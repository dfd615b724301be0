/** The chaos test's job: records each run (to count repeats), works for a while, returns 2·i. */
import { appendFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

export async function work(i: number, ms: number, runsDir: string): Promise<number> {
  appendFileSync(join(runsDir, String(i)), `${process.pid}\n`);
  if (i % 5 === 0) spawnSync("sleep", [String(ms / 1000)]); // a child process the kill must take along
  else await new Promise((resolve) => setTimeout(resolve, ms));
  return 2 * i;
}
