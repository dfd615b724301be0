import { execFile } from "node:child_process";
import { access } from "node:fs/promises";
import { slurmStopMarginMs, type SlurmAgentSettings } from "@malocher/protocol";

/** How often the allocation's end is asked of Slurm again (an admin may change the time limit). */
const END_POLL_MS = 30_000;
/** How often the warning file is looked for. */
const WARNING_POLL_MS = 1000;
/** How often the clock looks whether the end is within its running jobs' stop margin (which a job's own kill grace may lengthen). */
const ENDING_POLL_MS = 500;

/** What the clock tells its agent. */
export interface AllocationClockEvents {
  /** Slurm warned that the allocation ends soon (`--signal=B:USR1@lead`): claim nothing more. */
  warned(): void;
  /** The allocation ends within the stop margin: stop now, putting running jobs back in the queue. */
  ending(): void;
  log(line: string): void;
  /** The longest kill grace of the agent's running jobs (0 with none): the stop comes early enough for it. */
  longestKillGraceMs(): number;
}

/**
 * An agent's view of its Slurm allocation's time: when it ends (asked of Slurm with
 * `squeue -h -j $SLURM_JOB_ID -o %e`, again every 30 s and when Slurm warns: the batch script
 * creates the warning file on `USR1`, the signal itself going to the batch shell only, since Slurm
 * signals every process of a step and a job's own processes must not get it), a timer that drains
 * the agent `warningLeadMs` before the end (Slurm's own warning may come up to a minute early), and
 * stops it `stopMarginMs` before the end, ahead of Slurm's SIGTERM to the whole step, or earlier
 * when a running job's own kill grace needs more (`slurmStopMarginMs`; looked at every 0.5 s).
 */
export class SlurmAllocationClock {
  /** The allocation's end on this machine's clock (ms), once Slurm said. */
  private endsAt: number | undefined;
  /** Slurm's warning came (the agent drains once it is ready, if it was not yet). */
  warned = false;
  /** `ending` was told. */
  private ended = false;
  private warningTimer: NodeJS.Timeout | undefined;
  /** Slurm's warning file appeared (the drain waits for the lead before the end all the same). */
  private signalled = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(
    private readonly settings: SlurmAgentSettings,
    private readonly jobId: string | undefined,
    private readonly events: AllocationClockEvents,
    /** When the agent started: the end is at most this plus the time limit until Slurm says. */
    private readonly startedAt = Date.now(),
  ) {}

  start(): void {
    void this.readEnd();
    this.timers.push(setInterval(() => void this.readEnd(), END_POLL_MS));
    this.timers.push(setInterval(() => void this.lookForWarning(), WARNING_POLL_MS));
    this.timers.push(setInterval(() => this.checkEnding(), ENDING_POLL_MS));
    for (const timer of this.timers) timer.unref();
    this.scheduleWarning(this.startedAt + this.settings.timeLimitMs);
    this.checkEnding();
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.warningTimer);
  }

  /**
   * The longest a job whose kill grace is `killGraceMs` may run from now on: until the agent's stop,
   * the stop margin before the end for that grace or a running job's longer one (the time limit
   * from the agent's start until Slurm said).
   */
  timeLeftMs(killGraceMs: number): number {
    return this.msUntilStop(Math.max(killGraceMs, this.events.longestKillGraceMs()));
  }

  private msUntilStop(killGraceMs: number): number {
    return this.end() - slurmStopMarginMs(this.settings.stopMarginMs, killGraceMs) - Date.now();
  }

  /** The longest a job whose kill grace is `killGraceMs` can run in an allocation of this time limit (a job that needs more fits in none). */
  longestMs(killGraceMs: number): number {
    return this.settings.timeLimitMs - slurmStopMarginMs(this.settings.stopMarginMs, killGraceMs);
  }

  private end(): number {
    return this.endsAt ?? this.startedAt + this.settings.timeLimitMs;
  }

  private checkEnding(): void {
    if (this.ended || this.stopped || this.msUntilStop(this.events.longestKillGraceMs()) > 0) return;
    this.ended = true;
    this.events.ending();
  }

  private scheduleWarning(endsAt: number): void {
    clearTimeout(this.warningTimer);
    if (this.stopped) return;
    // The agent's own warning, the lead before the end: Slurm's signal may come late, or (up to a
    // minute) early, when draining would waste most of a short allocation.
    this.warningTimer = setTimeout(() => this.warn(), Math.max(0, endsAt - this.settings.warningLeadMs - Date.now()));
  }

  private warn(): void {
    if (this.warned || this.stopped) return;
    this.warned = true;
    this.events.warned();
  }

  private async readEnd(): Promise<void> {
    if (this.jobId === undefined || this.stopped) return;
    const text = await new Promise<string | undefined>((resolve) =>
      execFile("squeue", ["-h", "-j", this.jobId!, "-o", "%e"], { timeout: 10_000 }, (error, stdout) => resolve(error ? undefined : stdout.trim())),
    );
    // `%e` is local time without a zone, as ECMAScript reads a date-time without an offset.
    const endsAt = text === undefined || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(text) ? NaN : new Date(text).getTime();
    if (Number.isNaN(endsAt)) {
      if (this.endsAt === undefined) this.events.log(`could not read the allocation's end from squeue (${text ?? "squeue failed"}); assuming its time limit from the start`);
      return;
    }
    if (endsAt !== this.endsAt) {
      this.endsAt = endsAt;
      this.events.log(`the allocation ends at ${new Date(endsAt).toISOString()}; stopping ${this.settings.stopMarginMs} ms before (or earlier, for a job whose kill grace needs more)`);
      this.scheduleWarning(endsAt);
    }
  }

  /**
   * Slurm's warning: the end is near. It is taken as a reason to ask Slurm for the end again (an
   * admin may have shortened the limit); the drain itself follows the end, `warningLeadMs` before it.
   */
  private async lookForWarning(): Promise<void> {
    if (this.signalled || this.stopped) return;
    const there = await access(this.settings.warningFile).then(
      () => true,
      () => false,
    );
    if (!there || this.signalled) return;
    this.signalled = true;
    this.events.log("Slurm warned that the allocation ends soon");
    await this.readEnd();
  }
}
