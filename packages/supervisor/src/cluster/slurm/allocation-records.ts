import { lstat, readdir, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { randomHex } from "@malocher/protocol";
import { createFile, readRegularText } from "@malocher/store";
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
  await createFile(temp, JSON.stringify(record));
  await rename(temp, file).catch(async () => unlink(temp).catch(() => {}));
}

/** The allocations live supervisors of `dir` hold (pending or running), oldest first. */
export async function readAllocationRecords(dir: string, now = Date.now()): Promise<AllocationRecord[]> {
  const slurmDir = join(dir, "slurm");
  const names = (await readdir(slurmDir).catch((): string[] => [])).filter((name) => name.endsWith(SUFFIX)).sort();
  const records: AllocationRecord[] = [];
  for (const name of names) {
    const record = await readRecord(join(slurmDir, name));
    // Seen lately; a time further ahead of this clock than clocks differ is no supervisor's (a record would otherwise never go stale).
    if (record !== undefined && now - record.seenAt <= STALE_MS && record.seenAt - now <= LEFT_BEHIND_MS) records.push(record);
  }
  return records;
}

/** A record's largest size: a few fields. */
const RECORD_MAX_BYTES = 4096;

/**
 * One record, if it is one: read as every file of the directory is (no FIFO, no symlink, its size
 * checked; see safe-file.ts) and checked field by field, as another account may have written it.
 */
async function readRecord(path: string): Promise<AllocationRecord | undefined> {
  let record: Partial<Record<keyof AllocationRecord, unknown>>;
  try {
    record = JSON.parse(await readRegularText(path, { maxBytes: RECORD_MAX_BYTES })) as typeof record;
  } catch {
    return undefined;
  }
  const { id, state, nodes, reason, endsAt, seenAt } = record ?? {};
  const valid =
    typeof id === "string" &&
    (state === "pending" || state === "running") &&
    typeof nodes === "number" &&
    Number.isSafeInteger(nodes) &&
    (reason === undefined || typeof reason === "string") &&
    (endsAt === undefined || (typeof endsAt === "number" && Number.isFinite(endsAt))) &&
    typeof seenAt === "number" &&
    Number.isFinite(seenAt);
  if (!valid) return undefined;
  return { id, state, nodes, seenAt, ...(reason === undefined ? {} : { reason }), ...(endsAt === undefined ? {} : { endsAt }) };
}

/** The allocation a file of `slurm/` belongs to: `slurm-<run>-<n>` of `<key>.out`, `<key>.launch.0`, `.<key>.<hex>.tmp`, … */
const KEY_OF_FILE = /^\.?(slurm-[0-9a-f]+-\d+)\./;

/**
 * A record (or a file of an allocation without one) unchanged this long is a dead supervisor's, for
 * removing its files: far past `STALE_MS`, as the record's time is its writer's clock and a file's
 * the file server's, and the host that cleans may disagree with either by a little.
 */
const LEFT_BEHIND_MS = 10 * 60_000;

/**
 * Removes what supervisors that died (`kill -9`, a lost machine) left in `<dir>/slurm/`: every file
 * of an allocation that no live supervisor records (its `.allocation` record unchanged for
 * {@link LEFT_BEHIND_MS}, or gone) and that is itself that old (a new allocation's files come
 * before its record): launch files, warning files, output and records. Returns how many it removed.
 */
export async function removeStaleAllocationFiles(dir: string, now = Date.now()): Promise<number> {
  const slurmDir = join(dir, "slurm");
  const names = await readdir(slurmDir).catch((): string[] => []);
  const ageOf = async (name: string) => {
    const stats = await lstat(join(slurmDir, name)).catch(() => undefined);
    return stats === undefined || !stats.isFile() ? undefined : now - stats.mtimeMs;
  };
  const live = new Set<string>();
  for (const name of names.filter((name) => name.endsWith(SUFFIX))) {
    const seenAt = (await readRecord(join(slurmDir, name)))?.seenAt ?? 0;
    const age = await ageOf(name);
    if (Math.abs(now - seenAt) < LEFT_BEHIND_MS || (age !== undefined && age < LEFT_BEHIND_MS)) live.add(name.slice(0, -SUFFIX.length));
  }
  let removed = 0;
  for (const name of names) {
    const key = KEY_OF_FILE.exec(name)?.[1];
    if (key === undefined || live.has(key)) continue;
    const age = await ageOf(name);
    if (age === undefined || age < LEFT_BEHIND_MS) continue;
    if (await unlink(join(slurmDir, name)).then(() => true, () => false)) removed++;
  }
  return removed;
}
