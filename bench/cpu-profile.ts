/**
 * CPU profiles (V8's `.cpuprofile`, as `node --cpu-prof` writes them), summarized by self time,
 * per function and per package.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface SelfTime {
  /** `functionName` (or `(anonymous)`), `(garbage collector)`, `(program)`, … */
  name: string;
  /** Where: `packages/supervisor/dist/…:line`, `node_modules/ssh2/…:line`, `node:internal/…`, or "". */
  location: string;
  /** Which package or part of Node the code belongs to. */
  owner: string;
  selfMs: number;
}

export interface ProfileSummary {
  /** Wall time the profile covers. */
  totalMs: number;
  /** Time the process was idle (waiting for I/O or timers). */
  idleMs: number;
  /** Busy time by function, largest first. */
  functions: SelfTime[];
  /** Busy time by owner, largest first. */
  owners: Array<{ owner: string; selfMs: number }>;
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/**
 * The main thread's profile that `node --cpu-prof --cpu-prof-dir=dir` wrote. Its name is
 * `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`; other threads (tsx's loader hooks) write
 * their own.
 */
export function mainThreadProfileIn(dir: string): string {
  const files = readdirSync(dir).filter((name) => name.endsWith(".cpuprofile") && name.split(".")[4] === "0");
  if (files.length !== 1) throw new Error(`expected one main-thread profile in ${dir}, found ${files.length}`);
  return join(dir, files[0]!);
}

/**
 * Self time per function and per owner of one profile, or of several added up (the warm workers
 * of a run); `top` functions are kept.
 */
export function summarizeCpuProfiles(files: readonly string[], top: number): ProfileSummary {
  const selfUs = new Map<string, SelfTime>();
  let idleUs = 0;
  let totalUs = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
    totalUs += profile.endTime - profile.startTime;
    idleUs += addSelfTimes(profile, selfUs);
  }
  const functions = [...selfUs.values()].map((entry) => ({ ...entry, selfMs: entry.selfMs / 1000 })).sort((a, b) => b.selfMs - a.selfMs);
  const owners = new Map<string, number>();
  for (const entry of functions) owners.set(entry.owner, (owners.get(entry.owner) ?? 0) + entry.selfMs);
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    functions: functions.slice(0, top),
    owners: [...owners].map(([owner, selfMs]) => ({ owner, selfMs })).sort((a, b) => b.selfMs - a.selfMs),
  };
}

/** Adds the profile's self times (µs) per function to `selfUs`; returns its idle µs. */
function addSelfTimes(profile: CpuProfile, selfUs: Map<string, SelfTime>): number {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  let idleUs = 0;
  // Sample i lasts until sample i + 1 (timeDeltas[i + 1] µs).
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i + 1] ?? 0;
    const frame = byNode.get(profile.samples[i]!);
    if (frame === undefined) continue;
    if (frame.functionName === "(idle)") {
      idleUs += us;
      continue;
    }
    const location = frame.url === "" ? "" : `${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName}@${location}`;
    const entry = selfUs.get(key) ?? { name: frame.functionName || "(anonymous)", location, owner: ownerOf(frame.url, frame.functionName), selfMs: 0 };
    entry.selfMs += us;
    selfUs.set(key, entry);
  }
  return idleUs;
}

/** `file:///work/main/packages/x/dist/y.js` → `packages/x/dist/y.js`; node_modules paths from the package on. */
function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, "");
  const modules = path.lastIndexOf("node_modules/");
  if (modules >= 0) return path.slice(modules);
  const packages = path.indexOf("/packages/");
  if (packages >= 0) return path.slice(packages + 1);
  return path;
}

function ownerOf(url: string, functionName: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "native bindings (fs, …)";
  if (url.startsWith("node:")) return "node core";
  const path = url.replace(/^file:\/\//, "");
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path.slice(path.lastIndexOf("node_modules/")));
  if (path.includes("node_modules/") && modules) return modules[1]!;
  const ownPackage = /\/packages\/([^/]+)\//.exec(path);
  if (ownPackage) return `packages/${ownPackage[1]}`;
  if (path.includes("/bench/")) return "the benchmark";
  return "other";
}
