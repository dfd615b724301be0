import type { RunEvent } from "../cluster/cluster.js";
import type { NodeState } from "../cluster/node-session.js";

interface NodeView {
  state: NodeState;
  running: number;
  done: number;
  slots: number;
  error?: string;
}

/**
 * The live view of `malocher run`: a redrawn block on a TTY (totals, jobs/s, ETA, one line per
 * node), plain lines otherwise, JSON Lines with `--json`, nothing but errors with `--quiet`.
 */
export class RunProgress {
  private pending = 0;
  private done = 0;
  private failed = 0;
  private running = 0;
  private readonly nodes = new Map<string, NodeView>();
  private readonly startedAt = Date.now();
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
    switch (event.type) {
      case "run":
        this.pending = event.pending;
        return;
      case "node": {
        const node = this.node(event.host);
        node.state = event.state;
        node.slots = event.slots || node.slots;
        if (event.error) node.error = event.error.message;
        if (event.state === "failed" || event.state === "lost") {
          if (this.mode !== "json") this.line(`${event.host}: ${event.state}: ${event.error?.message ?? ""}`);
        } else if (this.mode === "plain") this.line(`${event.host}: ${event.state}`);
        return;
      }
      case "jobStarted":
        this.running++;
        this.node(event.host).running++;
        return;
      case "jobFinished": {
        this.running = Math.max(0, this.running - 1);
        const node = this.node(event.host);
        node.running = Math.max(0, node.running - 1);
        node.done++;
        return;
      }
    }
  }

  /** Counts one yielded result. */
  onResult(ok: boolean, describeFailure: () => string): void {
    this.done++;
    if (!ok) {
      this.failed++;
      if (this.mode === "tty" || this.mode === "plain" || this.mode === "quiet") this.line(describeFailure());
    }
  }

  /** Draws the final state and stops redrawing. */
  finish(): void {
    clearInterval(this.timer);
    if (this.mode === "tty") this.draw();
    if (this.mode === "plain") this.line(this.summary());
  }

  private node(host: string): NodeView {
    let node = this.nodes.get(host);
    if (node === undefined) {
      node = { state: "connecting", running: 0, done: 0, slots: 0 };
      this.nodes.set(host, node);
    }
    return node;
  }

  private summary(): string {
    const seconds = (Date.now() - this.startedAt) / 1000;
    const rate = seconds > 0 ? this.done / seconds : 0;
    const left = this.pending - this.done;
    const eta = rate > 0 && left > 0 ? ` · ETA ${formatDuration(left / rate)}` : "";
    const queued = Math.max(0, left - this.running);
    return (
      `done ${this.done - this.failed}/${this.pending} · failed ${this.failed} · running ${this.running} · ` +
      `queued ${queued} · ${rate.toFixed(1)} jobs/s${eta}`
    );
  }

  private draw(): void {
    const lines = [this.summary()];
    for (const [host, node] of this.nodes) {
      const slots = node.slots > 0 ? `${node.running}/${node.slots} slots` : "";
      lines.push(`  ${host.padEnd(24)} ${node.state.padEnd(10)} ${slots.padEnd(12)} ${node.done} done`);
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
