import type { RunEvent } from "../cluster/cluster.js";
import { RunTally } from "../run-tally.js";

/**
 * The live view of `malocher run`: a redrawn block on a TTY (totals, jobs/s, ETA, one line per
 * node), plain lines otherwise, JSON Lines with `--json`, nothing but errors with `--quiet`.
 */
export class RunProgress {
  private readonly tally = new RunTally();
  private drawnLines = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly mode: "tty" | "plain" | "json" | "quiet",
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    if (mode === "tty") this.timer = setInterval(() => this.draw(), 250);
    if (mode === "plain") this.timer = setInterval(() => this.line(this.summary()), 5000);
    this.timer?.unref();
  }

  /** Takes one event of the run. */
  onEvent(event: RunEvent): void {
    if (this.mode === "json") process.stdout.write(`${JSON.stringify(jsonEvent(event))}\n`);
    this.tally.onEvent(event);
    if (event.type !== "node") return;
    if (event.state === "failed" || event.state === "lost") {
      if (this.mode !== "json") this.line(`${event.host}: ${event.state}: ${event.error?.message ?? ""}`);
    } else if (this.mode === "plain") this.line(`${event.host}: ${event.state}`);
  }

  /** Counts one yielded result. */
  onResult(ok: boolean, describeFailure: () => string): void {
    this.tally.onResult(ok);
    if (!ok && this.mode !== "json") this.line(describeFailure());
  }

  /** Draws the final state and stops redrawing. */
  finish(): void {
    clearInterval(this.timer);
    if (this.mode === "tty") this.draw();
    if (this.mode === "plain") this.line(this.summary());
  }

  private summary(): string {
    const { done, failed, running, queued, total, jobsPerSecond, etaMs } = this.tally.report();
    const eta = etaMs === undefined ? "" : ` · ETA ${formatDuration(etaMs / 1000)}`;
    return `done ${done - failed}/${total} · failed ${failed} · running ${running} · queued ${queued} · ${jobsPerSecond.toFixed(1)} jobs/s${eta}`;
  }

  private draw(): void {
    const lines = [this.summary()];
    for (const node of this.tally.report().nodes) {
      const slots = node.slots > 0 ? `${node.slotsInUse}/${node.slots} slots` : "";
      lines.push(`  ${node.host.padEnd(24)} ${node.state.padEnd(10)} ${slots.padEnd(12)} ${node.done} done`);
    }
    let text = this.drawnLines > 0 ? `\x1b[${this.drawnLines}F` : "";
    text += lines.map((line) => `\x1b[2K${line}\n`).join("");
    this.out.write(text);
    this.drawnLines = lines.length;
  }

  /** Writes `text` (a job's output) to `out`, above the live block on a TTY. */
  print(text: string, out: NodeJS.WritableStream): void {
    if (text === "") return;
    this.clearBlock();
    out.write(text);
  }

  private line(text: string): void {
    this.clearBlock();
    this.out.write(`${text}\n`);
  }

  private clearBlock(): void {
    if (this.mode === "tty" && this.drawnLines > 0) {
      this.out.write(`\x1b[${this.drawnLines}F\x1b[J`);
      this.drawnLines = 0;
    }
  }
}

function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.ceil(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function jsonEvent(event: RunEvent): object {
  return event.type === "node" && event.error
    ? { ...event, error: { code: event.error.code, message: event.error.message } }
    : event;
}
