import { hostname } from "node:os";
import { readFile } from "node:fs/promises";
import { leaseExists, listOwnClaims, readAllLeases, removeLease, removeLostLease, renewLease, type AgentLease } from "@malocher/store";

/** How often an agent rewrites its lease; observers call it stale after several missed renewals. */
export const LEASE_RENEW_MS = 2000;

/** What the lease keeper needs from its agent. */
export interface LeaseKeeperContext {
  dir: string;
  agentId: string;
  host: string;
  /** Process groups of the agent's live workers, recorded so a successor can kill leftovers. */
  processGroups(): number[];
  /** The runs whose claims the agent holds: claimed, and not yet publishing (which gives the claim back). */
  heldClaims(): readonly HeldClaim[];
  /**
   * The claim of `run` vanished: someone requeued its job; the agent must drop the run, if it
   * still holds that claim (a run that ended meanwhile, and a new run of the same job, do not).
   */
  claimLost(run: HeldClaim): void;
  /** The lease file vanished: the agent was declared dead and must stop. */
  leaseLost(): void;
  /** Called each renewal, for periodic checks (cancel markers). */
  tick(): void;
}

/** A run of a claimed job, as the lease keeper sees it: which job it holds the claim of. */
export interface HeldClaim {
  readonly jobId: string;
}

/**
 * Keeps the agent's lease in `agents/` fresh. Observers judge staleness on their own clocks (a
 * lease whose content did not change for a while), so each renewal changes it (`seq`). Each
 * renewal is also the agent's fencing check: a lease or a claim that someone else removed means
 * that this agent was given up on, and its work is being redone elsewhere.
 */
export class LeaseKeeper {
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private pendingWrite: NodeJS.Timeout | undefined;
  /** The lease's writes under way (a renewal's and a `renewSoon`'s may overlap): `stop` waits for them, or one would bring back the lease it removes. */
  private readonly writing = new Set<Promise<void>>();
  private stopped = false;
  private readonly startedAt = Date.now();

  constructor(private readonly context: LeaseKeeperContext) {}

  /** Writes the first lease and renews it from now on. */
  async start(): Promise<void> {
    await this.write();
    if (!this.stopped) this.timer = setInterval(() => void this.renew(), LEASE_RENEW_MS);
  }

  /** Rewrites the lease soon (the process groups changed), coalescing bursts into one write. */
  renewSoon(): void {
    if (this.pendingWrite !== undefined || this.timer === undefined) return;
    this.pendingWrite = setTimeout(() => {
      this.pendingWrite = undefined;
      void this.write().catch(() => {});
    }, 20);
  }

  /** Stops renewing and removes the lease, once a write under way is done. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.pendingWrite);
    this.timer = undefined;
    await Promise.allSettled([...this.writing]);
    await removeLease(this.context.dir, this.context.agentId);
  }

  private async renew(): Promise<void> {
    const { dir, agentId } = this.context;
    if (!(await leaseExists(dir, agentId))) {
      if (this.timer !== undefined) this.context.leaseLost();
      return;
    }
    // Only runs that held their claims before the listing began can have lost them: a job claimed
    // while the listing ran may be missing from it. Taken after the listing, such a job was taken
    // for lost and its run dropped, its claim left in running/ under a live lease, and no one ever
    // ran it (1 W1 run in about 30 of 2,000 jobs on 4 nodes stopped at 1,999 results).
    const held = this.context.heldClaims();
    const claims = await listOwnClaims(dir, agentId);
    for (const run of held) if (!claims.has(run.jobId)) this.context.claimLost(run);
    if (this.timer === undefined) return;
    await this.write().catch(() => {}); // a missed renewal is survivable; several are not
    this.context.tick();
  }

  private write(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const lease: AgentLease = {
      agentId: this.context.agentId,
      host: this.context.host,
      hostname: hostname(),
      pid: process.pid,
      startedAt: this.startedAt,
      seq: ++this.seq,
      processGroups: this.context.processGroups(),
    };
    const writing = renewLease(this.context.dir, lease);
    this.writing.add(writing);
    void writing.finally(() => this.writing.delete(writing)).catch(() => {});
    return writing;
  }
}

/**
 * Kills worker process groups that dead agents on this host left behind (their leases name
 * them). A lease is not signed, and another account that can write to the directory may plant
 * one naming any process group; so a group is killed only if its leader is a Malocher worker
 * that itself names the lease's agent as its agent (its first argument), and that agent is dead:
 * a recycled process id, or a worker of a live agent (of this directory or another), is never hit.
 */
export async function killLeftoverWorkers(dir: string): Promise<number> {
  let killed = 0;
  for (const { agentId, lost, lease } of await readAllLeases(dir)) {
    if (lease.hostname !== hostname() || isAlive(lease.pid)) continue;
    for (const group of lease.processGroups ?? []) {
      if (workerAgentPid(await readFile(`/proc/${group}/cmdline`, "utf8").catch(() => "")) !== lease.pid) continue;
      try {
        process.kill(-group, "SIGKILL");
        killed++;
      } catch {}
    }
    // A lost lease has told all it can; a live one is still the supervisors' to recover.
    if (lost) await removeLostLease(dir, agentId);
  }
  return killed;
}

/** The agent pid a warm worker's command line names (`node … worker-main.js <agentPid> …`), if it is one. */
function workerAgentPid(commandLine: string): number | undefined {
  const args = commandLine.split("\0");
  const at = args.findIndex((arg) => arg.endsWith("/worker-main.js"));
  const pid = at < 0 ? NaN : Number(args[at + 1]);
  return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
