import { lstat, readdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomHex } from "@malocher/protocol";
import type { AllocationStatus } from "./slurm-allocations.js";

/** A record older than this is a dead supervisor's: a live one rewrites its records at every poll (2 s). */
const STALE_MS = 30_000;
const SUFFIX = ".allocation";

/** An allocation as `malocher status` shows it, with when its supervisor last saw it. */
export interface AllocationRecord extends AllocationStatus {
  /** When the supervisor last looked at it (ms, its clock). */
  seenAt: number;
}

/**
 * Writes what the supervisor knows of an allocation to `<dir>/slurm/<key>.allocation` (replaced
 * whole: temp file, then rename), for `malocher status` in another process; removes it once the
 * allocation ended.
 */
export async function recordAllocation(slurmDir: string, key: string, status: AllocationStatus): Promise<void> {
  const file = join(slurmDir, `${key}${SUFFIX}`);
  if (status.state === "ended") {
    await unlink(file).catch(() => {});
    return;
  }
  const temp = join(slurmDir, `.${key}.${randomHex(6)}.tmp`);
  const record: AllocationRecord = { ...status, seenAt: Date.now() };
  await writeFile(temp, JSON.stringify(record), { mode: 0o600 });
  await rename(temp, file).catch(async () => unlink(temp).catch(() => {}));
}

/** The allocations live supervisors of `dir` hold (pending or running), oldest first. */
export async function readAllocationRecords(dir: string, now = Date.now()): Promise<AllocationRecord[]> {
  const slurmDir = join(dir, "slurm");
  const names = (await readdir(slurmDir).catch((): string[] => [])).filter((name) => name.endsWith(SUFFIX)).sort();
  const records: AllocationRecord[] = [];
  for (const name of names) {
    try {
      const record = JSON.parse(await readFile(join(slurmDir, name), "utf8")) as AllocationRecord;
      if (now - record.seenAt <= STALE_MS) records.push(record);
    } catch {}
  }
  return records;
}

/** The allocation a file of `slurm/` belongs to: `slurm-<run>-<n>` of `<key>.out`, `<key>.launch.0`, `.<key>.<hex>.tmp`, … */
const KEY_OF_FILE = /^\.?(slurm-[0-9a-f]+-\d+)\./;

/**
 * Removes what supervisors that died (`kill -9`, a lost machine) left in `<dir>/slurm/`: every file
 * of an allocation that no live supervisor records (its `.allocation` record is stale or gone)
 * and that is itself older than a record may be (a new allocation's files come before its
 * record): launch files, warning files, output and records. Returns how many it removed.
 */
export async function removeStaleAllocationFiles(dir: string, now = Date.now()): Promise<number> {
  const slurmDir = join(dir, "slurm");
  const names = await readdir(slurmDir).catch((): string[] => []);
  const live = new Set<string>();
  for (const name of names.filter((name) => name.endsWith(SUFFIX))) {
    try {
      const record = JSON.parse(await readFile(join(slurmDir, name), "utf8")) as AllocationRecord;
      if (now - record.seenAt <= STALE_MS) live.add(name.slice(0, -SUFFIX.length));
    } catch {}
  }
  let removed = 0;
  for (const name of names) {
    const key = KEY_OF_FILE.exec(name)?.[1];
    if (key === undefined || live.has(key)) continue;
    const path = join(slurmDir, name);
    const stats = await lstat(path).catch(() => undefined);
    if (stats === undefined || !stats.isFile() || now - stats.mtimeMs <= STALE_MS) continue;
    if (await unlink(path).then(() => true, () => false)) removed++;
  }
  return removed;
}
